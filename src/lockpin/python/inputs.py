"""Compile inputs: requirement files and ``pyproject.toml`` into root requirements.

Every file is read through :mod:`lockpin._io` (regular files only, size-capped);
every way a user file can be malformed is an :class:`InputError` naming the
file and the line, table or entry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from .._io import decode_text, read_input_bytes, read_text
from ..errors import InputError
from .models import DIST_SUFFIXES
from .reqfile import FileOptions, is_vcs_url, parse_requirements

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

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
    parser names the ``-r``/``-c`` line that included a missing file; devices,
    FIFOs, directories, files over the size cap and non-UTF-8 bytes are an
    :class:`InputError`."""
    return decode_text(read_input_bytes(path, what="requirements file"), path)


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
    """A VCS reference, a local path, or a ``file:`` URL that is not a distribution
    file (a directory): pinned as given, since there is no file to hash."""
    if is_vcs_url(url):
        return True
    lowered = url.lower()
    if "://" not in lowered:
        return True  # a local path
    return lowered.startswith("file:") and not lowered.endswith(DIST_SUFFIXES)


def _pyproject(
    path: str, *, extras: Sequence[str], all_extras: bool, groups: Sequence[str]
) -> list[RootRequirement]:
    from .. import _toml

    text = read_text(path, what="pyproject.toml")
    try:
        data = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}. Fix the file.") from exc
    project = data.get("project", {})
    if not isinstance(project, dict):
        raise InputError(f"{path}: [project] must be a table.")
    name = project.get("name", "project")
    label = f"{name if isinstance(name, str) else 'project'} ({_label(path)})"
    out: list[RootRequirement] = []

    def add(where: str, value: object) -> None:
        for i, text in enumerate(_strings(path, where, value)):
            req = _parse_requirement(path, f"{where}[{i}]", text)
            out.append(
                RootRequirement(
                    req,
                    label,
                    f"{path} {where}",
                    name=canonicalize_name(req.name),
                    marker=req.marker,
                )
            )

    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list) or not all(isinstance(d, str) for d in dynamic):
        raise InputError(f"{path}: [project].dynamic must be a list of field names.")
    if "dependencies" in dynamic:
        raise InputError(
            f"{path}: [project].dependencies is dynamic; lockpin reads static metadata only. "
            "List the dependencies in pyproject.toml or use a requirements.in file."
        )
    add("[project].dependencies", project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise InputError(
            f"{path}: [project.optional-dependencies] must be a table of extra = [requirements]."
        )
    wanted = list(optional) if all_extras else list(extras)
    known = {canonicalize_name(k): k for k in optional}
    for extra in wanted:
        key = known.get(canonicalize_name(extra))
        if key is None:
            raise InputError(
                f"{path}: no optional-dependencies extra {extra!r} "
                f"(it defines: {', '.join(sorted(optional)) or 'none'})."
            )
        add(f"[project.optional-dependencies].{key}", optional[key])
    if groups:
        table = data.get("dependency-groups", {})
        if not isinstance(table, dict):
            raise InputError(
                f"{path}: [dependency-groups] must be a table of group = [requirements]."
            )
        for group in groups:
            if canonicalize_name(group) not in {canonicalize_name(k) for k in table}:
                hint = _other_tools_group(data, group)
                if hint:
                    raise InputError(
                        f"{path}: no dependency group {group!r} in [dependency-groups] "
                        f"(it defines: {', '.join(sorted(table)) or 'none'}); {hint}"
                    )
            for where, text in resolve_dependency_group(path, table, group):
                req = _parse_requirement(path, where, text)
                out.append(
                    RootRequirement(
                        req,
                        label,
                        f"{path} [dependency-groups].{group}",
                        name=canonicalize_name(req.name),
                        marker=req.marker,
                    )
                )
    return out


def _other_tools_group(data: Mapping[str, object], group: str) -> str | None:
    """What to say when ``group`` is a Poetry, PDM or uv development group rather
    than a PEP 735 one (``None`` when it is none of them)."""
    tool = data.get("tool")
    if not isinstance(tool, dict):
        return None
    wanted = canonicalize_name(group)

    def named(table: object) -> bool:
        return isinstance(table, dict) and wanted in {canonicalize_name(k) for k in table}

    poetry = tool.get("poetry")
    if isinstance(poetry, dict) and named(poetry.get("group")):
        where = f"[tool.poetry.group.{group}]"
    elif isinstance(tool.get("pdm"), dict) and named(tool["pdm"].get("dev-dependencies")):
        where = f"[tool.pdm.dev-dependencies].{group}"
    elif wanted == "dev" and isinstance(tool.get("uv"), dict) and "dev-dependencies" in tool["uv"]:
        where = "[tool.uv].dev-dependencies"
    else:
        return None
    return (
        f"{where} is another tool's own format, which lockpin does not read. List the "
        f"group under [dependency-groups] (PEP 735) to lock it."
    )


def _strings(path: str, where: str, value: object) -> list[str]:
    """The entries of a list of requirement strings, checked to be strings."""
    if not isinstance(value, list):
        raise InputError(
            f"{path}: {where} must be a list of requirement strings, not {_toml_type(value)}."
        )
    for i, entry in enumerate(value):
        if not isinstance(entry, str):
            raise InputError(
                f"{path}: {where}[{i}] is {_toml_type(entry)} {entry!r}, not a requirement "
                'string; quote it ("name>=1.0").'
            )
    return value


def _parse_requirement(path: str, where: str, text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise InputError(f"{path}: {where}: invalid requirement {text!r}: {exc}") from exc


def _toml_type(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), f"a {type(value).__name__}")


def resolve_dependency_group(
    path: str, table: Mapping[str, object], group: str
) -> list[tuple[str, str]]:
    """PEP 735: the requirement strings of ``group``, includes expanded, as
    ``(where, text)`` pairs, ``where`` naming the group and index that list each one.

    Walked without recursion, so a long chain of includes cannot exhaust the
    stack; a group that includes itself, directly or through others, is an
    :class:`InputError` naming the cycle. Group names compare normalized.
    """
    by_name: dict[str, str] = {}
    for key in table:
        normal = canonicalize_name(key)
        if normal in by_name:
            raise InputError(
                f"{path}: [dependency-groups] defines {by_name[normal]!r} and {key!r}, which "
                "are the same group once normalized; merge them."
            )
        by_name[normal] = key

    def lookup(name: str, wanted_by: str | None) -> str:
        key = by_name.get(canonicalize_name(name))
        if key is None:
            where = f" (included by [dependency-groups].{wanted_by})" if wanted_by else ""
            raise InputError(
                f"{path}: no dependency group {name!r}{where}; "
                f"it defines: {', '.join(sorted(table)) or 'none'}."
            )
        return key

    out: list[tuple[str, str]] = []
    # Each frame: (group key, its entries, next index). `active` is the include path.
    top = lookup(group, None)
    stack: list[tuple[str, list[object], int]] = [(top, _group_entries(path, table, top), 0)]
    active = [canonicalize_name(top)]
    done: set[str] = set()
    while stack:
        key, entries, index = stack[-1]
        if index == len(entries):
            stack.pop()
            done.add(active.pop())
            continue
        stack[-1] = (key, entries, index + 1)
        entry = entries[index]
        where = f"[dependency-groups].{key}[{index}]"
        if isinstance(entry, str):
            out.append((where, entry))
            continue
        if not isinstance(entry, dict) or set(entry) != {"include-group"}:
            raise InputError(
                f"{path}: {where} is {_toml_type(entry)} {entry!r}; an entry of a dependency "
                'group is a requirement string or {include-group = "name"}.'
            )
        included = entry["include-group"]
        if not isinstance(included, str):
            raise InputError(f"{path}: {where}: include-group must name a group (a string).")
        target = lookup(included, key)
        normal = canonicalize_name(target)
        if normal in active:
            names = [by_name[n] for n in active[active.index(normal) :]]
            cycle = " -> ".join([*names, target])
            raise InputError(
                f"{path}: {where}: dependency group cycle {cycle}; "
                "remove one of these include-group entries."
            )
        if normal in done:
            continue  # already expanded once: its requirements are in `out`
        stack.append((target, _group_entries(path, table, target), 0))
        active.append(normal)
    return out


def _group_entries(path: str, table: Mapping[str, object], key: str) -> list[object]:
    value = table[key]
    if not isinstance(value, list):
        raise InputError(
            f"{path}: [dependency-groups].{key} must be an array of requirement strings "
            f"and include-group tables, not {_toml_type(value)}."
        )
    return value


def _unique(items: Iterable[RootRequirement]) -> list[RootRequirement]:
    """Drop repeats of a requirement from the same source (the first location is
    kept): the resolver's work grows with every copy, quadratically."""
    seen: set[tuple[object, ...]] = set()
    out: list[RootRequirement] = []
    for item in items:
        key = (
            item.requirement,  # packaging compares names normalized
            item.direct,
            item.source,
            item.constraint,
        )
        if key not in seen:
            seen.add(key)
            out.append(item)
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
    return Inputs(tuple(_unique(roots)), tuple(_unique(constraints)), options, tuple(files))


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
