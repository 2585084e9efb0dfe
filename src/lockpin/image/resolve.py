"""Resolve an image reference to the digests to pin: ``lockpin image resolve``.

API (stable):

* :func:`resolve_image` ``(reference, *, platforms=(), http=None,
  insecure_registries=(), credentials=None, reporter=None) -> ResolvedImage``
  (blocking); :func:`resolve_image_async` ``(registry, reference, *,
  platforms=(), reporter=None)`` for callers with their own loop and
  :class:`~lockpin.image.registry.Registry`; :func:`resolve_images` ``(requests,
  *, http=None, …) -> list[ResolvedImage | LockpinError]``: many at once,
  concurrently over one client, results in the order asked.
* :class:`ResolvedImage` ``(reference, digest, media_type, manifests)`` with
  :attr:`~ResolvedImage.pinned` (the reference with the digest, tag kept),
  :attr:`~ResolvedImage.is_index`, :meth:`~ResolvedImage.digest_for` and
  :meth:`~ResolvedImage.to_dict`; :class:`PlatformManifest` ``(platform, digest,
  media_type, size)``.
* :func:`registry_http_config` ``(http, insecure_registries) -> HttpConfig``:
  the Http settings with those registries allowed over plain http.

``digest`` is what a ``FROM`` pins: the index digest for a multi-platform image
(it stays buildable for every platform), else the manifest's. ``manifests``
lists one entry per platform: for an index, every image entry (attestations left
out) or, with ``platforms``, the ones asked for, in that order, each fetched and
verified; for a single-platform image, the platform its config names (which must
be among ``platforms`` when they are given).
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._async import run_sync
from ..errors import LockpinError, ManifestError, NoSuchPlatformError
from ..progress import Event
from .manifest import (
    ImageIndex,
    ImageManifest,
    parse_config,
    parse_manifest,
    select_platform,
)
from .platform import Platform, parse_platform
from .reference import ImageReference, parse_reference

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ..net.config import HttpConfig
    from ..progress import Reporter
    from .auth import CredentialStore
    from .registry import Registry

__all__ = [
    "PlatformManifest",
    "ResolvedImage",
    "registry_http_config",
    "resolve_image",
    "resolve_image_async",
    "resolve_images",
]


@dataclass(frozen=True, slots=True)
class PlatformManifest:
    """The manifest of one platform of an image."""

    platform: str
    digest: str
    media_type: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "digest": self.digest,
            "mediaType": self.media_type,
            "size": self.size,
        }


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """What a reference points at now (module docstring)."""

    reference: ImageReference
    digest: str
    media_type: str
    manifests: tuple[PlatformManifest, ...]

    @property
    def is_index(self) -> bool:
        return self.media_type in {
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        }

    @property
    def pinned(self) -> ImageReference:
        """The reference as given, with the digest (``python:3.12@sha256:…``)."""
        return self.reference.with_digest(self.digest)

    def digest_for(self, platform: str | Platform) -> str:
        """The manifest digest of ``platform``; :class:`NoSuchPlatformError` if absent."""
        wanted = parse_platform(platform) if isinstance(platform, str) else platform
        for entry in self.manifests:
            if parse_platform(entry.platform).matches(wanted):
                return entry.digest
        raise NoSuchPlatformError(
            reference=str(self.reference),
            platform=str(wanted),
            available=tuple(sorted(m.platform for m in self.manifests)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": str(self.reference),
            "familiar": self.reference.familiar,
            "pinned": self.pinned.familiar,
            "digest": self.digest,
            "mediaType": self.media_type,
            "index": self.is_index,
            "manifests": [m.to_dict() for m in self.manifests],
        }


def registry_http_config(http: HttpConfig | None, insecure_registries: Iterable[str]) -> HttpConfig:
    """``http`` (default: the defaults) with ``insecure_registries`` allowed over
    plain http."""
    from ..net.config import HttpConfig

    config = http or HttpConfig()
    hosts = frozenset(h.strip().lower() for h in insecure_registries if h.strip())
    if not hosts:
        return config
    return dataclasses.replace(config, allow_insecure_hosts=config.allow_insecure_hosts | hosts)


def _platforms(platforms: Sequence[str | Platform]) -> list[Platform]:
    result: list[Platform] = []
    for p in platforms:
        parsed = parse_platform(p) if isinstance(p, str) else p.normalized()
        if parsed not in result:
            result.append(parsed)
    return result


async def resolve_image_async(
    registry: Registry,
    reference: str | ImageReference,
    *,
    platforms: Sequence[str | Platform] = (),
    reporter: Reporter | None = None,
) -> ResolvedImage:
    """:func:`resolve_image` over ``registry``, in the running loop."""
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    wanted = _platforms(platforms)
    got = await registry.manifest(ref)
    if reporter is not None:
        reporter.report(Event("download", subject=ref.familiar, size=len(got.body)))
    parsed = parse_manifest(got.body, got.media_type, source=str(ref))
    pinned = ref.with_digest(got.digest)
    if isinstance(parsed, ImageIndex):
        if not wanted:
            entries = tuple(
                PlatformManifest(
                    str(d.platform.normalized()) if d.platform else "",
                    d.digest,
                    d.media_type,
                    d.size,
                )
                for d in parsed.images()
            )
        else:
            chosen = []
            for platform in wanted:
                entry = select_platform(parsed, platform, reference=str(ref))
                child = await registry.manifest(pinned.with_digest(entry.digest))
                if len(child.body) != entry.size:
                    # The digest matched, so the index lies about the size: the spec
                    # makes it exact, and a client that trusts it is open to abuse.
                    raise ManifestError(
                        f"the index lists the {platform} manifest {entry.digest} as "
                        f"{entry.size} bytes, but it is {len(child.body)}; lockpin refuses "
                        "an index whose descriptors lie. Push the image again.",
                        source=str(ref),
                    )
                if reporter is not None:
                    reporter.report(Event("download", subject=ref.familiar, size=len(child.body)))
                inner = parse_manifest(child.body, child.media_type, source=f"{ref} ({platform})")
                if not isinstance(inner, ImageManifest):
                    raise ManifestError(
                        f"the entry for {platform} ({entry.digest}) is not an image manifest "
                        f"but {inner.media_type}; lockpin does not follow nested indexes",
                        source=str(ref),
                    )
                chosen.append(
                    PlatformManifest(str(platform), child.digest, child.media_type, entry.size)
                )
            entries = tuple(chosen)
        return ResolvedImage(ref, got.digest, parsed.media_type, entries)
    # A single-platform image: its config says which platform it is.
    config_blob = await registry.blob(pinned, parsed.config)
    config = parse_config(config_blob, source=f"{ref} (config {parsed.config.digest})")
    platform = config.platform
    if wanted and not any(platform.matches(p) for p in wanted):
        missing = next(p for p in wanted if not platform.matches(p))
        raise NoSuchPlatformError(
            reference=str(ref), platform=str(missing), available=(str(platform),)
        )
    only = PlatformManifest(str(platform), got.digest, parsed.media_type, len(got.body))
    return ResolvedImage(ref, got.digest, parsed.media_type, (only,))


def resolve_image(
    reference: str | ImageReference,
    *,
    platforms: Sequence[str | Platform] = (),
    http: HttpConfig | None = None,
    insecure_registries: Sequence[str] = (),
    credentials: CredentialStore | None = None,
    reporter: Reporter | None = None,
) -> ResolvedImage:
    """Resolve ``reference`` (``python:3.12-slim``) at its registry: the digest to
    pin and each platform's manifest digest (module docstring). ``http`` holds the
    network settings; ``insecure_registries`` the registries spoken to over plain
    http besides loopback ones; ``credentials`` default to Docker's config."""
    [result] = resolve_images(
        [(reference, platforms)],
        http=http,
        insecure_registries=insecure_registries,
        credentials=credentials,
        reporter=reporter,
    )
    if isinstance(result, LockpinError):
        raise result
    return result


def resolve_images(
    requests: Sequence[tuple[str | ImageReference, Sequence[str | Platform]]],
    *,
    http: HttpConfig | None = None,
    insecure_registries: Sequence[str] = (),
    credentials: CredentialStore | None = None,
    reporter: Reporter | None = None,
) -> list[ResolvedImage | LockpinError]:
    """Resolve every ``(reference, platforms)`` of ``requests`` at once: concurrently,
    over one HTTP client and one :class:`~lockpin.image.registry.Registry` (each
    registry's challenge learnt once, each token asked once). The results are in
    the order of ``requests``, whatever order the answers came in; a request that
    fails gives its :class:`~lockpin.errors.LockpinError` in its place (the caller
    decides which to raise), any other exception propagates. Malformed references
    or platforms raise before any network."""
    parsed = [(parse_reference(r) if isinstance(r, str) else r, _platforms(p)) for r, p in requests]
    config = registry_http_config(http, insecure_registries)

    async def run() -> list[ResolvedImage | LockpinError]:
        from ..net.http import Http
        from .registry import Registry

        on_bytes = None
        if reporter is not None:

            def on_bytes(n: int) -> None:
                reporter.report(Event("bytes", size=n))

        async with Http(config, on_bytes=on_bytes) as client:
            registry = Registry(
                client, credentials=credentials, insecure_registries=insecure_registries
            )

            async def one(
                ref: ImageReference, wanted: list[Platform]
            ) -> ResolvedImage | LockpinError:
                try:
                    return await resolve_image_async(
                        registry, ref, platforms=wanted, reporter=reporter
                    )
                except LockpinError as exc:
                    return exc

            return list(await asyncio.gather(*(one(ref, wanted) for ref, wanted in parsed)))

    return run_sync(run())
