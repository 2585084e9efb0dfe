"""Image platforms (``linux/amd64``, ``linux/arm64/v8``, ``linux/arm/v7``). Pure.

API (stable):

* :class:`Platform` — frozen ``(os, architecture, variant)``, always normalised
  (build one with :func:`parse_platform` or :meth:`Platform.of`); ``str()`` is
  ``os/arch[/variant]`` (``linux/arm64/v8``); :meth:`Platform.matches` compares
  two platforms after normalisation (variant-aware);
  :attr:`Platform.debian_arch` is the Debian architecture
  (:func:`lockpin.apt.distro.debian_arch`: ``linux/arm/v7`` -> ``armhf``).
* :func:`parse_platform` ``(text) -> Platform`` —
  :class:`~lockpin.errors.InputError` for anything but ``os/arch[/variant]``.

Normalisation follows containerd's rules for names seen in the wild —
``aarch64`` -> ``arm64``, ``x86_64``/``x86-64`` -> ``amd64``, ``i386``..``i686``
-> ``386``, ``armhf`` -> ``arm/v7``, ``armel`` -> ``arm/v6``, variants ``7`` ->
``v7`` — with one difference: the default variant is written out rather than
dropped (``arm64`` is ``arm64/v8``, ``arm`` is ``arm/v7``), so an index entry
``linux/arm64`` and a request ``linux/arm64/v8`` are the same platform, and
both print the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InputError

__all__ = ["Platform", "parse_platform"]

_WORD = re.compile(r"[a-z0-9][a-z0-9._-]*")

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "i386": "386",
    "i486": "386",
    "i586": "386",
    "i686": "386",
    "armhf": "arm",
    "armel": "arm",
}
#: variant implied by an architecture alias
_ALIAS_VARIANT = {"armhf": "v7", "armel": "v6"}
#: variant of an architecture named without one
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


def _variant(architecture: str, variant: str) -> str:
    if architecture == "arm64" and variant in {"8", "v8.0"}:
        return "v8"
    if architecture == "arm" and variant in {"5", "6", "7", "8"}:
        return f"v{variant}"
    return variant


@dataclass(frozen=True, slots=True)
class Platform:
    """A normalised platform; ``variant`` is ``""`` when there is none."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def of(cls, os: str, architecture: str, variant: str = "") -> Platform:
        """The normalised platform of (possibly unnormalised) parts."""
        os_name = os.strip().lower()
        arch = architecture.strip().lower()
        var = variant.strip().lower()
        if arch in _ALIAS_VARIANT and not var:
            var = _ALIAS_VARIANT[arch]
        arch = _ARCH_ALIASES.get(arch, arch)
        var = _variant(arch, var) or _DEFAULT_VARIANT.get(arch, "")
        return cls(os_name, arch, var)

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    def normalized(self) -> Platform:
        return Platform.of(self.os, self.architecture, self.variant)

    def matches(self, other: Platform) -> bool:
        """The same platform, once both are normalised (the variant counts)."""
        return self.normalized() == other.normalized()

    @property
    def debian_arch(self) -> str:
        """The Debian architecture (``amd64``, ``arm64``, ``armhf``); an
        :class:`~lockpin.errors.InputError` for a platform Debian does not build."""
        from ..apt.distro import debian_arch

        return debian_arch(str(self))


def parse_platform(text: str) -> Platform:
    """``linux/arm64`` -> ``Platform("linux", "arm64", "v8")``."""
    if not isinstance(text, str):
        raise InputError(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT]")
    parts = text.strip().lower().split("/")
    if not 2 <= len(parts) <= 3 or not all(_WORD.fullmatch(p) for p in parts):
        raise InputError(
            f"invalid platform {text!r}: expected OS/ARCH[/VARIANT], e.g. linux/amd64, "
            "linux/arm64 or linux/arm/v7"
        )
    return Platform.of(*parts)
