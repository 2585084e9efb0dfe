"""The rules that used to live in several copies, each now in one place, as tables.

* "is this file installable on the target": :meth:`Target.installs` (with the
  ``--only-binary``/``--no-binary`` formats of :func:`formats_for`);
* the hash block of a requirements file: :func:`lockpin.python.lock.render_requirement`;
* a direct reference's ``url ; marker``: :func:`split_marker` / :func:`join_marker`,
  and what a VCS reference is: :func:`is_vcs_url`;
* the suffixes of distribution files and archives: ``models.DIST_SUFFIXES`` and
  ``models.ARCHIVE_SUFFIXES``;
* a page's grouping by release: the :class:`ReleaseGrouped` protocol.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import Version

from lockpin import _toml
from lockpin.errors import InputError
from lockpin.python.compile import _direct_name
from lockpin.python.hashing import FileHash
from lockpin.python.inputs import _is_unhashable
from lockpin.python.lock import Lock, LockedFile, LockedPackage, render_requirement
from lockpin.python.models import (
    ARCHIVE_SUFFIXES,
    DIST_SUFFIXES,
    SDIST_SUFFIXES,
    WHEEL_SUFFIX,
    DistFile,
    ReleaseGrouped,
    accepts_format,
    formats_for,
    group_releases,
    is_dist_filename,
    parse_filename,
    version_text,
)
from lockpin.python.packed import PackedFiles, pack_page
from lockpin.python.pages import LazyFiles, parse_json_page
from lockpin.python.releases import releases_of
from lockpin.python.reqfile import (
    Location,
    is_vcs_url,
    join_marker,
    parse_requirement_text,
    split_marker,
)
from lockpin.python.target import parse_target

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from lockpin.python.models import Formats, Releases
    from lockpin.python.target import IndexedFile

AMD64 = parse_target(python_version="3.12", platform="linux/amd64")
A = "a" * 64
B = "b" * 64

# -- Target.installs ---------------------------------------------------------------------------

WHEEL = "x-1.0-py3-none-any.whl"
LINUX_WHEEL = "x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"

INSTALLS_CASES = [
    # (filename, requires_python, formats, installs on CPython 3.12 linux/amd64)
    pytest.param(WHEEL, None, "any", True, id="pure-wheel"),
    pytest.param(LINUX_WHEEL, None, "any", True, id="cp312-manylinux"),
    pytest.param("x-1.0-cp38-abi3-manylinux2014_x86_64.whl", None, "any", True, id="abi3"),
    pytest.param("x-1.0-cp312-cp312-manylinux_2_34_x86_64.whl", None, "any", False, id="glibc"),
    pytest.param("x-1.0-cp312-cp312-manylinux_2_17_aarch64.whl", None, "any", False, id="arch"),
    pytest.param("x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", None, "any", False, id="cp311"),
    pytest.param("x-1.0-cp312-cp312-win_amd64.whl", None, "any", False, id="windows"),
    pytest.param("x-py3-none-any.whl", None, "any", False, id="invalid-wheel-name"),
    *(pytest.param(f"x-1.0{s}", None, "any", True, id=f"sdist{s}") for s in SDIST_SUFFIXES),
    pytest.param(WHEEL, ">=3.13", "any", False, id="wheel-requires-python"),
    pytest.param("x-1.0.tar.gz", ">=3.13", "any", False, id="sdist-requires-python"),
    pytest.param(WHEEL, ">=3.8,<3.13", "any", True, id="requires-python-admits"),
    pytest.param(WHEEL, ">=3.6.*", "any", True, id="invalid-requires-python-admits"),
    pytest.param(WHEEL, "", "any", True, id="empty-requires-python"),
    pytest.param(WHEEL, None, "wheel", True, id="only-binary-wheel"),
    pytest.param("x-1.0.tar.gz", None, "wheel", False, id="only-binary-sdist"),
    pytest.param("x-1.0-cp312-cp312-win_amd64.whl", None, "wheel", False, id="only-binary-foreign"),
    pytest.param(WHEEL, None, "sdist", False, id="no-binary-wheel"),
    pytest.param("x-1.0.zip", None, "sdist", True, id="no-binary-sdist"),
    pytest.param("x-1.0.tar.gz", ">=3.13", "sdist", False, id="no-binary-requires-python"),
]

#: Every kind of file the rule is asked about: a page's, a lock's, a hash result's.
FILE_KINDS: list[Callable[[str, str | None], IndexedFile]] = [
    lambda name, rp: DistFile(name, f"https://h/{name}", requires_python=rp),
    lambda name, rp: LockedFile(name, f"https://h/{name}", A, requires_python=rp),
    lambda name, rp: FileHash(name, f"https://h/{name}", A, requires_python=rp),
]


@pytest.mark.parametrize("make", FILE_KINDS, ids=["DistFile", "LockedFile", "FileHash"])
@pytest.mark.parametrize(("filename", "requires_python", "formats", "expected"), INSTALLS_CASES)
def test_target_installs(
    make: Callable[[str, str | None], IndexedFile],
    filename: str,
    requires_python: str | None,
    formats: Formats,
    expected: bool,
) -> None:
    assert AMD64.installs(make(filename, requires_python), formats=formats) is expected


def test_lock_hashes_use_the_same_rule() -> None:
    """``--target-hashes-only`` keeps exactly the files the target installs."""
    names = [WHEEL, LINUX_WHEEL, "x-1.0-cp312-cp312-win_amd64.whl", "x-1.0.tar.gz"]
    files = tuple(
        LockedFile(n, f"https://h/{n}", c * 64) for n, c in zip(names, "abcd", strict=True)
    )
    pkg = LockedPackage(canonicalize_name("x"), Version("1.0"), files)
    assert pkg.hashes((AMD64,)) == ("a" * 64, "b" * 64, "d" * 64)
    assert pkg.hashes() == tuple(c * 64 for c in "abcd")


@pytest.mark.parametrize(
    ("name", "only_binary", "no_binary", "expected"),
    [
        ("x", set(), set(), "any"),
        ("x", {"x"}, set(), "wheel"),
        ("x", {":all:"}, set(), "wheel"),
        ("x", {"y"}, set(), "any"),
        ("x", set(), {"x"}, "sdist"),
        ("x", set(), {":all:"}, "sdist"),
        ("x", {"x"}, {"x"}, "wheel"),  # --only-binary wins
        ("x", {":all:"}, {"x"}, "wheel"),
        ("x", {"y"}, {":all:"}, "sdist"),
    ],
)
def test_formats_for(name: str, only_binary: set[str], no_binary: set[str], expected: str) -> None:
    assert formats_for(name, only_binary=only_binary, no_binary=no_binary) == expected


@pytest.mark.parametrize(
    ("filename", "formats", "expected"),
    [
        (WHEEL, "any", True),
        ("x-1.0.tar.gz", "any", True),
        (WHEEL, "wheel", True),
        ("x-1.0.tgz", "wheel", False),
        (WHEEL, "sdist", False),
        ("x-1.0.tar.bz2", "sdist", True),
    ],
)
def test_accepts_format(filename: str, formats: Formats, expected: bool) -> None:
    assert accepts_format(filename, formats) is expected


NOON = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("uploaded", "cutoff", "expected"),
    [
        (NOON, None, False),
        (None, NOON, False),  # no upload time (find-links): never too new
        (NOON, NOON, False),
        (NOON + dt.timedelta(seconds=1), NOON, True),
        (NOON - dt.timedelta(days=1), NOON, False),
    ],
)
def test_uploaded_after(
    uploaded: dt.datetime | None, cutoff: dt.datetime | None, expected: bool
) -> None:
    assert DistFile(WHEEL, "u", upload_time=uploaded).uploaded_after(cutoff) is expected


# -- the hash block ----------------------------------------------------------------------------

RENDER_CASES = [
    pytest.param("a==1", (), (), "a==1", id="no-hashes"),
    pytest.param("a==1", (A,), (), f"a==1 \\\n    --hash=sha256:{A}", id="one"),
    pytest.param(
        "a==1",
        (A, B),
        (),
        f"a==1 \\\n    --hash=sha256:{A} \\\n    --hash=sha256:{B}",
        id="two",
    ),
    pytest.param("a==1", (), ("    # via b",), "a==1\n    # via b", id="trailer-only"),
    pytest.param(
        "a==1 ; sys_platform == 'linux'",
        (A,),
        ("    # via", "    #   b", "    #   c"),
        f"a==1 ; sys_platform == 'linux' \\\n    --hash=sha256:{A}\n"
        "    # via\n    #   b\n    #   c",
        id="marker-and-trailer",
    ),
    pytest.param("a==1", (A.upper(),), (), f"a==1 \\\n    --hash=sha256:{A.upper()}", id="upper"),
]


@pytest.mark.parametrize(("text", "hashes", "trailer", "expected"), RENDER_CASES)
def test_render_requirement(
    text: str, hashes: tuple[str, ...], trailer: tuple[str, ...], expected: str
) -> None:
    assert render_requirement(text, hashes, trailer) == expected


@pytest.mark.parametrize(
    "digest",
    ["abc", A[:63], A + "0", "g" * 64, f"{A[:32]}\nb==2 {A[:31]}", f"{A} --hash=sha256:{B}"],
)
def test_render_requirement_refuses_what_is_not_one_digest(digest: str) -> None:
    with pytest.raises(InputError, match=r"refusing to write --hash=sha256:.* for a==1: "):
        render_requirement("a==1", (A, digest))


def test_lock_writes_its_blocks_with_the_same_renderer() -> None:
    files = (LockedFile(WHEEL, f"https://h/{WHEEL}", B), LockedFile("x-1.0.tar.gz", "u", A))
    lock = Lock(
        packages=(
            LockedPackage(
                canonicalize_name("x"),
                Version("1.0"),
                files,
                via=("-r requirements.in",),
                marker="sys_platform == 'linux'",
            ),
        ),
        targets=(AMD64,),
    )
    block = render_requirement(
        "x==1.0 ; sys_platform == 'linux'", (A, B), ("    # via -r requirements.in",)
    )
    assert lock.to_requirements_txt(header=False) == block + "\n"


# -- direct references -------------------------------------------------------------------------

SPLIT_CASES = [
    pytest.param("https://h/x.whl", ("https://h/x.whl", None), id="url"),
    pytest.param(
        "https://h/x.whl ; python_version < '3.12'",
        ("https://h/x.whl", "python_version < '3.12'"),
        id="spaced",
    ),
    pytest.param("https://h/x.whl; os_name=='nt'", ("https://h/x.whl", "os_name=='nt'"), id="a"),
    pytest.param("https://h/x.whl ;os_name=='nt'", ("https://h/x.whl", "os_name=='nt'"), id="b"),
    pytest.param("https://h/a;b.whl", ("https://h/a;b.whl", None), id="bare-semicolon-is-url"),
    pytest.param(
        "git+https://h/r;x ; sys_platform == 'linux'",
        ("git+https://h/r;x", "sys_platform == 'linux'"),
        id="bare-then-marker",
    ),
    pytest.param("./pkg ;", ("./pkg", None), id="empty-marker"),
    pytest.param("  ./pkg  ", ("./pkg", None), id="stripped"),
    pytest.param(
        "name @ https://h/x.whl ; extra == 'a'",
        ("name @ https://h/x.whl", "extra == 'a'"),
        id="name-at",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SPLIT_CASES)
def test_split_marker(text: str, expected: tuple[str, str | None]) -> None:
    assert split_marker(text) == expected


@pytest.mark.parametrize(("text", "expected"), SPLIT_CASES)
def test_join_marker_reads_back(text: str, expected: tuple[str, str | None]) -> None:
    joined = join_marker(*expected)
    assert split_marker(joined) == expected
    assert joined == (f"{expected[0]} ; {expected[1]}" if expected[1] else expected[0])


def test_join_marker_takes_a_marker_object() -> None:
    assert join_marker("./pkg", Marker("os_name == 'nt'")) == './pkg ; os_name == "nt"'


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git+https://h/r", True),
        ("GIT+ssh://h/r", True),
        ("hg+https://h/r", True),
        ("svn+svn://h/r", True),
        ("bzr+lp:x", True),
        ("git://h/r", True),  # pip treats the plain git scheme as VCS too
        ("https://h/git+x.whl", False),
        ("gitlab.example/x", False),
        ("./git+x", False),
        ("file:///x", False),
    ],
)
def test_is_vcs_url(url: str, expected: bool) -> None:
    assert is_vcs_url(url) is expected


@pytest.mark.parametrize(
    ("direct", "name"),
    [
        ("./libs/my_pkg", "my-pkg"),
        ("-e ../lib ; sys_platform == 'linux'", "lib"),
        ("./a;b ; python_version > '3'", "a-b"),  # the bare ';' is part of the path
        ("git+https://h/o/repo.git@v1 ; os_name == 'nt'", "repo"),
    ],
)
def test_direct_name_reads_the_reference_before_the_marker(direct: str, name: str) -> None:
    assert _direct_name(direct) == name


def _pylock_package(direct: str) -> dict[str, object]:
    pkg = LockedPackage(canonicalize_name("p"), None, direct=direct)
    data = _toml.loads(Lock(packages=(pkg,), targets=(AMD64,)).to_pylock())
    packages = data["packages"]
    assert isinstance(packages, list)
    entry = packages[0]
    assert isinstance(entry, dict)
    return entry


@pytest.mark.parametrize(
    ("direct", "path", "marker"),
    [
        ("./pkg", "./pkg", None),
        ("-e ./pkg ; sys_platform == 'linux'", "./pkg", 'sys_platform == "linux"'),
        ("./a;b ; python_version > '3'", "./a;b", 'python_version > "3"'),
    ],
)
def test_pylock_directory_splits_the_marker_like_the_parser(
    direct: str, path: str, marker: str | None
) -> None:
    entry = _pylock_package(direct)
    directory = entry["directory"]
    assert isinstance(directory, dict)
    assert directory["path"] == path
    assert entry.get("marker") == marker


@pytest.mark.parametrize("direct", ["git+https://h/r ; os_name == 'nt'", "-e git://h/r"])
def test_pylock_refuses_vcs_references(direct: str) -> None:
    with pytest.raises(InputError, match=r"a VCS requirement cannot be written to pylock\.toml"):
        _pylock_package(direct)


# -- suffixes ----------------------------------------------------------------------------------


def test_suffix_lists_nest() -> None:
    assert (WHEEL_SUFFIX, *SDIST_SUFFIXES) == DIST_SUFFIXES
    assert set(DIST_SUFFIXES) <= set(ARCHIVE_SUFFIXES)
    assert len(set(ARCHIVE_SUFFIXES)) == len(ARCHIVE_SUFFIXES)
    assert all(s.startswith(".") and s == s.lower() for s in ARCHIVE_SUFFIXES)
    assert set(SDIST_SUFFIXES) == {".tar.gz", ".zip", ".tar.bz2", ".tgz"}


@pytest.mark.parametrize("suffix", SDIST_SUFFIXES)
def test_every_sdist_suffix_is_read_alike(suffix: str) -> None:
    filename = f"Foo_Bar-1.0{suffix}"
    assert parse_filename(filename) == ("foo-bar", Version("1.0"), "sdist")
    assert version_text(filename) == "1.0"
    assert is_dist_filename(filename, "foo-bar")


@pytest.mark.parametrize("suffix", DIST_SUFFIXES)
def test_every_dist_suffix_in_a_file_url_is_hashed(suffix: str) -> None:
    filename = "foo-1.0-py3-none-any.whl" if suffix == WHEEL_SUFFIX else f"foo-1.0{suffix}"
    assert not _is_unhashable(f"file:///srv/{filename}")
    assert not _is_unhashable(f"file:///srv/{filename.upper()}")


@pytest.mark.parametrize(
    "url", ["file:///srv/pkg", "file:///srv/foo-1.0.tar.xz", "./pkg", "git+https://h/r"]
)
def test_what_is_pinned_as_given(url: str) -> None:
    assert _is_unhashable(url)


@pytest.mark.parametrize("suffix", DIST_SUFFIXES)
def test_pylock_refuses_every_local_archive(suffix: str) -> None:
    with pytest.raises(InputError, match=r"a local archive needs its hash in pylock\.toml"):
        _pylock_package(f"./dist/foo-1.0{suffix}")


@pytest.mark.parametrize("suffix", [s for s in ARCHIVE_SUFFIXES if s != WHEEL_SUFFIX])
def test_every_archive_suffix_makes_requirement_text_a_path(suffix: str) -> None:
    line = parse_requirement_text(f"foo-1.0{suffix}", location=Location("r.txt", 1))
    assert (line.url, line.requirement) == (f"foo-1.0{suffix}", None)


@pytest.mark.parametrize("suffix", SDIST_SUFFIXES)
def test_a_page_keeps_every_sdist_suffix(suffix: str) -> None:
    filename = f"foo-1.0{suffix}"
    body = {"meta": {"api-version": "1.0"}, "files": [{"filename": filename, "url": filename}]}
    page = parse_json_page(json.dumps(body).encode(), url="https://h/simple/foo/", name="foo")
    assert [f.filename for f in page.files] == [filename]


# -- grouping by release -----------------------------------------------------------------------

PAGE_FILES = [
    "foo-2.0-py3-none-any.whl",
    "foo-1.0.tar.gz",
    "foo-2.0.tar.gz",
    "foo-1.0.0-py3-none-any.whl",  # the same release as 1.0
    "foo-10.0.tgz",
    "foo-1.0rc1.zip",
]


def _shape(releases: Releases) -> list[tuple[str, list[str]]]:
    return [(str(v), sorted(f.filename for f in files)) for v, files in releases]


def _page_files() -> Sequence[DistFile]:
    body = {
        "meta": {"api-version": "1.0"},
        "files": [{"filename": n, "url": n, "hashes": {"sha256": A}} for n in PAGE_FILES],
    }
    return parse_json_page(json.dumps(body).encode(), url="https://h/simple/foo/", name="foo").files


EXPECTED_SHAPE = [
    ("10.0", ["foo-10.0.tgz"]),
    ("2.0", ["foo-2.0-py3-none-any.whl", "foo-2.0.tar.gz"]),
    ("1.0", ["foo-1.0.0-py3-none-any.whl", "foo-1.0.tar.gz"]),
    ("1.0rc1", ["foo-1.0rc1.zip"]),
]


def test_plain_lists_are_grouped_by_filename() -> None:
    files = [DistFile(n, n) for n in PAGE_FILES]
    assert not isinstance(files, ReleaseGrouped)
    assert _shape(releases_of(files)) == EXPECTED_SHAPE
    assert _shape(group_releases(files)) == EXPECTED_SHAPE


def test_a_parsed_page_groups_itself_once() -> None:
    files = _page_files()
    assert isinstance(files, ReleaseGrouped)
    first = releases_of(files)
    assert first is files.releases() is releases_of(files)
    assert _shape(first) == EXPECTED_SHAPE


def test_a_packed_page_answers_from_its_index() -> None:
    files = _page_files()
    assert isinstance(files, LazyFiles)
    packed = PackedFiles(pack_page(files), "https://h/simple/foo/")
    assert isinstance(packed, ReleaseGrouped)
    assert releases_of(packed) is packed.releases()
    assert _shape(releases_of(packed)) == EXPECTED_SHAPE
