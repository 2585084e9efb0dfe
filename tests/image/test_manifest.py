"""lockpin.image.manifest: the four manifest kinds, configs, platform selection (variants,
attestations skipped, the error listing what exists), and hostile input: every malformed
body is a ManifestError, never another exception (hypothesis over arbitrary JSON)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockpin.errors import ManifestError, NoSuchPlatformError
from lockpin.image import manifest as m
from lockpin.image.digest import digest_of
from lockpin.image.platform import parse_platform

D1, D2, D3, D4 = (digest_of(bytes([i])) for i in range(4))


def desc(digest: str, *, platform: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"mediaType": m.OCI_MANIFEST, "digest": digest, "size": 100}
    if platform is not None:
        data["platform"] = platform
    data.update(extra)
    return data


def index_body(*entries: dict[str, Any], media_type: str = m.OCI_INDEX) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": media_type, "manifests": list(entries)}
    ).encode()


TWO_PLATFORMS = index_body(
    desc(D1, platform={"os": "linux", "architecture": "amd64"}),
    desc(D2, platform={"os": "linux", "architecture": "arm64", "variant": "v8"}),
    desc(
        D3,
        platform={"os": "unknown", "architecture": "unknown"},
        annotations={"vnd.docker.reference.type": "attestation-manifest"},
    ),
    desc(D4, platform={"os": "linux", "architecture": "arm", "variant": "v7"}),
)


def manifest_body(media_type: str = m.OCI_MANIFEST, **extra: Any) -> bytes:
    data: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": m.OCI_CONFIG, "digest": D1, "size": 10},
        "layers": [
            {"mediaType": m.OCI_LAYER_GZIP, "digest": D2, "size": 20},
            {"mediaType": m.OCI_LAYER, "digest": D3, "size": 30},
        ],
    }
    data.update(extra)
    return json.dumps(data).encode()


def test_index() -> None:
    index = m.parse_manifest(TWO_PLATFORMS, m.OCI_INDEX, source="x")
    assert isinstance(index, m.ImageIndex)
    assert [d.digest for d in index.manifests] == [D1, D2, D3, D4]
    assert [str(p) for p in index.platforms()] == ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    assert index.manifests[2].is_attestation
    assert not index.manifests[0].is_attestation


def test_docker_manifest_list_from_body_media_type() -> None:
    body = index_body(
        desc(D1, platform={"os": "linux", "architecture": "amd64"}),
        media_type=m.DOCKER_MANIFEST_LIST,
    )
    for header in (
        "",
        "application/json",
        "application/json; charset=utf-8",
        m.DOCKER_MANIFEST_LIST,
    ):
        index = m.parse_manifest(body, header, source="x")
        assert isinstance(index, m.ImageIndex)
        assert index.media_type == m.DOCKER_MANIFEST_LIST


@pytest.mark.parametrize("media_type", [m.OCI_MANIFEST, m.DOCKER_MANIFEST])
def test_image_manifest(media_type: str) -> None:
    parsed = m.parse_manifest(manifest_body(media_type), media_type, source="x")
    assert isinstance(parsed, m.ImageManifest)
    assert parsed.media_type == media_type
    assert parsed.config.digest == D1
    assert [(d.digest, d.size) for d in parsed.layers] == [(D2, 20), (D3, 30)]


def test_oci_manifest_without_body_media_type() -> None:
    # OCI makes the body's mediaType optional: the Content-Type decides.
    data = json.loads(manifest_body())
    del data["mediaType"]
    parsed = m.parse_manifest(json.dumps(data).encode(), m.OCI_MANIFEST, source="x")
    assert isinstance(parsed, m.ImageManifest)


def test_layer_media_types() -> None:
    assert m.layer_compression(m.OCI_LAYER_GZIP) == "gzip"
    assert m.layer_compression(m.OCI_LAYER_ZSTD) == "zstd"
    assert m.layer_compression(m.OCI_LAYER) == "none"
    assert m.layer_compression(m.DOCKER_LAYER) == "gzip"
    assert m.is_foreign_layer(m.DOCKER_FOREIGN_LAYER)
    assert not m.is_foreign_layer(m.DOCKER_LAYER)
    with pytest.raises(ManifestError, match="unknown layer media type"):
        m.layer_compression("application/x-tar-lzma")


def test_config() -> None:
    body = json.dumps(
        {
            "architecture": "arm64",
            "os": "linux",
            "variant": "v8",
            "config": {
                "Env": ["PATH=/usr/bin", "PYTHON_VERSION=3.12.7", "X=a=b", "PATH=/bin"],
                "Labels": {"org.opencontainers.image.version": "1"},
            },
            "rootfs": {"type": "layers", "diff_ids": [D1, D2]},
            "history": [{"created_by": "x"}],
        }
    ).encode()
    config = m.parse_config(body, source="cfg")
    assert str(config.platform) == "linux/arm64/v8"
    assert config.env_dict() == {"PATH": "/bin", "PYTHON_VERSION": "3.12.7", "X": "a=b"}
    assert config.diff_ids == (D1, D2)
    assert config.labels == {"org.opencontainers.image.version": "1"}
    empty = m.parse_config(b'{"os": "linux", "architecture": "amd64", "config": null}', source="c")
    assert empty.env == ()
    assert empty.diff_ids == ()


@pytest.mark.parametrize(
    ("platform", "digest"),
    [("linux/amd64", D1), ("linux/arm64", D2), ("linux/aarch64/v8", D2), ("linux/arm/v7", D4)],
)
def test_select_platform(platform: str, digest: str) -> None:
    index = m.parse_manifest(TWO_PLATFORMS, m.OCI_INDEX, source="x")
    assert isinstance(index, m.ImageIndex)
    assert m.select_platform(index, parse_platform(platform), reference="r").digest == digest


@pytest.mark.parametrize(
    "platform", ["linux/s390x", "linux/arm/v6", "unknown/unknown", "windows/amd64"]
)
def test_select_missing_platform(platform: str) -> None:
    index = m.parse_manifest(TWO_PLATFORMS, m.OCI_INDEX, source="x")
    assert isinstance(index, m.ImageIndex)
    with pytest.raises(NoSuchPlatformError) as info:
        m.select_platform(index, parse_platform(platform), reference="docker.io/library/x:1")
    err = info.value
    assert err.available == ("linux/amd64", "linux/arm/v7", "linux/arm64/v8")
    assert "docker.io/library/x:1 has no image for platform" in str(err)
    assert "it has: linux/amd64, linux/arm/v7, linux/arm64/v8" in str(err)
    assert "unknown" not in str(err).split("it has:")[1]


def _mutate(body: bytes, path: list[Any], value: Any) -> bytes:
    data = json.loads(body)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("body", "media_type", "reason"),
    [
        (b"not json", m.OCI_INDEX, "not valid JSON"),
        (b"\xff\xfe", m.OCI_INDEX, "not valid JSON"),
        (b"[]", m.OCI_INDEX, "not a JSON object"),
        (b"[" * 100000 + b"]" * 100000, m.OCI_INDEX, "not valid JSON|not a JSON object"),
        (b"{}", "application/vnd.example+json", "unknown manifest media type"),
        (b'{"schemaVersion": 2}', "", r"unknown manifest media type \(none given\)"),
        (b'{"schemaVersion": 1, "name": "x", "fsLayers": []}', "", "old schema 1"),
        (manifest_body(), m.DOCKER_MANIFEST, "ambiguous"),
        (_mutate(TWO_PLATFORMS, ["schemaVersion"], 3), m.OCI_INDEX, "schemaVersion"),
        (_mutate(TWO_PLATFORMS, ["schemaVersion"], True), m.OCI_INDEX, "schemaVersion"),
        (_mutate(TWO_PLATFORMS, ["manifests"], {}), m.OCI_INDEX, "not a list"),
        (_mutate(TWO_PLATFORMS, ["manifests", 0, "size"], -1), m.OCI_INDEX, "out of range"),
        (_mutate(TWO_PLATFORMS, ["manifests", 0, "size"], 10**30), m.OCI_INDEX, "out of range"),
        (_mutate(TWO_PLATFORMS, ["manifests", 0, "size"], "1"), m.OCI_INDEX, "not an integer"),
        (_mutate(TWO_PLATFORMS, ["manifests", 0, "size"], 1.5), m.OCI_INDEX, "not an integer"),
        (_mutate(TWO_PLATFORMS, ["manifests", 0, "size"], True), m.OCI_INDEX, "not an integer"),
        (_mutate(TWO_PLATFORMS, ["manifests", 0, "digest"], "sha256:12"), m.OCI_INDEX, "64"),
        (
            _mutate(TWO_PLATFORMS, ["manifests", 0, "digest"], "md5:" + "0" * 32),
            m.OCI_INDEX,
            "unsupported",
        ),
        (_mutate(TWO_PLATFORMS, ["manifests", 0, "digest"], 5), m.OCI_INDEX, "not a string"),
        (_mutate(TWO_PLATFORMS, ["manifests", 0, "platform"], "linux"), m.OCI_INDEX, "object"),
        (
            _mutate(TWO_PLATFORMS, ["manifests", 0, "platform"], {"os": "linux"}),
            m.OCI_INDEX,
            "'architecture' is missing",
        ),
        (
            _mutate(TWO_PLATFORMS, ["manifests", 0, "annotations"], {"a": 1}),
            m.OCI_INDEX,
            "map of strings",
        ),
        (_mutate(manifest_body(), ["config"], None), m.OCI_MANIFEST, "config is not a JSON"),
        (_mutate(manifest_body(), ["layers"], [1]), m.OCI_MANIFEST, r"layers\[0\]"),
        (b" " * (m.MAX_MANIFEST_BYTES + 1), m.OCI_INDEX, "limit"),
    ],
)
def test_hostile_manifests(body: bytes, media_type: str, reason: str) -> None:
    with pytest.raises(ManifestError, match=reason) as info:
        m.parse_manifest(body, media_type, source="reg/x:1")
    assert str(info.value).startswith("reg/x:1: ")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"config": {"Env": "PATH=/bin"}}', "not a list"),
        (b'{"config": {"Env": [1]}}', "other than strings"),
        (b'{"rootfs": {"diff_ids": ["sha256:zz"]}}', "diff_ids"),
        (b'{"os": 1}', "not a string"),
        (b'{"config": []}', "not a JSON object"),
    ],
)
def test_hostile_configs(body: bytes, reason: str) -> None:
    with pytest.raises(ManifestError, match=reason):
        m.parse_config(body, source="cfg")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["schemaVersion", "mediaType", "manifests", "config", "layers", "digest", "size", "platform"]
)


@given(
    st.dictionaries(_keys, _json, max_size=6),
    st.sampled_from([m.OCI_INDEX, m.OCI_MANIFEST, m.DOCKER_MANIFEST_LIST, ""]),
)
def test_arbitrary_json_never_crashes(data: dict[str, Any], media_type: str) -> None:
    body = json.dumps(data).encode()
    with contextlib.suppress(ManifestError):
        m.parse_manifest(body, media_type, source="fuzz")
    with contextlib.suppress(ManifestError):
        m.parse_config(body, source="fuzz")
