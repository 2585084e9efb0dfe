"""The cached form of a verified ``Packages`` index: its text and a compact
index of where each package's stanzas are.

Parsing the ~63,000 stanzas of Debian's main/amd64 index takes seconds; a
resolver looks at a few hundred. So the verified, decompressed text is kept as
it is, and next to it a small index (:func:`index_packages`): for each package
name, and for each name a package ``Provides``, the byte offsets of the
stanzas that may hold it. A later run loads both (tens of milliseconds) and
parses only the stanzas the resolver asks for.

The index is a candidate filter, never the truth: the caller parses each
stanza it points at and keeps only those that really name (or provide) what
was asked, so an index that lists too much costs time, not correctness.

Format (:func:`pack_index`): the magic ``LPAI``, a format version and the
sha256 of the rest, a marshalled tuple recording the sha256 and size of the
text it indexes and the two maps. A
blob of another version, of other text or that does not decode is refused
(:class:`PackedError`); the caller rebuilds it from the text, whose sha256 the
Release vouches for.

Pure: bytes in, bytes and values out.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "FORMAT_VERSION",
    "PackagesIndex",
    "PackedError",
    "index_packages",
    "pack_index",
    "sha256_hex",
    "stanza_offsets",
    "unpack_index",
]

#: Bump when the index's meaning or layout changes: older blobs are then rebuilt.
FORMAT_VERSION = 1
_MAGIC = b"LPAI"

#: A paragraph separator: an empty line, or one of only spaces and tabs (which
#: deb822 parsers may accept as one).
_SEPARATOR = re.compile(rb"\n(?:[ \t]*\n)+")
#: a line of only spaces and tabs (the slow path then)
_BLANKISH = re.compile(rb"\n[ \t]+\n")
_NAME = re.compile(rb"[^\s,()|:\[\]<>]+")
#: ``Essential: yes`` or ``Priority: required`` (on lower-cased text), at a line start.
_REQUIRED = re.compile(
    rb"\n(?:priority[ \t]*:[ \t]*required|essential[ \t]*:[ \t]*yes)[ \t]*(?=\n|\Z)"
)


class PackedError(ValueError):
    """A packed index that cannot be used (corrupt, another version, other text)."""


@dataclass(frozen=True, slots=True)
class PackagesIndex:
    """Where stanzas are: ``names`` maps a ``Package`` name, ``provides`` a
    name some stanza's ``Provides`` lists, to flat ``(start, end, start, end,
    ...)`` byte offsets into the text (``end`` exclusive). ``required`` lists
    (sorted) the names with a stanza saying ``Essential: yes`` or ``Priority:
    required``: the default base is built from them without parsing every
    stanza."""

    names: dict[str, tuple[int, ...]] = field(default_factory=dict)
    provides: dict[str, tuple[int, ...]] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    @staticmethod
    def spans(offsets: tuple[int, ...]) -> Iterator[tuple[int, int]]:
        """The ``(start, end)`` pairs of a flat offsets tuple."""
        for i in range(0, len(offsets) - 1, 2):
            yield offsets[i], offsets[i + 1]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stanza_offsets(text: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of every stanza of a deb822 text (``end`` exclusive,
    the stanza's last newline included), skipping blank ones: the stanzas of
    :func:`lockpin.apt.deb822.stanza_spans`, on bytes."""
    spans: list[tuple[int, int]] = []
    start = 0
    if text[:1] not in (b" ", b"\t") and _BLANKISH.search(text) is None:
        # The usual case (an index): separators are runs of "\n"; str.find is fast.
        find = text.find
        length = len(text)
        while start < length and text[start] == 10:  # leading newlines
            start += 1
        while start < length:
            cut = find(b"\n\n", start)
            if cut < 0:
                if text[start:].strip():
                    spans.append((start, length))
                break
            spans.append((start, cut + 1))
            start = cut + 2
            while start < length and text[start] == 10:
                start += 1
        return spans
    for match in _SEPARATOR.finditer(text):
        end = match.start() + 1
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def _field_values(text: bytes, lowered: bytes, name: bytes) -> Iterator[tuple[int, bytes]]:
    """``(position, value)`` of every ``name:`` field (case-insensitive; ``name``
    lower-case), continuation lines included."""
    pos = 0 if lowered.startswith(name) else lowered.find(b"\n" + name)
    while pos != -1:
        begin = pos if pos == 0 and lowered.startswith(name) else pos + 1
        after = begin + len(name)
        while after < len(text) and text[after] in b" \t":
            after += 1
        if after < len(text) and text[after : after + 1] == b":":
            end = text.find(b"\n", after)
            while end != -1 and text[end + 1 : end + 2] in (b" ", b"\t") and end + 1 < len(text):
                end = text.find(b"\n", end + 1)
            if end == -1:
                end = len(text)
            yield begin, text[after + 1 : end]
        pos = lowered.find(b"\n" + name, begin + 1)


def index_packages(text: bytes) -> PackagesIndex:
    """Index a ``Packages`` text by package name and by provided name.

    Works on bytes without decoding (field names are ASCII; names are taken as
    written), one pass per field over a lower-cased copy: ~0.3 s for Debian's
    main/amd64, where parsing every stanza would take seconds.
    """
    spans = stanza_offsets(text)
    starts = [s for s, _ in spans]
    lowered = text.lower()
    names: dict[str, list[int]] = {}
    provides: dict[str, list[int]] = {}
    name_at: dict[int, str] = {}

    def stanza_at(position: int) -> tuple[int, int] | None:
        i = bisect.bisect_right(starts, position) - 1
        if i < 0:
            return None
        start, end = spans[i]
        return (start, end) if position < end else None

    def add_name(span: tuple[int, int], value: bytes) -> None:
        name = value.strip()
        if name and span[0] not in name_at:
            text_name = name.decode("utf-8", "replace")
            names.setdefault(text_name, []).extend(span)
            name_at[span[0]] = text_name

    # Indexes put Package first: read it there; any other place is searched for.
    find = text.find
    others = False
    for span in spans:
        start, end = span
        if lowered.startswith(b"package:", start):
            stop = find(b"\n", start, end)
            if stop < 0 or text[stop + 1 : stop + 2] in (b" ", b"\t"):
                others = True  # a folded value: the generic path reads it
            else:
                add_name(span, text[start + 8 : stop])
        else:
            others = True
    if others:
        for position, value in _field_values(text, lowered, b"package"):
            found = stanza_at(position)
            if found is not None:
                add_name(found, value)
        # The generic path appended out of file order: keep each list sorted.
        for name, offsets in names.items():
            pairs = sorted(zip(offsets[::2], offsets[1::2], strict=True))
            names[name] = [o for pair in pairs for o in pair]
    required: set[str] = set()
    # One regex pass for the few such fields, not a Python loop over every Priority.
    for match in _REQUIRED.finditer(b"\n" + lowered):
        hit = stanza_at(match.start())  # the "\n" prepended shifts offsets by one
        if hit is not None and hit[0] in name_at:
            required.add(name_at[hit[0]])
    for position, value in _field_values(text, lowered, b"provides"):
        where = stanza_at(position)
        if where is None:
            continue
        for item in value.split(b","):
            provided = _NAME.search(item)
            if provided is not None:
                offsets = provides.setdefault(provided[0].decode("utf-8", "replace"), [])
                if offsets[-2:] != list(where):
                    offsets.extend(where)
    return PackagesIndex(
        names={k: tuple(v) for k, v in names.items()},
        provides={k: tuple(v) for k, v in provides.items()},
        required=tuple(sorted(required)),
    )


def pack_index(index: PackagesIndex, *, sha256: str, size: int) -> bytes:
    """Serialize ``index`` of the text whose sha256 and size are given."""
    import marshal

    payload = marshal.dumps(
        (FORMAT_VERSION, sha256, size, index.names, index.provides, index.required)
    )
    # The payload's own digest: a flipped bit in the cache never yields wrong offsets.
    return _MAGIC + FORMAT_VERSION.to_bytes(2, "big") + hashlib.sha256(payload).digest() + payload


def unpack_index(data: bytes, *, sha256: str, size: int) -> PackagesIndex:
    """Read back a :func:`pack_index` blob; :class:`PackedError` unless it is of
    this format version, intact, and indexes exactly the text with
    ``sha256``/``size``."""
    import marshal

    if data[:4] != _MAGIC or int.from_bytes(data[4:6], "big") != FORMAT_VERSION:
        raise PackedError("not a packed index of this version")
    payload = data[38:]
    if hashlib.sha256(payload).digest() != data[6:38]:
        raise PackedError("the packed index is corrupt")
    try:
        version, digest, length, names, provides, required = marshal.loads(payload)
    except (EOFError, ValueError, TypeError) as exc:
        raise PackedError(f"the packed index does not decode: {exc}") from exc
    if version != FORMAT_VERSION or digest != sha256 or length != size:
        raise PackedError("the packed index is of other text")
    if not (isinstance(names, dict) and isinstance(provides, dict) and isinstance(required, tuple)):
        raise PackedError("the packed index is malformed")
    return PackagesIndex(names=names, provides=provides, required=required)
