"""Compile inputs: requirement files and ``pyproject.toml`` into root requirements."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from .._io import read_text
from ..errors import InputError
from .reqfile import FileOptions, parse_requirements

if TYPE_CHECKING:
    from collections.abc import Sequence

    from packaging.markers import Marker

    from .reqfile import RequirementLine

__all__ = ["Inputs", "RootRequirement", "load_inputs", "requirement_reader"]


@dataclass(frozen=True, slots=True)
class RootRequirement:
    """A top-level requirement and where it came from (``-r requirements.in``)."""

    requirement: Requirement | None
    source: str
    location: str
    constraint: bool = False
    direct: str | None = None  # VCS / local path / editable: pinned as given
    name: NormalizedName | None = None
    marker: Marker | None = None


@dataclass(frozen=True, slots=True)
class Inputs:
    roots: tuple[RootRequirement, ...]
    constraints: tuple[RootRequirement, ...]
    options: FileOptions = field(default_factory=FileOptions)
    files: tuple[str, ...] = ()


def requirement_reader(path: str) -> str:
    """The reader of :func:`parse_requirements`: OS errors propagate so that the
    parser names the ``-r``/``-c`` line that included a missing file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc}).") from exc


def _label(path: str) -> str:
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return rel if not rel.startswith("..") else path


def _from_line(line: RequirementLine, source: str) -> RootRequirement:
    direct = None
    if line.requirement is None or (line.url and _is_unhashable(line.url)) or line.editable:
        direct = f"-e {line.text}" if line.editable else line.text
    return RootRequirement(
        requirement=line.requirement,
        source=source,
        location=str(line.location),
        constraint=line.constraint,
        direct=direct,
        name=line.name,
        marker=line.marker,
    )


def _is_unhashable(url: str) -> bool:
    lowered = url.lower()
    if lowered.startswith(("git+", "hg+", "svn+", "bzr+")):
        return True
    if "://" not in lowered:
        return True  # a local path
    return lowered.startswith("file:") and not lowered.endswith((".whl", ".tar.gz", ".zip"))


def _pyproject(
    path: str, *, extras: Sequence[str], all_extras: bool, groups: Sequence[str]
) -> list[RootRequirement]:
    from .. import _toml

    text = read_text(path)
    try:
        data = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from exc
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise InputError(f"{path}: [project] must be a table.")
    name = project.get("name", "project")
    label = f"{name} ({_label(path)})"
    out: list[RootRequirement] = []

    def add(lines: object, where: str) -> None:
        if not isinstance(lines, list):
            raise InputError(f"{path}: {where} must be a list of requirement strings.")
        for text in lines:
            try:
                req = Requirement(str(text))
            except InvalidRequirement as exc:
                raise InputError(f"{path}: {where}: invalid requirement {text!r}: {exc}") from exc
            out.append(
                RootRequirement(
                    req,
                    label,
                    f"{path} {where}",
                    name=canonicalize_name(req.name),
                    marker=req.marker,
                )
            )

    if "dependencies" in project.get("dynamic", []):
        raise InputError(
            f"{path}: [project].dependencies is dynamic; lockpin reads static metadata only. "
            "List the dependencies in pyproject.toml or use a requirements.in file."
        )
    add(project.get("dependencies", []), "[project].dependencies")
    optional = project.get("optional-dependencies", {}) or {}
    wanted = list(optional) if all_extras else list(extras)
    known = {canonicalize_name(k): k for k in optional}
    for extra in wanted:
        key = known.get(canonicalize_name(extra))
        if key is None:
            raise InputError(
                f"{path}: no optional-dependencies extra {extra!r} "
                f"(it defines: {', '.join(sorted(optional)) or 'none'})."
            )
        add(optional[key], f"[project.optional-dependencies].{key}")
    if groups:
        from packaging.dependency_groups import DependencyGroupResolver

        table = data.get("dependency-groups", {})
        try:
            resolver = DependencyGroupResolver(table)
            for group in groups:
                for req in resolver.resolve(group):
                    out.append(
                        RootRequirement(
                            req,
                            label,
                            f"{path} [dependency-groups].{group}",
                            name=canonicalize_name(req.name),
                            marker=req.marker,
                        )
                    )
        except (LookupError, ValueError, TypeError) as exc:
            raise InputError(f"{path}: dependency group: {exc}") from exc
    return out


def load_inputs(
    src_files: Sequence[str],
    *,
    constraint_files: Sequence[str] = (),
    extras: Sequence[str] = (),
    all_extras: bool = False,
    groups: Sequence[str] = (),
) -> Inputs:
    roots: list[RootRequirement] = []
    constraints: list[RootRequirement] = []
    options = FileOptions()
    files: list[str] = []
    used_pyproject = False
    for src in src_files:
        if os.path.basename(src) == "pyproject.toml":
            used_pyproject = True
            roots.extend(_pyproject(src, extras=extras, all_extras=all_extras, groups=groups))
            files.append(src)
            continue
        parsed = parse_requirements(src, reader=requirement_reader, env=os.environ)
        options = _merge_options(options, parsed.options)
        files.extend(parsed.files)
        for line in parsed.requirements:
            roots.append(_from_line(line, f"-r {_label(line.location.path)}"))
        for line in parsed.constraints:
            constraints.append(_from_line(line, f"-c {_label(line.location.path)}"))
    if (extras or all_extras or groups) and not used_pyproject:
        raise InputError("--extra, --all-extras and --group need a pyproject.toml input.")
    for src in constraint_files:
        parsed = parse_requirements(src, reader=requirement_reader, env=os.environ, constraint=True)
        options = _merge_options(options, parsed.options)
        files.extend(parsed.files)
        for line in (*parsed.requirements, *parsed.constraints):
            constraints.append(_from_line(line, f"-c {_label(line.location.path)}"))
    return Inputs(tuple(roots), tuple(constraints), options, tuple(files))


def _merge_options(a: FileOptions, b: FileOptions) -> FileOptions:
    return FileOptions(
        index_url=b.index_url or a.index_url,
        extra_index_urls=tuple(dict.fromkeys((*a.extra_index_urls, *b.extra_index_urls))),
        find_links=tuple(dict.fromkeys((*a.find_links, *b.find_links))),
        no_index=a.no_index or b.no_index,
        pre=a.pre or b.pre,
        only_binary=a.only_binary | b.only_binary,
        no_binary=a.no_binary | b.no_binary,
        trusted_hosts=tuple(dict.fromkeys((*a.trusted_hosts, *b.trusted_hosts))),
        prefer_binary=a.prefer_binary or b.prefer_binary,
        require_hashes=a.require_hashes or b.require_hashes,
    )
