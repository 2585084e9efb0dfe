"""``lockpin.compile``: inputs -> resolution per target -> hashed :class:`Lock`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
from collections import defaultdict
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from .._async import LoopThread, cancel_all_tasks
from ..errors import InputError, LockpinError
from ..net.http import Http
from ..net.redact import redact_url
from ..progress import Event
from .fetch import MetadataFetcher
from .hashverify import IndexPrecedence, allow_trusted_hosts, merge_index_config
from .index import IndexClient, IndexConfig
from .inputs import Inputs, RootRequirement, load_inputs
from .lock import Lock, LockedFile, LockedPackage, target_selector
from .models import accepts_format, formats_for
from .provider import Candidate, Req, Resolution, resolve
from .releases import releases_of
from .reqfile import split_marker
from .target import Target, host_target
from .world import IndexWorld

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from packaging.markers import Marker

    from ..net.config import HttpConfig
    from ..progress import Reporter
    from .metadata import CoreMetadata

__all__ = ["compile_lock", "parse_exclude_newer", "read_existing_pins"]

log = logging.getLogger(__name__)


def parse_exclude_newer(value: str) -> dt.datetime:
    """An RFC 3339 timestamp, or a date meaning midnight UTC at its start."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError as exc:
        raise InputError(
            f"--exclude-newer {value!r}: expected an RFC 3339 time such as "
            "2026-01-31T00:00:00Z or a date such as 2026-01-31."
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def read_existing_pins(path: str, target: Target | None = None) -> dict[NormalizedName, Version]:
    """Pins of an existing lockfile (requirements.txt or pylock.toml), to prefer them.

    With ``target``, a pin whose marker does not hold there is skipped: a lock for
    several platforms has one line per platform-specific pin.
    """

    def applies(marker: str | None) -> bool:
        if target is None or not marker or not marker.strip():
            return True
        from packaging.markers import InvalidMarker, Marker, UndefinedComparison

        try:
            return target.evaluate(Marker(marker.strip()))
        except (InvalidMarker, UndefinedComparison):
            return False

    from .._io import read_text

    try:  # a device or FIFO in place of the old lock must not be read (or block)
        text = read_text(path, what="lockfile")
    except InputError:
        return {}
    pins: dict[NormalizedName, Version] = {}
    if path.endswith(".toml"):
        from .. import _toml

        try:
            data = _toml.loads(text)
        except _toml.TOMLDecodeError:
            return {}
        from .lock import read_pylock_bases

        read_pylock_bases(data, source=path)  # a lock lockpin wrote, or refuse it
        for pkg in data.get("packages", []):
            try:
                if not applies(pkg.get("marker")):
                    continue
                pins.setdefault(canonicalize_name(pkg["name"]), Version(pkg["version"]))
            except (KeyError, TypeError, AttributeError, InvalidVersion):
                continue
        return pins
    # Only the `name==version` lines matter here, and a full parse of a lock with
    # thousands of hash lines costs more than the whole warm re-lock.
    for match in _PIN_LINE.finditer(text):
        if not applies(match.group(3)):
            continue
        try:
            pins.setdefault(canonicalize_name(match.group(1)), Version(match.group(2)))
        except InvalidVersion:
            continue
    return pins


_PIN_LINE = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?[ \t]*===?[ \t]*([^\s;\\#]+)"
    r"(?:[ \t]*;([^\\\n#]*))?",
    re.M,
)


_PROJECT_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def _package_names(entries: Sequence[str], option: str) -> frozenset[str]:
    """``--only-binary``/``--no-binary`` values: comma lists of names or ``:all:``."""
    names: set[str] = set()
    for entry in entries:
        for item in (part.strip() for part in entry.split(",")):
            if not item:
                continue
            if item != ":all:" and _PROJECT_NAME.fullmatch(item) is None:
                raise InputError(
                    f"{option} {item!r}: not a project name; give names separated by "
                    "commas, or :all:."
                )
            names.add(item if item == ":all:" else canonicalize_name(item))
    return frozenset(names)


def _roots_for(inputs: Inputs, target: Target) -> tuple[list[Req], list[Req]]:
    def convert(r: RootRequirement) -> Req | None:
        if r.requirement is None or r.direct is not None:
            return None
        if r.marker is not None and not target.evaluate(r.marker):
            return None
        req = r.requirement
        return Req(
            canonicalize_name(req.name),
            req.specifier,
            frozenset(canonicalize_name(e) for e in req.extras),
            req.url,
            source=r.source,
            location=r.location,
        )

    roots = [c for r in inputs.roots if (c := convert(r)) is not None]
    cons = [c for r in inputs.constraints if (c := convert(r)) is not None]
    return roots, cons


def compile_lock(
    src_files: Sequence[str | os.PathLike[str]] = ("requirements.in",),
    *,
    constraints: Sequence[str | os.PathLike[str]] = (),
    extras: Sequence[str] = (),
    all_extras: bool = False,
    groups: Sequence[str] = (),
    targets: Sequence[Target] = (),
    index: IndexConfig | None = None,
    index_precedence: IndexPrecedence = "given",
    pre: bool = False,
    exclude_newer: dt.datetime | None = None,
    only_binary: Sequence[str] = (),
    no_binary: Sequence[str] = (),
    existing: str | os.PathLike[str] | None = None,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    http: HttpConfig | None = None,
    build_isolation_python: str | None = None,
    reporter: Reporter | None = None,
) -> Lock:
    """Resolve ``src_files`` for every target and return the hashed :class:`Lock`.

    ``targets`` defaults to the running interpreter and host platform. An
    ``existing`` lockfile's pins are preferred unless ``upgrade``;
    ``upgrade_packages`` takes ``name`` or ``name==version``. ``index`` is
    combined with the inputs' option lines (``index_precedence``: see
    :data:`~lockpin.python.hashverify.IndexPrecedence`); their ``--trusted-host``
    lines allow plain http to those hosts. ``reporter`` receives
    :class:`~lockpin.progress.Event` s while the work goes on.

    The returned lock has no ``command``; to record one in the header, set it
    afterwards: ``dataclasses.replace(lock, command="...")``.
    """
    inputs = load_inputs(
        [os.fspath(s) for s in src_files],
        constraint_files=[os.fspath(c) for c in constraints],
        extras=extras,
        all_extras=all_extras,
        groups=groups,
    )
    config = merge_index_config(index, inputs.options, precedence=index_precedence)
    http = allow_trusted_hosts(http, inputs.options)
    targets = tuple(targets) or (host_target(),)
    labels = [t.describe() for t in targets]
    if len(set(labels)) != len(labels):
        raise InputError("the same target is listed twice.")
    pre_all = pre or inputs.options.pre
    only = _package_names(only_binary, "--only-binary") | inputs.options.only_binary
    no = (_package_names(no_binary, "--no-binary") | inputs.options.no_binary) - only

    # Per target: a multi-platform lock pins some names differently per platform.
    preferred: list[dict[NormalizedName, Version]] = [
        read_existing_pins(os.fspath(existing), t) if existing is not None and not upgrade else {}
        for t in targets
    ]
    upgrade_constraints: list[Req] = []
    for item in upgrade_packages:
        name, sep, ver = item.partition("==")
        key = canonicalize_name(name.strip())
        for prefs in preferred:
            prefs.pop(key, None)
        if sep:
            try:
                upgrade_constraints.append(
                    Req(key, SpecifierSet(f"=={ver.strip()}"), source=f"--upgrade-package {item}")
                )
            except ValueError as exc:
                raise InputError(f"--upgrade-package {item!r}: {exc}") from exc

    warnings: list[str] = []
    for r in inputs.roots:
        if r.direct is not None:
            warnings.append(
                f"{r.location}: {redact_url(r.direct)} is pinned as given: "
                "pip's --require-hashes cannot cover VCS, editable or local-path requirements, "
                "and lockpin does not resolve their dependencies."
            )

    from .build import make_metadata_builder

    # Builds run with an interpreter of the first target's minor version when one is
    # found (lockpin.python.build.find_build_python), or build_isolation_python.
    sdist_builder = make_metadata_builder(
        config,
        python=build_isolation_python,
        target_python=targets[0].python_minor,
        allow_insecure_hosts=http.allow_insecure_hosts if http is not None else (),
    )
    builder: Callable[[bytes, str], Awaitable[bytes]] = sdist_builder
    if reporter is not None:
        builder = _reporting_builder(builder, reporter)
    with LoopThread() as lt:
        client_http = Http(
            http,
            on_bytes=(
                (lambda n: reporter.report(Event("bytes", size=n)))
                if reporter is not None
                else None
            ),
        )
        try:
            client = IndexClient(client_http, config)
            fetcher = MetadataFetcher(
                client_http,
                build_metadata=builder,
                # What a remembered build failure depends on (the interpreter).
                build_key=getattr(sdist_builder, "cache_key", None),
            )
            world = IndexWorld(
                lt,
                client,
                fetcher,
                target=targets[0],
                exclude_newer=exclude_newer,
                preferred=preferred[0],
                reporter=reporter,
            )
            resolutions: list[Resolution] = []
            for target, prefs in zip(targets, preferred, strict=True):
                world.retarget(target)
                world.preferred = prefs
                roots, cons = _roots_for(inputs, target)
                resolutions.append(
                    resolve(
                        world,
                        roots,
                        target=target,
                        constraints=[*cons, *upgrade_constraints],
                        exclude_newer=exclude_newer,
                        pre=pre_all,
                        only_binary=only,
                        no_binary=no,
                        preferred=prefs,
                    )
                )
            warnings.extend(_unknown_extras(world, inputs, resolutions))
            files = lt.run(_hash_all(client, resolutions, exclude_newer))
            log.info(
                "fetched %d bytes in %d requests; metadata sources: %s",
                client_http.bytes_fetched,
                client_http.requests,
                ", ".join(f"{k}={v}" for k, v in sorted(fetcher.stats.items())),
            )
        finally:
            # Builds read ahead may still run: stop them, then the speculative
            # fetches, which still use the client, before closing it.
            stop_builds = getattr(sdist_builder, "close", None)
            if stop_builds is not None:
                stop_builds()
            lt.run(cancel_all_tasks())
            lt.run(client_http.aclose())

    packages = _merge(resolutions, files, targets, only, no)
    for res in resolutions:
        for cand in res.pins.values():
            if not any(f.is_wheel for f in cand.files) and cand.url is None:
                lent = fetcher.borrowed.get((cand.name, str(cand.version)))
                warnings.append(
                    f"{cand.pin} has no wheel for {res.target.describe()}: pip will build it "
                    "from source, and its build dependencies are outside --require-hashes."
                    + (
                        f" lockpin read its dependencies from {lent} (a wheel of the same "
                        "release for another interpreter or platform, not hashed in the lock)."
                        if lent
                        else ""
                    )
                )
            if cand.yanked_reason:
                warnings.append(f"{cand.pin} is yanked ({cand.yanked_reason}).")
    for r in inputs.roots:
        if r.direct is not None:
            packages.append(
                LockedPackage(
                    name=r.name or _direct_name(r.direct),
                    version=None,
                    direct=r.direct,
                    via=(r.source,),
                )
            )
    packages.sort(key=lambda p: (p.name, p.marker or ""))
    return Lock(
        packages=tuple(packages),
        targets=targets,
        exclude_newer=exclude_newer,
        index=config,
        warnings=tuple(dict.fromkeys(warnings)),
        only_binary=only,
        no_binary=no,
    )


_EXTRA_IN_MARKER = re.compile(r"""\bextra\s*==\s*['"]([^'"]+)['"]""")


def _unknown_extras(world: IndexWorld, inputs: Inputs, resolutions: list[Resolution]) -> list[str]:
    """One warning per extra that a root or a pin asks of a pinned release which
    does not define it (``requests[sockz]``): pip and uv install the release
    without it, and so does the lock, but a typo must not pass unseen."""
    # (prefix, suffix) of the warning, the release asked for, the extras asked
    asked: list[tuple[str, str, NormalizedName, frozenset[str]]] = [
        (
            f"{r.location}: ",
            "",
            canonicalize_name(r.requirement.name),
            frozenset(r.requirement.extras),
        )
        for r in inputs.roots
        if r.requirement is not None and r.requirement.extras
    ]
    found: list[str] = []
    for res in resolutions:
        metadata: dict[NormalizedName, CoreMetadata] = {}
        for cand in res.pins.values():
            try:
                metadata[cand.name] = world.metadata(cand)
            except LockpinError:
                continue
        edges = [
            ("", f", which {cand.pin} asks for", canonicalize_name(r.name), frozenset(r.extras))
            for cand in res.pins.values()
            if cand.name in metadata
            for r in metadata[cand.name].requires_dist
            if r.extras and (r.marker is None or _holds(res.target, r.marker))
        ]
        for prefix, suffix, name, extras in (*asked, *edges):
            pinned = res.pins.get(name)
            meta = metadata.get(name)
            if pinned is None or meta is None:
                continue
            known = set(meta.provides_extra) | {
                canonicalize_name(e)
                for r in meta.requires_dist
                if r.marker is not None
                for e in _EXTRA_IN_MARKER.findall(str(r.marker))
            }
            for extra in sorted(extras):
                if canonicalize_name(extra) not in known:
                    found.append(
                        f"{prefix}{pinned.name} {pinned.version} has no extra {extra!r} "
                        f"(it has: {', '.join(sorted(known)) or 'none'}){suffix}."
                    )
    return list(dict.fromkeys(found))


def _holds(target: Target, marker: Marker) -> bool:
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName

    try:
        return target.evaluate(marker)
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False


def _reporting_builder(
    build: Callable[[bytes, str], Awaitable[bytes]], reporter: Reporter
) -> Callable[[bytes, str], Awaitable[bytes]]:
    """``build`` (a PEP 517 metadata builder) that reports each build it starts."""

    async def reporting(data: bytes, filename: str) -> bytes:
        reporter.report(Event("build", filename))
        return await build(data, filename)

    return reporting


async def _hash_all(
    client: IndexClient, resolutions: list[Resolution], exclude_newer: dt.datetime | None
) -> dict[tuple[NormalizedName, str], tuple[LockedFile, ...]]:
    """Every file of every pinned release (all platforms), with its sha256."""
    wanted: dict[tuple[NormalizedName, str], Candidate] = {}
    for res in resolutions:
        for cand in res.pins.values():
            wanted.setdefault((cand.name, cand.url or str(cand.version)), cand)

    async def one(cand: Candidate) -> tuple[LockedFile, ...]:
        if cand.url is not None:
            files = list(cand.files)
        else:
            page = await client.project_page(cand.name)
            group = next((fs for v, fs in releases_of(page.files) if v == cand.version), ())
            files = [f for f in group if not f.uploaded_after(exclude_newer)]
        digests = await asyncio.gather(*(client.sha256(f) for f in files))
        return tuple(
            sorted(
                (
                    LockedFile(f.filename, f.url, d, f.size, f.upload_time, f.requires_python)
                    for f, d in zip(files, digests, strict=True)
                ),
                key=lambda lf: lf.filename,
            )
        )

    keys = list(wanted)
    results = await asyncio.gather(*(one(wanted[k]) for k in keys))
    return dict(zip(keys, results, strict=True))


def _via_key(v: str) -> tuple[bool, str]:
    return (not v.startswith("-"), v)


def _merge(
    resolutions: list[Resolution],
    files: dict[tuple[NormalizedName, str], tuple[LockedFile, ...]],
    targets: tuple[Target, ...],
    only_binary: frozenset[str] = frozenset(),
    no_binary: frozenset[str] = frozenset(),
) -> list[LockedPackage]:
    """One package line per distinct pin; markers where targets disagree.

    A package under ``--only-binary`` keeps only its wheels: its sdist is not an
    acceptable way to install it, so the lock does not offer it either.
    """
    by_name: dict[NormalizedName, dict[str, list[tuple[Target, Candidate, frozenset[str]]]]] = (
        defaultdict(lambda: defaultdict(list))
    )
    for res in resolutions:
        for name, cand in res.pins.items():
            by_name[name][cand.url or str(cand.version)].append(
                (res.target, cand, res.parents.get(name, frozenset()))
            )
    out: list[LockedPackage] = []
    for name, variants in by_name.items():
        for key, uses in variants.items():
            using = tuple(t for t, _, _ in uses)
            marker = None
            if len(using) != len(targets):
                others = tuple(t for t in targets if t not in using)
                parts = sorted({target_selector(t, others) for t in using})
                if len(parts) > 1:
                    parts = [f"({p})" if " and " in p else p for p in parts]
                marker = " or ".join(parts)
                _check_marker(name, key, marker, others)
            cand = uses[0][1]
            locked = files.get((name, key), ())
            if cand.url is None:
                formats = formats_for(name, only_binary=only_binary, no_binary=no_binary)
                locked = tuple(f for f in locked if accepts_format(f.filename, formats))
            via = sorted({v for _, _, vs in uses for v in vs}, key=_via_key)
            out.append(
                LockedPackage(
                    name=name,
                    version=cand.version,
                    files=locked,
                    via=tuple(via),
                    marker=marker,
                    url=cand.url,
                    targets=tuple(t.describe() for t in using),
                )
            )
    return out


def _check_marker(name: str, key: str, marker: str, others: tuple[Target, ...]) -> None:
    """Refuse a lock whose markers cannot tell two targets apart (e.g. linux/amd64
    and manylinux_2_17_x86_64 that need different pins): pip would see both lines."""
    from packaging.markers import Marker

    parsed = Marker(marker)
    for other in others:
        if parsed.evaluate(other.markers()):
            raise InputError(
                f"{name} {key} is pinned for some targets only, but the marker "
                f"'{marker}' also holds on {other.describe()}: environment markers cannot "
                "tell these targets apart. Lock them into separate files."
            )


def _direct_name(text: str) -> NormalizedName:
    """A stand-in project name for a path or URL requirement that names none
    (``./pkg``, ``-e ../lib ; marker``): the last path segment, normalized."""
    spec = split_marker(text.removeprefix("-e "))[0]
    spec = spec.split("#", 1)[0].split("?", 1)[0].rstrip("/\\")
    last = re.split(r"[/\\]", spec)[-1].split("@", 1)[0].removesuffix(".git")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", last).strip("-._")
    return canonicalize_name(name or "unnamed")
