"""deb822 control-file syntax (Debian Policy 5.1): stanzas of ``Field: value`` lines.

Pure and fast: an archive's ``Packages`` index is ~50 MB and ~60k stanzas, so the
scanning is done by ``str.find`` and compiled regular expressions, never by a Python
loop over every line. The archive layer indexes such a file lazily with
:func:`stanza_spans` and :func:`field_of`, and parses one stanza with
:func:`parse_stanza` only when it needs it.

The rules, decided once for every caller:

* **Field names** are case-insensitive: :func:`parse_stanza` returns them
  lower-cased (``depends``, ``sha256``, ``pre-depends``). A name is printable ASCII
  without ``:`` and does not start with ``#`` or ``-`` (Policy 5.1).
* **Values**: the first line is the text after ``:`` with surrounding whitespace
  stripped. Each continuation line (one that starts with a space or a tab) is
  appended as ``"\\n"`` plus the line with *exactly one* leading whitespace character
  removed and trailing whitespace stripped; a continuation that is then exactly
  ``.`` stands for an empty line (``Description``) and is appended as ``""``.
  So ``value.split("\\n")[0]`` is always the first line (empty for Release's
  ``SHA256:``, whose hash lines follow one per line), relation fields parse once
  newlines are read as spaces, and a ``Description`` body keeps its verbatim lines.
* **Comments**: a line starting with ``#`` is ignored wherever it is, also between
  the lines of a multi-line value (allowed in control files; never in indexes).
  A stanza of comments only is no stanza: :func:`iter_stanzas` skips it.
* **Stanzas** are separated by one or more blank lines, a line that is empty or
  holds only spaces and tabs.
* **Carriage returns are refused** (:class:`Deb822Error`): Debian's indexes and
  status files are LF-only, and a CR means the file was altered on the way (a
  text-mode transfer); its signed hashes would not match it anyway.
* A duplicate field, a line that is neither ``Name: value``, a continuation nor a
  comment, and a continuation before any field are errors naming the line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from .._text import clip

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Deb822Error", "field_of", "iter_stanzas", "parse_stanza", "stanza_spans"]


class Deb822Error(ValueError):
    """Text that is not deb822. ``line`` is the 1-based line number of the fault in
    the parsed text (counting from ``first_line``); ``message`` says what is wrong."""

    def __init__(self, message: str, *, line: int) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}")


# Printable ASCII without ":"; the first character is also not "#" (a comment) nor
# "-" (Policy 5.1; it also keeps a PGP armour line from passing as a field).
_NAME: Final = r"[\x21\x22\x24-\x2c\x2e-\x39\x3b-\x7e][\x21-\x39\x3b-\x7e]*"
# Splits a stanza into its fields: at each newline not followed by whitespace (a
# continuation). A literal first character lets the regex engine skip to newlines.
_FIELD_SPLIT: Final = re.compile(r"\n(?![ \t])")
_FIELD_LINE: Final = re.compile(rf"({_NAME}):(.*)")
_NAME_ONLY: Final = re.compile(_NAME)
# Stanza separators: a newline followed by blank or whitespace-only lines.
_SEPARATOR: Final = re.compile(r"\n(?:[ \t]*\n)+")
_WHITESPACE_LINE: Final = re.compile(r"\n[ \t]+\n")
_LEADING_BLANK: Final = re.compile(r"(?:[ \t]*\n)*")
_BLANK: Final = " \t\n"


class _BlankLine(Exception):
    """A whitespace-only line inside a value: it ends a stanza, it is no continuation."""


def _value(raw: str) -> str:
    """The value of a field from its raw text after the ``:`` (module docstring rules)."""
    if "\n" not in raw:
        return raw.strip(" \t")
    # One list, its lines replaced in place: a 50 MB Description of 700k lines
    # then costs one copy of its lines, not two.
    lines = raw.split("\n")
    lines[0] = lines[0].strip(" \t")
    for i in range(1, len(lines)):
        line = lines[i][1:].rstrip(" \t")
        if not line:
            raise _BlankLine
        lines[i] = "" if line == "." else line
    return "\n".join(lines)


def _line_of(text: str, offset: int, first_line: int) -> int:
    return first_line + text.count("\n", 0, offset)


def parse_stanza(text: str, *, first_line: int = 1) -> dict[str, str]:
    """The fields of one stanza: lower-cased names to values (module docstring rules).

    Blank lines before and after the stanza are ignored; one inside it is an error
    (use :func:`iter_stanzas` for several). ``first_line`` is the line number of
    ``text``'s first line in its file, for the error's ``line``.
    """
    if "\r" in text:
        raise Deb822Error(
            "carriage return (CRLF line ending): deb822 files are LF-only",
            line=_line_of(text, text.index("\r"), first_line),
        )
    if text[:1] in _BLANK:
        lead = _LEADING_BLANK.match(text)
        start = lead.end() if lead else 0
        first_line += text.count("\n", 0, start)
        text = text[start:]
    text = text.rstrip(_BLANK)
    if not text:
        return {}
    if text[0] != "#" and "\n#" not in text:
        stanza = _parse_fast(text)
        if stanza is not None:
            return stanza
    return _parse_lines(text, first_line)


#: valid field names seen so far (with their ":") -> lower-cased name; bounded so
#: that hostile input cannot grow it without limit
_KEYS: dict[str, str] = {}
_MAX_KEYS: Final = 4096


def _parse_fast(text: str) -> dict[str, str] | None:
    """The stanza, or ``None`` when :func:`_parse_lines` must look (an odd line, a
    duplicate): one regex split, then one step per field, not per line."""
    pieces = _FIELD_SPLIT.split(text)
    stanza: dict[str, str] = {}
    keys = _KEYS
    for piece in pieces:
        name, colon, raw = piece.partition(":")
        name += colon
        key = keys.get(name)
        if key is None:
            if not colon or _NAME_ONLY.fullmatch(name, 0, len(name) - 1) is None:
                return None
            key = name[:-1].lower()
            if len(keys) < _MAX_KEYS:
                keys[name] = key
        if "\n" not in raw:
            stanza[key] = raw.strip(" \t")
        else:
            try:
                stanza[key] = _value(raw)
            except _BlankLine:
                return None
    if len(stanza) != len(pieces):
        return None
    return stanza


def _parse_lines(text: str, first_line: int) -> dict[str, str]:
    """Line by line: the slow path, for comments and for finding the faulty line."""
    stanza: dict[str, str] = {}
    name: str | None = None
    first_of: dict[str, int] = {}
    raw: list[str] = []
    for number, line in enumerate(text.split("\n"), start=first_line):
        if line.startswith("#"):
            continue
        if line[:1] in (" ", "\t"):
            if not line.strip(" \t"):
                raise Deb822Error(
                    "blank line inside a stanza (parse_stanza takes one stanza)", line=number
                )
            if name is None:
                raise Deb822Error(
                    f"continuation line {clip(line.lstrip(), 60)!r} before any field", line=number
                )
            raw.append(line)
            continue
        if not line:
            raise Deb822Error(
                "blank line inside a stanza (parse_stanza takes one stanza)", line=number
            )
        match = _FIELD_LINE.fullmatch(line)
        if match is None:
            raise Deb822Error(f"expected 'Field: value', got {clip(line, 60)!r}", line=number)
        if name is not None:
            stanza[name] = _value("\n".join(raw))
        name = match.group(1).lower()
        if name in first_of:
            raise Deb822Error(
                f"duplicate field {clip(match.group(1), 60)!r} (first on line {first_of[name]})",
                line=number,
            )
        first_of[name] = number
        raw = [match.group(2)]
    if name is not None:
        stanza[name] = _value("\n".join(raw))
    return stanza


def stanza_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` offsets of each stanza of ``text``, in order.

    ``text[start:end]`` is one stanza: it starts at its first line and ends after
    its last line's newline (or at the end of ``text``); :func:`parse_stanza` parses
    it. Blank lines between stanzas belong to none. Only the separators are looked
    for (``str.find``, or a regex when whitespace-only lines occur): nothing is
    parsed or validated here.
    """
    length = len(text)
    lead = _LEADING_BLANK.match(text)
    pos = lead.end() if lead else 0
    if _WHITESPACE_LINE.search(text) is None:
        # The usual case (an index): separators are runs of "\n".
        find = text.find
        while pos < length:
            cut = find("\n\n", pos)
            if cut < 0:
                if text[pos:].strip(_BLANK):
                    yield pos, length
                return
            yield pos, cut + 1
            pos = cut + 2
            while pos < length and text[pos] == "\n":
                pos += 1
        return
    for sep in _SEPARATOR.finditer(text, pos):
        if sep.start() >= pos:
            yield pos, sep.start() + 1
        pos = sep.end()
    if text[pos:].strip(_BLANK):
        yield pos, length


def iter_stanzas(text: str) -> Iterator[dict[str, str]]:
    """Each stanza of ``text`` parsed (:func:`parse_stanza`); errors name the line
    of ``text``."""
    if "\r" in text:
        offset = text.index("\r")
        raise Deb822Error(
            "carriage return (CRLF line ending): deb822 files are LF-only",
            line=_line_of(text, offset, 1),
        )
    for start, end in stanza_spans(text):
        try:
            stanza = parse_stanza(text[start:end])
        except Deb822Error as exc:
            # Line numbers are only worked out on failure: counting them for every
            # stanza would cost a pass over the whole text.
            raise Deb822Error(exc.message, line=exc.line + text.count("\n", 0, start)) from None
        if stanza:  # not only comments
            yield stanza


def field_of(text: str, start: int, end: int, name: str) -> str | None:
    """The value of field ``name`` (any case) of the stanza ``text[start:end]`` (a
    span of :func:`stanza_spans`), or ``None`` when it has none: the value
    :func:`parse_stanza` gives, found without parsing the other fields. A
    duplicate field is not detected (the first one is returned): :func:`parse_stanza`
    reports it. Only a stanza with a comment line after the field is parsed whole
    (and its faults raise :class:`Deb822Error`), since the value may go on after it.
    """
    at = _find_field(text, start, end, name)
    if at < 0:
        return None
    at += len(name) + 1
    stop = text.find("\n", at, end)
    if stop < 0:
        return text[at:end].strip(" \t")
    # Continuation lines, if any, run to the first newline not followed by
    # whitespace, or to a whitespace-only line (which ends a stanza).
    more = stop
    while more + 1 < end and text[more + 1] in " \t":
        nxt = text.find("\n", more + 1, end)
        if nxt < 0:
            nxt = end
        if not text[more + 1 : nxt].strip(" \t"):
            break
        more = nxt
    if text.startswith("#", more + 1):
        # A comment inside or after the value (control files only): the value may
        # go on after it, which only the line-by-line parser follows.
        return parse_stanza(text[start:end]).get(name.lower())
    if more == stop:
        return text[at:stop].strip(" \t")
    return _value(text[at:more])


def _find_field(text: str, start: int, end: int, name: str) -> int:
    """Offset of the line ``name:`` (any case) in the span, or -1."""
    canonical, pattern = _lookup(name)
    # The spelling indexes use (``Package``, ``Pre-Depends``, ``SHA256``) is a plain
    # substring search; any other case costs a regex scan of the line starts.
    if text.startswith(canonical, start):
        return start
    at = text.find("\n" + canonical, start, end)
    if at >= 0:
        return at + 1
    if text[start : start + len(canonical)].lower() == canonical.lower():
        return start
    found = pattern.search(text, start, end)
    return found.start() + 1 if found else -1


#: field name -> (its usual spelling with ":", a case-insensitive "\nname:" regex)
_LOOKUP: dict[str, tuple[str, re.Pattern[str]]] = {}
_USUAL: Final = {"sha256:": "SHA256:", "md5sum:": "MD5sum:", "sha1:": "SHA1:"}


def _lookup(name: str) -> tuple[str, re.Pattern[str]]:
    found = _LOOKUP.get(name)
    if found is None:
        key = name.lower() + ":"
        canonical = _USUAL.get(key) or "-".join(part.capitalize() for part in key.split("-"))
        # Explicit [Xx] classes, not IGNORECASE, keep the literal "\n" prefix that
        # lets the regex engine jump from newline to newline.
        letters = "".join(
            f"[{c.upper()}{c}]" if c.isalpha() and c.isascii() else re.escape(c) for c in key
        )
        found = (canonical, re.compile("\n" + letters))
        if len(_LOOKUP) < _MAX_KEYS:
            _LOOKUP[name] = found
    return found
