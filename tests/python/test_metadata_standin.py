"""Metadata of a release with no wheel for the target, read from another of its
wheels (:mod:`lockpin.python.standin`, :meth:`MetadataFetcher.fetch_sdist`) instead of
building its sdist: the pure ordering, then whole locks against the fixture index."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import tarfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from fixtures.dists import build_sdist, build_wheel
from lockpin.net.http import Http, HttpConfig
from lockpin.python import build as build_module
from lockpin.python.fetch import MetadataFetcher
from lockpin.python.metadata import CoreMetadata
from lockpin.python.models import DistFile
from lockpin.python.standin import comparison_partner, same_dependencies, stand_in_wheels
from lockpin.python.target import parse_target
from lockpin.python.world import best_file
from support import run_cli

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from fixtures.index_server import IndexServer

pytestmark = pytest.mark.usefixtures("isolated")

AMD64 = parse_target(python_version="3.12", platform="linux/amd64")
WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)
TARGET_ARGS = ("--python-version", "3.12", "--platform", "linux/amd64")

# gevent 20.9.0's shape: CPython wheels up to 3.9 for several platforms, none for 3.12.
GEVENT_LIKE = (
    "g-1.0-cp27-cp27mu-manylinux2010_x86_64.whl",
    "g-1.0-cp38-cp38-macosx_10_9_x86_64.whl",
    "g-1.0-cp38-cp38-manylinux2010_x86_64.whl",
    "g-1.0-cp39-cp39-manylinux2010_i686.whl",
    "g-1.0-cp39-cp39-manylinux2010_x86_64.whl",
    "g-1.0-cp39-cp39-win_amd64.whl",
    "g-1.0-pp27-pypy_73-manylinux2010_x86_64.whl",
)


def _files(names: Sequence[str], **options: object) -> list[DistFile]:
    return [DistFile(filename=n, url=f"https://x.invalid/{n}", **options) for n in names]  # type: ignore[arg-type]


# -- pure ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "first", "partner"),
    [
        (
            AMD64,
            "g-1.0-cp39-cp39-manylinux2010_x86_64.whl",
            "g-1.0-cp38-cp38-manylinux2010_x86_64.whl",
        ),
        (
            parse_target(python_version="3.12", platform="linux/386"),
            "g-1.0-cp39-cp39-manylinux2010_i686.whl",
            # another interpreter first: the usual reason metadata differs
            "g-1.0-cp38-cp38-manylinux2010_x86_64.whl",
        ),
        (
            parse_target(python_version="3.12", platform="win_amd64"),
            "g-1.0-cp39-cp39-win_amd64.whl",
            "g-1.0-cp38-cp38-macosx_10_9_x86_64.whl",
        ),
        (
            parse_target(python_version="3.12", platform="linux/arm64"),
            # no wheel for the machine: the same OS and interpreter, ties by name
            "g-1.0-cp39-cp39-manylinux2010_i686.whl",
            "g-1.0-cp38-cp38-manylinux2010_x86_64.whl",
        ),
    ],
)
def test_stand_ins_are_ordered_by_likeness_to_the_target(
    target: object, first: str, partner: str
) -> None:
    wheels = stand_in_wheels(_files(GEVENT_LIKE), version=Version("1.0"), target=target)  # type: ignore[arg-type]
    assert wheels[0].filename == first
    found = comparison_partner(wheels)
    assert found is not None
    assert found.filename == partner
    # CPython 2 and PyPy come last: they are the least like a CPython 3 target.
    assert {w.filename for w in wheels[-2:]} == {
        "g-1.0-cp27-cp27mu-manylinux2010_x86_64.whl",
        "g-1.0-pp27-pypy_73-manylinux2010_x86_64.whl",
    }


def test_stand_ins_leave_out_other_releases_late_uploads_and_sdists() -> None:
    late = datetime(2025, 1, 1, tzinfo=timezone.utc)
    files = [
        *_files(["g-1.0.tar.gz", "g-1.1-cp39-cp39-manylinux2010_x86_64.whl"]),
        *_files(["g-1.0-cp39-cp39-manylinux2010_x86_64.whl"], upload_time=late),
        *_files(["g-1.0-cp38-cp38-manylinux2010_x86_64.whl"], upload_time=WHEN),
    ]
    cutoff = datetime(2024, 6, 1, tzinfo=timezone.utc)
    wheels = stand_in_wheels(files, version=Version("1.0"), target=AMD64, exclude_newer=cutoff)
    assert [w.filename for w in wheels] == ["g-1.0-cp38-cp38-manylinux2010_x86_64.whl"]
    assert comparison_partner(wheels) is None


def test_best_file_without_a_fitting_wheel_is_the_most_like_the_target() -> None:
    """``lockpin verify --closure`` reads metadata from best_file: not the cp27 wheel
    that sorts first by name."""
    files = _files([*GEVENT_LIKE, "g-1.0.tar.gz"])
    assert best_file(files, AMD64) == files[GEVENT_LIKE.index(GEVENT_LIKE[4])]
    assert best_file(_files(["g-1.0.tar.gz"]), AMD64) == _files(["g-1.0.tar.gz"])[0]


def test_yanked_wheels_stand_in_last() -> None:
    files = [
        *_files(["g-1.0-cp39-cp39-manylinux2010_x86_64.whl"], yanked=True),
        *_files(["g-1.0-cp39-cp39-win_amd64.whl"]),
    ]
    wheels = stand_in_wheels(files, version=Version("1.0"), target=AMD64)
    assert [w.filename for w in wheels] == [
        "g-1.0-cp39-cp39-win_amd64.whl",
        "g-1.0-cp39-cp39-manylinux2010_x86_64.whl",
    ]


def _meta(*reqs: str, rp: str | None = None, extras: Sequence[str] = ()) -> CoreMetadata:
    return CoreMetadata(
        name=canonicalize_name("g"),
        version=Version("1.0"),
        requires_dist=tuple(Requirement(r) for r in reqs),
        requires_python=rp,
        provides_extra=tuple(canonicalize_name(e) for e in extras),
    )


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (_meta("a>=1", "b; os_name=='nt'"), _meta("b ; os_name == 'nt'", "a >= 1"), True),
        (_meta("a>=1", rp=">=3.8"), _meta("a>=1", rp=">= 3.8"), True),
        (_meta("numpy>=1.19"), _meta("numpy>=1.16"), False),
        (_meta("a"), _meta("a", "b"), False),
        (_meta("a", rp=">=3.8"), _meta("a", rp=">=3.6"), False),
        (_meta("a", extras=["x"]), _meta("a"), False),
    ],
)
def test_same_dependencies(a: CoreMetadata, b: CoreMetadata, same: bool) -> None:
    assert same_dependencies(a, b) is same


# -- against the fixture index ------------------------------------------------------------------

_FAILING_BACKEND = """
def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    raise SystemExit("error: proj executable not found (this sdist never builds)")
"""


def unbuildable_sdist(out: Path, name: str, version: str) -> Path:
    """An sdist whose metadata is dynamic (Metadata-Version 2.1) and whose backend
    always fails, as gevent's and pyproj's do on a machine without their tools."""
    base = f"{name}-{version}"
    members = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        "pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "failing"\nbackend-path = ["."]\n'
        ),
        "failing.py": _FAILING_BACKEND.encode(),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for member, data in members.items():
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    path = out / f"{base}.tar.gz"
    path.write_bytes(buf.getvalue())
    return path


def _hashes_of(text: str, pin: str) -> set[str]:
    """The ``--hash`` values of ``pin``'s entry in a requirements.txt."""
    lines = text.split(f"\n{pin} \\\n", 1)[1].splitlines()
    hashes = set()
    for line in lines:
        match = re.fullmatch(r"\s+--hash=sha256:([0-9a-f]{64})(?: \\)?", line)
        if match is None:
            break
        hashes.add(match[1])
    return hashes


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def no_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records (and refuses) every PEP 517 build: none may happen."""
    started: list[str] = []

    def refuse(data: bytes, filename: str, *args: object, **kwargs: object) -> bytes:
        started.append(filename)
        raise AssertionError(f"{filename} was built")

    monkeypatch.setattr(build_module, "_build_sync", refuse)
    return started


def test_metadata_comes_from_a_wheel_for_another_platform(
    make_index: Callable[..., IndexServer],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    no_builds: list[str],
) -> None:
    root = tmp_path_factory.mktemp("standin")
    sdist = unbuildable_sdist(root, "geventish", "1.0")
    wheels = [
        build_wheel(root, "geventish", "1.0", requires=["beta>=1.0"], tag=tag)
        for tag in ("cp39-cp39-manylinux2010_x86_64", "cp38-cp38-manylinux2010_x86_64")
    ]
    server = make_index()
    for path in (sdist, *wheels):
        server.add_file(path, upload_time=WHEN)
    Path("requirements.in").write_text("geventish==1.0\n")
    run = run_cli(capsys, "compile", "requirements.in", "-i", server.simple_url, *TARGET_ARGS, "-v")
    assert run.code == 0, run.err
    assert no_builds == []
    text = Path("requirements.txt").read_text()
    # The wheel's Requires-Dist entered the lock...
    assert "beta==1.0 \\\n" in text
    assert "alpha==" in text
    assert "    # via geventish\n" in text
    # ...the hashes are of the release's files as before (all of them, each one hashed
    # from the index's listing), and the user is told where the dependencies came from.
    assert _hashes_of(text, "geventish==1.0") == {_sha(p) for p in (sdist, *wheels)}
    assert (
        "geventish==1.0 has no wheel for CPython 3.12.0 on linux/amd64 (manylinux_2_28_x86_64)"
        in run.err
    )
    assert "read its dependencies from geventish-1.0-cp39-cp39-manylinux2010_x86_64.whl" in run.err

    # Only the sdist fits the target: with --target-hashes-only its hash is the only one.
    Path("requirements.txt").unlink()
    run = run_cli(
        capsys,
        "compile",
        "requirements.in",
        "-i",
        server.simple_url,
        *TARGET_ARGS,
        "--target-hashes-only",
    )
    assert run.code == 0, run.err
    text = Path("requirements.txt").read_text()
    assert _hashes_of(text, "geventish==1.0") == {_sha(sdist)}
    assert no_builds == []


def test_wheels_that_disagree_send_lockpin_to_the_sdist(
    make_index: Callable[..., IndexServer],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Per-interpreter Requires-Dist: no wheel can stand in; the sdist is built, and its
    failure says why the wheels were not used."""
    root = tmp_path_factory.mktemp("disagree")
    sdist = unbuildable_sdist(root, "numpyish", "1.0")
    server = make_index()
    server.add_file(sdist, upload_time=WHEN)
    for tag, req in (
        ("cp39-cp39-manylinux2010_x86_64", "alpha>=1.1"),
        ("cp38-cp38-manylinux2010_x86_64", "alpha>=1.0"),
    ):
        server.add_file(
            build_wheel(root, "numpyish", "1.0", requires=[req], tag=tag), upload_time=WHEN
        )
    Path("requirements.in").write_text("numpyish==1.0\n")
    run = run_cli(capsys, "compile", "requirements.in", "-i", server.simple_url, *TARGET_ARGS)
    assert run.code != 0
    assert "Traceback" not in run.err
    assert "proj executable not found" in run.err
    assert (
        "the dependencies in numpyish-1.0-cp39-cp39-manylinux2010_x86_64.whl and "
        "numpyish-1.0-cp38-cp38-manylinux2010_x86_64.whl differ"
    ) in run.err
    assert not Path("requirements.txt").exists()


# -- live: the releases issue 12 found ---------------------------------------------------------

LIVE = {
    # pin: (the stand-in wheel, its dependencies that must be pinned, the sdist's sha256)
    "gevent==20.9.0": (
        "gevent-20.9.0-cp39-cp39-manylinux2010_x86_64.whl",
        ("greenlet", "setuptools", "zope-event", "zope-interface"),
        "5f6d48051d336561ec08995431ee4d265ac723a64bba99cc58c3eb1a4d4f5c8d",
    ),
    "pyproj==3.3.1": (
        "pyproj-3.3.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ("certifi",),
        "b3d8e14d91cc95fb3dbc03a9d0588ac58326803eefa5bbb0978d109de3304fbe",
    ),
}


@pytest.mark.network
@pytest.mark.parametrize("pin", sorted(LIVE))
def test_live_sdist_only_pins_lock_from_another_wheel(
    pin: str, capsys: pytest.CaptureFixture[str], no_builds: list[str]
) -> None:
    """No cp312 wheel: the metadata comes from an older CPython's wheel, nothing is
    built, and only the sdist (the one file the target installs) is hashed."""
    wheel, deps, sdist_sha = LIVE[pin]
    Path("requirements.in").write_text(pin + "\n")
    run = run_cli(
        capsys,
        "compile",
        "requirements.in",
        "-i",
        "https://pypi.org/simple",
        *TARGET_ARGS,
        "--exclude-newer",
        "2026-11-01T00:00:00Z",
        "--target-hashes-only",
    )
    assert run.code == 0, run.err
    assert no_builds == []
    assert f"read its dependencies from {wheel}" in run.err
    text = Path("requirements.txt").read_text()
    assert _hashes_of(text, pin) == {sdist_sha}
    pinned = {line.split("==")[0] for line in text.splitlines() if "==" in line}
    assert set(deps) <= pinned


# -- the fetcher's order ------------------------------------------------------------------------


def _local(path: Path) -> DistFile:
    return DistFile(path.name, path.as_uri())


def test_an_unreadable_stand_in_falls_back_to_the_sdist(tmp_path: Path) -> None:
    """A damaged wheel lends nothing: the sdist's own (static) metadata is read."""
    sdist = build_sdist(tmp_path, "p", "1.0", requires=["alpha<2"])
    bad = tmp_path / "p-1.0-cp39-cp39-manylinux2010_x86_64.whl"
    bad.write_bytes(b"not a zip")

    async def fetch() -> tuple[CoreMetadata, dict[tuple[str, str], str]]:
        async with Http(HttpConfig(cache_dir=tmp_path / "cache")) as http:
            fetcher = MetadataFetcher(http)
            return await fetcher.fetch_sdist(_local(sdist), [_local(bad)]), fetcher.borrowed

    meta, borrowed = asyncio.run(fetch())
    assert [str(r) for r in meta.requires_dist] == ["alpha<2"]
    assert borrowed == {}


def test_metadata_known_for_the_sdist_wins_over_a_stand_in(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path, "p", "1.0", requires=["alpha<2"])
    wheel = build_wheel(tmp_path, "p", "1.0", requires=["beta"], tag="cp39-cp39-win_amd64")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    dist = DistFile(sdist.name, sdist.as_uri(), hashes={"sha256": digest})

    async def fetch(stand_ins: list[DistFile]) -> CoreMetadata:
        async with Http(HttpConfig(cache_dir=tmp_path / "cache")) as http:
            return await MetadataFetcher(http).fetch_sdist(dist, stand_ins)

    # Nothing known: the wheel lends its dependencies.
    assert [str(r) for r in asyncio.run(fetch([_local(wheel)])).requires_dist] == ["beta"]
    asyncio.run(fetch([]))  # the sdist read once: its metadata is now cached by its hash
    assert [str(r) for r in asyncio.run(fetch([_local(wheel)])).requires_dist] == ["alpha<2"]
