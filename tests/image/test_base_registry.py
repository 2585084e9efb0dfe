"""``read_base`` against the real test registry (Debian's docker-registry, images
pushed with skopeo): digests as skopeo reports them, whiteouts across layers, the
blob cache, and answers that do not match their digests."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.oci import sample_layout
from fixtures.registry import RegistryProxy, push, raw_digest
from lockpin.errors import IntegrityError, LockpinError, NoSuchImageError
from lockpin.image.base import read_base
from lockpin.net.config import HttpConfig
from support import run_cli

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fixtures.http_server import Response
    from fixtures.index_server import IndexServer
    from fixtures.registry_plugin import OciRegistry

_TAGS = ("debian", "python", "alpine")


@pytest.fixture(scope="module")
def bases(oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The sample base images (fixtures.oci.sample_layout) pushed as lockpin-base/TAG:1."""
    layout = sample_layout(tmp_path_factory.mktemp("base-layout"))
    for tag in _TAGS:
        push(layout, tag, oci_registry.open.host, f"lockpin-base/{tag}:1")
    return {tag: oci_registry.ref(f"lockpin-base/{tag}:1") for tag in _TAGS}


def test_debian_base_from_the_registry(oci_registry: OciRegistry, bases: dict[str, str]) -> None:
    base = read_base(bases["debian"], platform="linux/arm64", http=HttpConfig(cache_dir=None))
    assert base.digest == raw_digest(oci_registry.open.host, "lockpin-base/debian", "1")
    assert base.manifest_digest == raw_digest(
        oci_registry.open.host, "lockpin-base/debian", base.manifest_digest
    )
    assert base.platform_tag() == "manylinux_2_36_aarch64"
    assert base.python_version == "3.11.2"
    assert base.codename == "bookworm"
    assert base.apt_distribution == "debian"
    assert base.dpkg_status is not None
    assert "python3.11-minimal" in base.dpkg_status  # the second layer's status
    assert "Architecture: arm64" in base.dpkg_status
    assert base.snapshot == "20250520T000000Z"
    assert base.pinned == f"{bases['debian']}@{base.digest}"


@pytest.mark.parametrize(
    ("tag", "described"),
    [
        ("python", "CPython 3.12.7 on manylinux_2_36_x86_64"),
        ("alpine", "CPython 3.12.8 on musllinux_1_2_x86_64"),
    ],
)
def test_python_and_alpine_bases(bases: dict[str, str], tag: str, described: str) -> None:
    base = read_base(bases[tag], platform="linux/amd64", http=HttpConfig(cache_dir=None))
    assert base.target().describe() == described


def test_the_fixture_registry_images(oci_registry: OciRegistry) -> None:
    # fixtures.oci's own images: a Debian-like OCI manifest (status over two layers)...
    deb = read_base(
        oci_registry.ref("library/debianish:bookworm"),
        platform="linux/amd64",
        http=HttpConfig(cache_dir=None),
    )
    assert deb.digest == oci_registry.digests["library/debianish:bookworm"]
    assert deb.digest == deb.manifest_digest  # a single manifest, no index
    assert deb.libc is not None
    assert deb.libc.version == "2.36"
    assert deb.dpkg_status is not None
    assert "ca-certificates" in deb.dpkg_status
    # ...and a Python-like one with Docker v2 media types
    py = read_base(
        oci_registry.ref("library/pythonish:3.12"),
        platform="linux/amd64",
        http=HttpConfig(cache_dir=None),
    )
    assert py.digest == oci_registry.digests["library/pythonish:3.12"]
    assert py.python_version == "3.12.7"


def test_blobs_are_cached_by_digest(bases: dict[str, str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    warm = read_base(bases["python"], platform="linux/amd64", http=HttpConfig(cache_dir=cache))
    # pinned by digest, everything comes from the cache: no network needed
    offline = read_base(
        warm.pinned, platform="linux/amd64", http=HttpConfig(cache_dir=cache, offline=True)
    )
    assert offline == warm
    with pytest.raises(LockpinError):  # the tag itself is never answered from the cache
        read_base(
            bases["python"], platform="linux/amd64", http=HttpConfig(cache_dir=cache, offline=True)
        )


def test_unknown_image(oci_registry: OciRegistry) -> None:
    with pytest.raises(NoSuchImageError):
        read_base(
            oci_registry.ref("lockpin-base/nothing:1"),
            platform="linux/amd64",
            http=HttpConfig(cache_dir=None, retries=0),
        )


@pytest.fixture
def proxy(oci_registry: OciRegistry) -> Iterator[RegistryProxy]:
    with RegistryProxy(oci_registry.open.url) as server:
        yield server


def test_a_layer_that_does_not_match_its_digest_is_refused(
    proxy: RegistryProxy, bases: dict[str, str]
) -> None:
    def rewrite(path: str, answer: Response) -> Response:
        if "/blobs/" in path and answer.body[:2] == b"\x1f\x8b":
            tar = gzip.decompress(answer.body).replace(b"bookworm", b"trixie!!")
            answer.body = gzip.compress(tar, mtime=0)
        return answer

    proxy.rewrite = rewrite
    name = bases["python"].split("/", 1)[1]
    with pytest.raises(IntegrityError) as info:
        read_base(
            f"{proxy.url.removeprefix('http://')}/{name}",
            platform="linux/amd64",
            http=HttpConfig(cache_dir=None, retries=0),
        )
    assert "sha256:" in str(info.value)


@pytest.mark.usefixtures("isolated")
def test_base_from_a_pinned_dockerfile(
    bases: dict[str, str], index_server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    base = read_base(bases["python"], platform="linux/amd64", http=HttpConfig(cache_dir=None))
    Path("Dockerfile").write_text(
        f"ARG BASE={base.pinned}\nFROM $BASE AS runtime\nFROM runtime\nRUN true\n"
    )
    Path("requirements.in").write_text("newpy\n")
    result = run_cli(
        capsys,
        "compile",
        "requirements.in",
        "-o",
        "-",
        "--base-from",
        "Dockerfile",
        "--platform",
        "linux/amd64",
        "-i",
        index_server.simple_url,
    )
    assert result.code == 0, result.err
    assert "CPython 3.12.7 on manylinux_2_36_x86_64" in result.out
    assert f"# base image: {bases['python']}@{base.digest} (linux/amd64)" in result.out
