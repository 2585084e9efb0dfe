"""``lockpin hash`` and ``lockpin verify``: the sha256 of every file of each
pinned release, added to a requirements file or checked against it.

The pure parts (selecting a release's files) are separate from the async
orchestration that talks to the index client. Blocks are rendered by
:func:`lockpin.python.lock.render_requirement`, the renderer of lockfiles.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from packaging.utils import NormalizedName, canonicalize_name

from ..errors import InputError, NoSuchVersionError
from ..net.redact import redact_url
from .models import DistFile, ProjectPage, parse_filename

if TYPE_CHECKING:
    from packaging.version import Version

    from .index import IndexClient
    from .reqfile import RequirementLine
    from .target import Target

__all__ = [
    "FileHash",
    "HashDisagreement",
    "HashResult",
    "PinnedRelease",
    "VerifyProblem",
    "VerifyResult",
    "collect_release_hashes",
    "release_files",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileHash:
    filename: str
    url: str  # redacted
    sha256: str
    requires_python: str | None = None


@dataclass(frozen=True, slots=True)
class PinnedRelease:
    name: NormalizedName
    version: str
    location: str
    files: tuple[FileHash, ...]
    yanked_reason: str | None = None

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(sorted({f.sha256 for f in self.files}))


@dataclass(frozen=True, slots=True)
class HashDisagreement:
    """Hashes already in the file that no file of the release on the index has."""

    name: NormalizedName
    version: str
    location: str
    unknown: tuple[str, ...]
    served: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{self.location}: {self.name}=={self.version} lists "
            + ", ".join(f"sha256:{h}" for h in self.unknown)
            + " which no file of that release on the index has (it serves "
            + (", ".join(f"sha256:{h[:16]}…" for h in self.served) or "no files")
            + ")"
        )


@dataclass(frozen=True, slots=True)
class HashResult:
    """What ``hash_requirements`` produced. ``text`` is the rewritten file."""

    text: str
    releases: tuple[PinnedRelease, ...]
    disagreements: tuple[HashDisagreement, ...]
    warnings: tuple[str, ...]
    changed: bool
    written: str | None = None

    @property
    def ok(self) -> bool:
        return not self.disagreements


ProblemKind = Literal[
    "missing", "extra", "mismatch", "missing-dependency", "unsatisfied", "not-required", "form"
]


@dataclass(frozen=True, slots=True)
class VerifyProblem:
    """One difference between the lockfile and what the index serves.

    Hashes:

    * ``missing`` — the index serves ``filename`` with ``expected`` but the
      lockfile does not list that hash;
    * ``extra`` — the lockfile lists ``actual`` which no file of the release has;
    * ``mismatch`` — (``--download``) the bytes of ``filename`` hash to
      ``actual``, not the ``expected`` the index states.

    Closure (``detail`` says what exactly; ``location`` is the line at fault):

    * ``missing-dependency`` — the release at ``location`` requires a project
      the lock does not pin (for a target);
    * ``unsatisfied`` — the pin at ``location`` does not satisfy what another
      pin requires of it (a specifier, a direct URL), or its metadata excludes a
      target (Requires-Python) or cannot be read;
    * ``not-required`` — nothing in the lock requires the pin and no ``# via``
      annotation names it as a root;
    * ``form`` — a line lockpin would not write (an option line among the pins,
      a non-``==`` pin, a hash that is not sha256, text that does not parse).

    ``name``/``version`` are those of the pin at ``location`` ("" when the line
    pins nothing).
    """

    kind: ProblemKind
    name: NormalizedName
    version: str
    location: str
    filename: str | None = None
    expected: str | None = None
    actual: str | None = None
    detail: str | None = None

    def __str__(self) -> str:
        what = f"{self.location}: {self.name}=={self.version}"
        if self.detail is not None:
            return f"{self.location}: {self.detail}"
        if self.kind == "missing":
            return f"{what}: missing hash for {self.filename}: expected sha256:{self.expected}"
        if self.kind == "extra":
            return f"{what}: extra hash sha256:{self.actual} matches no file on the index"
        return (
            f"{what}: {self.filename} downloaded with sha256:{self.actual}, "
            f"but the index states sha256:{self.expected}"
        )


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """``closure_targets`` describes the targets whose dependency closure was
    checked (empty when only hashes were)."""

    releases: tuple[PinnedRelease, ...]
    problems: tuple[VerifyProblem, ...]
    warnings: tuple[str, ...]
    downloaded: int = 0
    closure_targets: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


# -- pure helpers ----------------------------------------------------------------------------


def release_files(
    page: ProjectPage, version: Version, *, target: Target | None = None
) -> list[DistFile]:
    """Files of ``version`` (``==`` semantics: ``1.0`` matches ``1.0.0``), restricted
    to those installable on ``target`` when one is given."""
    out: list[DistFile] = []
    for f in page.files:
        parsed = parse_filename(f.filename)
        if parsed is None or parsed[1] != version:
            continue
        if target is None or target.installs(f):
            out.append(f)
    return out


def check_pinned(req: RequirementLine) -> Version:
    version = req.pinned_version
    if version is None or req.name is None:
        raise InputError(
            f"{req.text!r} is not pinned to one version: "
            "lockpin hash/verify need `name==version` lines. "
            "Use `lockpin compile` to resolve loose requirements.",
            location=str(req.location),
        )
    return version


# -- orchestration ---------------------------------------------------------------------------


async def collect_release_hashes(
    client: IndexClient,
    pins: list[tuple[RequirementLine, Version]],
    *,
    target: Target | None,
) -> list[PinnedRelease]:
    """Fetch pages concurrently, then compute missing sha256s concurrently."""
    names = {canonicalize_name(req.name or "") for req, _ in pins}
    for name in names:
        client.prefetch(name)

    async def one(req: RequirementLine, version: Version) -> PinnedRelease:
        name = canonicalize_name(req.name or "")
        page = await client.project_page(name)
        files = release_files(page, version, target=target)
        if not files:
            every = release_files(page, version)
            versions = sorted(
                {p[1] for f in page.files if (p := parse_filename(f.filename)) is not None}
            )
            if every:
                msg = (
                    f"{req.location}: {name}=={version} has no file installable on "
                    f"{target.describe() if target else 'any target'}; "
                    f"its files are {', '.join(f.filename for f in every)}."
                )
            else:
                latest = ", ".join(str(v) for v in versions[-5:]) or "none"
                msg = (
                    f"{req.location}: {name}=={version} is not on {redact_url(page.url)} "
                    f"(latest versions: {latest}). Check the pin."
                )
            raise NoSuchVersionError(name, str(version), msg)
        digests = await asyncio.gather(*(client.sha256(f) for f in files))
        yanked = next((f for f in files if f.yanked), None)
        return PinnedRelease(
            name=name,
            version=str(version),
            location=str(req.location),
            files=tuple(
                sorted(
                    (
                        FileHash(f.filename, redact_url(f.url), d, f.requires_python)
                        for f, d in zip(files, digests, strict=True)
                    ),
                    key=lambda fh: fh.filename,
                )
            ),
            yanked_reason=(yanked.yanked_reason or "no reason given") if yanked else None,
        )

    return list(await asyncio.gather(*(one(req, v) for req, v in pins)))
