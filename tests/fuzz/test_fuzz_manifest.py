"""OCI/Docker manifests, indexes and image configs fuzzed with hypothesis.

Properties: :func:`parse_manifest` and :func:`parse_config` return values or raise
:class:`ManifestError` (naming the source, with a short message) on arbitrary JSON
(hypothesis' recursive JSON), arbitrary bytes, valid documents with one value
replaced or removed at any depth, and valid documents mutated as text, under every
``Content-Type`` a registry may send; :func:`select_platform` on what parses
returns an entry of the index or raises :class:`NoSuchPlatformError`. A JSON
nesting bomb and a 50 MB manifest are refused in bounded memory.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_strategies import FUZZ, attempt, json_values, mutated, note, peak_rss_mib
from lockpin.errors import ManifestError, NoSuchPlatformError
from lockpin.image import manifest as m
from lockpin.image.platform import parse_platform

SOURCE = "registry.test/fuzz:1"


def _digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


INDEX: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": m.OCI_INDEX,
    "manifests": [
        {
            "mediaType": m.OCI_MANIFEST,
            "digest": _digest("amd64"),
            "size": 1234,
            "platform": {"os": "linux", "architecture": "amd64"},
        },
        {
            "mediaType": m.OCI_MANIFEST,
            "digest": _digest("arm64"),
            "size": 1235,
            "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            "annotations": {"org.opencontainers.image.ref.name": "1"},
        },
        {
            "mediaType": m.OCI_MANIFEST,
            "digest": _digest("att"),
            "size": 566,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": _digest("amd64"),
            },
        },
    ],
    "annotations": {"a": "b"},
}
MANIFEST: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": m.DOCKER_MANIFEST,
    "config": {"mediaType": m.DOCKER_CONFIG, "digest": _digest("config"), "size": 7023},
    "layers": [
        {"mediaType": m.DOCKER_LAYER, "digest": _digest("l1"), "size": 29126484},
        {
            "mediaType": m.OCI_LAYER_ZSTD,
            "digest": _digest("l2"),
            "size": 3511,
            "urls": ["https://example.test/l2"],
        },
    ],
}
CONFIG: dict[str, Any] = {
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["PATH=/usr/bin", "PYTHON_VERSION=3.12.1"], "Labels": {"a": "b"}},
    "rootfs": {"type": "layers", "diff_ids": [_digest("d1"), _digest("d2")]},
    "history": [{"created_by": "RUN x"}],
}
DOCUMENTS = (INDEX, MANIFEST, CONFIG)
CONTENT_TYPES = st.sampled_from(
    [
        m.OCI_INDEX,
        m.OCI_MANIFEST,
        m.DOCKER_MANIFEST_LIST,
        m.DOCKER_MANIFEST,
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/json",
        "application/json; charset=utf-8",
        "",
        "text/html",
        m.OCI_INDEX.upper() + " ; x=y",
    ]
)
PLATFORMS = [parse_platform(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v7")]


def _check(body: bytes, content_type: str) -> None:
    parsed = attempt(lambda: m.parse_manifest(body, content_type, source=SOURCE), ManifestError)
    if isinstance(parsed, Exception):
        note("manifest refused")
        assert str(parsed).startswith(SOURCE + ": ")
        assert len(str(parsed)) < 1000, len(str(parsed))
    else:
        note(f"parsed {type(parsed).__name__}")
        if isinstance(parsed, m.ImageIndex):
            for platform in PLATFORMS:
                chosen = attempt(
                    functools.partial(m.select_platform, parsed, platform, reference=SOURCE),
                    NoSuchPlatformError,
                )
                if isinstance(chosen, Exception):
                    assert platform.architecture in str(chosen)
                else:
                    assert chosen in parsed.manifests
        else:
            for layer in parsed.layers:
                try:
                    m.layer_compression(layer.media_type)
                except ManifestError:
                    note("unknown layer type")
    config = attempt(lambda: m.parse_config(body, source=SOURCE), ManifestError)
    if isinstance(config, Exception):
        note("config refused")
        assert len(str(config)) < 1000, len(str(config))
    else:
        note("config parsed")
        config.env_dict()
        try:
            config.platform  # noqa: B018 - reading it is the check
        except ValueError:
            note("config platform refused")


@st.composite
def edited(draw: st.DrawFn) -> tuple[Any, str]:
    """A valid document with up to three values replaced (by arbitrary JSON) or
    keys removed, at any depth; and a content type, often the document's own."""
    doc = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    content_type = draw(st.one_of(st.just(str(doc.get("mediaType", ""))), CONTENT_TYPES))
    for _ in range(draw(st.integers(1, 3))):
        node: Any = doc
        depth = 0
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if depth == 0 and draw(st.integers(0, 4)):
                # mostly below the top: an edit of schemaVersion or mediaType only
                # tests the first check
                keys = [k for k in keys if isinstance(node[k], (dict, list)) and node[k]]
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            child = node[key]
            depth += 1
            if isinstance(child, (dict, list)) and child and draw(st.integers(0, 2)):
                node = child
                continue
            action = draw(st.integers(0, 2))
            if action == 0 and isinstance(node, dict):
                del node[key]
            else:
                node[key] = draw(json_values(max_leaves=8))
            break
    return doc, content_type


@settings(FUZZ, max_examples=400)
@given(json_values(), CONTENT_TYPES)
def test_arbitrary_json_is_parsed_or_a_manifest_error(value: Any, content_type: str) -> None:
    _check(json.dumps(value).encode(), content_type)


@settings(FUZZ, max_examples=400)
@given(edited())
def test_edited_documents_are_parsed_or_a_manifest_error(case: tuple[Any, str]) -> None:
    doc, content_type = case
    _check(json.dumps(doc).encode(), content_type)


@settings(FUZZ, max_examples=300)
@given(
    mutated(tuple(json.dumps(d, indent=1) for d in DOCUMENTS), max_mutations=4),
    CONTENT_TYPES,
)
def test_mutated_text_is_parsed_or_a_manifest_error(text: str, content_type: str) -> None:
    _check(text.encode("utf-8", "surrogatepass"), content_type)


@settings(FUZZ, max_examples=200)
@given(st.binary(max_size=200), CONTENT_TYPES)
def test_arbitrary_bytes_are_parsed_or_a_manifest_error(body: bytes, content_type: str) -> None:
    _check(body, content_type)


@pytest.mark.parametrize(
    "body",
    [b"[" * 200_000, b'{"a":' * 200_000, b"1" * 5000, b'"\\ud800"', b"\xef\xbb\xbf{}"],
    ids=["array-bomb", "object-bomb", "huge-int", "lone-surrogate", "bom"],
)
def test_degenerate_json_is_a_manifest_error(body: bytes) -> None:
    for content_type in (m.OCI_MANIFEST, ""):
        _check(body, content_type)
    with pytest.raises(ManifestError):
        m.parse_manifest(body, m.OCI_MANIFEST, source=SOURCE)


@pytest.mark.slow
def test_a_50_mb_manifest_is_refused_in_bounded_memory() -> None:
    peak, out = peak_rss_mib(
        """
        import json
        from lockpin.errors import ManifestError
        from lockpin.image.manifest import parse_config, parse_manifest
        body = json.dumps({"schemaVersion": 2, "x": "y" * 50_000_000}).encode()
        for parse in (lambda: parse_manifest(body, "", source="s"),
                      lambda: parse_config(body, source="s")):
            try:
                parse()
                print("parsed")
            except ManifestError as exc:
                print("refused", str(exc)[:200])
        """
    )
    assert out.count("refused") == 2, out
    assert "limit" in out, out
    assert peak < 400, f"peak {peak:.0f} MiB"
