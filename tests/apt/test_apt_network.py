"""The live tier of lockpin apt (``-m network``): lockpin against the real apt, on the
real Debian and Ubuntu archives.

**Closure.** For real packages on Debian bookworm and Ubuntu noble (amd64), with the
dpkg status of a minimal root (``debootstrap --variant=minbase``) as the base,
lockpin's closure (:func:`lockpin.apt_compile` with ``base_status=``) equals what the
real ``apt-get -s install --no-install-recommends`` plans, name by name and version
by version, upgrades of base packages included (and ``--with-recommends`` equals
``--install-recommends``, apt's own default). apt-get runs in a private root
(:class:`fixtures.aptget.AptGetRoot`: its own ``APT_CONFIG``, ``Dir::State::Lists``
and ``Dir::Cache``; the machine's apt state is never touched) whose
``sources.list`` names the same three suites lockpin reads (R, R-updates,
R-security; Ubuntu's security suite from security.ubuntu.com, as lockpin's
default) and whose ``Dir::State::status`` is the root's status file.

**Same archive state.** The archive changes several times a day, so both sides
must have read the same ``InRelease`` of every suite: the lock records each one's
sha256, which is compared with the files apt-get's lists hold. When the archive
moved between the two fetches, apt-get's lists are updated and lockpin is run
once more; a difference after that fails the test.

**Files.** Every pin's ``.deb`` file name, size and sha256 equal what apt says
for ``name=version`` (``apt-get download --print-uris``, ``apt-cache show``), its
URL names the same pool file, and a few ``.deb`` files are downloaded by
``apt-get download`` and hashed. Every pin's URL is the very URL apt fetches: a
version that both noble-updates and noble-security carry is one file in two
archives, and both take it from the first suite in ``sources.list`` order
(noble-updates, archive.ubuntu.com).

**Ubuntu.** Debian does not package Ubuntu's archive keyring: the test reads the
``Filename`` and ``SHA256`` of ``ubuntu-keyring`` from noble's ``main`` index,
downloads that ``.deb`` from archive.ubuntu.com, checks its sha256 and extracts
``usr/share/keyrings/ubuntu-archive-keyring.gpg`` with ``dpkg-deb -x`` (the index
itself is unsigned as far as this bootstrap goes; every later step verifies
``InRelease`` with the extracted key, so a wrong key fails the test). The base is
a real noble minbase root, debootstrapped with that keyring (debootstrap has no
``noble`` script of its own before 1.0.134: the ``gutsy`` script serves every
Ubuntu release). Components: main and universe (``components=["universe"]``).

**End to end.** In a private copy of each root, ``chroot`` runs the script
:func:`lockpin.apt_export` writes for a compiled lock: it installs exactly the
pinned versions (``dpkg-query -W``) and nothing else, and a lock with one
sha256 altered fails the build and installs nothing. The output is printed
(``-s`` shows it).

**CLI.** ``python -m lockpin apt compile/export/verify`` on real data, two
platforms in one lock, and Ubuntu with ``--component universe``.

Roots are cached under ``/var/tmp/lockpin-roots`` (:mod:`fixtures.minbase`;
``$LOCKPIN_TEST_DEBIAN_ROOT`` / ``$LOCKPIN_TEST_UBUNTU_ROOT`` name roots to use
instead); lockpin's HTTP cache is one per session, so only the first compile of
a release downloads its indexes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import lzma
import os
import re
import shlex
import subprocess
import sys
import urllib.request
from typing import TYPE_CHECKING

import pytest

import lockpin
from fixtures.apt_live import (
    PLATFORM,
    LiveRelease,
    bookworm_release,
    closure_differences,
    lock_plan,
)
from fixtures.aptget import AptGetRoot, AptSource
from fixtures.minbase import chroot, installed, minbase_root, private_copy
from lockpin.apt.lock import AptLock
from lockpin.net.config import HttpConfig

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

pytestmark = pytest.mark.network

UBUNTU = "http://archive.ubuntu.com/ubuntu"
UBUNTU_SECURITY = "http://security.ubuntu.com/ubuntu"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as reply:
        data: bytes = reply.read()
    return data


# -- the two sides (fixtures.apt_live) ------------------------------------------------------


def assert_same_closure(
    live: LiveRelease, names: Sequence[str], tmp_path: Path, *, recommends: bool = False
) -> AptLock:
    lock = live.compile_in_step(names, tmp_path, with_recommends=recommends)
    differ = closure_differences(lock_plan(lock), live.plan(names, recommends=recommends))
    assert not differ, f"closure of {' '.join(names)} differs from apt-get's: {differ}"
    assert set(names) <= set(lock_plan(lock))
    # and the files: name, size and sha256 as apt-get would fetch them, from the same
    # URL (of a version two suites carry, the first suite in sources.list order)
    theirs_files = live.files(lock)
    assert {name: f[1:] for name, f in theirs_files.items()} == {
        p.name: (p.deb_name, p.size, p.sha256) for p in lock.packages_for(PLATFORM)
    }
    assert {p.name: p.url for p in lock.packages_for(PLATFORM)} == {
        name: f[0] for name, f in theirs_files.items()
    }
    return lock


def apt_download(live: LiveRelease, pins: Sequence[str], directory: Path) -> dict[str, str]:
    """``apt-get download PINS`` into ``directory``: ``{file name: sha256}``."""
    directory.mkdir()
    proc = subprocess.run(
        ["apt-get", "download", *pins],
        cwd=directory,
        env=live.apt.environ(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.glob("*.deb"))
    }


# -- session fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def lockpin_http(tmp_path_factory: pytest.TempPathFactory) -> HttpConfig:
    """One lockpin cache for the session: the first compile of a release fetches."""
    return HttpConfig(cache_dir=tmp_path_factory.mktemp("lockpin-cache"))


@pytest.fixture(scope="session")
def bookworm(
    debian_minbase_root: Path,
    lockpin_http: HttpConfig,
    tmp_path_factory: pytest.TempPathFactory,
) -> LiveRelease:
    return bookworm_release(
        debian_minbase_root / "var/lib/dpkg/status",
        tmp_path_factory.mktemp("apt-bookworm"),
        lockpin_http,
    )


@pytest.fixture(scope="session")
def ubuntu_keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ubuntu's archive keyring, from the ubuntu-keyring .deb (see the module docstring)."""
    index = lzma.decompress(fetch(f"{UBUNTU}/dists/noble/main/binary-amd64/Packages.xz"))
    stanza = next(
        block
        for block in index.decode().split("\n\n")
        if block.startswith("Package: ubuntu-keyring\n")
    )
    fields = dict(re.findall(r"^(Filename|SHA256): (\S+)$", stanza, re.MULTILINE))
    deb = fetch(f"{UBUNTU}/{fields['Filename']}")
    assert hashlib.sha256(deb).hexdigest() == fields["SHA256"]
    directory = tmp_path_factory.mktemp("ubuntu-keyring")
    (directory / "ubuntu-keyring.deb").write_bytes(deb)
    subprocess.run(
        ["dpkg-deb", "-x", str(directory / "ubuntu-keyring.deb"), str(directory / "x")],
        check=True,
        timeout=60,
    )
    keyring = directory / "x/usr/share/keyrings/ubuntu-archive-keyring.gpg"
    assert keyring.stat().st_size > 0
    return keyring


@pytest.fixture(scope="session")
def ubuntu_minbase_root(ubuntu_keyring: Path) -> Path:
    return minbase_root(
        "noble",
        release="noble",
        mirror=UBUNTU,
        env="LOCKPIN_TEST_UBUNTU_ROOT",
        keyring=ubuntu_keyring,
        script="/usr/share/debootstrap/scripts/gutsy",
    )


@pytest.fixture(scope="session")
def noble(
    ubuntu_minbase_root: Path,
    ubuntu_keyring: Path,
    lockpin_http: HttpConfig,
    tmp_path_factory: pytest.TempPathFactory,
) -> LiveRelease:
    status = ubuntu_minbase_root / "var/lib/dpkg/status"
    components = ("main", "universe")
    apt = AptGetRoot(
        tmp_path_factory.mktemp("apt-noble"),
        architecture="amd64",
        sources=[
            AptSource(UBUNTU, ("noble", "noble-updates"), components, keyring=ubuntu_keyring),
            AptSource(UBUNTU_SECURITY, ("noble-security",), components, keyring=ubuntu_keyring),
        ],
        status=status,
    )
    apt.update()
    return LiveRelease(
        "noble", status, apt, lockpin_http, keyring=ubuntu_keyring, components=("universe",)
    )


# -- closures -----------------------------------------------------------------------------

# default-mysql-client: a metapackage over alternatives (mariadb-client | virtual);
# bsd-mailx: "default-mta | mail-transport-agent", a virtual package by Provides;
# python3: =-pinned and :any relations; git: perl and many libraries; perl: needs a
# newer perl-base than a minbase root of the point release has (an upgrade of an
# Essential package, while the security archive is ahead of the point release).
DEBIAN_CASES = [
    ["curl"],
    ["postgresql-client"],
    ["git"],
    ["python3"],
    ["ca-certificates"],
    ["jq"],
    ["default-mysql-client"],
    ["bsd-mailx"],
    ["perl"],
    ["curl", "git", "jq", "python3", "ca-certificates"],
]


@pytest.mark.slow
@pytest.mark.parametrize("names", DEBIAN_CASES, ids="+".join)
def test_bookworm_closure_equals_apt_get(
    bookworm: LiveRelease, names: list[str], tmp_path: Path
) -> None:
    assert_same_closure(bookworm, names, tmp_path)


@pytest.mark.slow
def test_bookworm_with_recommends_equals_apt_get_default(
    bookworm: LiveRelease, tmp_path: Path
) -> None:
    (tmp_path / "no").mkdir()
    (tmp_path / "yes").mkdir()
    without = assert_same_closure(bookworm, ["curl"], tmp_path / "no")
    with_ = assert_same_closure(bookworm, ["curl"], tmp_path / "yes", recommends=True)
    assert with_.with_recommends
    # curl Recommends ca-certificates: the flag must matter
    assert set(without.pins(PLATFORM)) < set(with_.pins(PLATFORM))
    assert "ca-certificates" in with_.pins(PLATFORM)


@pytest.mark.slow
def test_bookworm_sha256_equals_the_debs_apt_get_downloads(
    bookworm: LiveRelease, tmp_path: Path
) -> None:
    lock = bookworm.compile_in_step(["jq", "curl"], tmp_path)
    chosen = [p for p in lock.packages_for(PLATFORM) if p.name in ("jq", "libjq1", "libonig5")]
    chosen.append(next(p for p in lock.packages_for(PLATFORM) if p.name == "curl"))
    assert len(chosen) == 4
    got = apt_download(bookworm, [p.pin for p in chosen], tmp_path / "debs")
    assert got == {p.deb_name: p.sha256 for p in chosen}


NOBLE_CASES = [
    ["curl"],
    ["postgresql-client"],
    ["git"],
    ["python3"],
    ["ca-certificates"],
    ["default-mysql-client"],
    ["bsd-mailx"],
    ["ripgrep", "jq"],  # ripgrep is in universe
]


@pytest.mark.slow
@pytest.mark.parametrize("names", NOBLE_CASES, ids="+".join)
def test_noble_closure_equals_apt_get(noble: LiveRelease, names: list[str], tmp_path: Path) -> None:
    lock = assert_same_closure(noble, names, tmp_path)
    assert lock.distribution == "ubuntu"


@pytest.mark.slow
def test_noble_with_recommends_and_downloads(noble: LiveRelease, tmp_path: Path) -> None:
    lock = assert_same_closure(noble, ["curl"], tmp_path, recommends=True)
    assert "ca-certificates" in lock.pins(PLATFORM)
    chosen = [p for p in lock.packages_for(PLATFORM) if p.name in ("curl", "ca-certificates")]
    got = apt_download(noble, [p.pin for p in chosen], tmp_path / "debs")
    assert got == {p.deb_name: p.sha256 for p in chosen}


# -- end to end: the exported script in the minbase roots ---------------------------------


def _run_script(
    root: Path, lock: AptLock, directory: Path, label: str
) -> subprocess.CompletedProcess[str]:
    lock_file = directory / f"{label}.lock"
    lock_file.write_text(lock.to_toml())
    (root / f"tmp/{label}.sh").write_text(lockpin.apt_export(lock_file, format="script"))
    proc = chroot(root, "sh", f"/tmp/{label}.sh")
    print(f"$ chroot ROOT sh /tmp/{label}.sh")
    print(proc.stdout + proc.stderr + f"[exit {proc.returncode}]")
    return proc


def _script_installs_exactly_the_lock(
    live: LiveRelease, source_root: Path, names: Sequence[str], altered: str, tmp_path: Path
) -> None:
    lock = live.compile_in_step(names, tmp_path)
    pins = lock.pins(PLATFORM)
    for pin in lock.packages_for(PLATFORM):
        if pin.upgrade_of:
            print(f"upgrade of the base: {pin.name} {pin.upgrade_of} -> {pin.version}")
    root = private_copy(source_root, tmp_path / "root")
    before = installed(root)
    assert not set(names) & set(before)

    # 1. one sha256 altered: the build fails on that file and installs nothing
    victim = next(p for p in lock.packages_for(PLATFORM) if p.name == altered)
    bad = dataclasses.replace(
        lock,
        packages=tuple(
            dataclasses.replace(p, sha256="0" * 64) if p is victim else p for p in lock.packages
        ),
    )
    proc = _run_script(root, bad, tmp_path, "bad")
    assert proc.returncode != 0
    assert f"{victim.deb_name}: FAILED" in proc.stdout
    assert "Nothing was installed" in proc.stderr
    assert installed(root) == before

    # 2. the lock as compiled: exactly its versions, and nothing else
    proc = _run_script(root, lock, tmp_path, "install")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = installed(root)
    assert {name: after[name] for name in pins if name in after} == pins
    assert {name: version for name, version in after.items() if before.get(name) != version} == pins
    query = chroot(root, "dpkg-query", "-W", *names)
    print(f"$ chroot ROOT dpkg-query -W {' '.join(names)}")
    print(query.stdout, end="")
    assert query.stdout == "".join(f"{name}\t{pins[name]}\n" for name in sorted(names))
    assert not list((root / "var/lib/apt/lists").glob("*_InRelease"))


@pytest.mark.slow
def test_script_installs_exactly_a_compiled_lock_in_a_bookworm_root(
    bookworm: LiveRelease, debian_minbase_root: Path, tmp_path: Path
) -> None:
    _script_installs_exactly_the_lock(
        bookworm, debian_minbase_root, ["curl", "jq", "perl"], "libcurl4", tmp_path
    )


@pytest.mark.slow
def test_script_installs_exactly_a_compiled_lock_in_a_noble_root(
    noble: LiveRelease, ubuntu_minbase_root: Path, tmp_path: Path
) -> None:
    _script_installs_exactly_the_lock(
        noble, ubuntu_minbase_root, ["jq", "ripgrep", "perl"], "libjq1", tmp_path
    )


# -- the CLI on real data ------------------------------------------------------------------


def cli(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOCKPIN_CACHE_DIR": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-m", "lockpin", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(f"$ lockpin {shlex.join(args)}  [exit {proc.returncode}]\n{proc.stderr}", end="")
    assert "Traceback" not in proc.stderr
    return proc


@pytest.mark.slow
def test_cli_compile_export_verify_two_platforms(lockpin_http: HttpConfig, tmp_path: Path) -> None:
    assert lockpin_http.cache_dir is not None
    cache = lockpin_http.cache_dir
    (tmp_path / "apt.in").write_text("# tools\ncurl\njq\n\nlibpq5 (>= 15)\n")
    compile_ = cli(
        "apt", "compile", "apt.in", "--release", "bookworm",
        "--platform", "linux/amd64", "--platform", "linux/arm64", "-o", "apt.lock",
        cwd=tmp_path, cache=cache,
    )  # fmt: skip
    assert compile_.returncode == 0
    lock = AptLock.from_toml((tmp_path / "apt.lock").read_text(), filename="apt.lock")
    assert lock.platforms == ("linux/amd64", "linux/arm64")
    for platform, arch in (("linux/amd64", "amd64"), ("linux/arm64", "arm64")):
        pins = lock.packages_for(platform)
        assert {"curl", "jq", "libpq5"} <= {p.name for p in pins}
        assert {p.architecture for p in pins} <= {arch, "all"}
    # --check: the lock as it is; nothing written
    check = cli("apt", "compile", "apt.in", "--check", "-o", "apt.lock", cwd=tmp_path, cache=cache)
    assert check.returncode == 0

    apt_get = cli(
        "apt", "export", "apt.lock", "--format", "apt-get", "--platform", "linux/arm64",
        cwd=tmp_path, cache=cache,
    )  # fmt: skip
    assert apt_get.returncode == 0
    assert apt_get.stdout == "".join(f"{p.pin}\n" for p in lock.packages_for("linux/arm64"))
    sums = cli("apt", "export", "apt.lock", "--format", "sha256sums", cwd=tmp_path, cache=cache)
    assert sums.returncode == 0
    assert sums.stdout.startswith("# linux/amd64\n")
    assert "# linux/arm64\n" in sums.stdout
    assert len(sums.stdout.splitlines()) == len(lock.packages) + 2
    script = cli("apt", "export", "apt.lock", "--format", "script", cwd=tmp_path, cache=cache)
    assert script.returncode == 0
    assert "amd64)" in script.stdout
    assert "arm64)" in script.stdout
    assert subprocess.run(["sh", "-n"], input=script.stdout, text=True, check=False).returncode == 0

    verify = cli("apt", "verify", "apt.lock", cwd=tmp_path, cache=cache)
    assert verify.returncode == 0, verify.stdout
    download = cli("apt", "verify", "apt.lock", "--download", cwd=tmp_path, cache=cache)
    assert download.returncode == 0, download.stdout

    # a version the archive does not have: verify exits 1 and names it
    gone = dataclasses.replace(
        lock,
        packages=tuple(
            dataclasses.replace(
                p,
                version="99.0-1",
                url=p.url.replace(p.version, "99.0-1"),
                filename=p.filename.replace(p.version, "99.0-1"),
            )
            if p.name == "jq" and p.platform == "linux/amd64"
            else p
            for p in lock.packages
        ),
    )
    (tmp_path / "gone.lock").write_text(gone.to_toml())
    bad = cli("apt", "verify", "gone.lock", cwd=tmp_path, cache=cache)
    assert bad.returncode == 1
    assert "jq" in bad.stdout + bad.stderr
    assert "99.0-1" in bad.stdout + bad.stderr


@pytest.mark.slow
def test_cli_ubuntu_with_universe(
    lockpin_http: HttpConfig, ubuntu_keyring: Path, tmp_path: Path
) -> None:
    assert lockpin_http.cache_dir is not None
    cache = lockpin_http.cache_dir
    (tmp_path / "apt.in").write_text("ripgrep\n")
    main_only = cli(
        "apt", "compile", "apt.in", "--release", "noble", "--arch", "amd64",
        "--keyring", str(ubuntu_keyring), "-o", "main.lock",
        cwd=tmp_path, cache=cache,
    )  # fmt: skip
    assert main_only.returncode == 2  # no such package, as for a Python project
    assert "ripgrep" in main_only.stderr
    assert not (tmp_path / "main.lock").exists()
    compile_ = cli(
        "apt", "compile", "apt.in", "--release", "noble", "--platform", "linux/amd64",
        "--component", "universe",
        "--keyring", str(ubuntu_keyring), "-o", "apt.lock",
        cwd=tmp_path, cache=cache,
    )  # fmt: skip
    assert compile_.returncode == 0
    lock = AptLock.from_toml((tmp_path / "apt.lock").read_text(), filename="apt.lock")
    assert lock.distribution == "ubuntu"
    assert lock.components == ("main", "universe")
    # (amd64 only: ports.ubuntu.com, where arm64 lives, is not reachable from every test
    # machine; the ports URLs are covered by test_apt_distro)
    ripgrep = next(p for p in lock.packages if p.name == "ripgrep")
    assert ripgrep.url.startswith(f"{UBUNTU}/pool/universe/")
    assert {r.url for r in lock.suites} == {UBUNTU, UBUNTU_SECURITY}
    verify = cli(
        "apt", "verify", "apt.lock", "--download", "--keyring", str(ubuntu_keyring),
        cwd=tmp_path, cache=cache,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout
    script = cli("apt", "export", "apt.lock", "--format", "script", cwd=tmp_path, cache=cache)
    assert script.returncode == 0
    assert f"deb [arch=amd64] {UBUNTU} noble main universe" in script.stdout
