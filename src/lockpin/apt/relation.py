"""Debian package relations (Debian Policy 7.1): ``Depends: a (>= 1) | b:any, c``.

Pure and fast: a ``Packages`` index holds ~60k relation fields, many with the same
text, so fields and single alternatives are parsed by one compiled regex each and
memoised (:func:`functools.lru_cache`); the values are immutable and shared.

Syntax accepted (binary and source relation fields alike): groups separated by
``,``, alternatives by ``|``; each alternative is
``name[:archqual] [(op version)] [[arch ...]] [<profile ...> ...]``, whitespace
(newlines too) allowed between the parts and inside the brackets. ``<`` and ``>``
become ``<=`` and ``>=``. Names follow Policy 5.6.1 (``[a-z0-9][a-z0-9+.-]+``),
versions must be valid (:mod:`lockpin.apt.version`). Empty groups (a trailing
comma, ``a, , b``) are skipped, as dpkg-dev does; an empty alternative
(``a | | b``) is an error. Build profiles (``<!nocheck>``) are checked and dropped:
:class:`Relation` has no place for them and binary indexes never hold them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final, Literal, cast

from .._text import clip
from .version import InvalidVersion, version_key

__all__ = [
    "Operator",
    "Relation",
    "RelationError",
    "Relations",
    "format_relations",
    "parse_provides",
    "parse_relation",
    "parse_relations",
]

#: Debian's relation operators (``<`` and ``>`` are the deprecated spellings of
#: ``<=`` and ``>=``; the parser maps them).
Operator = Literal["<<", "<=", "=", ">=", ">>"]


@dataclass(frozen=True, slots=True)
class Relation:
    """One alternative of a relation: ``name[:archqual] [(op version)] [[arches]] [<profiles>]``.

    ``arch_qualifier`` is what follows ``:`` (``any``, ``native``, ``amd64``) or
    ``None``. ``arches`` holds an architecture restriction list (``[amd64 !i386]``),
    found in source relations only; binary ``Packages`` fields carry none.
    """

    name: str
    op: Operator | None = None
    version: str | None = None
    arch_qualifier: str | None = None
    arches: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = self.name
        if self.arch_qualifier:
            text += f":{self.arch_qualifier}"
        if self.op is not None:
            text += f" ({self.op} {self.version})"
        if self.arches:
            text += f" [{' '.join(self.arches)}]"
        return text


#: A relation field: an AND of OR-groups (``a | b, c`` → ``((a, b), (c,))``).
Relations = tuple[tuple[Relation, ...], ...]


class RelationError(ValueError):
    """A relation field that does not parse. ``text`` is the part refused (one
    alternative, or the whole field), ``reason`` says what is wrong."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid relation {clip(text, 80)!r}: {clip(reason, 300)}")


_ALTERNATIVE: Final = re.compile(
    r"""\s*
    (?P<name>[a-z0-9][a-z0-9+.-]+)
    (?::(?P<arch>[a-z0-9][a-z0-9-]*))?
    \s*
    (?:\(\s*(?P<op><<|<=|>=|>>|=|<|>)\s*(?P<version>[^\s()<=>][^\s()]*)\s*\)\s*)?
    (?:\[(?P<arches>[^\]]*)\]\s*)?
    (?P<profiles>(?:<[^<>]*>\s*)*)
    """,
    re.VERBOSE,
)
_ARCH_TERM: Final = re.compile(r"!?[a-z0-9][a-z0-9-]*")
_PROFILE_TERM: Final = re.compile(r"!?[a-z0-9][a-z0-9.+-]*")
_PROFILE_GROUP: Final = re.compile(r"<([^<>]*)>")
_DEPRECATED: Final = {"<": "<=", ">": ">="}


def parse_relation(text: str) -> Relation:
    """One alternative (``libc6 (>= 2.36)``, ``python3:any``) as a :class:`Relation`."""
    relation = _ALTERNATIVES.get(text)
    if relation is None:
        relation = _parse_alternative(text)
        if len(_ALTERNATIVES) < _CACHE_SIZE:
            _ALTERNATIVES[text] = relation
    return relation


#: alternative text -> its Relation. A plain dict, not lru_cache: ~400k look-ups per
#: ``Packages`` file, most of them hits, and a dict look-up costs least. Bounded:
#: once full it stops growing (hostile input cannot make it grow without limit).
_ALTERNATIVES: dict[str, Relation] = {}
_CACHE_SIZE: Final = 1 << 17


def _parse_alternative(text: str) -> Relation:
    match = _ALTERNATIVE.fullmatch(text)
    if match is None:
        raise RelationError(text.strip(), _why(text))
    name, arch, op, version, arches, profiles = match.groups()
    if version is not None:
        try:
            version_key(version)
        except InvalidVersion as exc:
            raise RelationError(text.strip(), exc.reason + f" (version {version!r})") from None
        op = _DEPRECATED.get(op, op)
    arch_list: tuple[str, ...] = ()
    if arches is not None:
        arch_list = tuple(arches.split())
        if not arch_list:
            raise RelationError(text.strip(), "empty architecture list '[]'")
        for term in arch_list:
            if _ARCH_TERM.fullmatch(term) is None:
                raise RelationError(text.strip(), f"invalid architecture {term!r} in [...]")
    if profiles:
        for group in _PROFILE_GROUP.findall(profiles):
            terms = group.split()
            if not terms:
                raise RelationError(text.strip(), "empty build profile list '<>'")
            for term in terms:
                if _PROFILE_TERM.fullmatch(term) is None:
                    raise RelationError(text.strip(), f"invalid build profile {term!r}")
    return Relation(name, cast("Operator | None", op), version, arch, arch_list)


def _why(text: str) -> str:
    """A reason for an alternative the regex refused: the likeliest mistake first."""
    stripped = text.strip()
    if not stripped:
        return "empty alternative (nothing between '|' separators)"
    head = re.match(r"[^\s(\[<:,|]*", stripped)
    name = head.group(0) if head else ""
    if not name:
        return "no package name"
    if re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name) is None:
        return (
            f"invalid package name {name!r}: lower-case letters, digits and + - . only, "
            "starting with a letter or digit, at least two characters"
        )
    if "(" in stripped:
        return "expected a version restriction like '(>= 1.0)' with one of << <= = >= >>"
    return "unexpected text after the package name"


@functools.lru_cache(maxsize=65536)
def parse_relations(text: str) -> Relations:
    """A relation field (``Depends``, ``Pre-Depends``, ``Recommends``, ``Conflicts``,
    ``Breaks``...) as AND of OR-groups; ``()`` for an empty field."""
    groups: list[tuple[Relation, ...]] = []
    cache = _ALTERNATIVES
    for group in text.split(","):
        alternatives = group.split("|")
        relations: list[Relation] = []
        for alternative in alternatives:
            relation = cache.get(alternative)
            if relation is None:
                if not alternative.strip():
                    if len(alternatives) == 1:
                        break  # an empty group: a trailing or doubled comma
                    raise RelationError(group.strip(), "empty alternative (nothing around '|')")
                relation = parse_relation(alternative)
            relations.append(relation)
        else:
            groups.append(tuple(relations))
    return tuple(groups)


@functools.lru_cache(maxsize=16384)
def parse_provides(text: str) -> tuple[Relation, ...]:
    """A ``Provides`` field: a comma list of names, each with an optional ``(= version)``
    (no alternatives, other operators, architecture qualifiers or lists)."""
    provided: list[Relation] = []
    for item in text.split(","):
        if not item.strip():
            continue
        if "|" in item:
            raise RelationError(item.strip(), "Provides takes no alternatives ('|')")
        relation = parse_relation(item)
        if relation.op not in (None, "="):
            raise RelationError(item.strip(), "Provides allows only '(= version)'")
        if relation.arch_qualifier is not None or relation.arches:
            raise RelationError(item.strip(), "Provides takes no architecture qualifier or list")
        provided.append(relation)
    return tuple(provided)


def format_relations(rels: Relations) -> str:
    """``rels`` written as a relation field: ``a (>= 1) | b, c``."""
    return ", ".join(" | ".join(str(alt) for alt in group) for group in rels)
