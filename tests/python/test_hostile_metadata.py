"""Issue 7, metadata side: what a hostile index, cache or sdist can make lockpin read.

Every case goes through the real local index (``tests/fixtures/index_server.py``)
or the real unpacking code: altered wheel bytes (``swap_bytes``), one index
claiming another's file hash next to a shared cache, a rebuilt file in a
``--find-links`` directory, sdists whose links point out of the build directory,
index credentials during a PEP 517 build, and METADATA with thousands of
duplicate ``Requires-Dist`` lines.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import stat
import subprocess
import sys
import tarfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from fixtures.dists import build_sdist, build_wheel, metadata_text
from fixtures.index_server import FixtureResponse
from lockpin.errors import BuildError, IndexResponseError, InvalidMetadataError
from lockpin.net.cache import DiskCache
from lockpin.python import build as build_module
from lockpin.python.metadata import (
    MAX_METADATA_BYTES,
    MAX_REQUIRES_DIST,
    MAX_SDIST_MEMBER_BYTES,
    CoreMetadata,
    parse_core_metadata,
    read_sdist_metadata,
)
from lockpin.python.models import DistFile
from lockpin.python.provider import Candidate, Req, resolve
from lockpin.python.reqfile import parse_requirements
from lockpin.python.target import parse_target
from support import record_children, run_cli

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from fixtures.index_server import IndexServer
    from support import CliRun

TARGET = ["--python-version", "3.12", "--platform", "linux/amd64"]
WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)


# Every test runs in its own tmp_path with no lockpin configuration (conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


def pins_of(text: str) -> dict[str, str]:
    parsed = parse_requirements("requirements.txt", reader=lambda _p: text)
    return {
        str(line.name): str(line.pinned_version)
        for line in parsed.requirements
        if line.pinned_version is not None
    }


def compile_(capsys: pytest.CaptureFixture[str], index: str, *args: str) -> CliRun:
    Path("requirements.in").write_text("victim\n")
    return run_cli(capsys, "compile", "requirements.in", "-o", "-", "-i", index, *TARGET, *args)


@pytest.fixture
def evil_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``victim 1.0`` as published (needs alpha), the same filename with an added
    ``Requires-Dist: evil``, and ``evil 1.0`` itself (so pinning it would work)."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "altered").mkdir()
    build_wheel(root, "victim", "1.0", requires=["alpha"])
    build_wheel(root / "altered", "victim", "1.0", requires=["alpha", "evil"])
    build_wheel(root, "evil", "1.0")
    return root


VICTIM = "victim-1.0-py3-none-any.whl"


def _publish(server: IndexServer, root: Path, *, swap: bool) -> None:
    server.add_file(root / VICTIM, metadata="absent", upload_time=WHEN)
    server.add_file(root / "evil-1.0-py3-none-any.whl", upload_time=WHEN)
    if swap:
        server.swap_bytes(VICTIM, (root / "altered" / VICTIM).read_bytes())


# -- (a) altered wheel bytes never reach the lock --------------------------------------------


def _refuse_ranges(method: str, path: str, headers: dict[str, str]) -> FixtureResponse | None:
    # A front that refuses Range: lockpin must download the whole file, and check it.
    return FixtureResponse(416, b"") if "range" in headers else None


@pytest.mark.parametrize(
    ("ranges", "refuse_ranges", "same_size", "message"),
    [
        # Range requests: the size the server reports is not the page's size.
        pytest.param(
            True, False, False, "bytes on the server, but the index page says", id="range"
        ),
        # Range ignored (200, the whole file): checked like a download.
        pytest.param(False, False, False, "but the index page says", id="no-range-support"),
        # Range refused: the full download is checked before anything is read.
        pytest.param(True, True, False, "bytes but its index declares", id="download-size"),
        # ... and with the very same size, by its sha256.
        pytest.param(True, True, True, "does not match its declared sha256", id="download-sha256"),
    ],
)
def test_altered_wheel_bytes_are_refused(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    evil_dir: Path,
    ranges: bool,
    refuse_ranges: bool,
    same_size: bool,
    message: str,
) -> None:
    server = make_index(ranges=ranges)
    _publish(server, evil_dir, swap=True)
    if same_size:
        # The published file with one byte changed: only its sha256 tells.
        data = bytearray((evil_dir / VICTIM).read_bytes())
        data[len(data) // 2] ^= 0xFF
        server.swap_bytes(VICTIM, bytes(data))
    if refuse_ranges:
        server.override(f"/files/{VICTIM}", _refuse_ranges)
    Path("requirements.txt").write_text("old\n")
    run = compile_(capsys, server.simple_url, "--no-cache")
    assert run.code == 2, run.both
    assert "evil" not in run.out
    assert VICTIM in run.err
    assert "refuses it" in run.err
    assert "Traceback" not in run.err
    assert message in run.err, run.err
    assert Path("requirements.txt").read_text() == "old\n"


def test_metadata_of_another_file_is_refused(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The bytes match the page, but the METADATA inside is another release's."""
    root = tmp_path_factory.mktemp("other")
    other = build_wheel(root, "victim", "2.0", requires=["evil"])
    published = other.rename(root / VICTIM)
    build_wheel(root, "evil", "1.0")
    server = make_index()
    server.add_file(published, project="victim", metadata="absent", upload_time=WHEN)
    server.add_file(root / "evil-1.0-py3-none-any.whl", upload_time=WHEN)
    run = compile_(capsys, server.simple_url)
    assert run.code == 1, run.both
    assert "evil" not in run.out
    assert "is for victim 2.0, but the file name says victim 1.0" in run.err


# -- (b) one index's word never answers for another ------------------------------------------


def test_hostile_index_claiming_a_hash_does_not_poison_the_cache(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    evil_dir: Path,
) -> None:
    """The hostile index lists the honest wheel (same sha256) but serves altered
    bytes, on an HTML page (no size to compare): its range-read metadata is taken on
    its word, as pip and uv do. The next compile against the honest index, sharing
    the cache, must read the honest metadata."""
    hostile = make_index(html_only=True)
    _publish(hostile, evil_dir, swap=True)
    honest = make_index()
    _publish(honest, evil_dir, swap=False)

    first = compile_(capsys, hostile.simple_url)
    assert first.code == 0, first.both
    # The precondition of the attack: lockpin did read the altered METADATA, and
    # the lock still pins the page's (honest) hash, which pip would enforce.
    assert pins_of(first.out) == {"alpha": "1.1", "evil": "1.0", "victim": "1.0"}
    digest = hashlib.sha256((evil_dir / VICTIM).read_bytes()).hexdigest()
    assert f"--hash=sha256:{digest}" in first.out

    # Cold for the honest index, then revalidating, then from the cache alone.
    for args in ((), ("--refresh",), ("--offline",)):
        second = compile_(capsys, honest.simple_url, *args)
        assert second.code == 0, second.both
        assert pins_of(second.out) == {"alpha": "1.1", "victim": "1.0"}, (args, second.out)


def test_advertised_metadata_entry_is_rehashed_on_every_hit(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A cache entry filed under a ``.metadata`` hash must still hash to it when read
    (a cache shared with another writer is an input like any other)."""
    server = make_index()
    beta_meta = metadata_text("beta", "1.0", requires=["alpha>=1.0"]).encode()
    advertised = hashlib.sha256(beta_meta).hexdigest()
    forged = metadata_text("beta", "1.0", requires=["alpha>=1.0", "evil"]).encode()
    DiskCache(tmp_path / "cache").put("metadata-v2", f"core-metadata:{advertised}", forged)
    Path("requirements.in").write_text("beta\n")
    run = run_cli(capsys, "compile", "requirements.in", "-o", "-", "-i", server.simple_url, *TARGET)
    assert run.code == 0, run.both
    assert pins_of(run.out) == {"alpha": "1.1", "beta": "1.0"}
    assert any(r.path.endswith("beta-1.0-py3-none-any.whl.metadata") for r in server.requests)


# -- (c) a rebuilt local file is never answered from its predecessor's entry ------------------


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_rebuilt_find_links_file_pins_its_new_dependency(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    build_wheel(links, "alpha", "1.0")
    build_wheel(links, "beta", "1.0", requires=["alpha>=1.0"])
    build = build_wheel if kind == "wheel" else build_sdist
    app = build(links, "app", "1.0", requires=["alpha"])
    Path("requirements.in").write_text("app\n")
    args = ["compile", "requirements.in", "-o", "-", "--no-index", "-f", str(links), *TARGET]

    first = run_cli(capsys, *args)
    assert first.code == 0, first.both
    assert pins_of(first.out) == {"alpha": "1.0", "app": "1.0"}

    rebuilt = build(links, "app", "1.0", requires=["beta"])  # same name, new bytes
    assert rebuilt == app
    second = run_cli(capsys, *args)
    assert second.code == 0, second.both
    assert pins_of(second.out) == {"alpha": "1.0", "app": "1.0", "beta": "1.0"}
    new_hash = hashlib.sha256(rebuilt.read_bytes()).hexdigest()
    assert f"--hash=sha256:{new_hash}" in second.out


# -- (d) unpacking an sdist writes nothing outside its directory ------------------------------


def _tar(members: Sequence[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tf.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def _special(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A directory beside the build directory, which must stay empty."""
    path = tmp_path / "outside"
    path.mkdir()
    yield path
    assert _tree(path) == []


BAD_TARS: dict[str, Callable[[Path], list[Any]]] = {
    "absolute-symlink": lambda out: [_link("p-1.0/link", str(out)), ("p-1.0/link/PWNED", b"x")],
    "relative-symlink-out": lambda out: [
        _link("p-1.0/link", "../../outside"),
        ("p-1.0/link/PWNED", b"x"),
    ],
    "chained-symlinks": lambda out: [
        ("p-1.0/sub/keep", b""),
        _link("p-1.0/sub/up", ".."),
        _link("p-1.0/a", "sub/up/../../.."),
        ("p-1.0/a/outside/PWNED", b"x"),
    ],
    "file-replacing-symlink": lambda out: [
        _link("p-1.0/link", "inside"),
        ("p-1.0/inside", b""),
        ("p-1.0/link", b"x"),
    ],
    "hardlink-out": lambda out: [_link("p-1.0/h", str(out / "x"), hard=True)],
    "hardlink-dotdot": lambda out: [_link("p-1.0/h", "../outside/x", hard=True)],
    "dotdot-path": lambda out: [("p-1.0/../outside/PWNED", b"x")],
    "absolute-path": lambda out: [(str(out / "PWNED"), b"x")],
    "fifo": lambda out: [_special("p-1.0/fifo", tarfile.FIFOTYPE)],
    "device": lambda out: [_special("p-1.0/dev", tarfile.CHRTYPE)],
}


@pytest.mark.parametrize("case", sorted(BAD_TARS))
def test_unsafe_tar_members_are_refused_before_writing(
    tmp_path: Path, outside: Path, case: str
) -> None:
    data = _tar([("p-1.0/PKG-INFO", b"Name: p\n"), *BAD_TARS[case](outside)])
    dest = tmp_path / "build" / "src"
    with pytest.raises(BuildError) as info:
        build_module._extract(data, "p-1.0.tar.gz", dest)
    assert str(info.value).startswith("p-1.0.tar.gz: refusing to unpack member "), info.value
    # Refused before anything was written, not half-way through.
    assert not dest.exists() or _tree(dest) == []


@pytest.mark.parametrize(
    ("name", "attrs"),
    [
        ("p-1.0/../../outside/PWNED", 0o644 << 16),
        ("/tmp/PWNED-lockpin", 0o644 << 16),
        ("p-1.0/link", (stat.S_IFLNK | 0o777) << 16),
    ],
    ids=["dotdot", "absolute", "symlink"],
)
def test_unsafe_zip_members_are_refused(
    tmp_path: Path, outside: Path, name: str, attrs: int
) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("p-1.0/PKG-INFO", "Name: p\n")
        info = zipfile.ZipInfo(name)
        info.external_attr = attrs
        zf.writestr(info, str(outside))
    with pytest.raises(BuildError, match=r"^p-1\.0\.zip: refusing to unpack member "):
        build_module._extract(out.getvalue(), "p-1.0.zip", tmp_path / "src")
    assert not Path("/tmp/PWNED-lockpin").exists()


def test_links_inside_the_sdist_still_unpack(tmp_path: Path) -> None:
    data = _tar(
        [
            ("p-1.0/README", b"hello"),
            ("p-1.0/docs/index", b""),
            _link("p-1.0/docs/README", "../README"),
            _link("p-1.0/copy", "p-1.0/README", hard=True),
        ]
    )
    root = build_module._extract(data, "p-1.0.tar.gz", tmp_path / "src")
    assert (root / "docs" / "README").read_bytes() == b"hello"
    assert (root / "copy").read_bytes() == b"hello"


def test_symlink_sdist_fails_the_compile_and_writes_nothing_outside(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    outside: Path,
) -> None:
    root = tmp_path_factory.mktemp("symlink-sdist")
    plain = build_sdist(
        root, "victim", "1.0", requires=["alpha"], dynamic=["Requires-Dist"], static_pyproject=False
    )
    members: list[tarfile.TarInfo | tuple[str, bytes]] = []
    with tarfile.open(plain) as src:
        members += [(m.name, src.extractfile(m).read()) for m in src.getmembers()]  # type: ignore[union-attr]
    members += [_link("victim-1.0/link", str(outside)), ("victim-1.0/link/PWNED.txt", b"x")]
    plain.write_bytes(_tar(members))
    server = make_index(root=root, standard=False)
    server.add_file(plain, upload_time=WHEN)
    run = compile_(capsys, server.simple_url)
    assert run.code == 1, run.both
    assert "victim==1.0" in run.err
    assert "victim-1.0.tar.gz: refusing to unpack member 'victim-1.0/link'" in run.err
    assert "Traceback" not in run.err


def test_sdist_metadata_members_are_capped() -> None:
    big = _tar([("p-1.0/PKG-INFO", b"Name: p\n" + b"x" * MAX_SDIST_MEMBER_BYTES)])
    with pytest.raises(IndexResponseError, match=r"'p-1\.0/PKG-INFO' is larger than 1 MiB"):
        read_sdist_metadata(big, filename="p-1.0.tar.gz", source="p-1.0.tar.gz", version=None)


# -- (e) credentials never appear in a child's arguments --------------------------------------


def _with_build_requirements(sdist: Path, requires: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(sdist) as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith("/pyproject.toml"):
                data = data.replace(b"requires = []", f"requires = {requires}".encode())
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.usefixtures("no_pip_config")
def test_build_gets_index_credentials_outside_its_arguments(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("authbuild")
    sdist = build_sdist(
        root, "victim", "1.0", requires=["alpha"], dynamic=["Requires-Dist"], static_pyproject=False
    )
    sdist.write_bytes(_with_build_requirements(sdist, '["beta>=1"]'))
    server = make_index(auth=("user", "SECRET"))
    server.add_file(sdist, upload_time=WHEN)

    argvs = record_children(monkeypatch)
    url = server.simple_url.replace("http://", "http://user:SECRET@")
    run = compile_(capsys, url)
    assert run.code == 0, run.both
    assert pins_of(run.out) == {"alpha": "1.1", "victim": "1.0"}
    installs = [a for a in argvs if a[1:3] == ["-m", "pip"] and "install" in a]
    assert installs, argvs  # the build requirement was installed by pip ...
    assert any(r.path == "/files/beta-1.0-py3-none-any.whl" for r in server.requests)
    assert not [a for a in argvs if any("SECRET" in part for part in a)], argvs
    assert not [a for a in argvs if any("****" in part for part in a)], argvs


def test_pip_sources_keep_credentials_in_the_environment() -> None:
    from lockpin.python.index import IndexConfig

    config = IndexConfig(
        index_url="https://u:pw@private.example/simple/",
        extra_index_urls=("https://pypi.org/simple/", "https://tok@other.example/simple/"),
        find_links=("/srv/wheels", "https://u:pw@links.example/"),
    )
    args, env = build_module._pip_sources(config, {"PIP_EXTRA_INDEX_URL": "https://mine/"})
    assert args == [
        "--extra-index-url",
        "https://pypi.org/simple/",
        "--find-links",
        "/srv/wheels",
    ]
    assert env == {
        "PIP_INDEX_URL": "https://u:pw@private.example/simple/",
        "PIP_EXTRA_INDEX_URL": "https://mine/ https://tok@other.example/simple/",
        "PIP_FIND_LINKS": "https://u:pw@links.example/",
    }


def test_pip_sources_trust_the_plain_http_hosts_the_user_allowed() -> None:
    from lockpin.python.index import IndexConfig

    config = IndexConfig(
        index_url="http://u:pw@pypi.internal:8080/simple/",
        extra_index_urls=(
            "https://pypi.internal/simple/",  # https: pip must keep checking its TLS
            "http://mirror.internal/simple/",
            "http://127.0.0.1:9/simple/",  # loopback: pip trusts it already
            "http://other.internal/simple/",  # not allowed (lockpin refuses it)
        ),
        find_links=("/srv/wheels", "http://PYPI.internal:8080/links/"),
    )
    args, env = build_module._pip_sources(
        config, {}, allow_insecure_hosts=frozenset({"pypi.internal", "mirror.internal:80"})
    )
    trusted = [args[i + 1] for i, a in enumerate(args) if a == "--trusted-host"]
    assert trusted == ["pypi.internal:8080", "mirror.internal"]
    assert not [a for a in args if "pw" in a]  # a host name, never the credentials
    assert env == {"PIP_INDEX_URL": "http://u:pw@pypi.internal:8080/simple/"}
    # the sources as without allowed hosts, then the hosts
    assert args[: args.index("--trusted-host")] == build_module._pip_sources(config, {})[0]


def test_build_requirements_install_trusts_the_allowed_plain_http_index(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The argv of the pip that installs build requirements, recorded (nothing runs)."""
    from lockpin.python.index import IndexConfig

    sdist = build_sdist(
        tmp_path,
        "victim",
        "1.0",
        requires=["alpha"],
        dynamic=["Requires-Dist"],
        static_pyproject=False,
    )
    data = _with_build_requirements(sdist, '["beta>=1"]')
    argvs: list[list[str]] = []

    def recording_run(cmd: list[str], *, filename: str, **_: object) -> None:
        argvs.append(cmd)
        if cmd[1:3] == ["-m", "pip"] and "install" in cmd:
            raise BuildError("stopped after the install step", filename=filename)

    monkeypatch.setattr(build_module, "_run", recording_run)
    builder = build_module.make_metadata_builder(
        IndexConfig(index_url="http://pypi.internal:8080/simple/"),
        allow_insecure_hosts=frozenset({"PyPI.internal"}),
    )

    async def run() -> bytes:
        return await builder(data, sdist.name)

    with pytest.raises(BuildError, match="stopped after the install step"):
        asyncio.run(run())
    [pip] = [a for a in argvs if a[1:3] == ["-m", "pip"] and "install" in a]
    assert pip[pip.index("--index-url") :] == [
        "--index-url",
        "http://pypi.internal:8080/simple/",
        "--trusted-host",
        "pypi.internal:8080",
        "--",
        "beta>=1",
    ]


def test_compile_hands_its_allowed_hosts_to_the_build(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``--allow-insecure-host`` and an input's ``--trusted-host`` line reach the builder."""
    root = tmp_path_factory.mktemp("trustedbuild")
    sdist = build_sdist(
        root, "victim", "1.0", requires=["alpha"], dynamic=["Requires-Dist"], static_pyproject=False
    )
    server = make_index()
    server.add_file(sdist, upload_time=WHEN)
    given: list[frozenset[str]] = []

    def fake_builder(
        index: object, *, allow_insecure_hosts: Sequence[str] = (), **_: object
    ) -> Callable[[bytes, str], Any]:
        given.append(frozenset(allow_insecure_hosts))

        async def build(data: bytes, filename: str) -> bytes:
            return metadata_text("victim", "1.0", requires=["alpha"]).encode()

        return build

    monkeypatch.setattr(build_module, "make_metadata_builder", fake_builder)
    Path("requirements.in").write_text("--trusted-host mirror.internal\nvictim\n")
    run = run_cli(
        capsys,
        "compile",
        "requirements.in",
        "-o",
        "-",
        "-i",
        server.simple_url,
        "--allow-insecure-host",
        "pypi.internal:8080",
        *TARGET,
    )
    assert run.code == 0, run.both
    assert pins_of(run.out) == {"alpha": "1.1", "victim": "1.0"}
    assert given == [frozenset({"pypi.internal:8080", "mirror.internal"})]


# -- (f) duplicate Requires-Dist lines cost linear work ---------------------------------------


def test_duplicate_requires_dist_are_parsed_once() -> None:
    text = metadata_text("p", "1.0", requires=["alpha>=1.0"] * 4000 + ["beta"])
    meta = parse_core_metadata(text, source="p.whl")
    assert [str(r) for r in meta.requires_dist] == ["alpha>=1.0", "beta"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            metadata_text(
                "p", "1.0", requires=[f"alpha!={i}" for i in range(MAX_REQUIRES_DIST + 1)]
            ),
            f"{MAX_REQUIRES_DIST + 1} Requires-Dist lines",
        ),
        ("Name: p\nVersion: 1\n" + "x" * MAX_METADATA_BYTES, "larger than lockpin reads"),
    ],
    ids=["too-many-lines", "too-large"],
)
def test_oversized_metadata_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidMetadataError, match=message) as info:
        parse_core_metadata(text, source="https://example/p.whl")
    assert info.value.url == "https://example/p.whl"


class _OneReleaseWorld:
    """``app 1.0`` requires ``alpha`` thousands of times; ``alpha`` has two releases."""

    def __init__(self, requires: list[str]) -> None:
        self.requires = requires
        self.discovered_reqs: list[Req] = []

    def versions(self, name: NormalizedName) -> Sequence[DistFile]:
        versions = {"app": ["1.0"], "alpha": ["1.0", "2.0"]}[name]
        return [
            DistFile(f"{name}-{v}-py3-none-any.whl", f"memory://{name}-{v}.whl") for v in versions
        ]

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        reqs = self.requires if candidate.name == "app" else []
        return CoreMetadata(
            name=candidate.name,
            version=candidate.version,
            requires_dist=tuple(Requirement(r) for r in reqs),
            requires_python=None,
            provides_extra=(),
        )

    def discovered(self, req: Req) -> None:
        self.discovered_reqs.append(req)


def test_many_requirements_on_one_project_become_one_edge() -> None:
    # Not deduplicated by the parser: spelled differently, meaning the same or more.
    requires = [f"alpha>=1.0,!=0.{i}" for i in range(3000)] + ["alpha<2"] + ["alpha"] * 1000
    world = _OneReleaseWorld(requires)
    target = parse_target(python_version="3.12", platform="linux/amd64")
    result = resolve(world, [Req(canonicalize_name("app"), source="-r in")], target=target)
    assert {str(n): str(c.version) for n, c in result.pins.items()} == {
        "alpha": "1.0",
        "app": "1.0",
    }
    edges = [r for r in world.discovered_reqs if r.name == "alpha"]
    assert len(edges) == 1
    assert edges[0].specifier.contains(Version("1.0"))
    assert not edges[0].specifier.contains(Version("2.0"))
    assert len(edges[0].specifier) == 3002  # >=1.0, <2 and every !=0.i, each once


def test_metadata_with_4000_duplicate_requires_dist_resolves(
    make_index: Callable[..., IndexServer], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("dups")
    wheel = build_wheel(root, "victim", "1.0", requires=["alpha>=1.0"] * 4000)
    server = make_index()
    server.add_file(wheel, metadata="absent", upload_time=WHEN)
    Path("requirements.in").write_text("victim\n")
    # A real process with a generous limit: a hang guard, not a timing assertion.
    argv = [sys.executable, "-m", "lockpin", "compile", "requirements.in", "-o", "-"]
    proc = subprocess.run(
        [*argv, "-i", server.simple_url, *TARGET],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert pins_of(proc.stdout) == {"alpha": "1.1", "victim": "1.0"}
    assert proc.stdout.count("# via victim") == 1
