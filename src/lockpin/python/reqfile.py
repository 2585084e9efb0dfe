"""Requirement files as pip reads them: continuations, comments, options, ``-r``/``-c``.

Pure: files are reached only through the ``reader`` callable, so the same code
serves ``lockpin compile`` (loose, nested ``requirements.in``) and ``lockpin
hash``/``verify`` (pinned files rewritten in place, see :func:`split_blocks`).
pip's ``req_file.py`` is the reference; where pip silently ignores something
that is almost always a mistake (a ``--hash`` on a line of its own, ``--pre``
after a requirement, text after the options) lockpin raises
:class:`~lockpin.errors.InputError` naming ``path:line``.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeAlias

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from lockpin.errors import InputError

from .models import ARCHIVE_SUFFIXES, WHEEL_SUFFIX

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .models import Formats

__all__ = [
    "MAX_INCLUDE_DEPTH",
    "Block",
    "FileOptions",
    "Location",
    "LogicalLine",
    "ParsedRequirements",
    "Reader",
    "RequirementLine",
    "is_vcs_url",
    "join_marker",
    "logical_lines",
    "options_from_blocks",
    "parse_requirement_text",
    "parse_requirements",
    "split_blocks",
    "split_marker",
]

logger = logging.getLogger(__name__)

#: ``path -> text``; raises :class:`OSError` when the file cannot be read (the
#: parser then names the ``-r``/``-c`` line), or :class:`InputError` for a file it
#: refuses (not a regular file, too large, not UTF-8).
Reader: TypeAlias = Callable[[str], str]

#: How deep ``-r``/``-c`` files may nest. Real projects use two or three levels; a
#: deeper chain is generated, and would otherwise end in a RecursionError.
MAX_INCLUDE_DEPTH: Final = 64

_COMMENT_ONLY: Final = re.compile(r"\s*#")
_COMMENT_START: Final = re.compile(r"(?:^|(?<=\s))#")
# str.splitlines (hence pip) breaks lines at these too; see logical_lines.
_OTHER_BREAK: Final = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_ENV_VAR: Final = re.compile(r"\$\{([A-Z0-9_]+)\}")
_OPTION_START: Final = re.compile(r"(?:^|\s)-")
_URL: Final = re.compile(r"^(?:(?:git|hg|svn|bzr)(?:\+[a-z-]+)?|https?|file|ftp):", re.IGNORECASE)
_VCS: Final = re.compile(r"^(?:git|hg|svn|bzr)[+:]", re.IGNORECASE)
_ANY_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_NAME_AT: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*@")
_NAME: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_PATH_EXTRAS: Final = re.compile(r"(.*?)\[([^\]]*)\]")
# fmt: off
# pip accepts only these in --hash (its STRONG_HASHES); anything else fails at install time.
_HASH_HEX_LENGTH: Final = {"sha256": 64, "sha384": 96, "sha512": 128}
# pip's SUPPORTED_OPTIONS and SUPPORTED_OPTIONS_REQ, by long name.
_FLAGS: Final = frozenset({"--no-index", "--pre", "--prefer-binary", "--require-hashes"})
_PER_REQUIREMENT: Final = frozenset({"--hash", "--config-settings", "--global-option"})
_OPTIONS: Final = _FLAGS | _PER_REQUIREMENT | {
    "--requirement", "--constraint", "--editable", "--index-url", "--extra-index-url",
    "--find-links", "--only-binary", "--no-binary", "--trusted-host", "--use-feature",
}
_SHORT: Final = {"-r": "--requirement", "-c": "--constraint", "-e": "--editable",
                 "-i": "--index-url", "-f": "--find-links", "-C": "--config-settings"}
# fmt: on


@dataclass(frozen=True, slots=True)
class Location:
    path: str
    line: int  # 1-based first physical line of the logical line

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class LogicalLine:
    """One logical line: physical lines joined by trailing backslashes.

    ``text`` is the content without the comment, stripped ("" for blank and
    comment-only lines, which are kept for layout-preserving rewrites).
    ``comment`` starts with ``#``. ``raw`` is the original physical lines joined
    with ``\\n`` (a ``\\r`` of CRLF files stays in it).
    """

    location: Location
    text: str
    comment: str | None
    raw: str


@dataclass(frozen=True, slots=True)
class RequirementLine:
    """A requirement as one line of a file states it.

    ``requirement`` is ``None`` for editables and for direct references whose
    project name is unknown (bare paths, URLs without ``#egg=``); ``extras`` and
    ``marker`` are filled in every case. ``url`` holds the direct reference as
    written (a path stays a path). ``install_options`` keeps ``--config-settings``
    and ``--global-option`` (normalized ``--opt=value``) for installers; lockpin
    does not interpret them.
    """

    location: Location
    text: str
    requirement: Requirement | None
    name: NormalizedName | None
    url: str | None = None
    editable: bool = False
    hashes: tuple[str, ...] = ()
    constraint: bool = False
    comment: str | None = None
    extras: frozenset[str] = frozenset()
    marker: Marker | None = None
    install_options: tuple[str, ...] = ()

    @property
    def pinned_version(self) -> Version | None:
        """The version of an exact ``==X`` (no wildcard) or ``===X`` pin, else None."""
        if self.requirement is None or self.requirement.url:
            return None
        specs = list(self.requirement.specifier)
        if len(specs) != 1:
            return None
        spec = specs[0]
        if spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*")):
            try:
                return Version(spec.version)
            except InvalidVersion:
                return None
        return None


@dataclass(frozen=True, slots=True)
class FileOptions:
    """Options lines merged across every file read, in reading order.

    Like pip, a later ``--index-url`` replaces an earlier one; list options
    accumulate (deduplicated, first occurrence kept). Relative ``--find-links``
    paths are resolved against the directory of the file that names them.
    """

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    pre: bool = False
    only_binary: frozenset[str] = frozenset()  # canonical names or ":all:"
    no_binary: frozenset[str] = frozenset()
    trusted_hosts: tuple[str, ...] = ()
    prefer_binary: bool = False
    require_hashes: bool = False

    def formats(self, name: NormalizedName) -> Formats:
        """The kinds of file pip installs project ``name`` from under these
        ``--only-binary``/``--no-binary`` lines, as pip reads them: a project named
        by one of them beats ``:all:`` in the other, and ``--only-binary`` wins
        when both name it. (The lines lockpin writes mean the same to
        :func:`~lockpin.python.models.formats_for`.)"""
        if name in self.only_binary:
            return "wheel"
        if name in self.no_binary:
            return "sdist"
        if ":all:" in self.only_binary:
            return "wheel"
        if ":all:" in self.no_binary:
            return "sdist"
        return "any"


@dataclass(frozen=True, slots=True)
class ParsedRequirements:
    requirements: tuple[RequirementLine, ...]  # from the top file and -r files, in order
    constraints: tuple[RequirementLine, ...]  # from -c files
    options: FileOptions
    files: tuple[str, ...]  # every file read, in first-read order


@dataclass(frozen=True, slots=True)
class Block:
    """A requirement line and the indented comment lines under it (``# via ...``),
    or a single non-requirement line (``requirement`` is ``None``).

    ``options`` holds the ``(--long-name, value)`` pairs of an options line.
    ``error`` is set (and ``requirement`` is ``None``) for a line that does not
    parse, when :func:`split_blocks` was called with ``lenient=True``.
    """

    lines: tuple[LogicalLine, ...]
    requirement: RequirementLine | None
    # Both derive from `lines`: equal lines make equal blocks.
    options: tuple[tuple[str, str | None], ...] = field(default=(), compare=False)
    error: InputError | None = field(default=None, compare=False)


def logical_lines(text: str, *, path: str) -> list[LogicalLine]:
    """Split ``text`` into logical lines the way pip joins and strips them.

    ``"\\n".join(line.raw for line in result)`` plus a final ``"\\n"`` when
    ``text`` ends with one reproduces ``text`` exactly. As in pip, lines are
    joined before comments are removed, so a backslash at the end of a trailing
    comment continues the line, while a comment-only line never continues and
    ends a pending continuation.

    Lines end at ``\\n`` or ``\\r\\n``. pip would also break a line at a lone
    ``\\r``, a form feed and the other separators of :meth:`str.splitlines`;
    such a file raises :class:`InputError` rather than being read differently.
    """
    if not text:
        return []
    physical = text.split("\n")
    if text.endswith("\n"):
        physical.pop()
    result: list[LogicalLine] = []
    start: int | None = None
    pieces: list[str] = []
    for index, raw in enumerate(physical):
        line = raw.removesuffix("\r")
        odd = _OTHER_BREAK.search(line)
        if odd:
            raise InputError(
                f"line break {odd.group()!r} inside the line; pip would split the line there. "
                "Save the file with \\n or \\r\\n line endings",
                location=str(Location(path, index + 1)),
            )
        if start is None:
            start = index
        comment_only = _COMMENT_ONLY.match(line) is not None
        if line.endswith("\\") and not comment_only:
            pieces.append(line.strip("\\"))  # both ends, as pip does
            continue
        # pip prefixes a joined comment line with a space so it is still a comment.
        pieces.append(" " + line if comment_only and pieces else line)
        result.append(_logical(path, physical, start, index, "".join(pieces)))
        start, pieces = None, []
    if start is not None:
        result.append(_logical(path, physical, start, len(physical) - 1, "".join(pieces)))
    return result


def _logical(path: str, physical: list[str], start: int, end: int, content: str) -> LogicalLine:
    match = _COMMENT_START.search(content)
    comment = content[match.start() :].rstrip() if match else None
    body = content[: match.start()] if match else content
    raw = "\n".join(physical[start : end + 1])
    return LogicalLine(Location(path, start + 1), body.strip(), comment, raw)


def _expand(text: str, env: Mapping[str, str] | None, location: Location) -> str:
    """pip's ``${NAME}`` expansion; unknown or empty variables stay as written."""
    if not env:
        return text
    budget = [_MAX_EXPANSION]

    def value(m: re.Match[str]) -> str:
        found = env.get(m.group(1)) or m.group(0)
        budget[0] -= len(found)
        if budget[0] < 0:
            raise InputError(
                f"${{...}} variables expand this line past {_MAX_EXPANSION // 1024} KiB; "
                "that is not a requirement. Check the variables it uses.",
                location=str(location),
            )
        return found

    return _ENV_VAR.sub(value, text)


#: ``${VAR}`` values added to one line at most: real ones are tokens and URLs; a
#: file that repeats a large variable thousands of times must not fill the memory.
_MAX_EXPANSION = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Parts:
    requirement: str
    options: tuple[tuple[str, str | None], ...]


def _split(text: str, location: Location) -> _Parts:
    """pip's ``break_args_options``: the requirement ends at the first ``-`` word."""
    match = _OPTION_START.search(text)
    if match is None:
        return _Parts(text.strip(), ())
    try:
        tokens = shlex.split(text[match.start() :])
    except ValueError as exc:
        raise InputError(
            f"cannot split the options ({exc}); check the quotes", location=str(location)
        ) from exc
    options: list[tuple[str, str | None]] = []
    tokens.reverse()
    while tokens:
        token = tokens.pop()
        if token.startswith("--"):
            spelled, eq, value = token.partition("=")
            name = _long_option(spelled, location)
            attached: str | None = value if eq else None
        elif token[:2] in _SHORT:
            name = _SHORT[token[:2]]
            attached = token[2:].removeprefix("=") or None
        elif token.startswith("-"):
            raise _unknown_option(token, location)
        else:
            raise InputError(
                f"unexpected {token!r} after the options; put each requirement on its own line",
                location=str(location),
            )
        if name in _FLAGS:
            if attached is not None:
                raise InputError(f"{name} takes no value, got {token!r}", location=str(location))
            options.append((name, None))
            continue
        if attached is None and tokens:
            attached = tokens.pop()
        if not attached:
            raise InputError(f"{token} needs a value", location=str(location))
        options.append((name, attached))
    return _Parts(text[: match.start()].strip(), tuple(options))


def _long_option(spelled: str, location: Location) -> str:
    if spelled in _OPTIONS:
        return spelled
    # optparse, hence pip, accepts any unambiguous prefix of a long option.
    matches = [name for name in _OPTIONS if name.startswith(spelled)]
    if len(matches) == 1 and spelled != "--":
        return matches[0]
    raise _unknown_option(spelled, location)


def _unknown_option(token: str, location: Location) -> InputError:
    return InputError(
        f"option {token} is not allowed in a requirements file; remove it or pass it on the "
        f"command line. Allowed: {', '.join(sorted(_OPTIONS))}",
        location=str(location),
    )


def _check_hash(value: str, location: Location) -> str:
    algorithm, sep, digest = value.partition(":")
    length = _HASH_HEX_LENGTH.get(algorithm)
    if not sep or length is None:
        raise InputError(
            f"--hash={value}: write it as sha256:<hex digest> (pip also accepts sha384 and sha512)",
            location=str(location),
        )
    if not re.fullmatch(f"[0-9a-f]{{{length}}}", digest):
        raise InputError(
            f"--hash={value}: a {algorithm} digest is {length} lower-case hex digits "
            "(pip compares it as written)",
            location=str(location),
        )
    return value


def parse_requirement_text(
    text: str,
    *,
    location: Location,
    constraint: bool = False,
    env: Mapping[str, str] | None = None,
    comment: str | None = None,
) -> RequirementLine:
    """Parse one logical line's text (no comment): a requirement or ``-e target``,
    with its ``--hash``/``--config-settings``/``--global-option`` options."""
    parts = _split(_expand(text, env, location), location)
    return _requirement_line(parts, location, constraint=constraint, comment=comment)


def _is_requirement(parts: _Parts) -> bool:
    return bool(parts.requirement) or any(name == "--editable" for name, _ in parts.options)


def _requirement_line(
    parts: _Parts, location: Location, *, constraint: bool, comment: str | None
) -> RequirementLine:
    where = str(location)
    hashes: list[str] = []
    install_options: list[str] = []
    editables: list[str] = []
    if not _is_requirement(parts):
        raise InputError("expected a requirement on this line", location=where)
    for option, value in parts.options:
        if option not in _PER_REQUIREMENT and option != "--editable":
            raise InputError(
                f"{option} applies to the whole file, not to one requirement; "
                "put it on a line of its own",
                location=where,
            )
        assert value is not None  # only flags have none
        if option == "--hash":
            hashes.append(_check_hash(value, location))
        elif option == "--editable":
            editables.append(value)
        else:
            install_options.append(f"{option}={value}")
    if editables and (parts.requirement or len(editables) > 1):
        raise InputError("put each requirement (and each -e) on its own line", location=where)
    text = editables[0] if editables else parts.requirement
    requirement, name, url, extras, marker = _interpret(text, where, editable=bool(editables))
    if constraint and (editables or extras or name is None):
        raise InputError(
            f"constraint {text!r} is not allowed: constraints must be named requirements "
            "without extras and not editable (pip rejects the others too)",
            location=where,
        )
    return RequirementLine(
        location=location,
        text=text,
        requirement=requirement,
        name=name,
        url=url,
        editable=bool(editables),
        hashes=tuple(hashes),
        constraint=constraint,
        comment=comment,
        extras=extras,
        marker=marker,
        install_options=tuple(install_options),
    )


_Interpreted: TypeAlias = tuple[
    Requirement | None, NormalizedName | None, str | None, frozenset[str], Marker | None
]


def _interpret(text: str, where: str, *, editable: bool) -> _Interpreted:
    head = re.match(r"[^\s;\[]*", text)
    head_text = head.group() if head else ""  # the would-be path, before extras or marker
    is_url = _URL.match(text) is not None
    is_path = (
        not is_url
        and not _NAME_AT.match(text)
        and (
            head_text.startswith((".", "/", "~", "\\"))
            or "/" in head_text
            or "\\" in head_text
            or re.match(r"[A-Za-z]:[\\/]", head_text) is not None
            or head_text.lower().endswith(ARCHIVE_SUFFIXES)
        )
    )
    if editable:
        if is_url and not (is_vcs_url(text) or text.lower().startswith("file:")):
            raise InputError(
                f"-e {text}: an editable must be a local path or a VCS URL (git+https://...)",
                location=where,
            )
        return _direct(text, None, where, editable=True, is_path=not is_url)
    if is_url or is_path:
        url, marker_text = split_marker(text)
        return _direct(url, marker_text, where, editable=False, is_path=is_path)
    if _NAME_AT.match(text):
        # pip splits `name @ url; marker` before packaging sees it; packaging wants a
        # space before the `;` (a bare `;` may belong to the URL).
        text = join_marker(*split_marker(text))
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        hint = ""
        if re.search(r"(?<![=<>!~])=(?!=)", text) and not re.search(r"[<>!~]|==", text):
            hint = " (= is not an operator: did you mean ==?)"
        raise InputError(
            f"invalid requirement {text!r}{hint}: {exc}\nWrite name[extras] specifier ; marker, "
            "name @ URL, a URL, or a path starting with ./",
            location=where,
        ) from exc
    return (
        requirement,
        canonicalize_name(requirement.name),
        requirement.url,
        frozenset(requirement.extras),
        requirement.marker,
    )


def split_marker(text: str) -> tuple[str, str | None]:
    """Split a direct reference ``url ; marker`` (or ``name @ url ; marker``) as pip
    does: only a ``;`` next to whitespace, or ending the text, starts the marker; a
    bare one may belong to the URL. Both parts are stripped; no marker is ``None``."""
    for match in re.finditer(";", text):
        i = match.start()
        if i + 1 == len(text) or text[i + 1].isspace() or (i > 0 and text[i - 1].isspace()):
            return text[:i].strip(), text[i + 1 :].strip() or None
    return text.strip(), None


def join_marker(text: str, marker: Marker | str | None) -> str:
    """``text ; marker``, spelled so that :func:`split_marker` (and packaging, which
    wants a space before the ``;`` after a URL) reads it back; ``text`` alone when
    there is no marker."""
    return f"{text} ; {marker}" if marker else text


def is_vcs_url(url: str) -> bool:
    """A VCS reference (``git+https://…``, ``hg+ssh://…``, ``git://…``), which pip
    checks out rather than downloads: it has no file to hash."""
    return _VCS.match(url) is not None


def _direct(
    url: str, marker_text: str | None, where: str, *, editable: bool, is_path: bool
) -> _Interpreted:
    extras: frozenset[str] = frozenset()
    extras_match = _PATH_EXTRAS.fullmatch(url) if is_path else None
    if extras_match:
        url = extras_match.group(1)
        extras = frozenset(e.strip() for e in extras_match.group(2).split(",") if e.strip())
    marker = None
    if marker_text:
        try:
            marker = Marker(marker_text)
        except InvalidMarker as exc:
            raise InputError(f"invalid marker {marker_text!r}: {exc}", location=where) from exc
    name = _name_from_url(url, where)
    requirement = None
    if name is not None and not editable:
        extras_text = f"[{','.join(sorted(extras))}]" if extras else ""
        try:
            requirement = Requirement(join_marker(f"{name}{extras_text} @ {url}", marker))
        except InvalidRequirement:
            requirement = None  # e.g. a path with spaces: name and url still tell the story
    return requirement, name, url, extras, marker


def _name_from_url(url: str, where: str) -> NormalizedName | None:
    fragment = url.partition("#")[2]
    egg = re.search(r"(?:^|&)egg=([^&]*)", fragment)
    if egg:
        if not _NAME.fullmatch(egg.group(1)):
            raise InputError(
                f"#egg={egg.group(1)} is not a project name; write name[extras] @ URL instead",
                location=where,
            )
        return canonicalize_name(egg.group(1))
    filename = urllib.parse.unquote(url.partition("#")[0].partition("?")[0].rsplit("/", 1)[-1])
    if filename.endswith(WHEEL_SUFFIX):
        try:
            return parse_wheel_filename(filename)[0]
        except InvalidWheelFilename as exc:
            raise InputError(
                f"{url}: {exc}; a wheel is named name-version-pythontag-abitag-platform.whl",
                location=where,
            ) from exc
    return None


def _classify(
    line: LogicalLine, env: Mapping[str, str] | None, *, constraint: bool
) -> RequirementLine | _Parts:
    """A requirement line, or the options of an options line (checked for strays)."""
    parts = _split(_expand(line.text, env, line.location), line.location)
    if _is_requirement(parts):
        return _requirement_line(parts, line.location, constraint=constraint, comment=line.comment)
    for name, _ in parts.options:
        if name in _PER_REQUIREMENT:
            raise InputError(
                f"{name} must be on the same logical line as its requirement; "
                "end the requirement's line with a backslash",
                location=str(line.location),
            )
    return parts


@dataclass
class _OptionsBuilder:
    # dicts as ordered sets: deduplicating thousands of option lines stays linear
    index_url: str | None = None
    extra_index_urls: dict[str, None] = field(default_factory=dict)
    find_links: dict[str, None] = field(default_factory=dict)
    trusted_hosts: dict[str, None] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    only_binary: set[str] = field(default_factory=set)
    no_binary: set[str] = field(default_factory=set)

    def apply(self, name: str, value: str | None, path: str, location: Location) -> None:
        if value is None:
            self.flags.add(name)
        elif name == "--index-url":
            if self.index_url not in (None, value):
                logger.warning("%s: --index-url %s replaces %s", location, value, self.index_url)
            self.index_url = value
        elif name == "--extra-index-url":
            self.extra_index_urls.setdefault(value)
        elif name == "--trusted-host":
            self.trusted_hosts.setdefault(value)
        elif name == "--find-links":
            if not _ANY_SCHEME.match(value) and not value.startswith("file:"):
                value = os.path.normpath(os.path.join(os.path.dirname(path), value))
            self.find_links.setdefault(value)
        elif name == "--only-binary":
            _binary(value, self.only_binary, self.no_binary)
        elif name == "--no-binary":
            _binary(value, self.no_binary, self.only_binary)
        else:  # --use-feature: pip's own switches, nothing lockpin acts on
            logger.debug("%s: ignoring %s=%s", location, name, value)

    def freeze(self) -> FileOptions:
        return FileOptions(
            index_url=self.index_url,
            extra_index_urls=tuple(self.extra_index_urls),
            find_links=tuple(self.find_links),
            no_index="--no-index" in self.flags,
            pre="--pre" in self.flags,
            only_binary=frozenset(self.only_binary),
            no_binary=frozenset(self.no_binary),
            trusted_hosts=tuple(self.trusted_hosts),
            prefer_binary="--prefer-binary" in self.flags,
            require_hashes="--require-hashes" in self.flags,
        )


def _binary(value: str, target: set[str], other: set[str]) -> None:
    """pip's mutual exclusion of --only-binary/--no-binary, item by item."""
    for item in (part.strip() for part in value.split(",")):
        if item == ":all:":
            other.clear()
            target.clear()
            target.add(":all:")
        elif item == ":none:":
            target.clear()
        elif item:
            name = canonicalize_name(item)
            other.discard(name)
            target.add(name)


@dataclass
class _Walk:
    reader: Reader
    env: Mapping[str, str] | None
    options: _OptionsBuilder = field(default_factory=_OptionsBuilder)
    requirements: list[RequirementLine] = field(default_factory=list)
    constraints: list[RequirementLine] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    done: set[tuple[str, bool]] = field(default_factory=set)

    def read(
        self,
        path: str,
        *,
        constraint: bool,
        stack: tuple[str, ...],
        chain: tuple[Location, ...],
    ) -> None:
        """Read ``path``, included from ``chain[-1]`` (``chain`` holds the include
        lines from the top file down; empty for the top file itself)."""
        at = chain[-1] if chain else None
        key = os.path.normpath(path)
        if key in stack:
            cycle = " -> ".join((*stack[stack.index(key) :], key))
            raise InputError(
                f"include cycle {cycle}; remove one of these -r/-c lines",
                location=str(at) if at else None,
            )
        if len(chain) >= MAX_INCLUDE_DEPTH:
            raise InputError(
                f"-r/-c files nested more than {MAX_INCLUDE_DEPTH} deep "
                f"({_describe_chain(chain)}); include the files from fewer levels",
                location=str(at),
            )
        # Re-reading a file in the same role would only repeat its lines.
        if (key, constraint) in self.done:
            return
        self.done.add((key, constraint))
        if key not in self.texts:
            self.texts[key] = self._text(path, at)
        for line in logical_lines(self.texts[key], path=path):
            if line.text:
                self._line(line, path, constraint=constraint, stack=(*stack, key), chain=chain)

    def _text(self, path: str, at: Location | None) -> str:
        try:
            return self.reader(path)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if at is None:
                raise InputError(f"cannot read requirements file {path}: {reason}") from exc
            raise InputError(
                f"cannot read {path} ({reason}); -r/-c paths are relative to the "
                f"directory of {at.path}",
                location=str(at),
            ) from exc
        except InputError as exc:
            if at is None or exc.location is not None:
                raise
            # A refused file (a device, a FIFO, too large): name the line that named it.
            raise InputError(exc.message, location=str(at)) from exc

    def _line(
        self,
        line: LogicalLine,
        path: str,
        *,
        constraint: bool,
        stack: tuple[str, ...],
        chain: tuple[Location, ...],
    ) -> None:
        at = line.location
        parsed = _classify(line, self.env, constraint=constraint)
        if isinstance(parsed, RequirementLine):
            (self.constraints if constraint else self.requirements).append(parsed)
            return
        for name, value in parsed.options:
            if name in ("--requirement", "--constraint"):
                assert value is not None
                nested = _nested_path(path, value, at)
                # pip: files named by -r inside a -c file are requirements, not constraints.
                self.read(
                    nested, constraint=name == "--constraint", stack=stack, chain=(*chain, at)
                )
            else:
                self.options.apply(name, value, path, at)


def _describe_chain(chain: tuple[Location, ...]) -> str:
    shown = [str(at) for at in chain]
    if len(shown) > 6:
        shown = [*shown[:3], f"... {len(shown) - 6} more ...", *shown[-3:]]
    return " -> ".join(shown)


def _nested_path(including: str, value: str, at: Location) -> str:
    if _ANY_SCHEME.match(value) and not value.lower().startswith("file:"):
        raise InputError(
            f"including {value} by URL is not supported; download it and name the local path",
            location=str(at),
        )
    if value.lower().startswith("file:"):
        value = urllib.parse.unquote(urllib.parse.urlsplit(value).path)
        if re.match(r"/[A-Za-z]:", value):  # file:///C:/x
            value = value[1:]
    return os.path.normpath(os.path.join(os.path.dirname(including), value))


def parse_requirements(
    path: str,
    *,
    reader: Reader,
    constraint: bool = False,
    env: Mapping[str, str] | None = None,
) -> ParsedRequirements:
    """Read ``path`` and every file it includes with ``-r``/``-c``.

    ``constraint=True`` reads the top file as if named by ``-c``.
    ``env`` supplies ``${NAME}`` values (none by default: left as written).
    ``-r``/``-c`` nesting deeper than :data:`MAX_INCLUDE_DEPTH` and include
    cycles are an :class:`InputError` naming the include lines.
    """
    walk = _Walk(reader=reader, env=env)
    walk.read(path, constraint=constraint, stack=(), chain=())
    files = list(walk.texts)
    files[0] = path  # as the caller spelled it
    return ParsedRequirements(
        requirements=tuple(walk.requirements),
        constraints=tuple(walk.constraints),
        options=walk.options.freeze(),
        files=tuple(files),
    )


def split_blocks(
    text: str, *, path: str, env: Mapping[str, str] | None = None, lenient: bool = False
) -> list[Block]:
    """Group a pinned file into blocks for a layout-preserving rewrite.

    A comment-only line that is indented and follows a requirement block
    directly belongs to it (pip-compile's ``# via`` annotations); every other
    line is a block of its own. ``"\\n".join`` of all ``raw`` values in order
    reproduces ``text`` (plus its final newline). ``-r``/``-c`` are not followed.
    With ``lenient=True`` a line that does not parse becomes a block with
    :attr:`Block.error` set instead of raising.
    """
    blocks: list[Block] = []
    for line in logical_lines(text, path=path):
        last = blocks[-1] if blocks else None
        if (
            not line.text
            and line.comment is not None
            and line.raw[:1] in (" ", "\t")
            and last is not None
            and last.requirement is not None
        ):
            blocks[-1] = Block((*last.lines, line), last.requirement)
            continue
        try:
            parsed = _classify(line, env, constraint=False) if line.text else None
        except InputError as exc:
            if not lenient:
                raise
            blocks.append(Block((line,), None, error=exc))
            continue
        if isinstance(parsed, RequirementLine):
            blocks.append(Block((line,), parsed))
        else:
            blocks.append(Block((line,), None, options=parsed.options if parsed else ()))
    return blocks


def options_from_blocks(blocks: Iterable[Block], *, path: str) -> FileOptions:
    """The options of the option lines among ``blocks`` (of the file ``path``),
    merged as :func:`parse_requirements` merges them; ``-r``/``-c`` lines are not
    followed. ``lockpin verify`` uses it to take only the lines it accepted."""
    builder = _OptionsBuilder()
    for block in blocks:
        for name, value in block.options:
            if name not in ("--requirement", "--constraint"):
                builder.apply(name, value, path, block.lines[0].location)
    return builder.freeze()
