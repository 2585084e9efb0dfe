"""Orchestration of ``hash_requirements`` and ``verify`` (file in, result out)."""

from __future__ import annotations

import asyncio
import os
import re
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from ._io import atomic_write, read_text
from .errors import NoSuchVersionError
from .net.http import Http, HttpConfig
from .net.redact import redact_url
from .python.hashing import (
    HashDisagreement,
    HashResult,
    PinnedRelease,
    VerifyProblem,
    VerifyResult,
    check_pinned,
    collect_release_hashes,
    render_requirement,
)
from .python.index import IndexClient, IndexConfig
from .python.inputs import requirement_reader
from .python.reqfile import parse_requirements, split_blocks

if TYPE_CHECKING:
    from packaging.version import Version

    from .python.reqfile import Block, FileOptions, RequirementLine
    from .python.target import Target

__all__ = ["hash_requirements", "merge_index_config", "verify"]

_HASH_OPTION = re.compile(r"\s+--hash(?:=|\s+)\S+")


def merge_index_config(
    base: IndexConfig | None, opts: FileOptions, *, explicit: bool
) -> IndexConfig:
    """Combine the caller's index settings with a requirement file's option lines.

    An index URL given by the caller (``explicit``) wins over the file's ``-i``;
    extra indexes and find-links from both are used, the caller's first.
    """
    cfg = base or IndexConfig()
    index_url = cfg.index_url
    if opts.index_url and not explicit:
        index_url = opts.index_url
    return IndexConfig(
        index_url=index_url,
        extra_index_urls=tuple(dict.fromkeys((*cfg.extra_index_urls, *opts.extra_index_urls))),
        find_links=tuple(dict.fromkeys((*cfg.find_links, *opts.find_links))),
        no_index=cfg.no_index or opts.no_index,
        index_strategy=cfg.index_strategy,
    )


def _load(path: str) -> tuple[str, list[Block], FileOptions]:
    text = read_text(path)
    blocks = split_blocks(text, path=path, env=os.environ)
    parsed = parse_requirements(path, reader=requirement_reader, env=os.environ)
    return text, blocks, parsed.options


def _classify(
    blocks: list[Block],
) -> tuple[list[tuple[RequirementLine, Version]], list[str]]:
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
        pins.append((req, check_pinned(req)))
    return pins, warnings


async def _with_client(
    index: IndexConfig, http_config: HttpConfig | None, pins: list[tuple[RequirementLine, Version]]
) -> list[PinnedRelease]:
    async with Http(http_config) as http:
        client = IndexClient(http, index)
        return await collect_release_hashes(client, pins, target=None)


def _applies(req: RequirementLine, target: Target | None) -> bool:
    """Whether pip installs ``req`` on ``target`` (it skips lines whose marker is false)."""
    return target is None or req.marker is None or target.evaluate(req.marker)


def _nothing_installable(release: PinnedRelease, target: Target | None) -> NoSuchVersionError:
    where = target.describe() if target is not None else "any target"
    return NoSuchVersionError(
        release.name,
        release.version,
        f"{release.location}: {release.name}=={release.version} has no file installable on "
        f"{where}; its files are {', '.join(f.filename for f in release.files)}. "
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
    index_explicit: bool = False,
    target: Target | None = None,
    update: bool = False,
    write: bool = True,
    http: HttpConfig | None = None,
) -> HashResult:
    """Add the sha256 of every file of each pinned release to a requirements file.

    Writes ``output`` (default: ``path`` itself) atomically, unless ``write`` is
    false or existing hashes disagree with the index and ``update`` is false
    (then nothing is written and :attr:`HashResult.disagreements` says why).
    ``target`` restricts the hashes to files installable on it.
    """
    src = os.fspath(path)
    text, blocks, opts = _load(src)
    pins, warnings = _classify(blocks)
    config = merge_index_config(index, opts, explicit=index_explicit)
    releases = asyncio.run(_with_client(config, http, pins))
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
        files = (
            release.files if target is None else tuple(f for f in release.files if f.fits(target))
        )
        if not files and _applies(req, target):
            # An unhashed line would make pip's --require-hashes refuse the whole file.
            raise _nothing_installable(release, target)
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
        if dest != "-":
            atomic_write(dest, new_text)
            return HashResult(
                text=new_text,
                releases=result.releases,
                disagreements=result.disagreements,
                warnings=result.warnings,
                changed=result.changed,
                written=dest,
            )
    return result


async def _download_check(
    http: Http, releases: list[PinnedRelease], fits: set[tuple[str, str]]
) -> list[VerifyProblem]:
    sem = asyncio.Semaphore(8)
    problems: list[VerifyProblem] = []

    async def check(release: PinnedRelease, filename: str, url: str, stated: str) -> None:
        import hashlib

        h = hashlib.sha256()
        async with sem:
            async for chunk in http.stream(url):
                h.update(chunk)
        actual = h.hexdigest()
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
    return problems


def verify(
    path: str | os.PathLike[str],
    *,
    index: IndexConfig | None = None,
    index_explicit: bool = False,
    target: Target | None = None,
    download: bool = False,
    http: HttpConfig | None = None,
) -> VerifyResult:
    """Check that each pinned release's hash set is exactly what the index serves.

    With ``target``, only files installable on it are expected. ``download``
    also fetches every expected file and checks its bytes against the index.
    """
    src = os.fspath(path)
    _text, blocks, opts = _load(src)
    pins, warnings = _classify(blocks)
    config = merge_index_config(index, opts, explicit=index_explicit)
    unhashed = [req for req, _ in pins if not req.hashes]

    async def run() -> tuple[list[PinnedRelease], list[VerifyProblem]]:
        async with Http(http) as client_http:
            client = IndexClient(client_http, config)
            releases = await collect_release_hashes(client, pins, target=None)
            fits = {
                (r.location, f.filename)
                for r in releases
                for f in r.files
                if target is None or f.fits(target)
            }
            problems = await _download_check(client_http, releases, fits) if download else []
            return releases, problems

    releases, download_problems = asyncio.run(run())
    reqs = {str(req.location): req for req, _ in pins}
    problems: list[VerifyProblem] = []
    for release in releases:
        req = reqs[release.location]
        listed = {h.partition(":")[2] for h in req.hashes if h.startswith("sha256:")}
        other = [h for h in req.hashes if not h.startswith("sha256:")]
        if other:
            warnings.append(
                f"{release.location}: {release.name}: {len(other)} non-sha256 hash(es) not checked."
            )
        files = [f for f in release.files if target is None or f.fits(target)]
        if not files and _applies(req, target):
            raise _nothing_installable(release, target)
        expected = {f.sha256 for f in files}
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
        for h in sorted(listed - expected):
            if target is not None and h in every:
                continue  # a hash for another platform's file: harmless for this target
            problems.append(
                VerifyProblem("extra", release.name, release.version, release.location, actual=h)
            )
    problems.extend(download_problems)
    for req in unhashed:
        warnings.append(f"{req.location}: {canonicalize_name(req.name or '')} has no hashes.")
    order = {r.location: i for i, r in enumerate(releases)}
    problems.sort(
        key=lambda p: (order.get(p.location, 0), p.kind, p.filename or "", p.actual or "")
    )
    return VerifyResult(
        releases=tuple(releases),
        problems=tuple(problems),
        warnings=tuple(warnings),
        downloaded=sum(1 for r in releases for f in r.files if target is None or f.fits(target))
        if download
        else 0,
    )
