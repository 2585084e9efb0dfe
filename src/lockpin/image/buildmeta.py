"""What a build produced, read from the builder's output file. Pure.

:func:`parse_build_output` ``(data, *, filename) -> BuildOutput`` takes the bytes
of one of these files and detects its kind from the content:

* ``buildx`` — ``docker buildx build --metadata-file FILE``: a JSON object with
  ``containerimage.digest`` (for a multi-platform build, the index digest),
  ``image.name`` (comma-separated names, optional) and
  ``containerimage.descriptor`` (``mediaType``/``digest``/``size``, optional;
  when present its digest must agree). Other keys (``buildx.build.ref``,
  ``buildx.build.provenance``, ``containerimage.config.digest``) are ignored.
* ``digestfile`` — ``podman build --digestfile``, ``buildah --digestfile``,
  kaniko ``--digest-file``: the digest alone (``sha256:`` + 64 hex), optionally
  followed by a newline.

Anything else, or a JSON object without ``containerimage.digest`` (a build
that did not export an image), is an :class:`~lockpin.errors.InputError`
naming the file and saying what to do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from ..errors import InputError

__all__ = ["BuildOutput", "parse_build_output"]

BuildKind = Literal["buildx", "digestfile"]

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HOW = (
    "pass the file written by `docker buildx build --metadata-file FILE` (with --push or "
    "--output type=image), or by `podman build --digestfile FILE` / `buildah --digestfile "
    "FILE` / kaniko `--digest-file FILE`"
)


@dataclass(frozen=True, slots=True)
class BuildOutput:
    """The image a build produced: ``digest`` (the index digest of a
    multi-platform build), ``names`` (as the builder tagged it; may be empty),
    ``media_type`` (when the builder said), ``kind`` of file it came from."""

    digest: str
    names: tuple[str, ...]
    media_type: str | None
    kind: BuildKind


def parse_build_output(data: bytes, *, filename: str) -> BuildOutput:
    """Parse a builder's metadata or digest file (see the module docstring)."""
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        raise InputError(
            f"not a build metadata or digest file (not UTF-8); {_HOW}", location=filename
        ) from None
    stripped = text.strip()
    if stripped.startswith("{"):
        return _buildx(stripped, filename)
    if _DIGEST.fullmatch(stripped):
        return BuildOutput(digest=stripped, names=(), media_type=None, kind="digestfile")
    if not stripped:
        raise InputError(f"the file is empty: the build wrote no digest; {_HOW}", location=filename)
    raise InputError(
        f"no image digest found (expected JSON or a single sha256:<64 hex> digest); {_HOW}",
        location=filename,
    )


def _buildx(text: str, filename: str) -> BuildOutput:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise InputError(f"invalid JSON: {exc}; {_HOW}", location=filename) from None
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object; {_HOW}", location=filename)
    digest = obj.get("containerimage.digest")
    if digest is None:
        raise InputError(
            "no containerimage.digest: the build exported no image (build again with --push, "
            f"--load or --output type=image); {_HOW}",
            location=filename,
        )
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InputError(
            f"containerimage.digest is not a sha256 digest: {digest!r}", location=filename
        )
    media_type: str | None = None
    descriptor = obj.get("containerimage.descriptor")
    if descriptor is not None:
        if not isinstance(descriptor, dict):
            raise InputError("containerimage.descriptor is not an object", location=filename)
        if descriptor.get("digest", digest) != digest:
            raise InputError(
                f"containerimage.descriptor digest {descriptor.get('digest')!r} differs from "
                f"containerimage.digest {digest}",
                location=filename,
            )
        mt = descriptor.get("mediaType")
        media_type = mt if isinstance(mt, str) else None
    raw_names = obj.get("image.name", "")
    if not isinstance(raw_names, str):
        raise InputError("image.name is not a string", location=filename)
    names = tuple(n.strip() for n in raw_names.split(",") if n.strip())
    return BuildOutput(digest=digest, names=names, media_type=media_type, kind="buildx")
