"""Pin every ``FROM`` of a Dockerfile by digest: ``lockpin.pin_dockerfile``.

Orchestration over the pure parser (:mod:`~lockpin.image.dockerfile`) and a
:class:`Resolver` (the registry, through :mod:`~lockpin.image.resolve`; an
in-memory fake in the tests). Nothing is written unless asked, and nothing at
all when any image fails to resolve.

API (stable):

* :func:`pin_dockerfile` ``(path, *, resolver=None, platforms=(), update=False,
  build_args=None, write=False) -> PinResult`` and :func:`pin_text` (the same
  over text already read).
* :class:`PinResult` — ``text`` (the pinned Dockerfile), ``original``,
  ``changes`` (:class:`Change`), ``unpinned`` (:class:`Unpinned`: the ``FROM``
  lines lockpin could not pin, each saying why and what to do), ``unchanged``.
* :class:`Resolver` — ``resolve(reference, platforms) -> digest``; a resolver
  may also have ``resolve_all(requests) -> [digest | LockpinError]``, which
  :func:`pin_text` then calls once with every image of the file.
  :class:`RegistryResolver` asks the registry, all the images of a Dockerfile
  concurrently over one HTTP client (one challenge per registry, one token per
  scope); the output and the error raised (the first in the file) are the same
  as one at a time.

The rules:

* Each ``FROM IMAGE`` becomes ``IMAGE:TAG@sha256:…``: the name stays spelt as the
  user wrote it (``python`` is not expanded to ``docker.io/library/python``) and
  the tag is kept as the readable label; an image without a tag follows
  ``latest`` and says so (``python:latest@sha256:…``), so ``--update`` knows
  what to follow. ``scratch`` and earlier stages are left alone.
* The digest is the one the tag points at: the image index of a multi-platform
  image (so the image stays buildable for every platform), else the manifest.
  With ``platforms`` (or a ``FROM --platform=`` of literal value), the resolver
  also checks the image has each of them. ``--platform=$BUILDPLATFORM`` checks
  none: the build machine is not known here.
* ``FROM ${BASE}`` (or ``$BASE``) with a global ``ARG BASE=python:3.12-slim``
  pins the default itself: ``ARG BASE=python:3.12-slim@sha256:…`` (quotes kept).
  What cannot be pinned in the file is reported in :attr:`PinResult.unpinned`
  (a warning, not an error: the other lines are pinned): a ``FROM`` reading a
  variable without a value or given by a build arg (the value lives outside the
  file), an image built from several parts (``python:${PY}-slim``: a digest
  would silently defeat the variable), a default itself built from variables,
  quoted or escaped image words, a word split over a continuation.
* A digest already there is kept; with ``update`` it is moved to what the tag
  points at now (the change reports old → new); a reference with a digest and
  no tag has nothing to follow and is reported as unpinned under ``update``.
* The output is byte-for-byte the input outside the rewritten words, and pinning
  a pinned file changes nothing. The new text is parsed again before it is
  returned: a rewrite BuildKit would read differently is a bug, never an output.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .._io import atomic_write, read_text
from ..errors import DockerfileError, InputError, LockpinError, PinError
from .digest import check_digest
from .dockerfile import (
    ArgDef,
    Dockerfile,
    Edit,
    FromImage,
    from_images,
    global_definition,
    parse,
)
from .platform import parse_platform
from .reference import parse_reference

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping, Sequence

    from ..net.config import HttpConfig
    from .auth import CredentialStore

__all__ = [
    "Change",
    "PinResult",
    "RegistryResolver",
    "Resolver",
    "Unpinned",
    "pin_dockerfile",
    "pin_text",
]

logger = logging.getLogger(__name__)

_ONE_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_PREDEFINED_ARGS = frozenset(
    {
        "BUILDPLATFORM",
        "BUILDOS",
        "BUILDOSVERSION",
        "BUILDARCH",
        "BUILDVARIANT",
        "TARGETPLATFORM",
        "TARGETOS",
        "TARGETOSVERSION",
        "TARGETARCH",
        "TARGETVARIANT",
        "TARGETSTAGE",
    }
)
_TARGET_ARGS = frozenset({"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"})


class Resolver(Protocol):
    """Resolves an image reference (as the Dockerfile spells it, with a tag) to
    the digest to pin: the index digest of a multi-platform image, else the
    manifest's. ``platforms`` (``linux/arm64``, …) must each be in the image;
    raise a :class:`~lockpin.errors.LockpinError` when one is not, or when the
    image cannot be resolved."""

    def resolve(self, reference: str, platforms: Sequence[str]) -> str: ...


@dataclass(frozen=True, slots=True)
class Change:
    """One rewritten reference. ``line`` is the line edited (the ``FROM``, or the
    ``ARG`` whose default was pinned: ``arg`` names it); ``stage`` the index of
    the (first) stage whose base it is, ``stage_name`` its name; ``old``/``new``
    the reference text before and after; ``old_digest`` ``None`` when it was
    not pinned yet."""

    line: int
    stage: int
    old: str
    new: str
    old_digest: str | None
    new_digest: str
    stage_name: str | None = None
    arg: str | None = None

    def __str__(self) -> str:
        what = f"ARG {self.arg}" if self.arg else "FROM"
        if self.old_digest is None:
            return f"line {self.line}: {what} {self.old} pinned to {self.new_digest}"
        return f"line {self.line}: {what} {self.old}: {self.old_digest} -> {self.new_digest}"


@dataclass(frozen=True, slots=True)
class Unpinned:
    """A ``FROM`` lockpin did not pin: ``location`` ``FILE:LINE``, ``text`` the
    image as written, ``reason`` why and what to do."""

    location: str
    line: int
    stage: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: cannot pin FROM {self.text}: {self.reason}"


@dataclass(frozen=True, slots=True)
class PinResult:
    """What :func:`pin_dockerfile` made of a Dockerfile (see the module docstring)."""

    path: str
    text: str
    original: str
    changes: tuple[Change, ...] = ()
    unpinned: tuple[Unpinned, ...] = ()

    @property
    def unchanged(self) -> bool:
        return self.text == self.original


@dataclass
class _Target:
    """A reference to rewrite: ``text`` at ``span`` of the Dockerfile's text."""

    text: str
    span: tuple[int, int]
    line: int
    stage: int
    stage_name: str | None
    arg: str | None
    platforms: set[str] = field(default_factory=set)
    any_platform: bool = False


def pin_dockerfile(
    path: str | os.PathLike[str],
    *,
    resolver: Resolver | None = None,
    platforms: Sequence[str] = (),
    update: bool = False,
    build_args: Mapping[str, str] | None = None,
    write: bool = False,
) -> PinResult:
    """Pin the ``FROM`` lines of the Dockerfile at ``path`` (see the module
    docstring). With ``write``, the file is replaced atomically when something
    changed; else nothing is written. ``resolver`` defaults to the registry
    (:class:`RegistryResolver` with default settings)."""
    import os

    name = os.fspath(path)
    text = read_text(name, what="Dockerfile")
    result = pin_text(
        text,
        filename=name,
        resolver=resolver if resolver is not None else RegistryResolver(),
        platforms=platforms,
        update=update,
        build_args=build_args,
    )
    if write and not result.unchanged:
        atomic_write(name, result.text, expected=result.original)
    return result


def pin_text(
    text: str,
    *,
    filename: str = "Dockerfile",
    resolver: Resolver,
    platforms: Sequence[str] = (),
    update: bool = False,
    build_args: Mapping[str, str] | None = None,
) -> PinResult:
    """:func:`pin_dockerfile` over ``text``; ``filename`` names it in messages."""
    args = dict(build_args or {})
    for platform in platforms:  # bad input fails before any network
        parse_platform(platform)
    dockerfile = parse(text, filename=filename)
    targets, unpinned = _plan(dockerfile, args, tuple(platforms))
    edits: list[Edit] = []
    changes: list[Change] = []
    resolved: dict[tuple[str, tuple[str, ...]], str | LockpinError] = {}
    batch = getattr(resolver, "resolve_all", None)
    if batch is not None:
        # Every image at once (one client, concurrent requests); the errors are
        # raised below in the file's order, as one at a time would.
        keys = list(dict.fromkeys(k for t in targets if (k := _request(t, update)) is not None))
        if keys:
            resolved.update(zip(keys, batch(keys), strict=True))
    for target in targets:
        planned = _pin_one(dockerfile, target, resolver, resolved, update=update)
        if isinstance(planned, Unpinned):
            unpinned.append(planned)
        elif planned is not None:
            edit, change = planned
            edits.append(edit)
            changes.append(change)
    new_text = dockerfile.edit(edits)
    if edits:
        _check_rewrite(dockerfile, new_text, args, changes)
    unpinned.sort(key=lambda u: u.line)
    changes.sort(key=lambda c: c.line)
    return PinResult(filename, new_text, text, tuple(changes), tuple(unpinned))


def _plan(
    dockerfile: Dockerfile, build_args: Mapping[str, str], platforms: tuple[str, ...]
) -> tuple[list[_Target], list[Unpinned]]:
    """The references to pin (one per span: an ``ARG`` default several stages use
    is resolved once, for all their platforms), and the ``FROM`` s that cannot be."""
    targets: dict[tuple[int, int], _Target] = {}
    unpinned: list[Unpinned] = []
    for base in from_images(dockerfile, build_args):
        if base.kind in ("stage", "scratch"):
            continue
        head = base.stage.from_instruction
        word = base.stage.from_args.image
        where = dockerfile.location(head.line)

        def skip(reason: str, *, base: FromImage = base, text: str = word.text) -> None:
            line = base.stage.from_instruction.line
            unpinned.append(
                Unpinned(dockerfile.location(line), line, base.stage.index, text, reason)
            )

        if base.kind == "unresolved":
            names = ", ".join(sorted(base.unset))
            if base.unset <= _PREDEFINED_ARGS:
                skip(
                    f"it reads {names}, which BuildKit sets per build; a FROM naming a "
                    "different image per platform cannot hold one digest. Name one image "
                    "(a multi-platform index covers every platform)"
                )
                continue
            skip(
                f"it reads {names}, which has no value here; give the global ARG a default "
                f"(ARG {sorted(base.unset)[0]}=IMAGE:TAG before the first FROM) so it can be "
                "pinned"
            )
            continue
        found = _locate(dockerfile, base, build_args)
        if isinstance(found, str):
            skip(found)
            continue
        text, span, line, arg = found
        target = targets.get(span)
        if target is None:
            target = targets[span] = _Target(
                text, span, line, base.stage.index, base.stage.name, arg
            )
        if base.platform is not None:
            try:
                parse_platform(base.platform)
            except InputError as exc:
                raise DockerfileError(exc.message, location=where, line=head.line) from None
        wanted = _platforms_for(base, platforms)
        if wanted is None:
            target.any_platform = True
        else:
            target.platforms.update(wanted)
        logger.debug("%s: pinning %s (%s)", where, text, "ARG " + arg if arg else "FROM")
    return list(targets.values()), unpinned


def _locate(
    dockerfile: Dockerfile, base: FromImage, build_args: Mapping[str, str]
) -> tuple[str, tuple[int, int], int, str | None] | str:
    """Where the reference of ``base`` is written (its text, span, line and the
    ``ARG`` holding it), or why it cannot be pinned in the file."""
    head = base.stage.from_instruction
    word = base.stage.from_args.image
    if "$" not in word.text:
        if _quoted(word.text, dockerfile.escape):
            return "the image is quoted or escaped; write it plainly (FROM name:tag)"
        span = head.source_span(word.start, word.end)
        if span is None:
            return "the image is split over a line continuation; write it on one line"
        return word.text, span, head.line, None
    m = _ONE_VARIABLE.fullmatch(word.text)
    if m is None:
        return (
            f"the image is built from variables ({', '.join(sorted(base.used))}); a digest "
            "here would silently override them. Hold the whole reference in one ARG "
            "(ARG BASE=name:tag, FROM ${BASE}) and lockpin pins the ARG's default"
        )
    name = m.group(1) or m.group(2)
    if name in build_args:
        return (
            f"{name} is given as a build arg ({build_args[name]}), so its value is not in "
            "the Dockerfile; pin it where the build arg is set, or give the ARG a default"
        )
    found = global_definition(dockerfile, name)
    if found is None:  # from_images() called it resolved: a predefined arg
        return f"{name} has no default in the Dockerfile; give it one: ARG {name}=IMAGE:TAG"
    instruction, definition = found
    assert definition.default is not None  # global_definition: only defaults
    raw = definition.default
    others = _other_uses(dockerfile, name, definition)
    if others:
        return (
            f"ARG {name} is also used in {others[0]}; pinning its default would change that "
            f"too. Use a separate ARG for the image"
        )
    if "$" in raw:
        return (
            f"the default of ARG {name} ({raw}) is built from variables; write the whole "
            "reference in it"
        )
    inner, skip = raw, 0
    if len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0]:
        inner, skip = raw[1:-1], 1
    if _quoted(inner, dockerfile.escape) or not inner:
        return f"the default of ARG {name} is quoted or escaped in a way lockpin cannot rewrite"
    start = definition.default_start + skip
    span = instruction.source_span(start, start + len(inner))
    if span is None:
        return f"the default of ARG {name} is split over a line continuation"
    return inner, span, instruction.line, name


def _other_uses(dockerfile: Dockerfile, name: str, definition: ArgDef) -> list[str]:
    """Where the global scope reads ``name`` other than as a whole ``FROM`` image
    (``FROM ${BASE}-dev``, ``--platform=$BASE``, another ``ARG``'s default): there
    a pinned default would change the meaning (conservative: quotes are not
    looked into)."""
    reads = re.compile(
        rf"\$(?:\{{{re.escape(name)}(?![A-Za-z0-9_])|{re.escape(name)}(?![A-Za-z0-9_]))"
    )
    found: list[str] = []
    for instruction in dockerfile.instructions:
        if instruction.stage is None:
            for d in instruction.arg_defs:
                if d is not definition and d.default is not None and reads.search(d.default):
                    found.append(f"the default of ARG {d.name} (line {instruction.line})")
        elif instruction.from_ is not None:
            image = instruction.from_.image.text
            whole = _ONE_VARIABLE.fullmatch(image)
            if reads.search(image) and not (whole and name in whole.groups()):
                found.append(f"FROM {image} (line {instruction.line})")
            if instruction.from_.platform and reads.search(instruction.from_.platform):
                found.append(
                    f"FROM --platform={instruction.from_.platform} (line {instruction.line})"
                )
    return found


def _quoted(text: str, escape: str) -> bool:
    return any(c in text for c in ("'", '"', escape, "\\"))


def _platforms_for(base: FromImage, platforms: tuple[str, ...]) -> tuple[str, ...] | None:
    """The platforms the image of ``base`` must have (``None``: any)."""
    flag = base.stage.from_args.platform
    if flag is None:
        return platforms
    if base.platform is not None:
        return (base.platform,)
    if base.platform_unset & _TARGET_ARGS:
        return platforms
    return None  # $BUILDPLATFORM: the build machine is not known here


def _request(target: _Target, update: bool) -> tuple[str, tuple[str, ...]] | None:
    """What :func:`_pin_one` will ask the resolver for ``target`` (``None``: nothing,
    or a reference that does not parse, which it reports)."""
    try:
        reference = parse_reference(target.text)
    except InputError:
        return None
    name, at, _old = target.text.partition("@")
    has_tag = reference.tag is not None and name.rfind(":") > name.rfind("/")
    if at and (not update or not has_tag):
        return None
    return (name if has_tag else f"{name}:latest", tuple(sorted(target.platforms)))


def _pin_one(
    dockerfile: Dockerfile,
    target: _Target,
    resolver: Resolver,
    resolved: dict[tuple[str, tuple[str, ...]], str | LockpinError],
    *,
    update: bool,
) -> tuple[Edit, Change] | Unpinned | None:
    where = dockerfile.location(target.line)
    try:
        reference = parse_reference(target.text)
    except InputError as exc:
        raise DockerfileError(
            f"{exc.message}; fix the image reference", location=where, line=target.line
        ) from None
    name, at, old_digest = target.text.partition("@")
    has_tag = reference.tag is not None and name.rfind(":") > name.rfind("/")
    if at and not update:
        return None
    if at and not has_tag:
        return Unpinned(
            where,
            target.line,
            target.stage,
            target.text,
            "it has a digest but no tag, so --update has nothing to follow; write the tag "
            "too (name:tag@sha256:…)",
        )
    follow = name if has_tag else f"{name}:latest"
    platforms = tuple(sorted(target.platforms))
    key = (follow, platforms)
    digest = resolved.get(key)
    try:
        if isinstance(digest, LockpinError):
            raise digest
        if digest is None:
            digest = resolver.resolve(follow, platforms)
        check_digest(digest, what=f"digest resolved for {follow}")
    except LockpinError as exc:
        raise PinError(exc, location=where, reference=follow) from exc
    resolved[key] = digest
    if at and digest == old_digest:
        return None
    new_text = f"{follow}@{digest}"
    change = Change(
        line=target.line,
        stage=target.stage,
        old=target.text,
        new=new_text,
        old_digest=old_digest if at else None,
        new_digest=digest,
        stage_name=target.stage_name,
        arg=target.arg,
    )
    return Edit(target.span[0], target.span[1], new_text), change


def _check_rewrite(
    before: Dockerfile, text: str, build_args: Mapping[str, str], changes: list[Change]
) -> None:
    """Fail closed: the rewritten file must parse, keep its stages, and name the
    pinned references where the changes say."""
    try:
        after = parse(text, filename=before.filename)
    except DockerfileError as exc:  # pragma: no cover - a bug, not an input
        raise AssertionError(f"pinning produced a Dockerfile that does not parse: {exc}") from exc
    old_bases = from_images(before, build_args)
    new_bases = from_images(after, build_args)
    pinned = {c.new for c in changes}
    if len(old_bases) != len(new_bases):  # pragma: no cover - a bug
        raise AssertionError("pinning changed the stages of the Dockerfile")
    for old, new in zip(old_bases, new_bases, strict=True):
        if old.kind != new.kind or (new.text != old.text and new.text not in pinned):
            raise AssertionError(  # pragma: no cover - a bug
                f"pinning changed stage {old.stage.index}: {old.text} -> {new.text}"
            )


class RegistryResolver:
    """A :class:`Resolver` over :func:`lockpin.image.resolve.resolve_image`.

    ``http`` holds the network settings (default: :class:`HttpConfig` defaults),
    ``insecure_registries`` the registries plain HTTP is allowed to besides
    loopback ones, ``credentials`` the store to read (default: Docker's config).
    """

    def __init__(
        self,
        *,
        http: HttpConfig | None = None,
        insecure_registries: Sequence[str] = (),
        credentials: CredentialStore | None = None,
    ) -> None:
        self.http = http
        self.insecure_registries = tuple(insecure_registries)
        self.credentials = credentials

    def resolve(self, reference: str, platforms: Sequence[str]) -> str:
        [digest] = self.resolve_all([(reference, tuple(platforms))])
        if isinstance(digest, LockpinError):
            raise digest
        return digest

    def resolve_all(
        self, requests: Sequence[tuple[str, tuple[str, ...]]]
    ) -> list[str | LockpinError]:
        """Every ``(reference, platforms)`` at once, concurrently over one client
        (:func:`~lockpin.image.resolve.resolve_images`), in the order given."""
        from .resolve import resolve_images

        results = resolve_images(
            requests,
            http=self.http,
            insecure_registries=self.insecure_registries,
            credentials=self.credentials,
        )
        return [r if isinstance(r, LockpinError) else r.digest for r in results]
