"""An archive's ``InRelease`` / ``Release`` file: the clearsigned envelope and the fields.

Pure: bytes and text in, values out. :func:`split_clearsigned` takes an
OpenPGP clearsigned message apart the way apt does (and refuses what apt
refuses: text before or after the signed part, unexpected dash lines), so that
what is parsed can be compared with what ``gpgv`` says it verified
(:mod:`lockpin.apt.gpg`). :func:`parse_release` reads the fields lockpin uses;
:func:`parse_release_date` reads dates in the formats apt accepts.

Errors are :class:`ReleaseError` (a ``ValueError``); the archive layer turns
them into :class:`~lockpin.errors.IntegrityError` /
:class:`~lockpin.errors.IndexResponseError` naming the URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .deb822 import Deb822Error, parse_stanza
from .models import DEFAULT_PIN_PRIORITY

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BUT_AUTOMATIC_UPGRADES_PRIORITY",
    "NOT_AUTOMATIC_PRIORITY",
    "ClearSigned",
    "IndexFile",
    "Release",
    "ReleaseError",
    "parse_release",
    "parse_release_date",
    "split_clearsigned",
]

#: apt's default pin priorities (apt_preferences(5)) besides 500: a ``NotAutomatic:
#: yes`` suite's versions get 1 (Debian's experimental), a ``ButAutomaticUpgrades:
#: yes`` one's 100 (backports), as much as an installed version.
NOT_AUTOMATIC_PRIORITY = 1
BUT_AUTOMATIC_UPGRADES_PRIORITY = 100

_BEGIN_MESSAGE = b"-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_SIGNATURE = b"-----BEGIN PGP SIGNATURE-----"
_END_SIGNATURE = b"-----END PGP SIGNATURE-----"

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_TIME = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: what apt's boolean fields accept as true
_TRUE = frozenset({"yes", "true", "with", "on", "enable", "1"})


class ReleaseError(ValueError):
    """An InRelease/Release file that is malformed, or not clearsigned as expected."""


@dataclass(frozen=True, slots=True)
class ClearSigned:
    """A clearsigned message taken apart.

    ``text`` is the signed text as ``gpgv --output`` writes it: dash-escaping
    removed, every line ending in ``\\n``. ``hashes`` are the ``Hash:`` armor
    header values; ``signature`` the armored signature block(s).
    """

    text: bytes
    hashes: tuple[str, ...]
    signature: bytes


def _lines(data: bytes) -> list[bytes]:
    # A trailing "\r" is part of the line ending (OpenPGP canonical text), not the line.
    return [line.removesuffix(b"\r") for line in data.split(b"\n")]


def split_clearsigned(data: bytes) -> ClearSigned:
    """Take an OpenPGP clearsigned message apart (RFC 4880 section 7).

    Refused, as apt refuses them: anything before the ``BEGIN PGP SIGNED
    MESSAGE`` line, an armor header starting with a dash, a line of the
    message starting with a dash that is not dash-escaped (``- ``), a message
    without a signature, a signature not closed, and anything but further
    signature blocks or blank lines after it (unsigned text there could be read
    as part of the file by a careless parser).
    """
    lines = _lines(data)
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines or lines[0] != _BEGIN_MESSAGE:
        if _BEGIN_MESSAGE in data:
            raise ReleaseError("text before the signed message; refusing unsigned content")
        raise ReleaseError("not a clearsigned message (no BEGIN PGP SIGNED MESSAGE line)")
    i = 1
    hashes: list[str] = []
    while True:
        if i >= len(lines):
            raise ReleaseError("the armor headers never end")
        line = lines[i]
        i += 1
        if line == b"":
            break
        if line.startswith(b"-"):
            raise ReleaseError("an armor header line starts with a dash")
        if line.startswith(b"Hash: "):
            hashes.append(line[6:].decode("ascii", "replace").strip())
    text: list[bytes] = []
    while True:
        if i >= len(lines):
            raise ReleaseError("the signed message has no signature")
        line = lines[i]
        i += 1
        if line == _BEGIN_SIGNATURE:
            break
        if line.startswith(b"- "):
            text.append(line[2:])
        elif line.startswith(b"-"):
            raise ReleaseError("a line of the signed message starts with an unescaped dash")
        else:
            text.append(line)
    signature = [_BEGIN_SIGNATURE]
    open_signature = True
    while i < len(lines):
        line = lines[i]
        i += 1
        if open_signature:
            if line == _END_SIGNATURE:
                open_signature = False
            elif line.startswith(b"-"):
                raise ReleaseError("an unexpected dash line inside the signature")
            signature.append(line)
        elif line == _BEGIN_SIGNATURE:
            open_signature = True
            signature.append(line)
        elif line.strip():
            raise ReleaseError("unsigned text after the signature; refusing it")
    if open_signature:
        raise ReleaseError("the signature block is not closed")
    body = b"".join(line + b"\n" for line in text)
    return ClearSigned(text=body, hashes=tuple(hashes), signature=b"\n".join(signature) + b"\n")


def parse_release_date(value: str) -> datetime:
    """A Release file's ``Date``/``Valid-Until`` as an aware UTC datetime.

    The formats apt accepts: RFC 1123 (``Sat, 11 Jul 2026 10:16:37 UTC``),
    RFC 850 (``Saturday, 11-Jul-26 10:16:37 GMT``) and C's ``asctime`` (``Sat
    Jul 11 10:16:37 2026``); the zone must be UTC (``UTC``, ``GMT``, ``Z`` or a
    zero offset such as ``+0000``), as apt requires.
    """
    tokens = value.split()
    if not tokens:
        raise ReleaseError("an empty date")
    weekday = tokens[0].lower()
    if weekday[:3] not in _WEEKDAYS:
        raise ReleaseError(f"date {value!r} does not start with a weekday")
    try:
        if len(weekday) == 4 and weekday.endswith(","):
            day_text, month_text, year_text, clock, zone = tokens[1:]
        elif len(weekday) == 3:
            month_text, day_text, clock, year_text = tokens[1:]
            zone = "UTC"
        elif len(weekday) > 4 and weekday.endswith(","):
            date_text, clock, zone = tokens[1:]
            day_text, month_text, short_year = date_text.split("-")
            year_text = str(1900 + int(short_year)) if short_year.isdigit() else "?"
        else:
            raise ReleaseError(f"date {value!r} is in no format apt accepts")
    except ValueError:
        raise ReleaseError(f"date {value!r} is in no format apt accepts") from None
    if zone not in {"UTC", "GMT", "Z"} and not re.fullmatch(r"[+-]?0+", zone):
        raise ReleaseError(f"date {value!r} is not in UTC")
    month = _MONTHS.get(month_text[:3].lower()) if len(month_text) >= 3 else None
    clock_match = _TIME.fullmatch(clock)
    if month is None or clock_match is None or not day_text.isdigit() or not year_text.isdigit():
        raise ReleaseError(f"date {value!r} is in no format apt accepts")
    hour, minute, second = (int(part) for part in clock_match.groups())
    try:
        return datetime(
            int(year_text), month, int(day_text), hour, minute, second, tzinfo=timezone.utc
        )
    except ValueError:
        raise ReleaseError(f"date {value!r} is not a real date") from None


@dataclass(frozen=True, slots=True)
class IndexFile:
    """One file the Release vouches for: its path below ``dists/<suite>/``,
    sha256 and size."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Release:
    """The fields of a Release file lockpin uses. ``date`` and ``valid_until``
    are kept as written (for the lock's evidence); ``files`` holds the
    ``SHA256`` list by path."""

    origin: str = ""
    label: str = ""
    suite: str = ""
    codename: str = ""
    version: str = ""
    date: str = ""
    valid_until: str | None = None
    architectures: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    acquire_by_hash: bool = False
    no_support_for_architecture_all: tuple[str, ...] = ()
    files: Mapping[str, IndexFile] = field(default_factory=dict)
    not_automatic: bool = False
    but_automatic_upgrades: bool = False

    @property
    def pin_priority(self) -> int:
        """The pin priority apt gives this suite's versions by default
        (``policy.cc`` ``InitDefaults``): 100 for ``ButAutomaticUpgrades: yes``
        (backports says ``NotAutomatic: yes`` too; apt 2.6 gives 100 to the
        flag alone as well, as the real apt-get shows), else 1 for
        ``NotAutomatic: yes`` (experimental), else 500."""
        if self.but_automatic_upgrades:
            return BUT_AUTOMATIC_UPGRADES_PRIORITY
        if self.not_automatic:
            return NOT_AUTOMATIC_PRIORITY
        return DEFAULT_PIN_PRIORITY

    @property
    def date_time(self) -> datetime | None:
        return parse_release_date(self.date) if self.date else None

    @property
    def valid_until_time(self) -> datetime | None:
        return parse_release_date(self.valid_until) if self.valid_until else None

    def names_suite(self, suite: str) -> bool:
        """Whether this Release is for ``suite`` (by its ``Suite`` or ``Codename``;
        ``buster/updates`` is buster's). A Release of another suite served in
        its place (a replayed, validly signed one) is refused by the caller."""
        wanted = {suite, suite.split("/", 1)[0]}
        return bool(wanted & {self.suite, self.codename})

    def supports_architecture(self, arch: str) -> bool:
        """apt's rule: a Release without ``Architectures`` supports every one."""
        return not self.architectures or arch in self.architectures

    def has_component(self, component: str) -> bool:
        """Whether ``Components`` lists ``component`` (``updates/main`` counts as
        ``main``, as on Debian's security archive); no list means yes."""
        if not self.components:
            return True
        return any(c == component or c.rsplit("/", 1)[-1] == component for c in self.components)

    @property
    def wants_binary_all(self) -> bool:
        """apt's rule for ``binary-all/Packages``: fetched when ``all`` is a
        supported architecture and ``No-Support-for-Architecture-all`` does not
        name ``Packages`` (Debian's does: its arch-all packages are listed in
        every ``binary-<arch>/Packages`` as well)."""
        return self.supports_architecture("all") and (
            "Packages" not in self.no_support_for_architecture_all
        )

    def packages_files(self, component: str, arch: str) -> list[IndexFile]:
        """The listed ``Packages`` files of ``component``/``binary-arch``, in the
        order to try: ``.xz``, ``.gz``, then uncompressed."""
        stem = f"{component}/binary-{arch}/Packages"
        return [self.files[p] for p in (stem + ".xz", stem + ".gz", stem) if p in self.files]


def _hash_list(value: str) -> dict[str, IndexFile]:
    files: dict[str, IndexFile] = {}
    for raw in value.splitlines():
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit():
            raise ReleaseError(f"a malformed SHA256 line: {line[:120]!r}")
        digest, size, path = parts
        digest = digest.lower()
        if not _SHA256.fullmatch(digest):
            raise ReleaseError(f"a malformed sha256 in the SHA256 line: {line[:120]!r}")
        # apt keeps the first entry of a path listed twice.
        files.setdefault(path, IndexFile(path=path, sha256=digest, size=int(size)))
    return files


def parse_release(text: str) -> Release:
    """The fields of a Release file (the signed text of an InRelease).

    A Release without a ``SHA256`` list is refused (apt refuses a Release with
    no hash strong enough for security), as is a ``Date`` or ``Valid-Until``
    that does not parse.
    """
    try:
        fields = parse_stanza(text)
    except Deb822Error as exc:
        raise ReleaseError(f"the Release does not parse: {exc}") from exc
    if "sha256" not in fields:
        raise ReleaseError("the Release lists no SHA256 sums; apt refuses it as unverifiable")
    date = fields.get("date", "").strip()
    valid_until = fields.get("valid-until", "").strip() or None
    for value in (date, valid_until):
        if value:
            parse_release_date(value)
    return Release(
        origin=fields.get("origin", "").strip(),
        label=fields.get("label", "").strip(),
        suite=fields.get("suite", "").strip(),
        codename=fields.get("codename", "").strip(),
        version=fields.get("version", "").strip(),
        date=date,
        valid_until=valid_until,
        architectures=tuple(fields.get("architectures", "").split()),
        components=tuple(fields.get("components", "").split()),
        acquire_by_hash=_flag(fields, "acquire-by-hash"),
        no_support_for_architecture_all=tuple(
            fields.get("no-support-for-architecture-all", "").split()
        ),
        files=_hash_list(fields["sha256"]),
        not_automatic=_flag(fields, "notautomatic"),
        but_automatic_upgrades=_flag(fields, "butautomaticupgrades"),
    )


def _flag(fields: Mapping[str, str], key: str) -> bool:
    """A boolean field as apt's ``StringToBool`` reads it; anything else is false."""
    return fields.get(key, "").strip().lower() in _TRUE
