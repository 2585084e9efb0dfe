"""OCI and Docker image manifests, indexes and image configs. Pure: bytes in, values out.

API (stable):

* media types: :data:`OCI_INDEX`, :data:`OCI_MANIFEST`, :data:`DOCKER_MANIFEST_LIST`,
  :data:`DOCKER_MANIFEST`, :data:`MANIFEST_MEDIA_TYPES` (the ``Accept`` list, in
  order), :data:`INDEX_MEDIA_TYPES`, :data:`IMAGE_MANIFEST_MEDIA_TYPES`, the configs
  (:data:`OCI_CONFIG`, :data:`DOCKER_CONFIG`) and layers (:data:`LAYER_MEDIA_TYPES`;
  :func:`layer_compression` ``-> "none" | "gzip" | "zstd"``, :func:`is_foreign_layer`).
* :class:`Descriptor` ``(media_type, digest, size, platform, annotations, urls)``;
  :attr:`Descriptor.is_attestation`.
* :class:`ImageIndex` ``(media_type, manifests, annotations)``;
  :meth:`ImageIndex.platforms` (attestations left out).
* :class:`ImageManifest` ``(media_type, config, layers, annotations)``.
* :class:`ImageConfig` ``(os, architecture, variant, env, diff_ids, labels)``;
  :attr:`ImageConfig.platform`, :meth:`ImageConfig.env_dict`.
* :func:`parse_manifest` ``(body, media_type, *, source) -> ImageIndex | ImageManifest``,
  :func:`parse_config` ``(body, *, source) -> ImageConfig``,
  :func:`select_platform` ``(index, platform, *, reference) -> Descriptor``.

Every malformed input (not JSON, a field of the wrong type, a digest lockpin cannot
check, a size that is negative or absurd, an unknown or contradictory media type)
is a :class:`~lockpin.errors.ManifestError` naming ``source``; nothing here crashes
on a hostile registry's answer. Digests of the bodies themselves are checked by the
caller (:mod:`lockpin.image.registry`), which alone has the bytes' provenance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InputError, ManifestError, NoSuchPlatformError
from .digest import check_digest
from .platform import Platform

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "IMAGE_MANIFEST_MEDIA_TYPES",
    "INDEX_MEDIA_TYPES",
    "LAYER_MEDIA_TYPES",
    "MANIFEST_MEDIA_TYPES",
    "MAX_CONFIG_BYTES",
    "MAX_MANIFEST_BYTES",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_ZSTD",
    "OCI_MANIFEST",
    "Descriptor",
    "ImageConfig",
    "ImageIndex",
    "ImageManifest",
    "is_foreign_layer",
    "layer_compression",
    "parse_config",
    "parse_manifest",
    "select_platform",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
#: the ``Accept`` list of a manifest request, most preferred first
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
#: the config of an artifact (an attestation, a signature), not of an image
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
_OCI_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

Compression = Literal["none", "gzip", "zstd"]
#: layer media type -> how its blob is compressed
LAYER_MEDIA_TYPES: Mapping[str, Compression] = {
    OCI_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    _OCI_NONDIST: "none",
    f"{_OCI_NONDIST}+gzip": "gzip",
    f"{_OCI_NONDIST}+zstd": "zstd",
    DOCKER_LAYER: "gzip",
    DOCKER_FOREIGN_LAYER: "gzip",
    # what some older tools wrote for uncompressed Docker layers
    "application/vnd.docker.image.rootfs.diff.tar": "none",
}
_FOREIGN = frozenset(
    {DOCKER_FOREIGN_LAYER, _OCI_NONDIST, f"{_OCI_NONDIST}+gzip", f"{_OCI_NONDIST}+zstd"}
)

#: the registry's own limit on a manifest (distribution's default is 4 MiB)
MAX_MANIFEST_BYTES = 4 << 20
#: image configs with a long history reach a few hundred KiB
MAX_CONFIG_BYTES = 16 << 20
#: no blob is larger (a descriptor claiming more is hostile or broken)
_MAX_SIZE = 1 << 44
#: entries of one index / layers of one manifest (Docker caps layers at 127)
_MAX_ENTRIES = 4096
#: media types that say nothing: the body's own ``mediaType`` decides
_GENERIC = frozenset({"", "application/json", "application/octet-stream", "text/plain"})

_ATTESTATION_ANNOTATION = "vnd.docker.reference.type"


def layer_compression(media_type: str) -> Compression:
    """How a layer of ``media_type`` is compressed; a :class:`ManifestError` for a
    media type that is not a layer lockpin knows."""
    try:
        return LAYER_MEDIA_TYPES[media_type]
    except KeyError:
        known = ", ".join(sorted(LAYER_MEDIA_TYPES))
        raise ManifestError(
            f"unknown layer media type {media_type!r}; lockpin reads {known}", source="layer"
        ) from None


def is_foreign_layer(media_type: str) -> bool:
    """A layer a registry need not serve (Windows base layers; ``urls`` say where)."""
    return media_type in _FOREIGN


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A pointer to a blob or manifest: what it is, its digest and size."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()

    @property
    def is_attestation(self) -> bool:
        """An index entry that is not an image (BuildKit's provenance and SBOM
        manifests: platform ``unknown/unknown``, a ``vnd.docker.reference.type``
        annotation)."""
        if _ATTESTATION_ANNOTATION in self.annotations:
            return True
        p = self.platform
        return p is not None and p.os == "unknown" and p.architecture == "unknown"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform is not None:
            data["platform"] = str(self.platform)
        return data


@dataclass(frozen=True, slots=True)
class ImageIndex:
    """An OCI image index or a Docker manifest list."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    def images(self) -> tuple[Descriptor, ...]:
        """The entries that are images for a platform (attestations left out)."""
        return tuple(d for d in self.manifests if d.platform is not None and not d.is_attestation)

    def platforms(self) -> tuple[Platform, ...]:
        """The platforms of :meth:`images`, in the index's order, each once."""
        seen: dict[Platform, None] = {}
        for d in self.images():
            assert d.platform is not None
            seen.setdefault(d.platform.normalized(), None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class ImageManifest:
    """An OCI image manifest or a Docker v2 schema 2 manifest."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What lockpin reads from an image config: the platform, the environment
    (``config.Env``), the labels and the layer diff ids (``rootfs.diff_ids``)."""

    os: str
    architecture: str
    variant: str = ""
    env: tuple[str, ...] = ()
    diff_ids: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def platform(self) -> Platform:
        return Platform.of(self.os, self.architecture, self.variant)

    def env_dict(self) -> dict[str, str]:
        """``config.Env`` as a mapping (``KEY=value``; a later entry wins, as in Docker)."""
        result: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            result[key] = value
        return result


# -- parsing -----------------------------------------------------------------------------------


class _Fields:
    """Typed access to one JSON object; every wrong type is a ManifestError."""

    def __init__(self, data: object, *, where: str, source: str) -> None:
        if not isinstance(data, dict):
            raise ManifestError(f"{where} is not a JSON object", source=source)
        self.data: dict[str, Any] = data
        self.where = where
        self.source = source

    def fail(self, message: str) -> ManifestError:
        return ManifestError(f"{self.where}: {message}", source=self.source)

    def string(self, key: str, *, required: bool = False) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(f"{key!r} is missing")
            return ""
        if not isinstance(value, str):
            raise self.fail(f"{key!r} is not a string")
        return value

    def obj(self, key: str, *, required: bool = False) -> _Fields | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(f"{key!r} is missing")
            return None
        return _Fields(value, where=f"{self.where}.{key}", source=self.source)

    def array(self, key: str, *, required: bool = False) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(f"{key!r} is missing")
            return []
        if not isinstance(value, list):
            raise self.fail(f"{key!r} is not a list")
        if len(value) > _MAX_ENTRIES:
            raise self.fail(
                f"{key!r} has {len(value)} entries; lockpin reads at most {_MAX_ENTRIES}"
            )
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        items = self.array(key)
        if not all(isinstance(item, str) for item in items):
            raise self.fail(f"{key!r} holds something other than strings")
        return tuple(items)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.fail(f"{key!r} is not a map of strings")
        return dict(value)


def _load(body: bytes, *, limit: int, what: str, source: str) -> object:
    if not isinstance(body, (bytes, bytearray)):
        raise ManifestError(f"{what} is not bytes", source=source)
    if len(body) > limit:
        raise ManifestError(
            f"{what} is {len(body)} bytes, over lockpin's {limit}-byte limit", source=source
        )
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ManifestError(f"{what} is not valid JSON ({exc})", source=source) from None


def _descriptor(data: object, *, where: str, source: str) -> Descriptor:
    f = _Fields(data, where=where, source=source)
    media_type = f.string("mediaType", required=True)
    digest = f.string("digest", required=True)
    try:
        check_digest(digest)
    except InputError as exc:
        raise f.fail(str(exc)) from None
    size = f.data.get("size")
    if isinstance(size, bool) or not isinstance(size, int):
        raise f.fail("'size' is not an integer")
    if not 0 <= size <= _MAX_SIZE:
        raise f.fail(f"'size' {size} is out of range")
    platform = None
    p = f.obj("platform")
    if p is not None:
        os_name = p.string("os", required=True)
        arch = p.string("architecture", required=True)
        variant = p.string("variant")
        if not os_name or not arch or len(os_name) > 64 or len(arch) > 64 or len(variant) > 64:
            raise p.fail("'os' and 'architecture' must be short, non-empty strings")
        platform = Platform.of(os_name, arch, variant)
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=platform,
        annotations=f.string_map("annotations"),
        urls=f.strings("urls"),
    )


def _effective_media_type(header: str, declared: str, *, source: str) -> str:
    header = header.split(";", maxsplit=1)[0].strip().lower()
    if header in _GENERIC:
        header = ""
    if header in _DOCKER_SCHEMA1 or (not header and declared in _DOCKER_SCHEMA1):
        # Either spelling of schema 1 (signed or not) gets the advice, not "ambiguous".
        declared = header or declared
        header = ""
    if header and declared and header != declared:
        raise ManifestError(
            f"the registry says the manifest is {header[:100]!r} but the manifest says "
            f"{declared[:100]!r}; "
            "lockpin refuses an ambiguous manifest",
            source=source,
        )
    media_type = header or declared
    if media_type in _DOCKER_SCHEMA1:
        raise ManifestError(
            f"{media_type!r} is Docker's old schema 1 manifest, which lockpin does not read; "
            "push the image again with a current tool (docker, buildah, skopeo)",
            source=source,
        )
    if media_type not in INDEX_MEDIA_TYPES and media_type not in IMAGE_MANIFEST_MEDIA_TYPES:
        known = ", ".join(MANIFEST_MEDIA_TYPES)
        shown = repr(media_type[:100]) if media_type else "(none given)"
        raise ManifestError(
            f"unknown manifest media type {shown}; lockpin reads {known}", source=source
        )
    return media_type


def parse_manifest(body: bytes, media_type: str, *, source: str) -> ImageIndex | ImageManifest:
    """Parse a manifest or index served as ``media_type`` (the response's
    ``Content-Type``; the body's ``mediaType`` when that says nothing)."""
    data = _load(body, limit=MAX_MANIFEST_BYTES, what="the manifest", source=source)
    f = _Fields(data, where="manifest", source=source)
    version = f.data.get("schemaVersion")
    declared = f.string("mediaType")
    if version == 1 and not declared:
        declared = _DOCKER_SCHEMA1[0]
    kind = _effective_media_type(media_type, declared, source=source)
    if kind not in _DOCKER_SCHEMA1 and (isinstance(version, bool) or version != 2):
        raise f.fail(f"'schemaVersion' is {version!r}, not 2")
    annotations = f.string_map("annotations")
    if kind in INDEX_MEDIA_TYPES:
        entries = tuple(
            _descriptor(item, where=f"manifests[{i}]", source=source)
            for i, item in enumerate(f.array("manifests", required=True))
        )
        return ImageIndex(media_type=kind, manifests=entries, annotations=annotations)
    config = _descriptor(f.data.get("config"), where="config", source=source)
    layers = tuple(
        _descriptor(item, where=f"layers[{i}]", source=source)
        for i, item in enumerate(f.array("layers"))
    )
    return ImageManifest(media_type=kind, config=config, layers=layers, annotations=annotations)


def parse_config(body: bytes, *, source: str) -> ImageConfig:
    """Parse an image config (OCI or Docker: the same JSON)."""
    data = _load(body, limit=MAX_CONFIG_BYTES, what="the image config", source=source)
    f = _Fields(data, where="config", source=source)
    inner = f.obj("config")
    rootfs = f.obj("rootfs")
    diff_ids = rootfs.strings("diff_ids") if rootfs is not None else ()
    for i, diff_id in enumerate(diff_ids):
        try:
            check_digest(diff_id, what=f"rootfs.diff_ids[{i}]")
        except InputError as exc:
            raise f.fail(str(exc)) from None
    return ImageConfig(
        os=f.string("os"),
        architecture=f.string("architecture"),
        variant=f.string("variant"),
        env=inner.strings("Env") if inner is not None else (),
        diff_ids=diff_ids,
        labels=inner.string_map("Labels") if inner is not None else {},
    )


def select_platform(index: ImageIndex, platform: Platform, *, reference: str) -> Descriptor:
    """The index's manifest for ``platform`` (the first, when several match);
    :class:`~lockpin.errors.NoSuchPlatformError` listing what the index has."""
    for entry in index.images():
        assert entry.platform is not None
        if entry.platform.matches(platform):
            return entry
    available = tuple(sorted({str(p) for p in index.platforms()}))
    raise NoSuchPlatformError(
        reference=reference, platform=str(platform.normalized()), available=available
    )
