"""``hash_requirements`` and ``verify``: a requirements file or lock in, a result value out.

Also the one place where a caller's index and HTTP settings meet the option lines of
the files being read (``-i``, ``--extra-index-url``, ``--find-links``,
``--trusted-host``): :func:`merge_index_config` and :func:`allow_trusted_hosts`,
which :func:`lockpin.compile` uses too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import tempfile
from typing import TYPE_CHECKING, BinaryIO, Literal, cast

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from .._async import run_sync
from .._io import atomic_write, read_text
from ..errors import (
    BuildError,
    InputError,
    InvalidMetadataError,
    LockpinError,
    NoSuchVersionError,
)
from ..net.config import HttpConfig
from ..net.http import Http
from ..net.redact import redact_url
from ..progress import Event
from .hashing import (
    HashDisagreement,
    HashResult,
    PinnedRelease,
    VerifyProblem,
    VerifyResult,
    check_pinned,
    collect_release_hashes,
    release_files,
)
from .index import IndexClient, IndexConfig
from .inputs import requirement_reader
from .lock import render_requirement
from .models import accepts_format
from .reqfile import options_from_blocks, parse_requirements, split_blocks

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from packaging.version import Version

    from ..progress import Reporter
    from .fetch import MetadataFetcher
    from .hashing import FileHash
    from .lockcheck import LockHeader
    from .metadata import CoreMetadata
    from .models import Formats
    from .reqfile import Block, FileOptions, RequirementLine
    from .target import Target

__all__ = [
    "IndexPrecedence",
    "allow_trusted_hosts",
    "hash_requirements",
    "merge_index_config",
    "verify",
]

_HASH_OPTION = re.compile(r"\s+--hash(?:=|\s+)\S+")

#: Which primary index is used when both the caller's :class:`IndexConfig` and an
#: input file's ``-i``/``--index-url`` line name one: ``"given"``, the caller's
#: ``index_url``; ``"files"``, the file's line (pip's rule for requirement files; the
#: CLI's when no ``--index-url`` is given). Without a given ``IndexConfig`` the file's
#: line applies either way. Extra indexes and find-links of both are always used.
IndexPrecedence = Literal["given", "files"]

_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def merge_index_config(
    given: IndexConfig | None, opts: FileOptions, *, precedence: IndexPrecedence = "given"
) -> IndexConfig:
    """The index settings a run uses: ``given`` combined with the files' option lines.

    The primary index follows ``precedence`` (see :data:`IndexPrecedence`); extra
    indexes and find-links from both are used, the given ones first; ``--no-index``
    from either applies.
    """
    cfg = given or IndexConfig()
    index_url = cfg.index_url
    if opts.index_url and (given is None or precedence == "files"):
        index_url = opts.index_url
    return IndexConfig(
        index_url=index_url,
        extra_index_urls=tuple(dict.fromkeys((*cfg.extra_index_urls, *opts.extra_index_urls))),
        find_links=tuple(dict.fromkeys((*cfg.find_links, *opts.find_links))),
        no_index=cfg.no_index or opts.no_index,
        index_strategy=cfg.index_strategy,
    )


def allow_trusted_hosts(http: HttpConfig | None, opts: FileOptions) -> HttpConfig | None:
    """``http`` with the files' ``--trusted-host HOST[:PORT]`` lines added to the
    hosts that may be reached over plain ``http://``.

    That is all they do. pip also skips TLS certificate checks for such a host;
    lockpin never does: an ``https://`` URL to it is verified as any other.
    """
    if not opts.trusted_hosts:
        return http
    hosts: list[str] = []
    for value in opts.trusted_hosts:
        if not _HOST.fullmatch(value):
            raise InputError(
                f"--trusted-host {value!r}: expected a host name or address, optionally with "
                ":PORT (such as pypi.internal or 10.0.0.5:8080)."
            )
        hosts.append(value.lower())
    cfg = http or HttpConfig()
    return dataclasses.replace(cfg, allow_insecure_hosts=cfg.allow_insecure_hosts | set(hosts))


def _on_bytes(reporter: Reporter | None) -> Callable[[int], None] | None:
    if reporter is None:
        return None
    return lambda n: reporter.report(Event("bytes", size=n))


def _load(path: str) -> tuple[str, list[Block], FileOptions]:
    text = read_text(path, what="requirements file")
    blocks = split_blocks(text, path=path, env=os.environ)
    parsed = parse_requirements(path, reader=requirement_reader, env=os.environ)
    return text, blocks, parsed.options


def _classify(
    blocks: list[Block], *, strict: bool = True
) -> tuple[list[tuple[RequirementLine, Version]], list[str]]:
    """The ``==`` pins to hash. ``strict=False`` (verify's closure mode) skips a
    line that is not pinned: the form check reports it."""
    pins: list[tuple[RequirementLine, Version]] = []
    warnings: list[str] = []
    for block in blocks:
        req = block.requirement
        if req is None:
            continue
        if req.editable or req.url is not None:
            warnings.append(
                f"{req.location}: {redact_url(req.text)} is a direct reference; "
                "lockpin hash leaves it as written and pip's --require-hashes will refuse "
                "it unless it is a hashed archive URL."
            )
            continue
        if not strict and (req.pinned_version is None or req.name is None):
            continue
        pins.append((req, check_pinned(req)))
    return pins, warnings


async def _with_client(
    index: IndexConfig,
    http_config: HttpConfig | None,
    pins: list[tuple[RequirementLine, Version]],
    reporter: Reporter | None,
) -> list[PinnedRelease]:
    async with Http(http_config, on_bytes=_on_bytes(reporter)) as http:
        client = IndexClient(http, index)
        return await collect_release_hashes(client, pins, target=None)


def _applies(req: RequirementLine, target: Target | None) -> bool:
    """Whether pip installs ``req`` on ``target`` (it skips lines whose marker is false)."""
    return target is None or req.marker is None or target.evaluate(req.marker)


def _nothing_installable(
    release: PinnedRelease, target: Target | None, formats: Formats = "any"
) -> NoSuchVersionError:
    where = target.describe() if target is not None else "any target"
    allowed = {
        "any": "",
        "wheel": " as a wheel (the file's --only-binary line)",
        "sdist": " from its sdist (the file's --no-binary line)",
    }[formats]
    return NoSuchVersionError(
        release.name,
        release.version,
        f"{release.location}: {release.name}=={release.version} has no file installable on "
        f"{where}{allowed}; its files are {', '.join(f.filename for f in release.files)}. "
        "Pin a version that supports the target, or change the target.",
    )


def _requirement_text(block: Block) -> str:
    first = block.lines[0].text
    return _HASH_OPTION.sub("", " " + first).strip()


def hash_requirements(
    path: str | os.PathLike[str],
    *,
    output: str | os.PathLike[str] | None = None,
    index: IndexConfig | None = None,
    index_precedence: IndexPrecedence = "given",
    target: Target | None = None,
    update: bool = False,
    write: bool = True,
    http: HttpConfig | None = None,
    reporter: Reporter | None = None,
) -> HashResult:
    """Add the sha256 of every file of each pinned release to a requirements file.

    Writes the path ``output`` (default: ``path`` itself) atomically, unless
    ``write`` is false or existing hashes disagree with the index and ``update``
    is false (then nothing is written and :attr:`HashResult.disagreements` says
    why). :attr:`HashResult.text` holds the new text either way. ``target``
    restricts the hashes to files installable on it. ``index_precedence``: see
    :data:`IndexPrecedence`. ``reporter`` receives ``"bytes"`` events.
    """
    src = os.fspath(path)
    text, blocks, opts = _load(src)
    pins, warnings = _classify(blocks)
    config = merge_index_config(index, opts, precedence=index_precedence)
    http = allow_trusted_hosts(http, opts)
    releases = run_sync(_with_client(config, http, pins, reporter))
    by_line = {r.location: r for r in releases}

    disagreements: list[HashDisagreement] = []
    out_blocks: list[str] = []
    for block in blocks:
        req = block.requirement
        release = by_line.get(str(req.location)) if req is not None else None
        if req is None or release is None:
            out_blocks.append("\n".join(line.raw for line in block.lines))
            continue
        served_all = release.hashes
        existing = {h.partition(":")[2] for h in req.hashes if h.startswith("sha256:")}
        unknown = tuple(sorted(existing - set(served_all)))
        if unknown:
            disagreements.append(
                HashDisagreement(
                    release.name, release.version, release.location, unknown, served_all
                )
            )
        # the file's --only-binary/--no-binary lines decide what pip installs from
        formats = opts.formats(release.name)
        files = tuple(
            f
            for f in release.files
            if accepts_format(f.filename, formats) and (target is None or target.installs(f))
        )
        if not files and _applies(req, target):
            # An unhashed line would make pip's --require-hashes refuse the whole file.
            raise _nothing_installable(release, target, formats)
        hashes = tuple(sorted({f.sha256 for f in files}))
        if unknown and not update:
            hashes = tuple(sorted(existing | set(hashes)))
        trailer = [line.raw for line in block.lines[1:]]
        if block.lines[0].comment:
            trailer.insert(0, f"    {block.lines[0].comment}")
        out_blocks.append(render_requirement(_requirement_text(block), hashes, tuple(trailer)))
        if release.yanked_reason:
            warnings.append(
                f"{release.location}: {release.name}=={release.version} is yanked "
                f"({release.yanked_reason}); pip installs it only because it is pinned."
            )
    new_text = "\n".join(out_blocks).rstrip("\n") + "\n"
    result = HashResult(
        text=new_text,
        releases=tuple(releases),
        disagreements=tuple(disagreements),
        warnings=tuple(warnings),
        changed=new_text != text,
    )
    if write and (update or not disagreements):
        dest = os.fspath(output) if output is not None else src
        atomic_write(dest, new_text)
        return dataclasses.replace(result, written=dest)
    return result


#: Wheel bytes kept in memory while ``verify --download`` hashes them (more spill to a
#: temporary file), so that their METADATA can be read once the hash has matched.
_SPOOL_BYTES = 8 << 20

#: Per ``(pin location, wheel filename)``: the core metadata inside the downloaded
#: wheel, or why it cannot be read.
_Inside = dict[tuple[str, str], "CoreMetadata | str"]


def _metadata_inside(data: BinaryIO, filename: str, url: str) -> CoreMetadata | str:
    """The METADATA of a downloaded wheel whose bytes matched the lock's hash."""
    from .metadata import check_identity, parse_core_metadata, wheel_metadata_from_zip

    source = redact_url(url)
    try:
        meta = parse_core_metadata(wheel_metadata_from_zip(data, source=source), source=source)
        check_identity(meta, filename, source=source)
    except LockpinError as exc:
        first = (str(exc).strip().splitlines() or ["?"])[0]
        return f"the METADATA inside {filename} cannot be read ({first})"
    return meta


async def _download_check(
    http: Http,
    releases: list[PinnedRelease],
    fits: set[tuple[str, str]],
    reporter: Reporter | None,
) -> tuple[list[VerifyProblem], _Inside]:
    """Download every file in ``fits`` and check its sha256. Also the core metadata
    inside each wheel whose bytes matched (see :data:`_Inside`): the one source of
    a release's dependencies that the lock's hashes vouch for."""
    sem = asyncio.Semaphore(8)
    problems: list[VerifyProblem] = []
    inside: _Inside = {}

    async def check(release: PinnedRelease, filename: str, url: str, stated: str) -> None:
        import hashlib

        h = hashlib.sha256()
        size = 0
        wheel = filename.lower().endswith(".whl")
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            async with sem:
                # resume: the bytes are checked against the lock's hash at the end
                async for chunk in http.stream(url, resume=True):
                    h.update(chunk)
                    size += len(chunk)
                    if wheel:
                        spool.write(chunk)
            if reporter is not None:
                reporter.report(Event("download", filename, size))
            actual = h.hexdigest()
            if wheel and actual == stated:
                spool.seek(0)
                inside[(release.location, filename)] = _metadata_inside(
                    cast("BinaryIO", spool), filename, url
                )
        if actual != stated:
            problems.append(
                VerifyProblem(
                    "mismatch",
                    release.name,
                    release.version,
                    release.location,
                    filename=filename,
                    expected=stated,
                    actual=actual,
                )
            )

    await asyncio.gather(
        *(
            check(r, f.filename, f.url, f.sha256)
            for r in releases
            for f in r.files
            if (r.location, f.filename) in fits
        )
    )
    return problems, inside


def _requirement_key(text: str) -> str:
    try:
        return str(Requirement(text))
    except InvalidRequirement:
        return text


def _python_key(text: str | None) -> str:
    try:
        return str(SpecifierSet(text or ""))
    except InvalidSpecifier:
        return (text or "").strip()


def _metadata_differences(served: CoreMetadata, inside: CoreMetadata) -> list[str]:
    """How the metadata the index served differs from the METADATA in the wheel, in
    the fields the closure check reads (empty when they agree)."""
    out: list[str] = []
    if served.name != inside.name:
        out.append(f"Name {served.name!r} instead of {inside.name!r}")
    if served.version != inside.version:
        out.append(f"Version {served.version} instead of {inside.version}")
    if _python_key(served.requires_python) != _python_key(inside.requires_python):
        out.append(
            f"Requires-Python {served.requires_python or '(none)'!r} instead of "
            f"{inside.requires_python or '(none)'!r}"
        )
    served_reqs = {_requirement_key(str(r)) for r in served.requires_dist}
    inside_reqs = {_requirement_key(str(r)) for r in inside.requires_dist}
    for added in sorted(served_reqs - inside_reqs):
        out.append(f"extra Requires-Dist {added!r}")
    for dropped in sorted(inside_reqs - served_reqs):
        out.append(f"Requires-Dist {dropped!r} left out")
    return out


def _judge_on_downloaded(
    metadata: dict[str, CoreMetadata],
    used: dict[str, str],
    inside: _Inside,
    pins: list[tuple[RequirementLine, Version]],
) -> list[VerifyProblem]:
    """Replace, in ``metadata``, what the index served for each pin by the METADATA
    inside the downloaded wheel it was read for (the closure check then judges bytes
    whose hash is in the lock), and report every pin whose two disagree."""
    problems: list[VerifyProblem] = []
    for req, version in pins:
        location = str(req.location)
        filename = used.get(location)
        served = metadata.get(location)
        found = inside.get((location, filename)) if filename is not None else None
        if served is None or filename is None or found is None:
            continue  # an sdist, or a file not downloaded: the served metadata stands
        name = canonicalize_name(req.name or "")
        if isinstance(found, str):
            detail = f"{found}; the lock cannot be checked against the bytes it pins"
        else:
            metadata[location] = found
            differences = _metadata_differences(served, found)
            if not differences:
                continue
            detail = (
                f"metadata served for {name}=={version} differs from the METADATA inside "
                f"{filename}: {'; '.join(differences)}. The index, a proxy or a mirror served "
                "altered metadata: lock again from an index you trust, then verify again"
            )
        problems.append(
            VerifyProblem(
                "mismatch", name, str(version), location, filename=filename, detail=detail
            )
        )
    return problems


def _header_targets(
    header: LockHeader, path: str, *, running: Version
) -> tuple[tuple[Target, ...], list[str]]:
    """The targets a lock was made for, from its header: lockpin's "for ..." lines,
    pip-compile's "with Python X.Y", else ``--python-version``/``--platform`` in
    the recorded command. Empty when the header says nothing. Also the warnings to
    show: a patch level assumed (see :func:`_interpreter_version`).

    ``running`` is the version of the interpreter lockpin runs on."""
    from .target import parse_target

    def parse(version: str | None, platform: str | None, what: str) -> Target:
        try:
            return parse_target(python_version=version, platform=platform)
        except InputError as exc:
            raise InputError(
                f"the header's target {what!r} is not one lockpin understands ({exc.message}); "
                "pass --python-version and --platform to verify",
                location=f"{path}:{header.line}",
            ) from exc

    if header.targets:
        return tuple(parse(v, p, f"{v} on {p}") for v, p in header.targets), []
    if header.python is not None:
        checked, warning = _interpreter_version(header.python, running)
        warnings = [f"{path}:{header.line}: {warning}"] if warning else []
        return (parse(checked, None, f"Python {header.python}"),), warnings
    versions = header.option_values("--python-version")
    platforms = header.option_values("--platform") if header.tool == "lockpin" else []
    if not versions and not platforms:
        return (), []
    version = versions[-1] if versions else None
    if not platforms:
        return (parse(version, None, f"Python {version}"),), []
    return tuple(parse(version, p, f"{version} on {p}") for p in platforms), []


def _interpreter_version(stated: str, running: Version) -> tuple[str, str | None]:
    """The version to check a lock for whose header names only the ``X.Y`` of the
    interpreter that made it (pip-compile's "with Python 3.11"), and a warning when
    its patch level had to be assumed.

    Markers can compare the full version (redis requires async-timeout on
    ``python_full_version < "3.11.3"``), so ``X.Y`` alone is not enough: when
    lockpin runs on an ``X.Y.Z``, that is taken, as the lock was most likely made
    where it is checked; else ``X.Y.0``, with a warning that says how to choose.
    ``--python-version X.Y`` typed by a user (lockpin's and uv's headers) means
    ``X.Y.0`` to both tools, and is never adjusted.
    """
    parts = stated.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return stated, None
    if running.release[:2] == (int(parts[0]), int(parts[1])):
        return str(running), None
    return stated, (
        f"the header records only Python {stated}, without its patch level; the dependency "
        f"closure was checked for {stated}.0, and markers on python_full_version may differ "
        f"on a later {stated}.x. Pass --python-version {stated}.Z (the patch level the lock "
        f"is for), or run verify with a Python {stated}."
    )


async def _release_metadata(
    client: IndexClient,
    fetcher: MetadataFetcher,
    pins: list[tuple[RequirementLine, Version]],
    target: Target,
) -> tuple[dict[str, CoreMetadata], dict[str, str], list[VerifyProblem]]:
    """Core metadata of every pinned release through the compile pipeline's
    fetcher (cached, ``.metadata`` first), from the file compile reads it from;
    also that file's name, per pin location."""
    from .world import best_file

    async def one(name: NormalizedName, version: Version) -> tuple[CoreMetadata, str] | str:
        page = await client.project_page(name)
        f = best_file(release_files(page, version), target)
        if f is None:
            return f"{name}=={version} has no file to read its metadata from"
        try:
            return await fetcher.fetch(f), f.filename
        except (InvalidMetadataError, BuildError) as exc:
            first = (str(exc).strip().splitlines() or ["?"])[0]
            return (
                f"the metadata of {name}=={version} cannot be read ({first}); lockpin compile "
                "would not pick this release"
            )

    keys = sorted({(canonicalize_name(req.name or ""), version) for req, version in pins})
    found = await asyncio.gather(*(one(n, v) for n, v in keys))
    results = dict(zip(keys, found, strict=True))
    metadata: dict[str, CoreMetadata] = {}
    used: dict[str, str] = {}
    problems: list[VerifyProblem] = []
    for req, version in pins:
        name = canonicalize_name(req.name or "")
        result = results[(name, version)]
        if isinstance(result, str):
            location = str(req.location)
            problems.append(
                VerifyProblem("unsatisfied", name, str(version), location, detail=result)
            )
        else:
            metadata[str(req.location)], used[str(req.location)] = result
    return metadata, used, problems


def _binary_hint(
    name: str, files: Sequence[FileHash], listed: set[str], formats: Formats
) -> str | None:
    """What to say when a pin lists its sdist's hash only and misses its wheels, with
    no option line that would explain it: the lock was most likely made with
    ``--no-binary`` by a lockpin that did not yet write the option into the lock."""
    if formats != "any" or not listed:
        return None
    wheels = {f.sha256 for f in files if f.filename.endswith(".whl")}
    sdists = {f.sha256 for f in files} - wheels
    if wheels and sdists and listed <= sdists:
        return (
            "lists only its sdist's hash: if it was locked with --no-binary, compile it again "
            f"(lockpin now writes '--no-binary {name}' above the pins), or add that line."
        )
    return None


def _fits(f: FileHash, targets: Sequence[Target]) -> bool:
    return not targets or any(t.installs(f) for t in targets)


def _line_key(location: str) -> tuple[str, int]:
    path, _, line = location.rpartition(":")
    return (path, int(line)) if line.isdigit() else (location, 0)


def verify(
    path: str | os.PathLike[str],
    *,
    index: IndexConfig | None = None,
    index_precedence: IndexPrecedence = "given",
    target: Target | None = None,
    targets: Sequence[Target] = (),
    download: bool = False,
    closure: bool | None = None,
    http: HttpConfig | None = None,
    reporter: Reporter | None = None,
) -> VerifyResult:
    """Check a lock against the index: its hashes and its dependency closure.

    Hashes: each pinned release's hash set must be exactly what the index
    serves; with ``target``/``targets``, only files installable on one of them
    are expected. ``download`` also fetches every expected file and checks its
    bytes against the index.

    Closure (``closure=None``: on for a lock with a lockpin, pip-compile or uv
    header, off for other files; ``True``/``False`` decide): for the lock's
    targets (``target``/``targets``, else those its header records, else this
    machine), every dependency of every pinned release must be pinned and
    satisfied by the pin, every pin must be required or a root (``# via -r
    FILE``), and every line must be one the lock's generator writes.

    ``index_precedence``: see :data:`IndexPrecedence`. ``reporter`` receives
    ``"bytes"`` and (with ``download``) ``"download"`` events.
    """
    from .lockcheck import check_closure, check_form, lock_pins, parse_header
    from .target import host_target

    src = os.fspath(path)
    text = read_text(src, what="lockfile")
    header = parse_header(text)
    closing = closure if closure is not None else header.tool is not None
    blocks = split_blocks(text, path=src, env=os.environ, lenient=closing)
    problems: list[VerifyProblem] = []
    if closing:
        # A lock includes no other file, and an option line it should not hold (an
        # --extra-index-url among the pins) must not send verify to that index.
        problems = check_form(blocks, header)
        refused = {p.location for p in problems}
        accepted = [b for b in blocks if str(b.lines[0].location) not in refused]
        options = options_from_blocks(accepted, path=src)
    else:
        options = parse_requirements(src, reader=requirement_reader, env=os.environ).options
    pins, warnings = _classify(blocks, strict=not closing)
    config = merge_index_config(index, options, precedence=index_precedence)
    http = allow_trusted_hosts(http, options)
    unhashed = [req for req, _ in pins if not req.hashes]
    chosen = (target,) if target is not None else tuple(targets)
    lock_targets: tuple[Target, ...] = chosen
    if not chosen and closing:
        lock_targets, assumed = _header_targets(header, src, running=host_target().python_version)
        warnings.extend(assumed)
    closure_targets = (lock_targets or (host_target(),)) if closing else ()
    # A lock made with --target-hashes-only lists only its targets' files.
    hash_targets = chosen or (lock_targets if header.has_flag("--target-hashes-only") else ())

    async def run() -> tuple[
        list[PinnedRelease], list[VerifyProblem], dict[str, CoreMetadata], list[VerifyProblem]
    ]:
        async with Http(http, on_bytes=_on_bytes(reporter)) as client_http:
            client = IndexClient(client_http, config)
            releases = await collect_release_hashes(client, pins, target=None)
            fits = {
                (r.location, f.filename)
                for r in releases
                for f in r.files
                if _fits(f, hash_targets)
            }
            found: list[VerifyProblem] = []
            inside: _Inside = {}
            if download:
                found, inside = await _download_check(client_http, releases, fits, reporter)
            if not closing:
                return releases, found, {}, []
            from .build import make_metadata_builder
            from .fetch import MetadataFetcher

            builder = make_metadata_builder(
                config,
                target_python=closure_targets[0].python_minor,
                allow_insecure_hosts=http.allow_insecure_hosts if http is not None else (),
            )
            fetcher = MetadataFetcher(
                client_http,
                build_metadata=builder,
                build_key=getattr(builder, "cache_key", None),
            )
            metadata, used, unreadable = await _release_metadata(
                client, fetcher, pins, closure_targets[0]
            )
            # The closure is judged on the METADATA inside the downloaded wheels: a
            # ``.metadata`` or range request is only as good as TLS to the index.
            found.extend(_judge_on_downloaded(metadata, used, inside, pins))
            return releases, found, metadata, unreadable

    releases, download_problems, metadata, unreadable = run_sync(run())
    reqs = {str(req.location): req for req, _ in pins}
    for release in releases:
        req = reqs[release.location]
        listed = {h.partition(":")[2] for h in req.hashes if h.startswith("sha256:")}
        other = [h for h in req.hashes if not h.startswith("sha256:")]
        if other:
            warnings.append(
                f"{release.location}: {release.name}: {len(other)} non-sha256 hash(es) not checked."
            )
        # A lock with --only-binary/--no-binary lines is installed from those files only
        # (pip reads the lines), so they are all its hashes need to cover.
        formats = options.formats(release.name)
        installable = [f for f in release.files if accepts_format(f.filename, formats)]
        files = [f for f in installable if _fits(f, hash_targets)]
        if not files and any(_applies(req, t) for t in hash_targets or (None,)):
            raise _nothing_installable(release, hash_targets[0] if hash_targets else None, formats)
        expected = {f.sha256 for f in files}
        hint = _binary_hint(release.name, files, listed, formats)
        if hint is not None:
            warnings.append(f"{release.location}: {release.name}=={release.version} {hint}")
        for f in files:
            if f.sha256 not in listed:
                problems.append(
                    VerifyProblem(
                        "missing",
                        release.name,
                        release.version,
                        release.location,
                        filename=f.filename,
                        expected=f.sha256,
                    )
                )
        every = {f.sha256 for f in release.files}
        excluded = every - {f.sha256 for f in installable}
        for h in sorted(listed - expected):
            if hash_targets and h in every:
                continue  # a hash for another platform's file: harmless for these targets
            if h in excluded:
                continue  # a file the lock's --only-binary/--no-binary lines keep pip from
            problems.append(
                VerifyProblem("extra", release.name, release.version, release.location, actual=h)
            )
    problems.extend(download_problems)
    problems.extend(unreadable)
    if closing:
        found, notes = check_closure(
            lock_pins(blocks),
            metadata,
            closure_targets,
            own_markers_only=header.tool == "lockpin",
        )
        problems.extend(found)
        warnings.extend(notes)
    for req in unhashed:
        warnings.append(f"{req.location}: {canonicalize_name(req.name or '')} has no hashes.")
    problems.sort(
        key=lambda p: (
            _line_key(p.location),
            p.kind,
            p.filename or "",
            p.actual or "",
            p.detail or "",
        )
    )
    return VerifyResult(
        releases=tuple(releases),
        problems=tuple(problems),
        warnings=tuple(warnings),
        downloaded=sum(1 for r in releases for f in r.files if _fits(f, hash_targets))
        if download
        else 0,
        closure_targets=tuple(t.describe() for t in closure_targets),
    )
