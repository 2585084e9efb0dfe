"""An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/``) as an
image source: what ``skopeo copy … oci:DIR:TAG`` and ``umoci`` write, and what
the tests build images in.

It answers what :class:`lockpin.image.base.ImageSource` asks: a manifest by tag
(the ``org.opencontainers.image.ref.name`` annotation of ``index.json``) or by
digest, and blobs by digest. It checks nothing it serves: the reader hashes
every byte itself, as it does for a registry's answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, ManifestError, NoSuchImageError
from .digest import check_digest

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncIterator

    from .manifest import Descriptor
    from .reference import ImageReference

__all__ = ["REF_NAME", "OciLayout"]

#: the annotation naming an ``index.json`` entry (a tag, or a whole reference)
REF_NAME = "org.opencontainers.image.ref.name"
_CHUNK = 1 << 20
_MAX_INDEX = 4 << 20


class OciLayout:
    """The image layout at ``path`` (a directory)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"OciLayout({str(self.path)!r})"

    def _blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = check_digest(digest).partition(":")
        return self.path / "blobs" / algorithm / hexdigest

    def _index(self) -> dict[str, object]:
        where = self.path / "index.json"
        try:
            with where.open("rb") as fh:
                raw = fh.read(_MAX_INDEX + 1)
        except OSError as exc:
            raise InputError(
                f"{where}: cannot read the OCI layout's index ({exc.strerror or exc})."
            ) from exc
        try:
            data = json.loads(raw[:_MAX_INDEX])
        except (ValueError, RecursionError):
            data = None
        if len(raw) > _MAX_INDEX or not isinstance(data, dict):
            raise ManifestError("not an OCI layout index.json", source=str(where))
        return data

    async def manifest(self, reference: ImageReference, identifier: str) -> tuple[bytes, str]:
        """The manifest (or index) ``identifier`` names: ``(body, media type)``."""
        if identifier.startswith(("sha256:", "sha512:")):
            return self._read_blob(reference, identifier), ""
        wanted = {identifier, str(reference)}
        entries = self._index().get("manifests")
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                continue
            annotations = entry.get("annotations")
            name = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
            digest = entry.get("digest")
            if name in wanted and isinstance(digest, str):
                media_type = entry.get("mediaType")
                body = self._read_blob(reference, digest)
                return body, media_type if isinstance(media_type, str) else ""
        raise NoSuchImageError(
            f"{reference}: the OCI layout {self.path} has no image tagged {identifier!r}.",
            reference=str(reference),
            url=str(self.path),
        )

    def _no_blob(self, reference: ImageReference, digest: str) -> NoSuchImageError:
        return NoSuchImageError(
            f"{reference}: the OCI layout {self.path} has no blob {digest}.",
            reference=str(reference),
            url=str(self.path),
        )

    def _read_blob(self, reference: ImageReference, digest: str) -> bytes:
        try:
            return self._blob_path(digest).read_bytes()
        except OSError:
            raise self._no_blob(reference, digest) from None

    async def blob(self, reference: ImageReference, descriptor: Descriptor) -> AsyncIterator[bytes]:
        """The bytes of the blob ``descriptor`` names, in chunks."""
        digest = descriptor.digest
        try:
            fh = self._blob_path(digest).open("rb")
        except OSError:
            raise self._no_blob(reference, digest) from None
        with fh:
            while chunk := fh.read(_CHUNK):
                yield chunk
