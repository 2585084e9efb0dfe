"""Issue 10 end to end, on base images shaped like the real ones.

An image is built as the official ``python:3.12-slim`` is: a Debian rootfs, then a
layer that cleans apt up (whiteouts of ``sources.list`` and of the apt lists, a
deb822 ``debian.sources``), then CPython in ``/usr/local`` with ``PYTHON_VERSION``
in the config (:func:`fixtures.oci.official_python`). It is pushed to the real
test registry with skopeo and then used the way a user would:

* ``read_base`` reports the C library from the ``libc6`` dpkg entry, the
  os-release, the dpkg status as it is in the rootfs, the Python of the config;
* ``lockpin apt compile --base REF`` gives the very lock of ``--release bookworm
  --base-status STATUS`` (the lock files equal but for the lines that name the
  base and the command) and the plan of the real ``apt-get -s install`` for that
  status;
* ``lockpin compile --base REF --platform linux/amd64`` gives the lock of
  ``--python-version 3.12.8 --platform manylinux_2_36_x86_64`` by hand, and the
  files it hashes (``--target-hashes-only``) are those glibc 2.36 can install;
* ``lockpin dockerfile pin`` on ``FROM REF``, then ``--base-from Dockerfile``,
  gives the same locks again.

Default tier: the rootfs is small and synthetic (:func:`fixtures.oci.minbase_like`:
the shape ``debootstrap --variant=minbase`` leaves, around the fixture archive's
:data:`fixtures.apt_support.OLD_BASE` and a ``libc6`` entry), against the signed
fixture archive and a local index whose ``glibcpick`` has manylinux 2_28, 2_34
and 2_39 wheels (2_28 and 2_34 install on glibc 2.36, 2_39 does not).

Network tier (``-m network``, slow): the rootfs is the tar of a real
``debootstrap --variant=minbase bookworm`` root (:func:`fixtures.minbase.minbase_root`,
cached), against deb.debian.org (and apt-get on it:
:mod:`fixtures.apt_live`) and PyPI (cryptography 44.0.3: manylinux 2_17, 2_28 and
2_34 wheels; a manylinux_2_28 target leaves the 2_34 ones out, 2.36 takes them).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures import oci
from fixtures.apt_live import DEBIAN, PLATFORM, bookworm_release, closure_differences, lock_plan
from fixtures.apt_support import old_base, status_text
from fixtures.aptget import AptGetRoot, AptSource
from fixtures.dists import build_wheel
from fixtures.minbase import minbase_root
from fixtures.registry import push, raw_digest
from lockpin._toml import loads as toml_loads
from lockpin.apt.lock import AptLock
from lockpin.image.base import CLibrary, OsRelease, read_base
from lockpin.net.config import HttpConfig
from support import lock_body, run_cli

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures.apt_archive import ServedArchive
    from fixtures.index_server import IndexServer
    from fixtures.registry_plugin import OciRegistry

pytestmark = pytest.mark.usefixtures("isolated")

PYTHON = "3.12.8"
LIBC6 = "2.36-9+deb12u7"


@dataclass(frozen=True)
class Published:
    """An image pushed to the test registry, and the dpkg status of its rootfs."""

    ref: str
    digest: str
    status: str


def publish(
    registry: OciRegistry, layout: Path, rootfs: oci.Layer, removed: tuple[str, ...], status: str
) -> Published:
    w = oci.LayoutWriter(layout)
    w.tag("3.12-slim", oci.official_python(w, rootfs, python_version=PYTHON, removed=removed))
    w.save()
    name = f"e2e/{layout.name}"
    push(w.root, "3.12-slim", registry.open.host, f"{name}:3.12-slim")
    digest = raw_digest(registry.open.host, name, "3.12-slim")
    return Published(registry.ref(f"{name}:3.12-slim"), digest, status)


def cli_ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    result = run_cli(capsys, *args)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return result.err


# -- default tier: a synthetic minbase-shaped root -------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory) -> Published:
    installed = {**old_base("amd64"), "libc6": (LIBC6, "amd64")}
    status = status_text(installed)
    rootfs = oci.minbase_like(status.encode())
    layout = tmp_path_factory.mktemp("e2e") / "synthetic"
    return publish(oci_registry, layout, rootfs, oci.minbase_lists(), status)


def test_read_base_of_a_python_slim_shaped_image(synthetic: Published) -> None:
    base = read_base(synthetic.ref, platform="linux/amd64", http=HttpConfig(cache_dir=None))
    assert base.digest == synthetic.digest == base.manifest_digest
    assert base.libc == CLibrary("glibc", "2.36", f"dpkg libc6 {LIBC6}")
    assert base.os_release == OsRelease(
        id="debian",
        version_id="12",
        codename="bookworm",
        pretty_name="Debian GNU/Linux 12 (bookworm)",
    )
    assert base.dpkg_status is not None
    assert base.dpkg_status.rstrip("\n") == synthetic.status.rstrip("\n")
    assert base.python_version == PYTHON
    assert base.python_source.startswith("config Env PYTHON_VERSION")
    assert base.snapshot is None  # debian.sources names the snapshot in a comment only
    assert base.target().describe() == f"CPython {PYTHON} on manylinux_2_36_x86_64"


def _archive_options(archive: ServedArchive) -> list[str]:
    return [
        "--mirror", archive.mirror, "--security-mirror", archive.security_mirror,
        "--keyring", str(archive.key.keyring),
    ]  # fmt: skip


def test_apt_compile_with_base_equals_the_status_by_hand_and_apt_get(
    synthetic: Published,
    apt_archive: ServedArchive,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    Path("apt.in").write_text("mailer\ntzinfo\n")
    Path("status").write_text(synthetic.status)
    archive = _archive_options(apt_archive)
    cli_ok(capsys, "apt", "compile", "apt.in", "--base", synthetic.ref, "--arch", "amd64",
           "-o", "image.lock", *archive)  # fmt: skip
    cli_ok(capsys, "apt", "compile", "apt.in", "--release", "bookworm", "--arch", "amd64",
           "--base-status", "status", "-o", "hand.lock", *archive)  # fmt: skip
    image_text = Path("image.lock").read_text()
    assert lock_body(image_text) == lock_body(Path("hand.lock").read_text())
    assert f'base = "image:{synthetic.ref}@{synthetic.digest}"\n' in image_text
    lock = AptLock.from_toml(image_text, filename="image.lock")
    assert lock_plan(lock)["libtiny6"] == ("2.1-1", "1.9-1")  # upgrades the image's

    apt = AptGetRoot(
        tmp_path / "apt-get",
        architecture="amd64",
        sources=[
            AptSource(
                apt_archive.mirror,
                ("bookworm", "bookworm-updates"),
                keyring=apt_archive.key.keyring,
            ),
            AptSource(
                apt_archive.security_mirror, ("bookworm-security",), keyring=apt_archive.key.keyring
            ),
        ],
        status=Path("status"),
        check_valid_until=False,
    )
    apt.update()
    plan = apt.simulate_install(["mailer", "tzinfo"])
    assert not plan.removes
    assert not closure_differences(lock_plan(lock), plan.installs)


#: glibcpick's wheels: glibc 2.36 installs the first two
GLIBCPICK_TAGS = (
    "cp312-cp312-manylinux_2_28_x86_64",
    "cp312-cp312-manylinux_2_34_x86_64",
    "cp312-cp312-manylinux_2_39_x86_64",
)


@pytest.fixture(scope="module")
def glibc_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Wheels of glibcpick (GLIBCPICK_TAGS) and its dependency purelib: the
    directory, and each glibcpick wheel's tag -> sha256."""
    root = tmp_path_factory.mktemp("glibc-index")
    hashes = {}
    for tag in GLIBCPICK_TAGS:
        wheel = build_wheel(root, "glibcpick", "1.0", tag=tag, requires=["purelib"])
        hashes[tag] = hashlib.sha256(wheel.read_bytes()).hexdigest()
    build_wheel(root, "purelib", "2.0", requires_python=">=3.12")
    return root, hashes


def _serve(make_index: Callable[..., IndexServer], root: Path) -> list[str]:
    server = make_index(root, standard=False)
    for wheel in sorted(root.glob("*.whl")):
        server.add_file(wheel)
    return ["-i", server.simple_url]


def _hashes(text: str) -> set[str]:
    return set(re.findall(r"--hash=sha256:([0-9a-f]{64})", text))


def test_compile_with_base_equals_the_target_by_hand(
    synthetic: Published,
    glibc_index: tuple[Path, dict[str, str]],
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, hashes = glibc_index
    index = _serve(make_index, root)
    Path("requirements.in").write_text("glibcpick\n")
    options = ["--target-hashes-only", *index]
    cli_ok(capsys, "compile", "requirements.in", "-o", "image.txt", "--base", synthetic.ref,
           "--platform", "linux/amd64", *options)  # fmt: skip
    cli_ok(capsys, "compile", "requirements.in", "-o", "hand.txt", "--python-version", PYTHON,
           "--platform", "manylinux_2_36_x86_64", *options)  # fmt: skip
    cli_ok(capsys, "compile", "requirements.in", "-o", "plain.txt", "--python-version", PYTHON,
           "--platform", "linux/amd64", *options)  # fmt: skip
    image_text = Path("image.txt").read_text()
    assert lock_body(image_text) == lock_body(Path("hand.txt").read_text())
    assert f"for CPython {PYTHON} on manylinux_2_36_x86_64\n" in image_text
    assert f"# base image: {synthetic.ref}@{synthetic.digest} (linux/amd64): " in image_text
    glibcpick = _hashes(image_text.split("purelib==")[0])
    assert glibcpick == {hashes[GLIBCPICK_TAGS[0]], hashes[GLIBCPICK_TAGS[1]]}  # not 2_39
    # without the image, linux/amd64 means manylinux_2_28: the 2_34 wheel is left out
    plain = Path("plain.txt").read_text()
    assert _hashes(plain.split("purelib==")[0]) == {hashes[GLIBCPICK_TAGS[0]]}


def test_dockerfile_pin_then_base_from_gives_the_same_locks(
    synthetic: Published,
    apt_archive: ServedArchive,
    glibc_index: tuple[Path, dict[str, str]],
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dockerfile = (
        "# syntax=docker/dockerfile:1\n"
        f"FROM {synthetic.ref} AS runtime\n"
        "COPY apt.lock requirements.txt /tmp/\n"
        "RUN pip install --require-hashes -r /tmp/requirements.txt\n"
    )
    Path("Dockerfile").write_text(dockerfile)
    out = cli_ok(capsys, "dockerfile", "pin", "Dockerfile")
    pinned = f"{synthetic.ref}@{synthetic.digest}"
    assert Path("Dockerfile").read_text() == dockerfile.replace(synthetic.ref, pinned)
    assert "Dockerfile" in out
    cli_ok(capsys, "dockerfile", "pin", "Dockerfile", "--check")  # nothing left to change

    Path("apt.in").write_text("mailer\ntzinfo\n")
    Path("status").write_text(synthetic.status)
    archive = _archive_options(apt_archive)
    cli_ok(capsys, "apt", "compile", "apt.in", "--base-from", "Dockerfile:runtime",
           "--arch", "amd64", "-o", "from.lock", *archive)  # fmt: skip
    cli_ok(capsys, "apt", "compile", "apt.in", "--release", "bookworm", "--arch", "amd64",
           "--base-status", "status", "-o", "hand.lock", *archive)  # fmt: skip
    from_text = Path("from.lock").read_text()
    assert lock_body(from_text) == lock_body(Path("hand.lock").read_text())
    assert f'base = "image:{pinned}"\n' in from_text

    index = _serve(make_index, glibc_index[0])
    Path("requirements.in").write_text("glibcpick\n")
    cli_ok(capsys, "compile", "requirements.in", "-o", "from.txt", "--base-from", "Dockerfile",
           "--platform", "linux/amd64", *index)  # fmt: skip
    cli_ok(capsys, "compile", "requirements.in", "-o", "hand.txt", "--python-version", PYTHON,
           "--platform", "manylinux_2_36_x86_64", *index)  # fmt: skip
    assert lock_body(Path("from.txt").read_text()) == lock_body(Path("hand.txt").read_text())


# -- network tier: the real debootstrap root ------------------------------------------------------


@pytest.fixture(scope="module")
def real_root() -> Path:
    return minbase_root(
        "bookworm", release="bookworm", mirror=DEBIAN, env="LOCKPIN_TEST_DEBIAN_ROOT"
    )


@pytest.fixture(scope="module")
def real(
    real_root: Path, oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Published:
    lists = real_root / "var/lib/apt/lists"
    removed = tuple(sorted(str(p.relative_to(real_root)) for p in lists.iterdir() if p.is_file()))
    status = (real_root / "var/lib/dpkg/status").read_text()
    layout = tmp_path_factory.mktemp("e2e") / "real"
    return publish(oci_registry, layout, oci.directory_tar(real_root), removed, status)


def _libc6_version(status: str) -> str:
    stanza = next(s for s in status.split("\n\n") if s.startswith("Package: libc6\n"))
    found = re.search(r"^Version: (\S+)$", stanza, re.MULTILINE)
    assert found is not None
    return found[1]


@pytest.mark.network
@pytest.mark.slow
def test_read_base_of_the_real_root(real: Published, real_root: Path) -> None:
    base = read_base(real.ref, platform="linux/amd64", http=HttpConfig(cache_dir=None))
    assert base.digest == real.digest
    assert base.libc == CLibrary("glibc", "2.36", f"dpkg libc6 {_libc6_version(real.status)}")
    assert base.os_release is not None
    assert (base.os_release.id, base.os_release.codename) == ("debian", "bookworm")
    assert base.os_release.pretty_name == "Debian GNU/Linux 12 (bookworm)"
    assert base.dpkg_status is not None
    assert base.dpkg_status.rstrip("\n") == real.status.rstrip("\n")
    assert base.python_version == PYTHON
    assert base.snapshot is None
    assert base.target().describe() == f"CPython {PYTHON} on manylinux_2_36_x86_64"


@pytest.mark.network
@pytest.mark.slow
def test_real_apt_side_equals_the_status_by_hand_and_apt_get(
    real: Published,
    real_root: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    status = real_root / "var/lib/dpkg/status"
    live = bookworm_release(status, tmp_path / "apt-get", HttpConfig(cache_dir=tmp_path / "c"))
    Path("apt.in").write_text("curl\njq\n")
    cli_ok(capsys, "apt", "compile", "apt.in", "--base", real.ref, "--platform", PLATFORM,
           "-o", "image.lock")  # fmt: skip
    cli_ok(capsys, "apt", "compile", "apt.in", "--release", "bookworm", "--platform", PLATFORM,
           "--base-status", str(status), "-o", "hand.lock")  # fmt: skip
    image_text = Path("image.lock").read_text()
    assert lock_body(image_text) == lock_body(Path("hand.lock").read_text())
    lock = AptLock.from_toml(image_text, filename="image.lock")
    if live.stale_suites(lock):  # the archive moved since apt-get's update
        live.apt.update()
    assert not live.stale_suites(lock)
    differ = closure_differences(lock_plan(lock), live.plan(["curl", "jq"], recommends=False))
    assert not differ, f"closure differs from apt-get's: {differ}"
    assert {"curl", "jq", "libjq1"} <= set(lock_plan(lock))

    Path("Dockerfile").write_text(f"FROM {real.ref}\nRUN true\n")
    cli_ok(capsys, "dockerfile", "pin", "Dockerfile")
    assert Path("Dockerfile").read_text() == f"FROM {real.ref}@{real.digest}\nRUN true\n"
    cli_ok(capsys, "apt", "compile", "apt.in", "--base-from", "Dockerfile",
           "--platform", PLATFORM, "-o", "from.lock")  # fmt: skip
    assert lock_body(Path("from.lock").read_text()) == lock_body(image_text)


def _wheels(pylock: str, project: str) -> set[str]:
    data = toml_loads(pylock)
    (package,) = (p for p in data["packages"] if p["name"] == project)
    return {w["name"] for w in package.get("wheels", [])}


@pytest.mark.network
@pytest.mark.slow
def test_real_python_side_equals_the_target_by_hand(
    real: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("requirements.in").write_text("cryptography==44.0.3\n")
    by_image = ["--base", real.ref, "--platform", "linux/amd64"]
    by_hand = ["--python-version", PYTHON, "--platform", "manylinux_2_36_x86_64"]
    plain = ["--python-version", PYTHON, "--platform", "linux/amd64"]
    cli_ok(capsys, "compile", "requirements.in", "-o", "image.txt", *by_image)
    cli_ok(capsys, "compile", "requirements.in", "-o", "hand.txt", *by_hand)
    assert lock_body(Path("image.txt").read_text()) == lock_body(Path("hand.txt").read_text())
    wheels = {}
    for name, options in (("image", by_image), ("hand", by_hand), ("plain", plain)):
        out = f"{name}.pylock.toml"
        cli_ok(capsys, "compile", "requirements.in", "-o", out, "--format", "pylock",
               "--target-hashes-only", *options)  # fmt: skip
        wheels[name] = _wheels(Path(out).read_text(), "cryptography")
    assert wheels["image"] == wheels["hand"]
    assert {w for w in wheels["image"] if "manylinux_2_34" in w} == {
        "cryptography-44.0.3-cp37-abi3-manylinux_2_34_x86_64.whl",
        "cryptography-44.0.3-cp39-abi3-manylinux_2_34_x86_64.whl",
    }
    # linux/amd64 by itself is manylinux_2_28: it leaves the 2_34 wheels out
    assert wheels["plain"] == {w for w in wheels["image"] if "manylinux_2_34" not in w}
