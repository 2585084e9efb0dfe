"""Why a resolution is impossible, told to a person (pure, no I/O).

resolvelib gives up with the requirements that last clashed (its ``causes``);
:func:`explain_conflict` turns them, and what the provider learnt on the way
(every requirement met on the conflicting projects, the constraints, the
releases usable on the target, the versions tried, the releases skipped
because their metadata could not be read), into a :class:`ResolutionError`:
a message that says what to loosen, and the same facts as
:class:`~lockpin.errors.Conflict` values.

The provider (:mod:`lockpin.python.provider`) stands for two kinds of failure
with pseudo-projects that never name a real one: :data:`PYTHON_PROJECT` (a
release's ``Requires-Python`` excludes the target) and
:data:`UNUSABLE_PROJECT` (a release whose metadata cannot be read or built).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from packaging.utils import NormalizedName

from ..errors import Conflict, ConflictKind, ResolutionError
from .unusable import unusable_lines

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Mapping, Sequence

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from .deadends import DeadEnd
    from .releases import ProjectReleases
    from .target import Target

__all__ = [
    "PYTHON_PROJECT",
    "UNUSABLE_PROJECT",
    "Cause",
    "PinnedCandidate",
    "RequirementEdge",
    "explain_churn",
    "explain_conflict",
]

#: The pseudo-project of a Requires-Python that excludes the target (never a real name).
PYTHON_PROJECT = NormalizedName("<python>")
#: The pseudo-project of a release whose metadata cannot be read or built.
UNUSABLE_PROJECT = NormalizedName("<unusable>")


class RequirementEdge(Protocol):
    """A requirement edge as the explanation reads it (the provider's ``Req``);
    ``str()`` of it is the requirement as written in the message."""

    @property
    def name(self) -> NormalizedName: ...
    @property
    def specifier(self) -> SpecifierSet: ...
    @property
    def parent(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...


class PinnedCandidate(Protocol):
    """A candidate as the explanation reads it (the provider's ``Candidate``)."""

    @property
    def name(self) -> NormalizedName: ...
    @property
    def pin(self) -> str: ...


class Cause(Protocol):
    """One of resolvelib's causes (``RequirementInformation``)."""

    @property
    def requirement(self) -> RequirementEdge: ...
    @property
    def parent(self) -> PinnedCandidate | None: ...


def explain_conflict(
    causes: Iterable[Cause],
    *,
    target: Target,
    seen_requirements: Mapping[NormalizedName, Mapping[str, RequirementEdge]],
    constraints: Mapping[NormalizedName, Sequence[RequirementEdge]],
    projects: Mapping[NormalizedName, ProjectReleases],
    tried: Mapping[NormalizedName, Sequence[Version]],
    unusable: Mapping[str, str],
    exclude_newer: dt.datetime | None,
    dead_ends: Mapping[NormalizedName, Sequence[DeadEnd]] | None = None,
) -> ResolutionError:
    """resolvelib's causes as a :class:`ResolutionError`: the explanation, and the
    same facts as :class:`~lockpin.errors.Conflict` values.

    ``seen_requirements``: every distinct requirement met per project;
    ``constraints``: the constraints per project; ``projects``: the releases
    judged for the target per project; ``tried``: the versions whose metadata
    was read per project; ``unusable``: ``"name==version"`` -> why its metadata
    failed; ``exclude_newer``: the cut-off, named in the advice; ``dead_ends``:
    per project, the releases left out because the input's own requirements rule
    them out (newest first), each with the chain of requirements that does.
    """
    lines = [f"the requirements cannot be satisfied together for {target.describe()}:"]
    seen: set[str] = set()
    # (kind, requirement, required_by, project) of each line, in the message's order
    found: list[tuple[ConflictKind, str, str, NormalizedName | None]] = []
    names: list[NormalizedName] = []
    parent_names: list[NormalizedName] = []

    def add(line: str, kind: ConflictKind, req: str, who: str, name: NormalizedName | None) -> None:
        if line not in seen:
            seen.add(line)
            lines.append(line)
            found.append((kind, req, who, name))

    for cause in causes:
        req = cause.requirement
        who = cause.parent.pin if cause.parent is not None else (req.source or "the input")
        if req.name == UNUSABLE_PROJECT:
            if cause.parent is not None and cause.parent.name not in names:
                names.append(cause.parent.name)
            continue  # summarized below: the conflict is what the user needs first
        if req.name == PYTHON_PROJECT:
            line = (
                f"  - {who} requires Python {req.specifier} "
                f"(the target has {target.python_version})"
            )
            add(line, "requires-python", str(req.specifier), who, None)
        else:
            if req.name not in names:
                names.append(req.name)
            add(f"  - {req} (required by {who})", "requirement", str(req), who, req.name)
        if cause.parent is not None and cause.parent.name not in parent_names:
            parent_names.append(cause.parent.name)
    for name in names:
        reqs_on = seen_requirements.get(name, {})
        if len(reqs_on) > 12:
            continue
        for r in reqs_on.values():
            who = r.parent or r.source or "the input"
            add(f"  - {r} (required by {who})", "requirement", str(r), who, r.name)
    for name in names:
        ends = (dead_ends or {}).get(name, ())
        if not ends:
            continue
        dead = ends[0]
        # The first step of the others, once per distinct requirement: a dozen
        # releases that all need the same thing say it once.
        distinct = {dead.edges[0][0]} if dead.edges else set()
        for other in ends[1:]:
            for req_text, who, project_name in other.edges[:1]:
                if req_text not in distinct and len(distinct) < 12:
                    distinct.add(req_text)
                    line = f"  - {req_text} (required by {who})"
                    add(line, "requirement", req_text, who, project_name)
        for req_text, who, project_name in dead.edges:
            add(f"  - {req_text} (required by {who})", "requirement", req_text, who, project_name)
        if dead.requires_python is not None:
            spec, who = dead.requires_python
            line = f"  - {who} requires Python {spec} (the target has {target.python_version})"
            add(line, "requires-python", spec, who, None)
        for b in dead.bounds:
            kind: ConflictKind = "constraint" if b.constraint else "requirement"
            verb = "constraint from" if kind == "constraint" else "required by"
            add(f"  - {b.text} ({verb} {b.source})", kind, b.text, b.source, b.name)
    for name in names:
        for c in constraints.get(name, []):
            source = c.source or "the input"
            add(f"  - {c} (constraint from {source})", "constraint", str(c), source, c.name)
    usable: dict[NormalizedName, tuple[str, ...]] = {}
    for name in names:
        project = projects.get(name)
        if project is None:
            continue
        infos = project.usable(13)
        # Newest first, but final releases before pre-releases: "5.7.0rc1, 5.7.0b1"
        # first would hide the release a person is looking for.
        ordered = sorted(infos[:12], key=lambda i: i.version.is_prerelease)
        usable[name] = tuple(str(i.version) for i in ordered)
        available = ", ".join(usable[name]) or "none"
        more = " (and older)" if len(infos) > 12 else ""
        lines.append(f"  versions of {name} usable on this target: {available}{more}")
        # and why the newest releases the requirements allow are not among them
        allowed = [r.specifier for r in seen_requirements.get(name, {}).values()]
        lines.extend(
            unusable_lines(
                name,
                project,
                allowed,
                target=target,
                exclude_newer=exclude_newer,
                unusable=unusable,
            )
        )
    for name in names:
        ends = (dead_ends or {}).get(name, ())
        if ends:
            versions = sorted(tried.get(name, []), reverse=True)
            if versions:
                lines.append(f"  versions of {name} tried: {_some(versions)}")
            lines.append("  whatever else is chosen, " + " ".join(ends[0].steps[:1]) + ":")
            lines.extend(f"    {step}" for step in ends[0].steps[1:])
    for name in parent_names:
        versions = sorted(tried.get(name, []), reverse=True)
        if versions and name not in names:
            lines.append(f"  versions of {name} tried: {_some(versions)}")
    if unusable:
        skipped = sorted(unusable)
        shown = ", ".join(skipped[:8]) + (
            f" and {len(skipped) - 8} more" if len(skipped) > 8 else ""
        )
        lines.append(f"  skipped because their metadata could not be read or built: {shown}")
        first = unusable[skipped[0]].splitlines()
        lines.append(f"  {skipped[0]}: " + "\n    ".join(first[:1] + first[1:][-12:]))
    lines.append(
        f"Loosen one of the conflicting requirements, or check the target ({target.describe()})"
        + (f" and --exclude-newer {exclude_newer.isoformat()}" if exclude_newer is not None else "")
        + "."
    )
    conflicts = tuple(
        Conflict(kind, req, who, name, usable.get(name) if name is not None else None)
        for kind, req, who, name in found
    )
    return ResolutionError(
        "\n".join(lines),
        target=target.describe(),
        conflicts=conflicts,
        skipped=tuple(sorted(unusable)),
    )


def explain_churn(
    max_rounds: int,
    *,
    target: Target,
    attempts: Mapping[NormalizedName, int],
    tried: Mapping[NormalizedName, Sequence[Version]],
) -> ResolutionError:
    """Giving up after ``max_rounds``, told with the projects that changed most
    (``attempts``: how many times each was pinned; ``tried``: the versions whose
    metadata was read) and a bound that would stop them changing."""
    churned = sorted(
        (n for n in attempts if len(tried.get(n, ())) > 1),
        key=lambda n: (-len(tried.get(n, ())), -attempts[n], n),
    )[:3]
    lines = [
        f"resolution for {target.describe()} gave up after {max_rounds} rounds of backtracking."
    ]
    if churned:
        lines.append("The projects tried most:")
        for name in churned:
            versions = sorted(tried.get(name, ()), reverse=True)
            lines.append(
                f"  - {name}: {len(versions)} versions tried ({versions[0]} down to "
                f"{versions[-1]}), pinned {attempts[name]} times"
            )
        name = churned[0]
        oldest, newest = min(tried[name]), max(tried[name])
        lines.append(
            f"Bound one of them: e.g. {name}<{oldest} to skip the versions already tried, "
            f"or {name}=={newest} if it must stay and another project has to give way."
        )
    else:
        lines.append("Add tighter bounds to the requirements that change most.")
    return ResolutionError("\n".join(lines), target=target.describe())


def _some(versions: Sequence[Version]) -> str:
    """The first twelve, and how many more."""
    text = ", ".join(str(v) for v in versions[:12])
    return text + (f" and {len(versions) - 12} older" if len(versions) > 12 else "")
