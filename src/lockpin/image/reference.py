"""Image references (``python:3.12-slim``, ``ghcr.io/o/app@sha256:…``) with Docker's
normalisation rules. Pure.

API (stable):

* :class:`ImageReference` — frozen: ``registry`` (``docker.io``, ``ghcr.io``,
  ``localhost:5000``), ``repository`` (``library/python``), ``tag`` (``None``
  only when a digest is given without one) and ``digest`` (``None`` or a checked
  ``sha256:…``). ``str(ref)`` is the canonical form
  (``docker.io/library/python:3.12-slim``); :attr:`~ImageReference.familiar` the
  short one Docker prints (``python:3.12-slim``, ``python:3.12@sha256:…``);
  :attr:`~ImageReference.name` / :attr:`~ImageReference.familiar_name` the same
  without tag and digest; :attr:`~ImageReference.api_host` the host the registry
  API answers on (``registry-1.docker.io`` for Docker Hub);
  :attr:`~ImageReference.identifier` what goes after ``/manifests/`` (the digest
  when there is one, else the tag); :meth:`~ImageReference.with_digest`,
  :meth:`~ImageReference.with_tag`.
* :func:`parse_reference` ``(text) -> ImageReference`` — an
  :class:`~lockpin.errors.InputError` naming the reference and what is wrong.

The rules (those of Docker's ``reference`` grammar):

* the first ``/``-separated component is a registry when it holds a ``.``, a
  ``:`` or an upper-case letter, or is ``localhost`` (``registry:5000/a/b``,
  ``localhost/x``); else the registry is Docker Hub, ``docker.io``
  (``index.docker.io`` is the same), where a one-component name is an official
  image under ``library/``;
* path components are lowercase letters and digits, joined by ``.``, ``_``,
  ``__`` or runs of ``-``; upper case is refused (Docker refuses it too);
* a tag is ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``; without tag and digest the
  tag is ``latest``; a digest (``@sha256:…``) may follow a tag, and wins when the
  image is fetched;
* a whole name (registry and path) has at most 255 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .._text import clip
from ..errors import InputError
from .digest import check_digest

__all__ = [
    "DOCKER_HUB",
    "DOCKER_HUB_API",
    "ImageReference",
    "parse_reference",
]

#: the registry name of Docker Hub in canonical references
DOCKER_HUB = "docker.io"
#: where Docker Hub's registry API answers
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_MAX_NAME = 255

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A normalised image reference; build one with :func:`parse_reference`."""

    registry: str
    repository: str
    tag: str | None = "latest"
    digest: str | None = None

    def __post_init__(self) -> None:
        text = _clip(self._format(self.registry, self.repository, self.tag, self.digest))
        if _HOST.fullmatch(self.registry) is None:
            raise InputError(
                f"invalid image reference {text!r}: bad registry {_clip(self.registry)!r}"
            )
        _check_path(self.repository, text)
        if self.tag is not None and _TAG.fullmatch(self.tag) is None:
            raise InputError(f"invalid image reference {text!r}: bad tag {_clip(self.tag)!r}")
        if self.tag is None and self.digest is None:
            raise InputError(f"invalid image reference {text!r}: neither a tag nor a digest")
        if self.digest is not None:
            try:
                check_digest(self.digest)
            except InputError as exc:
                raise InputError(f"invalid image reference {text!r}: {exc}") from None
        if len(self.name) > _MAX_NAME:
            raise InputError(
                f"invalid image reference {text!r}: the name is longer than {_MAX_NAME} characters"
            )

    @staticmethod
    def _format(registry: str, repository: str, tag: str | None, digest: str | None) -> str:
        text = f"{registry}/{repository}" if registry else repository
        if tag is not None:
            text += f":{tag}"
        if digest is not None:
            text += f"@{digest}"
        return text

    def __str__(self) -> str:
        return self._format(self.registry, self.repository, self.tag, self.digest)

    @property
    def name(self) -> str:
        """``registry/repository``: the canonical name without tag and digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The name as Docker prints it: ``python``, ``user/app``, ``ghcr.io/o/app``."""
        if self.registry != DOCKER_HUB:
            return self.name
        head, sep, rest = self.repository.partition("/")
        if head == "library" and sep and "/" not in rest:
            return rest
        if sep and ("." in head or head == "localhost"):
            # ``docker.io/a.b/c`` shortened would name the registry ``a.b``.
            return self.name
        return self.repository

    @property
    def familiar(self) -> str:
        """The short form: ``python:3.12-slim``, ``python:3.12-slim@sha256:…``."""
        return self._format("", self.familiar_name, self.tag, self.digest)

    @property
    def api_host(self) -> str:
        """The host (and port) whose ``/v2/`` API serves this registry."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def identifier(self) -> str:
        """What a manifest is fetched by: the digest when there is one, else the tag."""
        if self.digest is not None:
            return self.digest
        assert self.tag is not None  # __post_init__: a tag or a digest
        return self.tag

    def with_digest(self, digest: str | None) -> ImageReference:
        """The same name and tag, pinned to ``digest`` (``None``: unpinned)."""
        tag = self.tag if self.tag is not None or digest is not None else "latest"
        return replace(self, tag=tag, digest=digest)

    def with_tag(self, tag: str | None) -> ImageReference:
        return replace(self, tag=tag)


def _check_path(path: str, text: str) -> None:
    if not path:
        raise InputError(f"invalid image reference {text!r}: no repository name")
    for component in path.split("/"):
        if _COMPONENT.fullmatch(component) is not None:
            continue
        if component.lower() != component and _COMPONENT.fullmatch(component.lower()):
            raise InputError(
                f"invalid image reference {text!r}: repository names must be lowercase "
                f"({_clip(component)!r})"
            )
        raise InputError(
            f"invalid image reference {text!r}: bad name component {_clip(component)!r} (lowercase "
            "letters and digits, separated by '.', '_', '__' or '-')"
        )


def _clip(text: str) -> str:
    """``text`` short enough for a message: a hostile Dockerfile's 8 MB ``FROM``
    word must not become an 8 MB error."""
    return clip(text, 120)


def _shown(text: str) -> str:
    """``text`` as an error may show it: a URL-like reference
    (``https://user:pass@registry/x``, ``user:pass@registry/x``: an ``@`` followed by
    a path, where only a digest may follow it) loses its scheme and user info."""
    _, sep, rest = text.partition("://")
    if not sep:
        rest = text
    _, at, after = rest.partition("@")
    if at and "/" in after:
        return f"***@{after}"
    return rest if sep else text


def parse_reference(text: str) -> ImageReference:
    """Parse and normalise ``text`` (``python`` -> ``docker.io/library/python:latest``)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("empty image reference: name an image, e.g. python:3.12-slim")
    given = _shown(text)
    if given != text:
        given = _clip(given)
        raise InputError(
            f"invalid image reference {given!r}: an image reference carries no URL scheme "
            "and no credentials (lockpin never echoes them). Write REGISTRY/NAME:TAG and log "
            "in with `docker login REGISTRY` (lockpin reads Docker's config.json)"
        )
    given = _clip(given)
    if text != text.strip() or any(c.isspace() for c in text):
        raise InputError(f"invalid image reference {given!r}: it contains white space")
    rest, at, digest = text.partition("@")
    if at:
        try:
            check_digest(digest)
        except InputError as exc:
            raise InputError(f"invalid image reference {given!r}: {exc}") from None
    tag: str | None = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if _TAG.fullmatch(tag) is None:
            raise InputError(
                f"invalid image reference {given!r}: bad tag {_clip(tag)!r} (letters, digits, '_', "
                "'.' and '-', at most 128, not starting with '.' or '-')"
            )
    registry, path = _split_registry(rest, given)
    if tag is None and not at:
        tag = "latest"
    return ImageReference(registry, path, tag, digest if at else None)


def _split_registry(name: str, given: str) -> tuple[str, str]:
    head, sep, tail = name.partition("/")
    # Docker's rule: a first component naming a host (a dot, a port, localhost, or
    # upper case, which a repository cannot have) is the registry.
    if sep and ("." in head or ":" in head or head == "localhost" or head.lower() != head):
        if _HOST.fullmatch(head) is None:
            raise InputError(f"invalid image reference {given!r}: bad registry {_clip(head)!r}")
        registry = DOCKER_HUB if head.lower() in _HUB_ALIASES else head
        path = tail
    else:
        registry, path = DOCKER_HUB, name
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    _check_path(path, given)
    return registry, path
