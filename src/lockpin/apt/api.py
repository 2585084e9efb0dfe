"""Small public entry points of the apt side that are not a whole workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .._io import read_text

if TYPE_CHECKING:
    from os import PathLike

__all__ = ["ExportFormat", "apt_export"]

ExportFormat = Literal["apt-get", "sha256sums", "script"]


def apt_export(
    lock_file: str | PathLike[str],
    *,
    format: ExportFormat = "script",
    platform: str | None = None,
    keyring_in_image: str | None = None,
) -> str:
    """``lock_file`` (an apt.lock) as ``format``: ``apt-get`` (``name=version``
    arguments), ``sha256sums`` (lines for ``sha256sum -c``) or ``script`` (a POSIX
    ``sh`` script for a Dockerfile ``RUN`` step). ``platform`` picks one platform
    of a multi-platform lock (needed for ``apt-get`` and ``sha256sums`` then).
    ``keyring_in_image`` (``script`` only): the archive keyring's path inside the
    image, which the script names with ``signed-by=``."""
    from ..errors import InputError
    from .export import export_apt_get, export_script, export_sha256sums
    from .lock import AptLock

    if keyring_in_image is not None and format != "script":
        raise InputError(
            f"--keyring-in-image is for --format script only (the {format} format names "
            "no source); leave it out."
        )

    lock = AptLock.from_toml(read_text(lock_file, what="lock"), filename=str(lock_file))
    if format == "apt-get":
        return export_apt_get(lock, platform=platform)
    if format == "sha256sums":
        return export_sha256sums(lock, platform=platform)
    return export_script(lock, platform=platform, keyring_in_image=keyring_in_image)
