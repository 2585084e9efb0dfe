"""lockpin apt export (lockpin.apt.export): apt-get arguments, sha256sums, the RUN script.

The script is checked by ``sh -n`` and ``shellcheck`` (when installed), its
architecture selection by running it with a stand-in ``dpkg``, and end to end
(``-m network``) by running it with the real apt inside a minimal Debian root
against deb.debian.org.
"""

from __future__ import annotations

import dataclasses
import hashlib
import lzma
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fixtures.apt_support import DATE, DEBIAN, SECURITY, compile_from, pin
from fixtures.minbase import chroot, installed, private_copy
from lockpin.apt.distro import oci_platform
from lockpin.apt.export import export_apt_get, export_script, export_sha256sums
from lockpin.apt.lock import AptLock, LockedPackage, SuiteRecord
from lockpin.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures.apt_archive import ServedArchive


def two_platform_lock(**changes: object) -> AptLock:
    lock = AptLock(
        distribution="debian",
        release="bookworm",
        platforms=("linux/amd64", "linux/arm64"),
        requested=("jq",),
        suites=(
            SuiteRecord("bookworm", DEBIAN, "1" * 64, DATE, ("amd64", "arm64")),
            SuiteRecord("bookworm-security", SECURITY, "2" * 64, DATE, ("amd64", "arm64")),
        ),
        packages=(
            pin("linux/amd64", "jq", "1.6-2.1+deb12u2", sha="a"),
            pin("linux/amd64", "libjpeg62-turbo", "1:2.1.5-2", sha="b"),
            pin("linux/amd64", "netbase", "6.4", sha="c", arch="all"),
            pin(
                "linux/amd64", "libssl3", "3.0.16-1~deb12u1", sha="d",
                suite="bookworm-security", base=SECURITY,
            ),
            pin("linux/arm64", "jq", "1.6-2.1+deb12u2", sha="e"),
            pin("linux/arm64", "netbase", "6.4", sha="c", arch="all"),
        ),
    )  # fmt: skip
    return dataclasses.replace(lock, **changes)  # type: ignore[arg-type]


# -- apt-get ------------------------------------------------------------------------------


def test_apt_get_lines_of_one_platform() -> None:
    lock = two_platform_lock()
    assert export_apt_get(lock, "linux/amd64") == (
        "jq=1.6-2.1+deb12u2\nlibjpeg62-turbo=1:2.1.5-2\nlibssl3=3.0.16-1~deb12u1\nnetbase=6.4\n"
    )
    assert export_apt_get(lock, "linux/arm64") == "jq=1.6-2.1+deb12u2\nnetbase=6.4\n"
    single = two_platform_lock(
        platforms=("linux/arm64",), packages=lock.packages_for("linux/arm64")
    )
    assert export_apt_get(single) == "jq=1.6-2.1+deb12u2\nnetbase=6.4\n"


def test_apt_get_needs_a_platform_of_the_lock() -> None:
    lock = two_platform_lock()
    with pytest.raises(InputError, match=r"several platforms \(linux/amd64, linux/arm64\)"):
        export_apt_get(lock)
    with pytest.raises(InputError, match=r"no platform 'linux/386'.*linux/amd64, linux/arm64"):
        export_apt_get(lock, "linux/386")


def test_apt_get_of_a_platform_with_nothing_to_install() -> None:
    lock = two_platform_lock(packages=two_platform_lock().packages_for("linux/amd64"))
    assert export_apt_get(lock, "linux/arm64") == ""


# -- sha256sums ---------------------------------------------------------------------------


def test_sha256sums_names_files_as_apt_does() -> None:
    lock = two_platform_lock()
    assert export_sha256sums(lock, "linux/amd64") == (
        f"{'a' * 64}  jq_1.6-2.1+deb12u2_amd64.deb\n"
        f"{'b' * 64}  libjpeg62-turbo_1%3a2.1.5-2_amd64.deb\n"
        f"{'d' * 64}  libssl3_3.0.16-1~deb12u1_amd64.deb\n"
        f"{'c' * 64}  netbase_6.4_all.deb\n"
    )
    assert export_sha256sums(lock) == (
        "# linux/amd64\n"
        + export_sha256sums(lock, "linux/amd64")
        + "# linux/arm64\n"
        + export_sha256sums(lock, "linux/arm64")
    )
    with pytest.raises(InputError, match="no platform"):
        export_sha256sums(lock, "linux/s390x")


def test_sha256sums_is_checked_by_the_real_sha256sum(tmp_path: Path) -> None:
    """Files named as the lock says, with the content it records: sha256sum -c agrees;
    one byte changed: it names that file."""
    contents = {"jq": b"jq deb", "libjpeg62-turbo": b"epoch deb", "netbase": b"all deb"}
    versions = {"jq": "1.6-2.1", "libjpeg62-turbo": "1:2.1.5-2", "netbase": "6.4"}
    pins = tuple(
        dataclasses.replace(
            pin("linux/amd64", name, versions[name], arch="all" if name == "netbase" else None),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        for name, data in contents.items()
    )
    lock = two_platform_lock(platforms=("linux/amd64",), packages=pins)
    for p, data in zip(pins, contents.values(), strict=True):
        (tmp_path / p.deb_name).write_bytes(data)
    (tmp_path / "SHA256SUMS").write_text(export_sha256sums(lock))

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sha256sum", "-c", "--strict", "SHA256SUMS"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    ok = check()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "libjpeg62-turbo_1%3a2.1.5-2_amd64.deb: OK" in ok.stdout
    (tmp_path / "libjpeg62-turbo_1%3a2.1.5-2_amd64.deb").write_bytes(b"epoch deb!")
    bad = check()
    assert bad.returncode != 0
    assert "libjpeg62-turbo_1%3a2.1.5-2_amd64.deb: FAILED" in bad.stdout
    # the multi-platform form (comment lines) is accepted too
    (tmp_path / "libjpeg62-turbo_1%3a2.1.5-2_amd64.deb").write_bytes(b"epoch deb")
    (tmp_path / "SHA256SUMS").write_text("# linux/amd64\n" + export_sha256sums(lock))
    assert check().returncode == 0


# -- the script ---------------------------------------------------------------------------


def script_variants() -> dict[str, str]:
    lock = two_platform_lock()
    snap = "http://snapshot.debian.org/archive/debian/20250520T000000Z"
    snapshot = two_platform_lock(
        snapshot="20250520T000000Z",
        suites=(SuiteRecord("bookworm", snap, "1" * 64, DATE, ("amd64", "arm64")),),
        packages=(pin("linux/amd64", "jq", "1.6-2.1", sha="a", base=snap),),
    )
    https = "https://mirror.example:8443/debian"
    secure = two_platform_lock(
        platforms=("linux/arm/v7",),
        mirror=https,
        suites=(SuiteRecord("bookworm", https, "1" * 64, DATE, ("armhf",)),),
        packages=(pin("linux/arm/v7", "jq", "1.6-2.1", sha="a", base=https),),
    )
    own_key = two_platform_lock(keyring_name="mirror.gpg", keyring_sha256="9" * 64)
    return {
        "two-platforms": export_script(lock),
        "one-of-two": export_script(lock, "linux/arm64"),
        "unsigned": export_script(two_platform_lock(insecure_skip_verify=True)),
        "own-keyring": export_script(own_key),
        "keyring-in-image": export_script(
            own_key, keyring_in_image="/usr/share/keyrings/mirror.gpg"
        ),
        "snapshot": export_script(snapshot),
        "https": export_script(secure),
        "nothing-for-arm64": export_script(
            two_platform_lock(packages=lock.packages_for("linux/amd64"))
        ),
    }


SCRIPTS = script_variants()


def test_script_selects_by_architecture_and_quotes_values() -> None:
    script = SCRIPTS["two-platforms"]
    assert script.startswith("#!/bin/sh\n")
    assert "\nset -eu\n" in script
    assert "arch=$(dpkg --print-architecture)" in script
    assert "amd64)  # linux/amd64\n" in script
    assert "arm64)  # linux/arm64\n" in script
    assert "'libjpeg62-turbo=1:2.1.5-2'" in script
    assert f"{'b' * 64}  libjpeg62-turbo_1%3a2.1.5-2_amd64.deb" in script
    assert "deb [arch=amd64] http://deb.debian.org/debian-security bookworm-security main" in script
    # only apt, dpkg and coreutils: no downloader of its own
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    assert "curl" not in code
    assert "wget" not in code
    assert not [line for line in code.splitlines() if line.strip().startswith("lockpin")]
    assert '-o "Dir::Etc::SourceParts=$tmp/parts"' in script
    assert 'rm -rf "$tmp" /var/lib/apt/lists/*' in script
    one = SCRIPTS["one-of-two"]
    assert "arm64)" in one
    assert "amd64)" not in one
    assert "check-valid-until=no" in SCRIPTS["snapshot"]
    assert "check-valid-until" not in script
    assert "https=yes" in SCRIPTS["https"]
    assert "deb [arch=armhf] https://mirror.example:8443/debian bookworm main" in SCRIPTS["https"]


def test_script_is_the_same_for_the_same_lock() -> None:
    assert export_script(two_platform_lock()) == SCRIPTS["two-platforms"]


def test_script_platform_must_be_the_locks() -> None:
    with pytest.raises(InputError, match="no platform 'linux/386'"):
        export_script(two_platform_lock(), "linux/386")


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_is_valid_posix_sh(name: str, tmp_path: Path) -> None:
    path = tmp_path / "install.sh"
    path.write_text(SCRIPTS[name])
    for shell in ("sh", "dash", "bash"):
        if shutil.which(shell):
            proc = subprocess.run(
                [shell, "-n", str(path)], capture_output=True, text=True, check=False
            )
            assert proc.returncode == 0, (shell, proc.stderr)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_passes_shellcheck(name: str, tmp_path: Path) -> None:
    path = tmp_path / "install.sh"
    path.write_text(SCRIPTS[name])
    proc = subprocess.run(
        ["shellcheck", "--shell=sh", "--severity=style", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def run_with_fake_tools(
    script: str, arch: str, tmp_path: Path, *, wrap: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` where ``dpkg --print-architecture`` says ``arch`` and apt-get only
    records that it was called (to prove it was not); ``wrap`` prefixes the command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dpkg").write_text(f"#!/bin/sh\necho {arch}\n")
    (bin_dir / "apt-get").write_text(f"#!/bin/sh\necho called >>{tmp_path}/apt-get-called\n")
    for tool in ("dpkg", "apt-get"):
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "install.sh").write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    return subprocess.run(
        [*wrap, "sh", str(tmp_path / "install.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_script_refuses_an_architecture_the_lock_lacks(tmp_path: Path) -> None:
    proc = run_with_fake_tools(SCRIPTS["two-platforms"], "s390x", tmp_path)
    assert proc.returncode == 1
    assert "pins packages for amd64, arm64, not for s390x" in proc.stderr
    assert "re-run lockpin apt compile with --platform" in proc.stderr
    assert not (tmp_path / "apt-get-called").exists()


def test_script_with_nothing_to_install_does_nothing(tmp_path: Path) -> None:
    proc = run_with_fake_tools(SCRIPTS["nothing-for-arm64"], "arm64", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "pins nothing to install for arm64" in proc.stdout
    assert not (tmp_path / "apt-get-called").exists()


def test_script_needs_ca_certificates_for_https(tmp_path: Path) -> None:
    # hide this machine's CA bundle in a private mount namespace
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to hide the CA certificates")
    if not os.path.isdir("/etc/ssl/certs"):
        wrap: tuple[str, ...] = ()
    else:
        wrap = ("unshare", "-m", "sh", "-c", 'mount -t tmpfs none /etc/ssl/certs && exec "$@"', "-")
    proc = run_with_fake_tools(SCRIPTS["https"], "armhf", tmp_path, wrap=wrap)
    if "mount" in proc.stderr and proc.returncode != 1:
        pytest.skip(f"cannot hide the CA certificates here: {proc.stderr.strip()}")
    assert proc.returncode == 1, proc.stderr
    assert "install ca-certificates first" in proc.stderr
    assert not (tmp_path / "apt-get-called").exists()
    # with the certificates there, it goes on to apt-get
    assert os.path.exists("/etc/ssl/certs/ca-certificates.crt")
    (tmp_path / "bin").rename(tmp_path / "bin-1")
    run_with_fake_tools(SCRIPTS["https"], "armhf", tmp_path)
    assert (tmp_path / "apt-get-called").exists()


# -- trust: unsigned mirrors and keyrings of one's own ------------------------------------


def source_lines(script: str) -> list[str]:
    return [line.strip().strip("'").removeprefix("sources='") for line in script.splitlines()
            if "deb [" in line]  # fmt: skip


def test_an_unsigned_lock_marks_its_sources_trusted_and_says_so() -> None:
    unsigned = SCRIPTS["unsigned"]
    lines = source_lines(unsigned)
    assert len(lines) == 4  # two suites, two platforms
    assert all(line.startswith("deb [arch=") and " trusted=yes]" in line for line in lines)
    assert "# This lock was compiled with --insecure-skip-verify" in unsigned
    assert "Nothing but the sha256 check of every .deb" in unsigned
    # only a lock of an unsigned mirror: no other script trusts a source blindly
    for name, script in SCRIPTS.items():
        if name != "unsigned":
            assert "trusted=yes" not in script, name
            assert "insecure" not in script, name


def test_keyring_in_image_is_named_signed_by_and_checked_before_apt_runs(
    tmp_path: Path,
) -> None:
    script = SCRIPTS["keyring-in-image"]
    assert all("signed-by=/usr/share/keyrings/mirror.gpg]" in line for line in source_lines(script))
    assert "keyring='/usr/share/keyrings/mirror.gpg'" in script
    for name in ("two-platforms", "own-keyring", "unsigned"):
        assert "signed-by" not in SCRIPTS[name]
    # the keyring is not in this "image": the build stops, saying what to copy, before apt
    missing = tmp_path / "keyrings" / "mirror.gpg"
    lock = two_platform_lock(keyring_name="mirror.gpg", keyring_sha256="9" * 64)
    proc = run_with_fake_tools(
        export_script(lock, keyring_in_image=str(missing)), "amd64", tmp_path
    )
    assert proc.returncode == 1
    assert f"the keyring {missing} is not in this image: COPY it there" in proc.stderr
    assert f"mirror.gpg (sha256 {'9' * 64})" in proc.stderr
    assert not (tmp_path / "apt-get-called").exists()


@pytest.mark.parametrize(
    "path", ["keyrings/x.gpg", "/usr/share/key rings/x.gpg", "/a/../x.gpg", "/x.gpg]", "/a//b"]
)
def test_keyring_in_image_must_be_a_plain_absolute_path(path: str) -> None:
    with pytest.raises(InputError, match="must be an absolute path in the image"):
        export_script(two_platform_lock(), keyring_in_image=path)


def test_keyring_in_image_of_an_unsigned_lock_is_refused() -> None:
    with pytest.raises(InputError, match=r"insecure-skip-verify.*nothing|no signature"):
        export_script(two_platform_lock(insecure_skip_verify=True), keyring_in_image="/k.gpg")


def test_the_update_hint_names_what_the_image_lacks() -> None:
    assert "install debian-archive-keyring" in SCRIPTS["two-platforms"]
    own = SCRIPTS["own-keyring"]
    assert f"own (mirror.gpg, sha256 {'9' * 64})" in own
    assert "lockpin apt export --keyring-in-image PATH" in own
    assert "if ! apt_locked update; then" in own


def run_with_real_apt(
    script: str, tmp_path: Path, *, arch: str
) -> tuple[subprocess.CompletedProcess[str], list[str] | None]:
    """Run the exported ``script`` with the real apt-get for ``update`` and
    ``download``, in a private apt root that trusts no key at all
    (:class:`~fixtures.aptget.AptGetRoot`); ``apt-get install`` only records its
    arguments (nothing is installed on this machine). Returns the run and the
    recorded install arguments (``None`` when install was not reached)."""
    from fixtures.aptget import AptGetRoot

    root = AptGetRoot(tmp_path / "aptroot", architecture=arch, sources=[])
    assert not list((root.directory / "etc/apt/trusted.gpg.d").iterdir())
    record = tmp_path / "install-args"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real = shutil.which("apt-get")
    assert real is not None
    (bin_dir / "apt-get").write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do\n'
        f'\tif [ "$a" = install ]; then printf "%s\\n" "$@" >{record}; exit 0; fi\n'
        "done\n"
        f'exec {real} "$@"\n'
    )
    (bin_dir / "apt-get").chmod(0o755)
    # the script ends by emptying the image's apt lists: here, a directory of the test's
    lists = tmp_path / "image-lists"
    lists.mkdir()
    (lists / "kept-out").write_text("")
    assert script.count(" /var/lib/apt/lists/*") == 1
    script = script.replace(" /var/lib/apt/lists/*", f" {lists}/*")
    (tmp_path / "install.sh").write_text(script)
    env = {
        **root.environ(),
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "TMPDIR": str(tmp_path),
    }
    proc = subprocess.run(
        ["sh", str(tmp_path / "install.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    installed_args = record.read_text().splitlines() if record.exists() else None
    return proc, installed_args


def compile_lock(archive: ServedArchive, tmp_path: Path, **options: Any) -> AptLock:
    """A lock of mailer and greeter for this machine's platform, compiled without a
    keyring unless ``options`` give one."""
    options.setdefault("keyring", None)
    platforms = (oci_platform(HOST_ARCH),)
    lock = compile_from(archive, tmp_path, "mailer", "greeter", platforms=platforms, **options).lock
    return AptLock.from_toml(lock.to_toml(), filename="apt.lock")  # as export reads it


def _host_arch() -> str:
    if shutil.which("dpkg") is None:
        return ""
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=False
    ).stdout.strip()


HOST_ARCH = _host_arch()
needs_real_apt = pytest.mark.skipif(
    HOST_ARCH not in ("amd64", "arm64") or shutil.which("apt-get") is None or os.geteuid() != 0,
    reason="needs root, apt-get and an amd64 or arm64 host (the fixture archive's)",
)


def assert_installed_exactly(lock: AptLock, proc: subprocess.CompletedProcess[str],
                             args: list[str] | None) -> None:  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert args is not None
    debs = sorted(Path(a).name for a in args if a.endswith(".deb"))
    assert debs == sorted(p.deb_name for p in lock.packages)
    assert all(f"{p.deb_name}: OK" in proc.stdout for p in lock.packages)


@needs_real_apt
def test_script_of_an_unsigned_mirror_installs_with_the_real_apt(
    make_apt_archive: Callable[..., ServedArchive], tmp_path: Path
) -> None:
    """Compiled with --insecure-skip-verify from an archive that has no signature at
    all: the lock says so, and the script's apt-get update takes the unsigned
    sources (trusted=yes) where it would refuse them otherwise."""
    from fixtures.apt_archive import replace_suite, standard_suites

    unsigned = [replace_suite(s, inrelease=False, release_gpg=False) for s in standard_suites()]
    archive = make_apt_archive(unsigned)
    lock = compile_lock(archive, tmp_path, insecure_skip_verify=True)
    assert lock.insecure_skip_verify
    assert lock.keyring_name is None
    script = export_script(lock)
    proc, args = run_with_real_apt(script, tmp_path / "ok", arch=HOST_ARCH)
    assert_installed_exactly(lock, proc, args)
    assert "trusted=yes" in script
    # the same script without trusted=yes: the real apt refuses the unsigned sources
    proc, args = run_with_real_apt(
        script.replace(" trusted=yes", ""), tmp_path / "refused", arch=HOST_ARCH
    )
    assert proc.returncode == 1
    assert args is None
    assert "apt-get update failed for the apt.lock's sources" in proc.stderr
    assert "Nothing was installed" in proc.stderr


@needs_real_apt
def test_script_of_an_own_keyring_installs_with_keyring_in_image(
    apt_archive: ServedArchive, tmp_path: Path
) -> None:
    """Compiled with --keyring (the fixture's key, in no keyring apt trusts): the
    lock records its name and sha256; with --keyring-in-image the script's sources
    are signed-by it and the real apt verifies and installs; without, apt-get
    update fails and the script says which key the image lacks and what to do."""
    keyring = apt_archive.key.keyring
    lock = compile_lock(apt_archive, tmp_path, keyring=keyring)
    assert lock.keyring_name == keyring.name
    assert lock.keyring_sha256 == hashlib.sha256(keyring.read_bytes()).hexdigest()
    assert str(keyring.parent) not in lock.to_toml()  # the file name only, never the path
    proc, args = run_with_real_apt(
        export_script(lock, keyring_in_image=str(keyring)), tmp_path / "ok", arch=HOST_ARCH
    )
    assert_installed_exactly(lock, proc, args)
    proc, args = run_with_real_apt(export_script(lock), tmp_path / "refused", arch=HOST_ARCH)
    assert proc.returncode == 1
    assert args is None
    assert f"a keyring of its own ({keyring.name}, sha256 {lock.keyring_sha256})" in proc.stderr
    assert "--keyring-in-image PATH" in proc.stderr


# -- end to end: the real apt in a minimal Debian root ------------------------------------

E2E_PACKAGES = ("jq", "libjq1", "libonig5", "libjpeg62-turbo", "netbase")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as reply:
        data: bytes = reply.read()
    return data


def stanzas(text: str) -> dict[str, dict[str, str]]:
    """``{package: fields}`` of a Packages index (single-line fields are enough here)."""
    found: dict[str, dict[str, str]] = {}
    for block in text.split("\n\n"):
        fields = {}
        for line in block.split("\n"):
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            found[fields["Package"]] = fields
    return found


def real_lock(arch: str) -> AptLock:
    """A lock of E2E_PACKAGES as bookworm's main archive lists them today."""
    inrelease = fetch(f"{DEBIAN}/dists/bookworm/InRelease")
    date = next(
        line.split(":", 1)[1].strip()
        for line in inrelease.decode().split("\n")
        if line.startswith("Date:")
    )
    index = lzma.decompress(fetch(f"{DEBIAN}/dists/bookworm/main/binary-{arch}/Packages.xz"))
    listed = stanzas(index.decode())
    platform = oci_platform(arch)
    packages = tuple(
        LockedPackage(
            platform=platform,
            name=name,
            version=listed[name]["Version"],
            architecture=listed[name]["Architecture"],
            suite="bookworm",
            url=f"{DEBIAN}/{listed[name]['Filename']}",
            filename=listed[name]["Filename"],
            size=int(listed[name]["Size"]),
            sha256=listed[name]["SHA256"],
            required_by=("jq",) if name.startswith(("jq", "libjq", "libonig")) else (name,),
        )
        for name in E2E_PACKAGES
    )
    return AptLock(
        distribution="debian",
        release="bookworm",
        platforms=(platform,),
        requested=("jq", "libjpeg62-turbo", "netbase"),
        suites=(
            SuiteRecord("bookworm", DEBIAN, hashlib.sha256(inrelease).hexdigest(), date, (arch,)),
        ),
        packages=packages,
        command="lockpin apt compile apt.in --release bookworm",
    )


@pytest.fixture
def debian_root(debian_minbase_root: Path, tmp_path: Path) -> Path:
    """A private copy of the minimal Debian bookworm root (``debootstrap
    --variant=minbase``; $LOCKPIN_TEST_DEBIAN_ROOT names one to use instead)."""
    return private_copy(debian_minbase_root, tmp_path / "root")


@pytest.mark.network
@pytest.mark.slow
def test_script_installs_exactly_the_lock_in_a_debian_root(
    debian_root: Path, tmp_path: Path
) -> None:
    arch = chroot(debian_root, "dpkg", "--print-architecture").stdout.strip()
    lock = real_lock(arch)
    before = installed(debian_root)
    assert not set(E2E_PACKAGES) & set(before), "the root already has a package of the test"
    sources_before = (debian_root / "etc/apt/sources.list").read_bytes()
    cache = debian_root / "var/cache/apt"
    cache_before = sorted(p.relative_to(cache) for p in cache.rglob("*"))

    # 1. One sha256 altered: the build fails on that file and installs nothing.
    onig = next(p for p in lock.packages if p.name == "libonig5")
    altered = dataclasses.replace(
        lock,
        packages=tuple(
            dataclasses.replace(p, sha256="0" * 64) if p is onig else p for p in lock.packages
        ),
    )
    (debian_root / "tmp/bad.sh").write_text(export_script(altered))
    bad = chroot(debian_root, "sh", "/tmp/bad.sh")
    print("$ chroot ROOT sh /tmp/bad.sh  # libonig5's sha256 altered")
    print(bad.stdout + bad.stderr + f"[exit {bad.returncode}]")
    assert bad.returncode != 0
    assert f"{onig.deb_name}: FAILED" in bad.stdout
    assert "Nothing was installed" in bad.stderr
    assert installed(debian_root) == before
    assert not list((debian_root / "tmp").glob("tmp.*")), "the temporary directory was left"

    # 2. The lock as it is: exactly the pinned versions are installed.
    (debian_root / "tmp/install.sh").write_text(export_script(lock))
    good = chroot(debian_root, "sh", "/tmp/install.sh")
    print("$ chroot ROOT sh /tmp/install.sh")
    print(good.stdout + good.stderr + f"[exit {good.returncode}]")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "libjpeg62-turbo_1%3a2.1.5-2_amd64.deb: OK" in good.stdout or arch != "amd64"
    after = installed(debian_root)
    assert {name: after.get(name) for name in E2E_PACKAGES} == lock.pins(lock.platforms[0])
    assert set(after) - set(before) == set(E2E_PACKAGES)  # nothing else came in
    query = chroot(debian_root, "dpkg-query", "-W", "jq")
    print("$ chroot ROOT dpkg-query -W jq")
    print(query.stdout, end="")
    assert query.stdout == f"jq\t{lock.pins(lock.platforms[0])['jq']}\n"
    assert chroot(debian_root, "jq", "-n", "1+1").stdout == "2\n"
    # the image's own apt configuration and state are as they were
    assert (debian_root / "etc/apt/sources.list").read_bytes() == sources_before
    assert not list((debian_root / "var/lib/apt/lists").iterdir())
    assert not list((debian_root / "tmp").glob("tmp.*"))
    assert sorted(p.relative_to(cache) for p in cache.rglob("*")) == cache_before
