"""Debian package versions (Debian Policy 5.6.12), compared exactly as
``dpkg --compare-versions`` compares them.

Pure. A version is ``[epoch:]upstream[-revision]``: the epoch is a number
(``0`` when absent); the revision is what follows the *last* hyphen (``""`` when
absent, which compares like ``0``). Upstream and revision compare piece by piece:
a run of non-digits, character by character, where ``~`` sorts before everything
(even the end of the string), the end before anything else, letters before
non-letters; then a run of digits, numerically (``1.00`` equals ``1.0``).

Validation, decided against dpkg 1.21's ``dpkg --validate-version``: lockpin
accepts exactly what it accepts, with one exception. dpkg refuses as an error an
empty version, embedded blanks, an empty, non-numeric, negative or too big
(> 2**31 - 1) epoch, nothing after the colon, an empty revision or upstream; and
``--validate-version`` also fails on what dpkg otherwise only warns about (an
upstream not starting with a digit, a character outside ``A-Za-z0-9.+~-:`` in
upstream or ``A-Za-z0-9.+~`` in the revision): dpkg-deb refuses to build such a
package, so no archive holds one, and a version lockpin writes into a lock must be
one ``apt-get install name=version`` accepts. The colon that ends the epoch is the
*first* one, so upstream holds a ``:`` only when there is an epoch. The exception:
dpkg reads the epoch with ``strtol``, which also takes a sign and leading
whitespace (``+1:2``, ``-0:2``, ``"\\n1:2"``); apt compares epochs as digit strings
and orders those differently, so lockpin refuses any epoch that is not plain
ASCII digits. Leading and trailing blanks (spaces and tabs, dpkg's
``c_isblank``) are stripped as dpkg strips them; any other whitespace is refused
(dpkg calls it an invalid character).

Equality is dpkg's: ``1.0``, ``0:1.0``, ``1.0-0`` and ``1.00`` are equal
:class:`DebVersion` values with the same hash, although ``str()`` gives back
each one's own text. Compare the text when the spelling matters (a lock pins
the archive's exact string).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from .._text import clip

__all__ = [
    "OPERATORS",
    "DebVersion",
    "InvalidVersion",
    "VersionKey",
    "compare_versions",
    "parse_version",
    "satisfies",
    "version_key",
]

#: A comparison key: ``(epoch, upstream key, revision key)``; Python's tuple order on
#: it is dpkg's order on versions (see :func:`version_key`).
VersionKey: TypeAlias = "tuple[int, tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]"

#: The relation operators :func:`satisfies` takes; ``<`` and ``>`` are the deprecated
#: spellings of ``<=`` and ``>=`` (Policy 7.1).
OPERATORS: Final = frozenset({"<<", "<=", "=", ">=", ">>", "<", ">"})

_MAX_EPOCH: Final = 2**31 - 1  # dpkg keeps the epoch in an int
_UPSTREAM: Final = re.compile(r"[0-9][A-Za-z0-9.+~:-]*")
_REVISION: Final = re.compile(r"[A-Za-z0-9.+~]+")
# Alternating runs: non-digits (possibly empty), then digits (possibly empty).
_PIECE: Final = re.compile(r"([^0-9]*)([0-9]*)")
_SPACE: Final = re.compile(r"\s")
_BLANKS: Final = " \t"
# Python refuses int() of a longer digit string (CVE-2020-10735's limit, 4300):
# longer runs compare as a list of chunks of this many digits.
_CHUNK: Final = 4000


class InvalidVersion(ValueError):
    """Not a Debian version. ``version`` is the text refused, ``reason`` why."""

    def __init__(self, version: str, reason: str) -> None:
        self.version = version
        self.reason = reason
        super().__init__(f"invalid Debian version {clip(version, 80)!r}: {reason}")


@dataclass(frozen=True, slots=True, eq=False)
class DebVersion:
    """A parsed version. Equality, hashing and order follow dpkg (module docstring);
    ``str()`` is the text it was parsed from (stripped)."""

    epoch: int
    upstream: str
    revision: str
    text: str = field(default="", repr=False)

    @property
    def key(self) -> VersionKey:
        return (self.epoch, _string_key(self.upstream), _string_key(self.revision))

    def __str__(self) -> str:
        if self.text:
            return self.text
        text = f"{self.epoch}:{self.upstream}" if self.epoch else self.upstream
        return f"{text}-{self.revision}" if self.revision else text

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DebVersion):
            return NotImplemented
        return self.key == other.key

    def __lt__(self, other: DebVersion) -> bool:
        return self.key < other.key

    def __le__(self, other: DebVersion) -> bool:
        return self.key <= other.key

    def __gt__(self, other: DebVersion) -> bool:
        return self.key > other.key

    def __ge__(self, other: DebVersion) -> bool:
        return self.key >= other.key


def parse_version(text: str) -> DebVersion:
    """``text`` as a :class:`DebVersion`; :class:`InvalidVersion` when dpkg would
    refuse it or warn about it (module docstring)."""
    return _parse(text)


@functools.lru_cache(maxsize=65536)
def _parse(text: str) -> DebVersion:
    stripped = text.strip(_BLANKS)
    if not stripped:
        raise InvalidVersion(text, "it is empty")
    if _SPACE.search(stripped):
        raise InvalidVersion(text, "it contains whitespace")
    epoch = 0
    rest = stripped
    head, colon, tail = stripped.partition(":")
    if colon:
        if not head:
            raise InvalidVersion(text, "the epoch before ':' is empty")
        if not (head.isascii() and head.isdigit()):
            raise InvalidVersion(text, f"the epoch {clip(head, 80)!r} is not a number")
        significant = head.lstrip("0")
        # the length test first: int() of thousands of digits is refused by Python
        epoch = int(significant or "0") if len(significant) <= 10 else _MAX_EPOCH + 1
        if epoch > _MAX_EPOCH:
            raise InvalidVersion(text, f"the epoch {clip(head, 80)} is too big")
        if not tail:
            raise InvalidVersion(text, "nothing follows the epoch's ':'")
        rest = tail
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise InvalidVersion(text, "the revision after the last '-' is empty")
    if not upstream:
        raise InvalidVersion(text, "the upstream version is empty")
    if not upstream[0].isascii() or not upstream[0].isdigit():
        raise InvalidVersion(text, "the upstream version must start with a digit")
    if _UPSTREAM.fullmatch(upstream) is None:
        raise InvalidVersion(
            text, "the upstream version may hold only letters, digits and . + ~ - :"
        )
    if revision and _REVISION.fullmatch(revision) is None:
        raise InvalidVersion(text, "the revision may hold only letters, digits and . + ~")
    return DebVersion(epoch, upstream, revision, stripped)


def _order(char: str) -> int:
    """dpkg's weight of one non-digit character: ``~`` lowest, then the end of the
    string (0), letters, everything else."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


@functools.lru_cache(maxsize=65536)
def _string_key(text: str) -> tuple[tuple[int, ...], ...]:
    """The key of an upstream or revision string.

    Each piece (non-digit run, digit run) becomes one tuple: the weights of the
    non-digits, a 0 for the end of the run, then the number as its count of
    significant digits and its value (leading zeros do not count; a run longer
    than Python's int() limit gives its value as several chunks, the same number
    of them for the same count). A 0 weight appears only as that end marker, so
    two pieces compare as dpkg compares them. A final ``(0,)`` stands for a
    string that has ended: dpkg goes on comparing it as empty pieces, and an
    empty piece ``(0, 0, 0)`` against any later piece (whose non-digit run is not
    empty, so its first weight is not 0) is decided by that first weight, as
    ``(0,)`` is. The first piece always exists, so ``""`` is ``((0, 0, 0), (0,))``,
    the same as ``"0"``.
    """
    pieces: list[tuple[int, ...]] = []
    for non_digits, digits in _PIECE.findall(text):
        if not non_digits and not digits:
            continue  # findall's empty match at the end
        number = digits.lstrip("0")
        if len(number) <= _CHUNK:
            value: tuple[int, ...] = (len(number), int(number or "0"))
        else:
            value = (
                len(number),
                *(int(number[i : i + _CHUNK]) for i in range(0, len(number), _CHUNK)),
            )
        pieces.append((*map(_order, non_digits), 0, *value))
    if not pieces:
        pieces.append((0, 0, 0))
    pieces.append((0,))
    return tuple(pieces)


@functools.lru_cache(maxsize=65536)
def version_key(text: str) -> VersionKey:
    """A sort key for ``text`` (``sorted(versions, key=version_key)``): keys compare
    as dpkg compares the versions. :class:`InvalidVersion` for an invalid one."""
    return _parse(text).key


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b`` (dpkg's order)."""
    key_a = version_key(a)
    key_b = version_key(b)
    return (key_a > key_b) - (key_a < key_b)


def satisfies(version: str, op: str, wanted: str) -> bool:
    """Whether ``version`` satisfies the relation ``(op wanted)``: ``<<``, ``<=``,
    ``=``, ``>=``, ``>>``, and the deprecated ``<``/``>`` meaning ``<=``/``>=``."""
    cmp = compare_versions(version, wanted)
    if op in ("<=", "<"):
        return cmp <= 0
    if op in (">=", ">"):
        return cmp >= 0
    if op == "=":
        return cmp == 0
    if op == "<<":
        return cmp < 0
    if op == ">>":
        return cmp > 0
    raise ValueError(f"unknown relation operator {op!r}; use one of << <= = >= >>")
