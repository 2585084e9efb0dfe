"""The release log: what shipped, one JSON object per line (``releases.jsonl``).

A :class:`Record` says which image a version is (name, digest, platforms), the
base digests its Dockerfile pins, the sha256 of the Dockerfile and of each lock
it installs, and those locks' pins (name -> version) so that two releases can
be compared (:func:`diff_records`) without the files at hand.

A Dockerfile whose ``lockpin dockerfile check`` fails (an error-severity finding
of :func:`~lockpin.image.check.check`, build context: the Dockerfile's directory
unless given) is refused, naming ``FILE:LINE`` and the rule of each; with
``allow_unpinned`` it is recorded, with ``allow_unpinned: true`` and those
findings in ``unpinned`` (a Dockerfile that passes records ``false``, flag or not).

The log is JSON Lines: one canonical object per line (sorted keys, no spaces,
UTF-8). :func:`read_log` names ``FILE:LINE`` for a line that does not parse.

Atomicity: :func:`append_record` opens the log with ``O_APPEND``, checks that
it ends with a newline (else it refuses: a torn or hand-edited last line must
be fixed first), writes the complete line with one ``write()`` and
``fsync`` s. A killed writer leaves either no new line or the whole line; the
log is never rewritten, so earlier records cannot be lost. (Two concurrent
writers can both pass the duplicate check: run one release at a time.)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, LockpinError
from .buildmeta import parse_build_output
from .check import DirectoryContext, Finding, check
from .digest import is_digest
from .dockerfile import Dockerfile, from_images, parse

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from .check import Severity

__all__ = [
    "LockFile",
    "Record",
    "RecordDiff",
    "Unpinned",
    "append_record",
    "build_record",
    "diff_records",
    "find_record",
    "read_log",
    "record_add",
    "record_diff",
    "record_show",
    "unpinned_bases",
]


class RecordError(LockpinError):
    """The release log refuses a record (duplicate version, a failing check)."""


@dataclass(frozen=True, slots=True)
class Unpinned:
    """An error finding of the check, kept in a record made with ``allow_unpinned``:
    its ``rule``, ``line`` (in the record's Dockerfile) and ``message``."""

    rule: str
    line: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "line": self.line, "message": self.message}


@dataclass(frozen=True, slots=True)
class LockFile:
    """A lock the image installs: ``path`` (as given, relative to the
    Dockerfile's directory when found through ``COPY``), ``kind``
    (``requirements`` or ``apt``), ``sha256`` of its bytes, ``pins``."""

    path: str
    kind: str
    sha256: str
    pins: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "sha256": self.sha256,
            "pins": dict(self.pins),
        }


@dataclass(frozen=True, slots=True)
class Record:
    """One release (see the module docstring). ``time`` is UTC, RFC 3339."""

    version: str
    time: str
    image_names: tuple[str, ...]
    digest: str
    platforms: tuple[str, ...]
    bases: tuple[str, ...]
    dockerfile: str
    dockerfile_sha256: str
    locks: tuple[LockFile, ...]
    lockpin_version: str
    allow_unpinned: bool = False
    unpinned: tuple[Unpinned, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "time": self.time,
            "image": {"names": list(self.image_names), "digest": self.digest},
            "platforms": list(self.platforms),
            "bases": list(self.bases),
            "dockerfile": {"path": self.dockerfile, "sha256": self.dockerfile_sha256},
            "locks": [lock.to_dict() for lock in self.locks],
            "lockpin_version": self.lockpin_version,
            "allow_unpinned": self.allow_unpinned,
            "unpinned": [u.to_dict() for u in self.unpinned],
        }

    def to_line(self) -> str:
        """The canonical JSON Lines line (with its newline)."""
        return (
            json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            + "\n"
        )

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Record:
        """The record of one parsed line; ``KeyError``/``TypeError``/``ValueError`` if malformed."""
        image = obj["image"]
        dockerfile = obj["dockerfile"]
        locks = tuple(
            LockFile(
                path=str(lock["path"]),
                kind=str(lock["kind"]),
                sha256=str(lock["sha256"]),
                pins={str(k): str(v) for k, v in dict(lock.get("pins", {})).items()},
            )
            for lock in obj.get("locks", [])
        )
        version = obj["version"]
        if not isinstance(version, str) or not version:
            raise ValueError("version must be a non-empty string")
        return cls(
            version=version,
            time=str(obj["time"]),
            image_names=tuple(str(n) for n in image.get("names", [])),
            digest=str(image["digest"]),
            platforms=tuple(str(p) for p in obj.get("platforms", [])),
            bases=tuple(str(b) for b in obj.get("bases", [])),
            dockerfile=str(dockerfile["path"]),
            dockerfile_sha256=str(dockerfile["sha256"]),
            locks=locks,
            lockpin_version=str(obj.get("lockpin_version", "")),
            allow_unpinned=bool(obj.get("allow_unpinned", False)),
            unpinned=tuple(
                Unpinned(rule=str(u["rule"]), line=int(u["line"]), message=str(u["message"]))
                for u in obj.get("unpinned", [])
            ),
        )


def read_log(path: Path) -> tuple[Record, ...]:
    """Every record of the log, in order (none if the file does not exist)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ()
    except OSError as exc:  # a directory, no permission: the user's path, not a bug
        raise InputError(
            f"cannot read the release log: {exc.strerror or exc}; name a log file with --log",
            location=str(path),
        ) from None
    records: list[Record] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            records.append(Record.from_dict(obj))
        # RecursionError: a JSON nesting bomb; OverflowError: "line": 1e999 (inf)
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            RecursionError,
            OverflowError,
        ) as exc:
            raise InputError(
                f"corrupt release record ({type(exc).__name__}: {exc}); fix or remove this line",
                location=f"{path}:{number}",
            ) from None
    return tuple(records)


def find_record(records: Sequence[Record], version: str, *, log: Path) -> Record:
    """The last record of ``version``; an :class:`InputError` naming the log if none."""
    for record in reversed(records):
        if record.version == version:
            return record
    known = ", ".join(r.version for r in records) or "none"
    raise InputError(f"no release {version!r} in the log (recorded: {known})", location=str(log))


def append_record(path: Path, record: Record, *, force: bool = False) -> None:
    """Append ``record`` as one line (see the module docstring for atomicity).
    A :class:`RecordError` if its version is already recorded, unless ``force``."""
    existing = read_log(path)
    if not force and any(r.version == record.version for r in existing):
        raise RecordError(
            f"{path}: version {record.version} is already recorded; "
            "use a new version, or --force to record it again"
        )
    try:
        line = record.to_line().encode("utf-8")
    except UnicodeEncodeError as exc:
        # A path or argument with bytes that are not UTF-8 (Python keeps them as
        # lone surrogates): the log is UTF-8, and nothing may be half-written.
        bad = exc.object[max(0, exc.start - 40) : exc.end + 10]
        raise InputError(
            f"the record of {record.version!r} holds text that is not UTF-8 "
            f"(near {bad!r}: a file name or argument with undecodable bytes?); the "
            "release log is UTF-8: rename the file or fix the argument",
            location=str(path),
        ) from None
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    raise InputError(
                        "the last line is incomplete (no final newline); fix or remove it",
                        location=str(path),
                    )
        written = os.write(fd, line)
        if written != len(line):  # pragma: no cover - regular files write whole
            raise OSError(f"{path}: short write ({written} of {len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)


def _pinned(image: str) -> bool:
    """Whether ``image`` names a digest (``@sha256:``/``@sha512:`` of full length)."""
    name, at, digest = image.rpartition("@")
    return bool(at and name) and is_digest(digest)


def unpinned_bases(dockerfile: Dockerfile) -> tuple[str, ...]:
    """``FILE:LINE: IMAGE`` for each ``FROM`` that names an image without a digest."""
    bad: list[str] = []
    for base in from_images(dockerfile):
        if base.kind == "unresolved" or (base.kind == "image" and not _pinned(base.text)):
            bad.append(f"{dockerfile.location(base.stage.from_instruction.line)}: {base.text}")
    return tuple(bad)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror}", location=str(path)) from None


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _requirement_pins(text: str, path: str) -> dict[str, str]:
    from ..python.reqfile import logical_lines, parse_requirement_text

    pins: dict[str, str] = {}
    for line in logical_lines(text, path=path):
        if not line.text or (line.text.startswith("-") and not line.text.startswith("-e")):
            continue
        req = parse_requirement_text(line.text, location=line.location)
        if req.requirement is None or req.name is None:
            continue
        specs = list(req.requirement.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "==="):
            pins[str(req.name)] = specs[0].version
    return pins


def _apt_pins(text: str, path: str) -> dict[str, str]:
    from ..apt.lock import AptLock

    lock = AptLock.from_toml(text, filename=path)
    return {f"{p.name}@{p.platform}": p.version for p in lock.packages}


def _lock_kind(name: str) -> str | None:
    if name.endswith(".lock") and "apt" in name:
        return "apt"
    if name.endswith(".txt") and ("requirements" in name or "lock" in name):
        return "requirements"
    return None


def _copied_locks(dockerfile: Dockerfile, root: Path) -> list[Path]:
    found: list[Path] = []
    for inst in dockerfile.instructions:
        if inst.keyword not in ("COPY", "ADD") or any(f.name == "from" for f in inst.flags):
            continue
        for source in inst.arguments[:-1]:
            candidate = root / source
            if _lock_kind(candidate.name) and candidate.is_file() and candidate not in found:
                found.append(candidate)
    return found


def read_lock(path: Path, *, label: str) -> LockFile:
    """A :class:`LockFile` of ``path`` (kind from its name, else its content)."""
    data = _read(path, "lock")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the lock is not UTF-8 text", location=label) from None
    kind = _lock_kind(path.name) or ("apt" if "[[packages]]" in text else "requirements")
    pins = _apt_pins(text, label) if kind == "apt" else _requirement_pins(text, label)
    return LockFile(path=label, kind=kind, sha256=_sha256(data), pins=pins)


def build_record(
    *,
    version: str,
    metadata_file: Path,
    dockerfile: Path,
    locks: Sequence[Path] = (),
    platforms: Sequence[str] = (),
    allow_unpinned: bool = False,
    context: Path | None = None,
    ignore: Iterable[str] = (),
    severities: Mapping[str, Severity] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Record:
    """The :class:`Record` of a build: reads the builder's output, the
    Dockerfile and its locks (those given, and those its ``COPY`` s name in the
    build context).
    A :class:`RecordError` when the check of the Dockerfile (build context
    ``context``, default its directory; ``ignore`` and ``severities`` as for
    :func:`~lockpin.image.check.check`) has error findings, unless
    ``allow_unpinned``."""
    from .. import __version__

    if not version:
        raise InputError("the version must not be empty")
    output = parse_build_output(
        _read(metadata_file, "build metadata file"), filename=str(metadata_file)
    )
    df_bytes = _read(dockerfile, "Dockerfile")
    try:
        df_text = df_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the Dockerfile is not UTF-8 text", location=str(dockerfile)) from None
    parsed = parse(df_text, filename=str(dockerfile))
    ctx = DirectoryContext(str(context if context is not None else dockerfile.parent))
    # COPY sources (the locks it installs) are found in the same context, below
    findings = check(parsed, ctx, ignore=ignore, severities=severities)
    errors = [f for f in findings if f.severity == "error"]
    if errors and not allow_unpinned:
        raise RecordError(_refusal(dockerfile, errors, context))
    bases = tuple(b.text for b in from_images(parsed) if b.kind == "image")
    root = context if context is not None else dockerfile.parent
    lock_paths = list(locks) + [p for p in _copied_locks(parsed, root) if p not in locks]
    lock_files = tuple(read_lock(p, label=str(p)) for p in lock_paths)
    now = (clock or (lambda: datetime.now(timezone.utc)))().astimezone(timezone.utc)
    return Record(
        version=version,
        time=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        image_names=output.names,
        digest=output.digest,
        platforms=tuple(sorted(platforms)),
        bases=bases,
        dockerfile=str(dockerfile),
        dockerfile_sha256=_sha256(df_bytes),
        locks=lock_files,
        lockpin_version=__version__,
        allow_unpinned=bool(errors),  # recorded despite a failing check
        unpinned=tuple(Unpinned(f.rule, f.line, f.message) for f in errors),
    )


def _refusal(dockerfile: Path, errors: Sequence[Finding], context: Path | None) -> str:
    lines = [f"{dockerfile}: `lockpin dockerfile check` fails, so the build can move:"]
    for f in errors:
        lines.append(f"  {f.file}:{f.line}: {f.rule} {f.message}")
        lines.append(f"    fix: {f.fix}")
    command = f"lockpin dockerfile check {dockerfile}"
    if context is not None:
        command += f" --context {context}"
    lines.append(
        f"fix them (`{command}` lists them), then build and record again; "
        "or pass --allow-unpinned to record it anyway (the record keeps these findings)"
    )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class RecordDiff:
    """What changed from release ``a`` to ``b``: ``changes`` are
    ``(section, name, old, new)`` (``old``/``new`` ``None`` when added/removed);
    sections ``image``, ``base``, ``python``, ``apt``."""

    a: str
    b: str
    changes: tuple[tuple[str, str, str | None, str | None], ...]

    def render_text(self) -> str:
        if not self.changes:
            return f"{self.a} -> {self.b}: no changes\n"
        lines = [f"{self.a} -> {self.b}:"]
        for section, name, old, new in self.changes:
            if old is None:
                lines.append(f"  {section}: + {name} {new}")
            elif new is None:
                lines.append(f"  {section}: - {name} {old}")
            else:
                lines.append(f"  {section}: ~ {name} {old} -> {new}")
        return "\n".join(lines) + "\n"


def _pins(record: Record, kind: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for lock in record.locks:
        if lock.kind == kind:
            pins.update(lock.pins)
    return pins


def _split_base(text: str) -> tuple[str, str]:
    name, _, digest = text.partition("@")
    return name, digest


def diff_records(a: Record, b: Record) -> RecordDiff:
    """Compare two releases (see :class:`RecordDiff`)."""
    changes: list[tuple[str, str, str | None, str | None]] = []
    if a.digest != b.digest:
        changes.append(("image", "digest", a.digest, b.digest))
    sections = [
        ("base", dict(_split_base(t) for t in a.bases), dict(_split_base(t) for t in b.bases)),
        ("python", _pins(a, "requirements"), _pins(b, "requirements")),
        ("apt", _pins(a, "apt"), _pins(b, "apt")),
    ]
    for section, old, new in sections:
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                changes.append((section, name, old.get(name), new.get(name)))
    return RecordDiff(a=a.version, b=b.version, changes=tuple(changes))


# -- public API (lockpin.record_add, record_show, record_diff) ----------------------------------


def record_add(
    *,
    version: str,
    metadata_file: Path,
    dockerfile: Path = Path("Dockerfile"),
    locks: Sequence[Path] = (),
    platforms: Sequence[str] = (),
    log: Path = Path("releases.jsonl"),
    force: bool = False,
    allow_unpinned: bool = False,
    context: Path | None = None,
    ignore: Iterable[str] = (),
    severities: Mapping[str, Severity] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Record:
    """Record a build in ``log`` (:func:`build_record` then :func:`append_record`)."""
    rec = build_record(
        version=version,
        metadata_file=metadata_file,
        dockerfile=dockerfile,
        locks=locks,
        platforms=platforms,
        allow_unpinned=allow_unpinned,
        context=context,
        ignore=ignore,
        severities=severities,
        clock=clock,
    )
    append_record(log, rec, force=force)
    return rec


def record_show(version: str, *, log: Path = Path("releases.jsonl")) -> Record:
    """The last record of ``version`` in ``log``."""
    return find_record(read_log(log), version, log=log)


def record_diff(old: str, new: str, *, log: Path = Path("releases.jsonl")) -> RecordDiff:
    """What changed from release ``old`` to ``new`` in ``log``."""
    records = read_log(log)
    return diff_records(find_record(records, old, log=log), find_record(records, new, log=log))
