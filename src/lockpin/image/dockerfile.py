"""Dockerfiles as BuildKit reads them, parsed losslessly so they can be rewritten. Pure.

The parser follows BuildKit's ``frontend/dockerfile/parser`` line by line (the
rules are spelled out below) and keeps, for every instruction, the exact span
of text it came from, so that edits touch only the characters they mean to and
everything else (comments, blank lines, continuations, heredoc bodies, parser
directives, CRLF line ends, a BOM, a missing final newline) comes back as it was.

API (stable; used by :mod:`lockpin.image.pin` and the Dockerfile checks):

* :func:`parse` ``(text, *, filename="Dockerfile") -> Dockerfile`` — a
  :class:`~lockpin.errors.DockerfileError` (``location="FILE:LINE"``) for what
  BuildKit refuses: an unterminated heredoc or quote, an unknown instruction, an
  instruction before the first ``FROM`` other than ``ARG``, ``FROM`` without an
  image or with an unknown flag or a bad stage name, ``ENV``/``LABEL`` without a
  value, a JSON array of something else than strings, a repeated or invalid
  parser directive, a file with no ``FROM``.
* :class:`Dockerfile` — ``text``, ``escape`` (``\\`` or `````), ``directives``,
  ``instructions`` (in order, ``ONBUILD`` triggers in
  :attr:`Instruction.trigger`), ``comments`` (every comment line, also those
  inside continuations), ``pieces`` (instructions and :class:`Trivia` that tile
  the text: their spans are contiguous and cover it); :meth:`~Dockerfile.write`
  (the text again, from the pieces), :meth:`~Dockerfile.stages`,
  :meth:`~Dockerfile.meta_args` (the ``ARG`` s before the first ``FROM``),
  :meth:`~Dockerfile.location` (``FILE:LINE``) and :meth:`~Dockerfile.edit`
  (apply :class:`Edit` s, non-overlapping spans of the text, and return the
  new text).
* :class:`Instruction` — ``keyword`` (upper case; ``raw_keyword`` as written),
  ``line``/``end_line`` (1-based, inclusive; ``end_line`` counts heredoc bodies),
  ``start``/``end`` (offsets into :attr:`Dockerfile.text`, ``end`` past the
  last line's newline), ``logical`` (the instruction as one line: continuations
  joined, comment and empty lines inside them dropped — BuildKit's "original"),
  ``flags`` (:class:`Flag`), ``rest`` (the arguments after the flags),
  ``json`` (exec form), ``arguments`` (the JSON array's strings; else the
  whitespace-separated words for ``FROM``/``COPY``/``ADD``/``VOLUME``/``EXPOSE``,
  quote-aware words for ``ARG``/``ENV``/``LABEL``, and ``(rest,)`` for the rest),
  ``heredocs`` (:class:`Heredoc`), ``comments`` (the comment block just above,
  as BuildKit attaches it), ``stage`` (index of its stage; ``None`` for global
  ``ARG`` s), ``from_`` (:class:`FromArgs` on ``FROM``), ``arg_defs``
  (:class:`ArgDef` on ``ARG``) and :meth:`~Instruction.source_span`, which maps a
  span of ``logical`` back to the text (``None`` when it crosses a line break).
* :func:`expand` ``(word, env, *, escape="\\\\") -> Expansion`` — BuildKit's word
  expansion: quotes, escapes, ``$VAR``, ``${VAR}``, ``${VAR:-x}``, ``${VAR-x}``,
  ``${VAR:+x}``, ``${VAR+x}``, ``${VAR:?msg}``, ``${VAR#p}`` ``##`` ``%`` ``%%``,
  ``${VAR/p/r}`` ``//``; :attr:`Expansion.used` and :attr:`Expansion.unset` name
  the variables it read and those it found without a value; an
  :class:`ExpansionError` (a ``ValueError``) for what BuildKit refuses
  (:func:`from_images` turns it into a ``DockerfileError`` naming the line), and
  for what a hostile file could use to exhaust memory or time: substitutions
  nested over 64 levels, expansions of one file growing past 64 MiB in all
  (``ARG B=$A$A``, ``ARG C=$B$B``…), a ``${VAR/pattern/…}`` whose backtracking
  cost is too high. ``#``/``%`` patterns are matched in linear time.
* :func:`global_args` ``(dockerfile, build_args) -> dict`` — the values the
  global ``ARG`` s take (defaults expanded in order, overridden by build args),
  the scope ``FROM`` lines are expanded in; :func:`global_definition` the
  ``ARG`` that gives a name its default.
* :func:`from_images` ``(dockerfile, build_args) -> tuple[FromImage, ...]`` —
  what each stage's ``FROM`` names after expansion: an image, an earlier stage,
  ``scratch``, or ``unresolved`` (it reads a variable that has no value).

The rules, as BuildKit applies them:

* Lines end at ``\\n``; trailing ``\\r`` s are not part of a line's content. A BOM
  at the very start is ignored.
* Parser directives (``# syntax=…``, ``# escape=…``, ``# check=…``, keys case
  insensitive) count only until the first line that is not one: a blank line,
  another comment, an unknown directive or an instruction ends them. Each may
  appear once; ``escape`` is ``\\`` or `````.
* A line whose first non-blank character is ``#`` is a comment, also inside a
  continuation; ``#`` anywhere else is text.
* A line ending in the escape character (then optional blanks) continues on the
  next line; comment lines and empty lines inside a continuation are skipped.
  The escape is removed, the text before it is kept as is (continuation lines
  are not left-stripped).
* The keyword is the first word (any case); ``--name=value`` words right after
  it are flags.
* ``RUN``, ``COPY`` and ``ADD`` in shell form (also as ``ONBUILD`` triggers)
  take heredocs: each word ``<<NAME``, ``<<-NAME`` (tabs stripped before the
  terminator), ``<<"NAME"``/``<<'NAME'`` (no expansion) or ``N<<NAME`` opens
  one; their bodies follow the instruction in order, each closed by a line that
  is exactly ``NAME``.
* ``FROM [--platform=P] IMAGE [AS NAME]``: the image and the platform are
  expanded with the global ``ARG`` s; an expanded image equal to an earlier
  stage's name (names are lower-cased) is that stage, ``scratch`` the empty image.

Offsets are indices into the text (``str``), not bytes: the text is decoded
(UTF-8) before parsing and encoded back unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from .._text import clip
from ..errors import DockerfileError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "KEYWORDS",
    "ArgDef",
    "Comment",
    "Directive",
    "Dockerfile",
    "Edit",
    "Expansion",
    "ExpansionError",
    "Flag",
    "FromArgs",
    "FromImage",
    "Heredoc",
    "Instruction",
    "Stage",
    "Trivia",
    "Word",
    "expand",
    "from_images",
    "global_args",
    "global_definition",
    "parse",
]

#: every instruction BuildKit knows (anything else is "unknown instruction")
KEYWORDS: Final = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)

_HEREDOC_KEYWORDS: Final = frozenset({"ADD", "COPY", "RUN"})
_JSON_KEYWORDS: Final = frozenset({"ADD", "CMD", "COPY", "ENTRYPOINT", "RUN", "SHELL", "VOLUME"})
_LIST_KEYWORDS: Final = frozenset({"ADD", "COPY", "EXPOSE", "FROM", "VOLUME"})
_WORD_KEYWORDS: Final = frozenset({"ARG", "ENV", "LABEL"})

#: Go's unicode.IsSpace (Python's str.isspace also counts \x1c-\x1f)
_WS: Final = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: BuildKit's reWhitespace, which splits the keyword and FROM's words
_SPLIT_WS: Final = "\t\v\f\r "
_NOT_SPLIT_WS = re.compile(r"[^\t\v\f\r ]+")
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*")
_DIRECTIVES: Final = frozenset({"syntax", "escape", "check"})
_HEREDOC = re.compile(r"(\d*)<<(-?)[\t\n\f\r ]*([^<]*)", re.DOTALL)
_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOM: Final = "\ufeff"


# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Word:
    """A word of an instruction's :attr:`~Instruction.logical` line: ``text`` as
    written there (quotes and escapes kept), ``start``/``end`` its offsets in it."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Flag:
    """``--name=value`` after a keyword. ``value`` has its quotes and escapes
    processed (``None`` for ``--name`` without ``=``); ``word`` is the flag as
    written."""

    name: str
    value: str | None
    word: Word


@dataclass(frozen=True, slots=True)
class Heredoc:
    """A heredoc of a ``RUN``/``COPY``/``ADD``: ``name`` (the terminator),
    ``chomp`` (``<<-``), ``expand`` (false when the name was quoted), ``fd``
    (``3<<EOF``), ``content`` (the body lines with their line ends) and the
    1-based lines of the body and its terminator."""

    name: str
    chomp: bool
    expand: bool
    fd: int | None
    content: str
    start_line: int
    end_line: int


@dataclass(frozen=True, slots=True)
class FromArgs:
    """What ``FROM`` says: ``image`` (the word as written, before expansion),
    ``alias`` (the ``NAME`` word of ``AS NAME``), ``name`` (the stage name,
    lower-cased) and ``platform`` (the ``--platform`` value, unexpanded)."""

    image: Word
    alias: Word | None
    name: str | None
    platform: str | None


@dataclass(frozen=True, slots=True)
class ArgDef:
    """One ``name[=default]`` of an ``ARG``: ``default`` as written (quotes kept;
    ``None`` without ``=``), ``word`` the whole ``name=default`` word."""

    name: str
    default: str | None
    word: Word

    @property
    def default_start(self) -> int:
        """Offset of the default in the logical line (just past the ``=``)."""
        return self.word.start + len(self.name) + 1


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction; see the module docstring for the fields."""

    keyword: str
    raw_keyword: str
    line: int
    end_line: int
    start: int
    end: int
    logical: str
    flags: tuple[Flag, ...]
    rest: str
    rest_start: int
    json: bool
    arguments: tuple[str, ...]
    heredocs: tuple[Heredoc, ...] = ()
    comments: tuple[str, ...] = ()
    stage: int | None = None
    from_: FromArgs | None = None
    arg_defs: tuple[ArgDef, ...] = ()
    trigger: Instruction | None = None
    #: (logical offset, text offset, length) of each run of text the logical
    #: line is made of, in order
    segments: tuple[tuple[int, int, int], ...] = ()

    def flag(self, name: str) -> Flag | None:
        """The last flag called ``name`` (``platform`` for ``--platform``)."""
        found = None
        for flag in self.flags:
            if flag.name == name:
                found = flag
        return found

    def source_span(self, start: int, end: int) -> tuple[int, int] | None:
        """Where ``logical[start:end]`` lies in the text, or ``None`` when that
        part of the logical line is not one contiguous run of the text (it
        crosses a continuation)."""
        for lstart, tstart, length in self.segments:
            if lstart <= start and end <= lstart + length:
                return tstart + start - lstart, tstart + end - lstart
        return None


@dataclass(frozen=True, slots=True)
class Trivia:
    """Text between instructions: ``kind`` ``blank`` (empty or blank lines),
    ``comment``, ``directive`` or ``bom``; ``start``/``end`` in the text, ``line``
    the (first) 1-based line."""

    kind: Literal["blank", "comment", "directive", "bom"]
    start: int
    end: int
    line: int


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment line: ``text`` after the ``#``, stripped; ``line`` 1-based."""

    text: str
    line: int


@dataclass(frozen=True, slots=True)
class Directive:
    """A parser directive: ``name`` lower-cased, ``value`` as written; ``line``."""

    name: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``text[start:end]`` of the Dockerfile with ``new``."""

    start: int
    end: int
    new: str


@dataclass(frozen=True, slots=True)
class Stage:
    """A build stage: its ``FROM`` and the instructions up to the next one."""

    index: int
    name: str | None
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]

    @property
    def from_args(self) -> FromArgs:
        assert self.from_instruction.from_ is not None  # parse(): every FROM has them
        return self.from_instruction.from_


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A parsed Dockerfile; see the module docstring."""

    text: str
    filename: str
    escape: str
    directives: tuple[Directive, ...]
    instructions: tuple[Instruction, ...]
    comments: tuple[Comment, ...]
    pieces: tuple[Instruction | Trivia, ...]

    def write(self) -> str:
        """The text again, assembled from :attr:`pieces`."""
        return "".join(self.text[p.start : p.end] for p in self.pieces)

    def location(self, line: int) -> str:
        return f"{self.filename}:{line}"

    def meta_args(self) -> tuple[Instruction, ...]:
        """The ``ARG`` instructions before the first ``FROM`` (the global scope)."""
        return tuple(i for i in self.instructions if i.stage is None)

    def stages(self) -> tuple[Stage, ...]:
        stages: list[Stage] = []
        current: list[Instruction] = []
        head: Instruction | None = None
        for instruction in self.instructions:
            if instruction.keyword == "FROM":
                if head is not None:
                    stages.append(_stage(len(stages), head, current))
                head, current = instruction, []
            elif head is not None:
                current.append(instruction)
        if head is not None:
            stages.append(_stage(len(stages), head, current))
        return tuple(stages)

    def edit(self, edits: Iterable[Edit]) -> str:
        """The text with ``edits`` applied (spans of the original text; they must
        not overlap)."""
        out: list[str] = []
        pos = 0
        for e in sorted(edits, key=lambda e: (e.start, e.end)):
            if e.start < pos or e.end < e.start or e.end > len(self.text):
                raise ValueError(f"overlapping or invalid edit {e!r}")
            out.append(self.text[pos : e.start])
            out.append(e.new)
            pos = e.end
        out.append(self.text[pos:])
        return "".join(out)


def _stage(index: int, head: Instruction, rest: list[Instruction]) -> Stage:
    assert head.from_ is not None
    return Stage(index, head.from_.name, head, tuple(rest))


# -- the parser -----------------------------------------------------------------------------------


class _Lines:
    """The text split at ``\\n``: each line's content span and the start of the next."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.nexts: list[int] = []
        pos = 0
        n = len(text)
        while pos < n:
            nl = text.find("\n", pos)
            if nl < 0:
                self.starts.append(pos)
                self.ends.append(n)
                self.nexts.append(n)
                break
            self.starts.append(pos)
            self.ends.append(nl)
            self.nexts.append(nl + 1)
            pos = nl + 1

    def __len__(self) -> int:
        return len(self.starts)

    def content(self, i: int) -> tuple[str, int]:
        """Line ``i``'s content without trailing ``\\r`` s, and its start offset."""
        start = self.starts[i]
        if i == 0 and self.text.startswith(_BOM):
            start += 1
        return self.text[start : self.ends[i]].rstrip("\r\n"), start


def _is_comment(line: str) -> bool:
    return line.lstrip(_WS).startswith("#")


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.lines = _Lines(text)
        self.escape = "\\"
        self._set_escape("\\", 0)
        self.directives: list[Directive] = []
        self.directives_done = False
        self.comments: list[Comment] = []
        self.pieces: list[Instruction | Trivia] = []
        self.instructions: list[Instruction] = []
        self.pending: list[str] = []  # the comment block above the next instruction
        self.stage: int | None = None
        self.stage_count = 0

    def error(self, message: str, line: int) -> DockerfileError:
        return DockerfileError(message, location=f"{self.filename}:{line}", line=line)

    def _set_escape(self, value: str, line: int) -> None:
        if value not in ("\\", "`"):
            raise self.error(
                f"invalid escape token {value!r} does not match ` or \\; "
                "write '# escape=\\' or '# escape=`'",
                line,
            )
        self.escape = value
        e = re.escape(value)
        self.continuation = re.compile(rf"([^{e}]){e}[ \t]*\Z|\A{e}[ \t]*\Z")

    def _trivia(self, kind: Literal["blank", "comment", "directive", "bom"], i: int) -> None:
        start = self.lines.starts[i]
        if i == 0 and kind != "bom" and self.text.startswith(_BOM):
            start += 1
        end = self.lines.nexts[i]
        last = self.pieces[-1] if self.pieces else None
        if kind == "blank" and isinstance(last, Trivia) and last.kind == "blank":
            self.pieces[-1] = Trivia("blank", last.start, end, last.line)
        else:
            self.pieces.append(Trivia(kind, start, end, i + 1))

    def _directive(self, token: str, line: int) -> bool:
        """BuildKit's DirectiveParser.ParseLine; whether ``token`` is a directive."""
        if self.directives_done:
            return False
        if not token.startswith("#"):
            self.directives_done = True
            return False
        match = _DIRECTIVE.fullmatch(token[1:].lstrip(_WS))
        if match is None or match.group(1).lower() not in _DIRECTIVES:
            self.directives_done = True
            return False
        name, value = match.group(1).lower(), match.group(2)
        if any(d.name == name for d in self.directives):
            raise self.error(f"only one {name} parser directive can be used", line)
        if name == "escape":
            self._set_escape(value, line)
        self.directives.append(Directive(name, value, line))
        return True

    def _kept(self, token: str) -> tuple[str, bool]:
        """``token`` without its continuation escape, and whether it continues."""
        m = self.continuation.search(token)
        if m is None:
            return token, False
        return token[: m.start() + (1 if m.group(1) is not None else 0)], True

    def run(self) -> Dockerfile:
        lines = self.lines
        if self.text.startswith(_BOM):
            self.pieces.append(Trivia("bom", 0, 1, 1))
        i = 0
        n = len(lines)
        while i < n:
            content, cstart = lines.content(i)
            token = content.lstrip(_WS)
            if self._directive(token, i + 1):
                self._trivia("directive", i)
                i += 1
                continue
            if token.startswith("#"):
                text = token[1:].strip(_WS)
                self.comments.append(Comment(text, i + 1))
                if text:
                    self.pending.append(text)
                else:
                    self.pending = []
                self._trivia("comment", i)
                i += 1
                continue
            kept, more = self._kept(token)
            if not more and not kept:
                self._trivia("blank", i)
                i += 1
                continue
            i = self._instruction(i, cstart + len(content) - len(token), kept, more)
        if not self.instructions:
            raise self.error("file with no instructions; a Dockerfile needs a FROM", max(n, 1))
        if self.stage_count == 0:
            raise self.error(
                "the Dockerfile has no FROM, so no stage to build", self.instructions[-1].line
            )
        return Dockerfile(
            text=self.text,
            filename=self.filename,
            escape=self.escape,
            directives=tuple(self.directives),
            instructions=tuple(self.instructions),
            comments=tuple(self.comments),
            pieces=tuple(self.pieces),
        )

    def _instruction(self, first: int, token_start: int, kept: str, more: bool) -> int:
        lines = self.lines
        parts = [kept]
        segments = [(0, token_start, len(kept))]
        length = len(kept)
        j = first + 1
        while more and j < len(lines):
            content, cstart = lines.content(j)
            if _is_comment(content):
                self.comments.append(Comment(content.lstrip(_WS)[1:].strip(_WS), j + 1))
                j += 1
                continue
            if not content.lstrip(_WS):
                j += 1
                continue
            piece, more = self._kept(content)
            parts.append(piece)
            segments.append((length, cstart, len(piece)))
            length += len(piece)
            j += 1
        logical = "".join(parts)
        line = first + 1
        end_line = j  # 1-based number of the last line read
        node = self._node(logical, 0, line, end_line)
        heredocs: list[Heredoc] = []
        target = node.trigger if node.keyword == "ONBUILD" and node.trigger else node
        if target.keyword in _HEREDOC_KEYWORDS and not target.json and "<<" in logical:
            for name, chomp, expand_, fd in self._heredoc_words(logical, line, end_line):
                body: list[str] = []
                body_start = j + 1
                while True:
                    if j >= len(lines):
                        raise self.error(
                            f"unterminated heredoc: no line {name!r} closes the heredoc "
                            f"<<{name} of this {target.keyword}; add it",
                            line,
                        )
                    raw = self.text[lines.starts[j] : lines.nexts[j]]
                    candidate = raw.rstrip("\r\n")
                    if chomp:
                        candidate = candidate.lstrip("\t")
                    j += 1
                    if candidate == name:
                        break
                    body.append(raw)
                heredocs.append(Heredoc(name, chomp, expand_, fd, "".join(body), body_start, j))
            end_line = j
        start = lines.starts[first]
        if first == 0 and self.text.startswith(_BOM):
            start += 1
        end = lines.nexts[end_line - 1]
        if node.keyword == "FROM":
            self.stage = self.stage_count
            self.stage_count += 1
        elif self.stage is None and node.keyword != "ARG":
            raise self.error(
                f"{node.raw_keyword} before the first FROM: only ARG may come before it "
                "(no build stage in current context)",
                line,
            )
        trigger = node.trigger
        if trigger is not None:
            trigger = dataclasses.replace(
                trigger,
                line=line,
                end_line=end_line,
                start=start,
                end=end,
                heredocs=tuple(heredocs),
                stage=self.stage,
                segments=tuple(segments),
            )
        instruction = Instruction(
            keyword=node.keyword,
            raw_keyword=node.raw_keyword,
            line=line,
            end_line=end_line,
            start=start,
            end=end,
            logical=logical,
            flags=node.flags,
            rest=node.rest,
            rest_start=node.rest_start,
            json=node.json,
            arguments=node.arguments,
            heredocs=tuple(heredocs),
            comments=tuple(self.pending),
            stage=self.stage,
            from_=node.from_,
            arg_defs=node.arg_defs,
            trigger=trigger,
            segments=tuple(segments),
        )
        self.pending = []
        self.instructions.append(instruction)
        self.pieces.append(instruction)
        return j

    def _node(self, logical: str, offset: int, line: int, end_line: int) -> Instruction:
        """``logical[offset:]`` as an instruction (spans and stage filled in later)."""
        body = logical[offset:]
        lead = len(body) - len(body.lstrip(_WS))
        stripped = body.strip(_WS)
        base = offset + lead
        split = re.search(f"[{_SPLIT_WS}]+", stripped)
        if split is None:
            raw_keyword, after, after_start = stripped, "", base + len(stripped)
        else:
            raw_keyword = stripped[: split.start()]
            after, after_start = stripped[split.end() :], base + split.end()
        keyword = raw_keyword.upper()
        if keyword not in KEYWORDS:
            shown = raw_keyword or "(empty)"
            raise self.error(
                f"unknown instruction: {shown}; Dockerfile instructions are "
                + ", ".join(sorted(KEYWORDS)),
                line,
            )
        flags, rest_at = self._flags(after, after_start)
        rest_raw = logical[rest_at : after_start + len(after)]
        rest_lead = len(rest_raw) - len(rest_raw.lstrip(_WS))
        rest = rest_raw.strip(_WS)
        rest_start = rest_at + rest_lead
        is_json = False
        arguments: tuple[str, ...]
        json_args = _json_array(rest) if keyword in _JSON_KEYWORDS else None
        if json_args is not None:
            is_json, arguments = True, json_args
        elif keyword in _LIST_KEYWORDS:
            arguments = tuple(m.group() for m in _NOT_SPLIT_WS.finditer(rest))
        elif keyword in _WORD_KEYWORDS:
            arguments = tuple(w.text for w in _parse_words(rest, rest_start, self.escape))
        else:
            arguments = (rest,) if rest else ()
        if json_args is None and keyword in _JSON_KEYWORDS and _looks_like_bad_json(rest):
            raise self.error(
                "when using JSON array syntax, arrays must be comprised of strings only", line
            )
        from_ = None
        arg_defs: tuple[ArgDef, ...] = ()
        trigger = None
        if keyword == "FROM":
            from_ = self._from(flags, rest, rest_start, line)
        elif keyword == "ARG":
            arg_defs = self._arg(rest, rest_start, line)
        elif keyword in ("ENV", "LABEL"):
            self._name_values(keyword, rest, line)
        elif keyword == "ONBUILD":
            if not rest:
                raise self.error("ONBUILD requires at least one argument", line)
            trigger = self._node(logical, rest_start, line, end_line)
            if trigger.keyword == "ONBUILD":
                raise self.error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", line)
            if trigger.keyword in ("FROM", "MAINTAINER"):
                raise self.error(f"{trigger.keyword} isn't allowed as an ONBUILD trigger", line)
        return Instruction(
            keyword=keyword,
            raw_keyword=raw_keyword,
            line=line,
            end_line=end_line,
            start=0,
            end=0,
            logical=logical,
            flags=flags,
            rest=rest,
            rest_start=rest_start,
            json=is_json,
            arguments=arguments,
            from_=from_,
            arg_defs=arg_defs,
            trigger=trigger,
        )

    def _flags(self, line: str, offset: int) -> tuple[tuple[Flag, ...], int]:
        """BuildKit's extractBuilderFlags over ``line`` (at ``offset`` in the logical
        line): the flags and where the arguments start."""
        flags: list[Flag] = []
        pos = 0
        n = len(line)
        esc = self.escape
        while True:
            while pos < n and line[pos] in _WS:
                pos += 1
            if pos >= n or not line.startswith("--", pos):
                return tuple(flags), offset + pos
            start = pos
            value: list[str] = []
            quote = ""
            blank_ok = False
            while pos < n:
                ch = line[pos]
                if quote:
                    if ch == quote:
                        quote = ""
                    elif ch == esc:
                        if pos + 1 < n:
                            pos += 1
                            value.append(line[pos])
                        else:
                            quote = ""
                    else:
                        value.append(ch)
                    pos += 1
                    continue
                if ch in _WS:
                    break
                if ch in "'\"":
                    quote, blank_ok = ch, True
                elif ch == esc:
                    if pos + 1 < n:
                        pos += 1
                        value.append(line[pos])
                else:
                    value.append(ch)
                pos += 1
            word = "".join(value)
            if word == "--":
                return tuple(flags), offset + pos
            if word or blank_ok:
                name, eq, val = word[2:].partition("=") if word.startswith("--") else (word, "", "")
                flags.append(
                    Flag(
                        name,
                        val if eq else None,
                        Word(line[start:pos], offset + start, offset + pos),
                    )
                )

    def _from(self, flags: tuple[Flag, ...], rest: str, rest_start: int, line: int) -> FromArgs:
        words = [
            Word(m.group(), rest_start + m.start(), rest_start + m.end())
            for m in _NOT_SPLIT_WS.finditer(rest)
        ]
        for flag in flags:
            if flag.name != "platform":
                raise self.error(
                    f"unknown flag: --{flag.name} on FROM; FROM takes only --platform=PLATFORM",
                    line,
                )
            if flag.value is None:
                raise self.error("missing a value on flag: --platform", line)
        if not words:
            raise self.error("FROM needs an image: FROM IMAGE[:TAG] [AS NAME]", line)
        alias = None
        name = None
        if len(words) == 3 and words[1].text.lower() == "as":
            alias = words[2]
            name = alias.text.lower()
            if _STAGE_NAME.fullmatch(name) is None:
                raise self.error(
                    f"invalid name for build stage: {alias.text!r}, name can't start with a "
                    "number or contain symbols",
                    line,
                )
        elif len(words) != 1:
            raise self.error(
                "FROM requires either one or three arguments: FROM IMAGE [AS NAME]", line
            )
        platform = flags[-1].value if flags else None
        return FromArgs(words[0], alias, name, platform)

    def _arg(self, rest: str, rest_start: int, line: int) -> tuple[ArgDef, ...]:
        words = _parse_words(rest, rest_start, self.escape)
        if not words:
            raise self.error("ARG requires at least one argument: ARG NAME[=DEFAULT]", line)
        defs: list[ArgDef] = []
        for word in words:
            name, eq, default = word.text.partition("=")
            if eq and not name:
                raise self.error("ARG names can not be blank", line)
            defs.append(ArgDef(name, default if eq else None, word))
        return tuple(defs)

    def _name_values(self, keyword: str, rest: str, line: int) -> None:
        """BuildKit's parseNameVal: ``KEY value`` (the old form) or ``KEY=value ...``."""
        words = _parse_words(rest, 0, self.escape)
        if not words:
            raise self.error(f"{keyword} requires at least one argument", line)
        if "=" not in words[0].text:
            if re.search(f"[{_SPLIT_WS}]", rest) is None:
                raise self.error(
                    f"{keyword} must have two arguments: {keyword} NAME=VALUE (or NAME VALUE)",
                    line,
                )
            return
        for word in words:
            name, eq, _ = word.text.partition("=")
            if not eq:
                raise self.error(
                    f"Syntax error - can't find = in {word.text!r}. Must be of the form: "
                    "name=value",
                    line,
                )
            if not name:
                raise self.error(f"{keyword} names can not be blank", line)

    def _heredoc_words(
        self, logical: str, line: int, end_line: int
    ) -> list[tuple[str, bool, bool, int | None]]:
        """BuildKit's heredocsFromLine: (name, chomp, expand, fd) of each heredoc
        word of the line, in order."""
        words = _lex_words(logical, raw=True)
        if words is None:  # BuildKit ignores a line its lexer cannot split
            return []
        found: list[tuple[str, bool, bool, int | None]] = []
        for word in words:
            m = _HEREDOC.fullmatch(word)
            if m is None or not m.group(3):
                continue
            rest = m.group(3)
            plain = _lex_words(rest, raw=False)
            if plain is None:
                raise self.error(f"cannot read the heredoc word {word!r}: unterminated quote", line)
            if len(plain) != 1:
                continue
            raw = _lex_words(rest, raw=True) or []
            quotes = sum(plain[0].count(q) for q in "'\"")
            raw_quotes = sum(raw[0].count(q) for q in "'\"") if raw else quotes
            fd = int(m.group(1)) if m.group(1) else None
            found.append((plain[0], m.group(2) == "-", quotes == raw_quotes, fd))
        return found


def parse(text: str, *, filename: str = "Dockerfile") -> Dockerfile:
    """Parse ``text`` (see the module docstring); ``filename`` goes into error
    locations and :meth:`Dockerfile.location`."""
    return _Parser(text, filename).run()


def _json_array(rest: str) -> tuple[str, ...] | None:
    """BuildKit's parseJSON: the strings of a JSON array, or ``None`` when ``rest``
    is not one (shell form)."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        # too deep for Python's decoder (and Go's, whose limit is 10000): not JSON,
        # the shell form, as BuildKit takes it
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        return None
    return tuple(value)


def _looks_like_bad_json(rest: str) -> bool:
    """A valid JSON array holding something else than strings (BuildKit refuses it)."""
    if not rest.startswith("["):
        return False
    try:
        value = json.loads(rest, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, list) and not all(isinstance(v, str) for v in value)


def _no_constant(name: str) -> object:
    raise ValueError(name)  # NaN/Infinity: not JSON to Go


def _parse_words(rest: str, offset: int, esc: str) -> list[Word]:
    """BuildKit's parseWords: words separated by blanks, quotes grouping, quotes
    and escapes kept in the text."""
    words: list[Word] = []
    pos = 0
    n = len(rest)
    while pos < n:
        while pos < n and rest[pos] in _WS:
            pos += 1
        if pos >= n:
            break
        start = pos
        quote = ""
        while pos < n:
            ch = rest[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == esc and quote != "'" and pos + 1 < n:
                    pos += 1
                pos += 1
                continue
            if ch in _WS:
                break
            if ch in "'\"":
                quote = ch
            elif ch == esc and pos + 1 < n:
                pos += 1
            pos += 1
        words.append(Word(rest[start:pos], offset + start, offset + pos))
    return words


def _lex_words(text: str, *, raw: bool) -> list[str] | None:
    """The shell words of ``text`` as BuildKit's lexer splits them for heredocs
    (escape ``\\``, no variables expanded); ``raw`` keeps quotes and escapes.
    ``None`` for an unterminated quote."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    pos = 0
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "'":
            end = text.find("'", pos + 1)
            if end < 0:
                return None
            current.append(text[pos : end + 1] if raw else text[pos + 1 : end])
            in_word = True
            pos = end + 1
        elif ch == '"':
            pos += 1
            piece = ['"'] if raw else []
            while True:
                if pos >= n:
                    return None
                c = text[pos]
                if c == '"':
                    piece.append('"' if raw else "")
                    pos += 1
                    break
                if c == "\\" and text[pos + 1 : pos + 2] in ('"', "$", "\\"):
                    piece.append(text[pos : pos + 2] if raw else text[pos + 1])
                    pos += 2
                    continue
                piece.append(c)
                pos += 1
            current.append("".join(piece))
            in_word = True
        elif ch == "\\":
            if pos + 1 >= n:
                break
            if raw:
                current.append("\\")
            current.append(text[pos + 1])
            in_word = True
            pos += 2
        elif ch == "<" and text.startswith("<<", pos):
            pos += 2
            spaces = pos
            while pos < n and text[pos] in "\t\r ":
                pos += 1
            current.append("<<" + text[spaces:pos])
            in_word = True
        elif ch in _WS:
            if in_word and current:
                words.append("".join(current))
            current, in_word = [], False
            pos += 1
        else:
            current.append(ch)
            in_word = True
            pos += 1
    if in_word and current:
        words.append("".join(current))
    return words


# -- expansion ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expansion:
    """The result of :func:`expand`: ``text``; ``used`` the variables it read
    that had a value, ``unset`` those it read without one."""

    text: str
    used: frozenset[str]
    unset: frozenset[str]


class ExpansionError(ValueError):
    """A word BuildKit's expansion refuses (``${``, a bad modifier, ``${X:?}``),
    or one lockpin will not expand: nested deeper than :data:`_MAX_NESTING`,
    growing past its budget of characters, or a pattern too costly to match."""


#: ``${A:-${B:-...}}`` levels (each is a Python call: a deeper word would crash
#: with RecursionError)
_MAX_NESTING: Final = 64
#: characters the expansions of one Dockerfile may produce in all: ``ARG A1=$A0$A0``,
#: ``ARG A2=$A1$A1``... doubles at each line (a "billion laughs"), and forty lines
#: would need a terabyte
_MAX_EXPANDED: Final = 64 << 20
#: ``(len(value) + 1) ** (stars + 1) * (len(pattern) + 1)`` over which a
#: ``${VAR/pattern/x}`` is refused: Python's regex engine backtracks (polynomially
#: in the value, with the stars as the exponent), Go's does not
_MAX_PATTERN_WORK: Final = 10**8


class _Budget:
    """Characters still allowed for the expansions of one Dockerfile."""

    def __init__(self, left: int = _MAX_EXPANDED) -> None:
        self.left = left

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise ExpansionError(
                f"the expansions of this Dockerfile's ARG and FROM values grow past "
                f"{_MAX_EXPANDED >> 20} MiB (variables repeating variables?); lockpin "
                "stops there"
            )


class _Expander:
    def __init__(
        self, word: str, env: Mapping[str, str], escape: str, budget: _Budget | None = None
    ) -> None:
        self.s = word
        self.pos = 0
        self.env = env
        self.escape = escape
        self.used: set[str] = set()
        self.unset: set[str] = set()
        self.budget = budget if budget is not None else _Budget()
        self.depth = 0

    def peek(self) -> str:
        return self.s[self.pos] if self.pos < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def get(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.used.add(name)
            return self.env[name], True
        self.unset.add(name)
        return "", False

    def process(self, stop: str, raw_escapes: bool) -> str:
        out: list[str] = []
        while self.pos < len(self.s):
            ch = self.peek()
            if stop and ch == stop:
                self.pos += 1
                return "".join(out)
            if ch == "$":
                value = self.dollar()
                self.budget.spend(len(value))
                out.append(value)
            elif ch == "'":
                out.append(self.single())
            elif ch == '"':
                out.append(self.double())
            else:
                self.pos += 1
                if ch == self.escape:
                    if raw_escapes:
                        out.append(ch)
                    if self.pos >= len(self.s):
                        break
                    ch = self.next()
                out.append(ch)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out)

    def single(self) -> str:
        self.pos += 1
        end = self.s.find("'", self.pos)
        if end < 0:
            raise ExpansionError(
                "unexpected end of statement while looking for matching single-quote"
            )
        text = self.s[self.pos : end]
        self.pos = end + 1
        return text

    def double(self) -> str:
        self.pos += 1
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "$":
                value = self.dollar()
                self.budget.spend(len(value))
                out.append(value)
                continue
            self.pos += 1
            if ch == self.escape:
                nxt = self.peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        start = self.pos
        ch = self.peek()
        if ch.isdigit():
            while self.peek().isdigit():
                self.pos += 1
            return self.s[start : self.pos]
        if ch and ch in "@*#?-$!0":
            self.pos += 1
            return ch
        while (c := self.peek()) and (c.isalnum() or c == "_"):
            self.pos += 1
        return self.s[start : self.pos]

    def dollar(self) -> str:
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            return self.get(name)[0] if name else "$"
        self.pos += 1
        ch = self.peek()
        if not ch:
            raise ExpansionError("syntax error: missing '}'")
        if ch in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            return self.get(name)[0]
        null_is_unset = False
        modifier = ch
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
        if ch in "+-?#%" and ch:
            if null_is_unset and ch in "#%":
                raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
            self.depth += 1
            if self.depth > _MAX_NESTING:
                raise ExpansionError(f"substitutions nested deeper than {_MAX_NESTING} levels")
            try:
                word = self.process("}", ch in "#%")
            except ExpansionError:
                if self.pos >= len(self.s):
                    raise ExpansionError("syntax error: missing '}'") from None
                raise
            self.depth -= 1
            value, is_set = self.get(name)
            empty = not is_set or (null_is_unset and value == "")
            if ch == "-":
                return word if empty else value
            if ch == "+":
                return "" if empty else word
            if ch == "?":
                if not is_set:
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            return _trim(value, word, greedy=greedy, suffix=ch == "%")
        if ch == "/" and not null_is_unset:
            replace_all = self.peek() == "/"
            if replace_all:
                self.pos += 1
            try:
                pattern = self.process("/", True)
            except ExpansionError:
                raise ExpansionError("syntax error: missing '/' in ${}") from None
            try:
                replacement = self.process("}", True)
            except ExpansionError:
                raise ExpansionError("syntax error: missing '}'") from None
            value, _ = self.get(name)
            regex = _shell_pattern(pattern, greedy=True)
            stars = pattern.count("*")
            if (len(value) + 1) ** (stars + 1) * (len(pattern) + 1) > _MAX_PATTERN_WORK:
                raise ExpansionError(
                    f"the pattern of ${{{name}/...}} ({stars} '*') over a value of "
                    f"{len(value)} characters is too costly for lockpin to match; "
                    "simplify the pattern"
                )
            budget = self.budget

            def _replace(_: re.Match[str]) -> str:
                budget.spend(len(replacement))  # ${A//?/$B}: len(A) copies of B
                return replacement

            return regex.sub(_replace, value, count=0 if replace_all else 1)
        raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")


def _shell_pattern(pattern: str, *, greedy: bool) -> re.Pattern[str]:
    """A ``${VAR#pattern}`` pattern as a regex (``*``, ``?``, escapes; no brackets)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt in ("}", "/"):
                i += 1
                continue
            if nxt not in ("*", "?", "\\"):
                raise ExpansionError(f"invalid pattern ({pattern}) in substitution")
            out.append(re.escape(nxt))
            i += 1
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _trim(value: str, pattern: str, *, greedy: bool, suffix: bool) -> str:
    """``value`` without its shortest (or longest) prefix/suffix whose whole text
    the pattern matches."""
    _shell_pattern(pattern, greedy=greedy)  # the same refusals as the regex
    atoms = _glob_atoms(pattern)
    text = value[::-1] if suffix else value
    lengths = _glob_prefixes(atoms[::-1] if suffix else atoms, text)
    if not lengths:
        return value
    k = lengths[-1] if greedy else lengths[0]
    n = len(value)
    return value[: n - k] if suffix else value[k:]


_STAR: Final = object()
_ANY: Final = object()


def _glob_atoms(pattern: str) -> list[object]:
    """A shell pattern (``*``, ``?``, escapes) as atoms: :data:`_STAR`, :data:`_ANY`
    or one literal character; runs of ``*`` are one."""
    atoms: list[object] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1 : i + 2]
            i += 1 if nxt in ("}", "/") else 2
            if nxt not in ("}", "/"):
                atoms.append(nxt)
            continue
        if ch == "*":
            if not atoms or atoms[-1] is not _STAR:
                atoms.append(_STAR)
        else:
            atoms.append(_ANY if ch == "?" else ch)
        i += 1
    return atoms


def _glob_prefixes(atoms: list[object], text: str) -> list[int]:
    """Every ``k`` for which ``text[:k]`` matches the whole pattern, ascending.

    A bit-parallel NFA (bit ``i``: the first ``i`` atoms matched), one step per
    character: linear in ``text`` whatever the pattern, where a backtracking
    regex tried on every prefix is polynomial with the stars as the exponent."""
    stars = anys = 0
    literal: dict[str, int] = {}
    for i, atom in enumerate(atoms):
        if atom is _STAR:
            stars |= 1 << i
        elif atom is _ANY:
            anys |= 1 << i
        elif isinstance(atom, str):
            literal[atom] = literal.get(atom, 0) | 1 << i
    accept = 1 << len(atoms)
    state = 1 | (1 & stars) << 1
    found = [0] if state & accept else []
    for k, ch in enumerate(text, start=1):
        state = ((state & (literal.get(ch, 0) | anys)) << 1) | (state & stars)
        state |= (state & stars) << 1
        if not state:
            break
        if state & accept:
            found.append(k)
    return found


def expand(
    word: str, env: Mapping[str, str], *, escape: str = "\\", _budget: _Budget | None = None
) -> Expansion:
    """Expand ``word`` as BuildKit expands ``FROM`` and ``ARG`` values; a
    :class:`ExpansionError` (a ``ValueError``) for what it refuses."""
    e = _Expander(word, env, escape, _budget)
    text = e.process("", False)
    return Expansion(text, frozenset(e.used), frozenset(e.unset - e.used))


# -- the global scope and the base of each stage ---------------------------------------------------


def global_args(dockerfile: Dockerfile, build_args: Mapping[str, str]) -> dict[str, str]:
    """The values of the global ``ARG`` s, as BuildKit computes them before
    expanding ``FROM`` lines: each default expanded with the values before it, a
    build arg replacing the default of an ``ARG`` it names. Build args that no
    global ``ARG`` declares are not in scope (BuildKit's predefined platform
    args are only there when the caller passes them)."""
    return _global_args(dockerfile, build_args, _Budget())


def _global_args(
    dockerfile: Dockerfile, build_args: Mapping[str, str], budget: _Budget
) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in (
        "BUILDPLATFORM",
        "BUILDOS",
        "BUILDARCH",
        "BUILDVARIANT",
        "TARGETPLATFORM",
        "TARGETOS",
        "TARGETARCH",
        "TARGETVARIANT",
        "TARGETSTAGE",
    ):
        if name in build_args:
            env[name] = build_args[name]
    for instruction in dockerfile.meta_args():
        for d in instruction.arg_defs:
            if d.name in build_args:
                env[d.name] = build_args[d.name]
            elif d.default is not None:
                env[d.name] = _expand_at(dockerfile, instruction, d.default, env, budget).text
    return env


def global_definition(dockerfile: Dockerfile, name: str) -> tuple[Instruction, ArgDef] | None:
    """The global ``ARG`` whose default ``name`` takes (the last one giving it a
    default), or ``None``."""
    found = None
    for instruction in dockerfile.meta_args():
        for d in instruction.arg_defs:
            if d.name == name and d.default is not None:
                found = (instruction, d)
    return found


def _expand_at(
    dockerfile: Dockerfile,
    instruction: Instruction,
    word: str,
    env: Mapping[str, str],
    budget: _Budget,
) -> Expansion:
    try:
        return expand(word, env, escape=dockerfile.escape, _budget=budget)
    except ExpansionError as exc:
        raise DockerfileError(
            f"cannot expand {clip(word, 200)!r}: {exc}",
            location=dockerfile.location(instruction.line),
            line=instruction.line,
        ) from None


FromKind = Literal["image", "stage", "scratch", "unresolved"]


@dataclass(frozen=True, slots=True)
class FromImage:
    """What a stage's ``FROM`` names: ``text`` after expansion; ``kind``
    ``image``, ``stage`` (an earlier stage's name), ``scratch``, or
    ``unresolved`` (it reads a variable without a value: ``unset``);
    ``platform`` the expanded ``--platform`` value (``None`` when absent or
    unresolved)."""

    stage: Stage
    text: str
    kind: FromKind
    used: frozenset[str]
    unset: frozenset[str]
    platform: str | None
    platform_unset: frozenset[str]


def from_images(
    dockerfile: Dockerfile, build_args: Mapping[str, str] | None = None
) -> tuple[FromImage, ...]:
    """The base of every stage, in order (see :class:`FromImage`)."""
    budget = _Budget()
    env = _global_args(dockerfile, build_args or {}, budget)
    names: list[str] = []
    result: list[FromImage] = []
    for stage in dockerfile.stages():
        args = stage.from_args
        head = stage.from_instruction
        exp = _expand_at(dockerfile, head, args.image.text, env, budget)
        kind: FromKind
        if exp.unset and not _matches_stage(args.image.text, names):
            kind = "unresolved"
        elif exp.unset or exp.text in names:
            kind = "stage"
        elif exp.text == "scratch":
            kind = "scratch"
        else:
            kind = "image"
        if kind != "unresolved" and not exp.text:
            raise DockerfileError(
                f"base name ({args.image.text}) should not be blank",
                location=dockerfile.location(head.line),
                line=head.line,
            )
        platform = None
        platform_unset: frozenset[str] = frozenset()
        if args.platform is not None:
            pexp = _expand_at(dockerfile, head, args.platform, env, budget)
            platform_unset = pexp.unset
            platform = None if pexp.unset else pexp.text
        result.append(
            FromImage(stage, exp.text, kind, exp.used, exp.unset, platform, platform_unset)
        )
        if stage.name:
            names.append(stage.name)
    return tuple(result)


def _matches_stage(word: str, names: list[str]) -> bool:
    """Whether ``word``, its variables standing for anything, can only name an
    earlier stage (``base-${TARGETARCH}`` with stages ``base-amd64`` and
    ``base-arm64``): then it is a stage reference whatever the platform."""
    if not names or "$" not in word or any(q in word for q in "'\"\\`"):
        return False
    parts = re.split(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", word)
    if not any(parts):  # a bare ``${FROM}`` could name anything, not only a stage
        return False
    # ".+" between the parts, matched by the linear glob NFA: a regex of many
    # ".+" backtracks polynomially on a long stage name
    atoms: list[object] = list(parts[0])
    for part in parts[1:]:
        atoms += [_ANY, _STAR, *part]
    return any(_glob_prefixes(atoms, name)[-1:] == [len(name)] for name in names)
