"""lockpin.resolve_image (lockpin.image.resolve) against the real test registry: the
digest to pin, per-platform digests (fetched and verified when platforms are asked
for), single-platform images, the reporter, and the Http settings for insecure
registries."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import lockpin
from lockpin.errors import ManifestError, NoSuchPlatformError
from lockpin.image.auth import NoCredentials
from lockpin.image.resolve import registry_http_config
from lockpin.net.config import HttpConfig

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.http_server import Response
    from fixtures.registry_plugin import OciRegistry
    from lockpin.progress import Event


def config(tmp_path: Path) -> HttpConfig:
    return HttpConfig(backoff=0.01, retries=0, cache_dir=tmp_path / "cache")


def test_index(oci_registry: OciRegistry, tmp_path: Path) -> None:
    result = lockpin.resolve_image(
        oci_registry.ref("public/multi:1"), http=config(tmp_path), credentials=NoCredentials()
    )
    per = oci_registry.platforms["public/multi:1"]
    assert result.digest == oci_registry.digests["public/multi:1"]
    assert result.is_index
    assert result.pinned.digest == result.digest
    assert result.pinned.tag == "1"
    assert {m.platform: m.digest for m in result.manifests} == per
    assert result.digest_for("linux/arm64") == per["linux/arm64/v8"]
    with pytest.raises(NoSuchPlatformError):
        result.digest_for("linux/ppc64le")
    data = result.to_dict()
    assert data["digest"] == result.digest
    assert len(data["manifests"]) == 2


def test_platforms_are_fetched_and_reported(oci_registry: OciRegistry, tmp_path: Path) -> None:
    events: list[Event] = []

    class Collect:
        def report(self, event: Event) -> None:
            events.append(event)

    result = lockpin.resolve_image(
        oci_registry.ref("public/multi:1"),
        platforms=["linux/arm64/v8"],
        http=config(tmp_path),
        credentials=NoCredentials(),
        reporter=Collect(),
    )
    assert [m.platform for m in result.manifests] == ["linux/arm64/v8"]
    downloads = [e for e in events if e.kind == "download"]
    assert len(downloads) == 2  # the index and the arm64 manifest
    assert sum(e.size for e in events if e.kind == "bytes") > 0


def test_single_platform_image(oci_registry: OciRegistry, tmp_path: Path) -> None:
    ref = oci_registry.ref("library/debianish:bookworm")
    result = lockpin.resolve_image(ref, http=config(tmp_path), credentials=NoCredentials())
    assert not result.is_index
    assert result.digest == oci_registry.digests["library/debianish:bookworm"]
    assert [m.platform for m in result.manifests] == ["linux/amd64"]
    same = lockpin.resolve_image(
        ref, platforms=["linux/x86_64"], http=config(tmp_path), credentials=NoCredentials()
    )
    assert same.digest == result.digest


def test_a_nested_index_is_refused(oci_registry: OciRegistry, tmp_path: Path) -> None:
    from fixtures.registry import RegistryProxy

    with RegistryProxy(oci_registry.open.url) as proxy:
        per = oci_registry.platforms["public/multi:1"]

        def rewrite(path: str, answer: Response) -> Response:
            # The arm64 manifest answered with the index itself (digest kept honest by
            # asking for the index's digest: lockpin must notice the mismatch first).
            if path.endswith(per["linux/arm64/v8"]):
                answer.headers["Content-Type"] = "application/vnd.oci.image.index.v1+json"
            return answer

        proxy.rewrite = rewrite
        ref = f"{proxy.url.removeprefix('http://')}/public/multi:1"
        with pytest.raises(ManifestError, match="ambiguous"):
            lockpin.resolve_image(
                ref, platforms=["linux/arm64"], http=config(tmp_path), credentials=NoCredentials()
            )


def test_insecure_registries_are_allowed_by_the_http_config() -> None:
    base = HttpConfig(allow_insecure_hosts=frozenset({"a"}))
    got = registry_http_config(base, ["Reg.Example:5000", " "])
    assert got.allow_insecure_hosts == frozenset({"a", "reg.example:5000"})
    assert registry_http_config(base, []) is base
