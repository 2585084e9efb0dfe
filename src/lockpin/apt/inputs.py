"""``apt.in``: the packages a user asks for, one per line (pure: text in, values out).

Each line is one request, in the spellings a user already knows:

* ``curl`` — the package, any version (the candidate apt would pick);
* ``libpq5 (>= 15)`` — a Debian relation (Policy 7.1) on one package;
* ``git=1:2.39.5-0+deb12u2`` — apt-get's ``name=version`` spelling of ``(= …)``;
* ``libc6:amd64`` / ``python3:any`` — an architecture qualifier, as in a relation.

``#`` starts a comment (whole line or after the request); blank lines are
ignored. Refused, naming ``FILE:LINE``: alternatives (``a | b``: apt-get installs
names, not choices: pick one), architecture lists (``[amd64]``), apt-get's
``name/suite`` spelling (the suite a version comes from is resolved from the
archive; pin the version instead), two requests of the same package, and
anything that is not a valid relation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ..errors import InputError
from .relation import Relation, RelationError, parse_relation
from .version import InvalidVersion, parse_version

__all__ = ["AptRequest", "parse_apt_in"]

#: apt-get's ``name=version`` (the version may hold ``:`` ``~`` ``+`` ``.`` ``-``).
_EQUALS: Final = re.compile(r"([^\s=(]+)\s*=\s*(\S+)")


@dataclass(frozen=True, slots=True)
class AptRequest:
    """One line of ``apt.in``: the :class:`Relation` asked for and where it stands."""

    relation: Relation
    line: int
    text: str


def parse_apt_in(text: str, *, filename: str = "apt.in") -> list[AptRequest]:
    """Every request of ``text`` in file order. Raises :class:`InputError` naming
    ``filename:line`` for a line that is not one package request."""
    requests: list[AptRequest] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.split("\n"), start=1):
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        location = f"{filename}:{number}"
        relation = _parse_line(body, location)
        if relation.name in seen:
            raise InputError(
                f"{relation.name} is requested twice (first at line {seen[relation.name]}); "
                "keep one line per package.",
                location=location,
            )
        seen[relation.name] = number
        requests.append(AptRequest(relation=relation, line=number, text=body))
    return requests


def _parse_line(body: str, location: str) -> Relation:
    if "|" in body:
        raise InputError(
            f"{body!r}: alternatives are not a request; apt-get installs packages, so "
            "name the one you want.",
            location=location,
        )
    if "[" in body or "<" in body.replace("<<", "").replace("<=", ""):
        raise InputError(
            f"{body!r}: architecture lists and build profiles belong to source "
            "relations; write the package name (with ':arch' to choose an architecture).",
            location=location,
        )
    if "," in body:
        raise InputError(
            f"{body!r}: one package per line; put each on its own line.", location=location
        )
    if "/" in body:
        raise InputError(
            f"{body!r}: 'name/suite' is not supported: lockpin takes each package from the "
            "highest version of all suites; pin the version instead ('name=VERSION').",
            location=location,
        )
    equals = _EQUALS.fullmatch(body)
    if equals is not None:
        name, version = equals.groups()
        try:
            parse_version(version)
        except InvalidVersion as exc:
            raise InputError(
                f"{body!r}: invalid version: {exc.reason}", location=location
            ) from None
        body = f"{name} (= {version})"
    try:
        return parse_relation(body)
    except RelationError as exc:
        raise InputError(
            f"{exc.text!r} is not a package request: {exc.reason}. Write 'name', "
            "'name (>= VERSION)' or 'name=VERSION'.",
            location=location,
        ) from None
