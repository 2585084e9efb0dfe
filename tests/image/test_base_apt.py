"""``--base`` on ``lockpin apt compile``: release, platforms and each platform's
installed set read from the image; the pins equal those of the same status given
by hand, and the lock records the pinned image."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.apt_support import compile_from, old_base, status_text
from fixtures.oci import OS_RELEASE, File, LayoutWriter
from lockpin.apt.lock import AptLock
from lockpin.errors import InputError, LockpinError
from lockpin.image.base import read_base
from support import run_cli

if TYPE_CHECKING:
    from fixtures.apt_archive import ServedArchive


def debian_base(root: Path, *, codename: str = "bookworm") -> Path:
    """An index for linux/amd64 and linux/arm64 whose dpkg status is OLD_BASE."""
    os_release = OS_RELEASE.replace(b"bookworm", codename.encode())
    w = LayoutWriter(root)
    manifests = [
        w.image(
            layers=[
                [
                    File("etc/os-release", os_release),
                    File("var/lib/dpkg/status", status_text(old_base(arch)).encode()),
                ]
            ],
            architecture=arch,
        )
        for arch in ("amd64", "arm64")
    ]
    w.tag("debian", w.index(manifests))
    return w.save()


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return debian_base(tmp_path / "layout")


def test_base_image_equals_its_status_given_by_hand(
    apt_archive: ServedArchive, layout: Path, tmp_path: Path
) -> None:
    bases = [read_base(f"oci:{layout}:debian", platform=p) for p in ("linux/amd64", "linux/arm64")]
    by_image = compile_from(
        apt_archive,
        tmp_path,
        "mailer",
        "tzinfo",
        release=None,
        platforms=(),
        base_images=bases,
    )
    lock = by_image.lock
    assert lock.release == "bookworm"
    assert lock.platforms == ("linux/amd64", "linux/arm64")
    assert lock.base == f"image:{bases[0].pinned}"
    assert lock.base.startswith("image:localhost/oci-layout:debian@sha256:")
    by_name = {p.name: p for p in lock.packages_for("linux/amd64")}
    assert by_name["libtiny6"].upgrade_of == "1.9-1"  # the image's installed version
    assert "base-tiny" not in by_name

    for platform, arch in (("linux/amd64", "amd64"), ("linux/arm64", "arm64")):
        status = tmp_path / f"status-{arch}"
        status.write_text(status_text(old_base(arch)))
        by_hand = compile_from(
            apt_archive,
            tmp_path,
            "mailer",
            "tzinfo",
            platforms=(platform,),
            base_status=status,
        )
        assert by_hand.lock.packages == lock.packages_for(platform)
        assert by_hand.lock.removals == tuple(r for r in lock.removals if r.platform == platform)

    # the image base is written and read back, validated
    text = lock.to_toml()
    assert f'base = "image:{bases[0].pinned}"\n' in text
    assert AptLock.from_toml(text, filename="apt.lock") == lock


def test_release_that_disagrees_with_the_image(
    apt_archive: ServedArchive, layout: Path, tmp_path: Path
) -> None:
    base = read_base(f"oci:{layout}:debian", platform="linux/amd64")
    with pytest.raises(InputError, match="--release trixie disagrees with the base image"):
        compile_from(apt_archive, tmp_path, "mailer", release="trixie", base_images=[base])
    with pytest.raises(InputError, match="exclude each other"):
        compile_from(
            apt_archive, tmp_path, "mailer", base_images=[base], base_status=tmp_path / "x"
        )


def test_a_base_without_dpkg_is_refused(apt_archive: ServedArchive, tmp_path: Path) -> None:
    w = LayoutWriter(tmp_path / "alpine")
    w.tag("alpine", w.image(layers=[[File("etc/os-release", b"ID=alpine\nVERSION_ID=3.21.0\n")]]))
    root = w.save()
    base = read_base(f"oci:{root}:alpine", platform="linux/amd64")
    with pytest.raises(InputError, match="not a Debian or Ubuntu release"):
        compile_from(apt_archive, tmp_path, "mailer", release=None, base_images=[base])


@pytest.mark.parametrize(
    "value",
    [
        "image:localhost/x:1@sha256:" + "a" * 63,
        'image:localhost/x"y@sha256:' + "a" * 64,
        "image:@sha256:" + "a" * 64,
        "image:localhost/x:1",
    ],
)
def test_a_malformed_image_base_is_refused_on_read(
    apt_archive: ServedArchive, layout: Path, tmp_path: Path, value: str
) -> None:
    base = read_base(f"oci:{layout}:debian", platform="linux/amd64")
    lock = compile_from(apt_archive, tmp_path, "mailer", release=None, base_images=[base]).lock
    text = lock.to_toml().replace(f'"image:{base.pinned}"', '"' + value.replace('"', '\\"') + '"')
    with pytest.raises(InputError, match="is neither 'default'"):
        AptLock.from_toml(text, filename="apt.lock")
    with pytest.raises(LockpinError, match="is neither 'default'"):
        dataclasses.replace(lock, base=value).to_toml()


@pytest.mark.usefixtures("isolated")
def test_apt_compile_cli_with_base(
    apt_archive: ServedArchive, layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("apt.in").write_text("mailer\n")
    result = run_cli(
        capsys,
        "apt",
        "compile",
        "apt.in",
        "--base",
        f"oci:{layout}:debian",
        "--arch",
        "amd64",
        "--mirror",
        apt_archive.mirror,
        "--security-mirror",
        apt_archive.security_mirror,
        "--keyring",
        str(apt_archive.key.keyring),
    )
    assert result.code == 0, result.err
    lock = AptLock.from_toml(Path("apt.lock").read_text(), filename="apt.lock")
    assert lock.release == "bookworm"
    assert lock.platforms == ("linux/amd64",)
    assert lock.base.startswith("image:localhost/oci-layout:debian@sha256:")
    assert "--base oci:" in lock.command
