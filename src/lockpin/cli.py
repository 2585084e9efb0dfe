"""The ``lockpin`` command: parse arguments, call the public API, print, exit.

No logic lives here. Exit codes: 0 success; 1 the check asked for failed
(``verify`` found differences, ``compile --check`` found drift, ``hash`` found
disagreeing hashes, or resolution is impossible); 2 bad input, network or
index errors; 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .net.http import HttpConfig
    from .python.index import IndexConfig
    from .python.target import Target

__all__ = ["main"]


def _version() -> str:
    from . import __version__

    return __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_index_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("package index")
    g.add_argument(
        "-i",
        "--index-url",
        metavar="URL",
        help="base URL of the simple index "
        "(default: https://pypi.org/simple, or the input file's -i line)",
    )
    g.add_argument(
        "--extra-index-url",
        metavar="URL",
        action="append",
        default=[],
        help="more indexes, consulted in order after --index-url (repeatable)",
    )
    g.add_argument(
        "-f",
        "--find-links",
        metavar="PATH_OR_URL",
        action="append",
        default=[],
        help="a local directory or HTML page of distribution links (repeatable)",
    )
    g.add_argument("--no-index", action="store_true", help="use only --find-links locations")
    g.add_argument(
        "--index-strategy",
        choices=["first-index", "unsafe-best-match"],
        default="first-index",
        help="first-index (default): the first index that has a project supplies "
        "all its files, which blocks dependency confusion; unsafe-best-match "
        "merges every index like pip",
    )
    g.add_argument(
        "--allow-insecure-host",
        metavar="HOST",
        action="append",
        default=[],
        help="allow plain http:// to HOST (loopback hosts are always allowed)",
    )


def _add_net_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network and cache")
    g.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="cache location (default: $LOCKPIN_CACHE_DIR or the user cache dir)",
    )
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    g.add_argument("--refresh", action="store_true", help="revalidate every cached index page")
    g.add_argument("--offline", action="store_true", help="use only the cache; no network")
    g.add_argument(
        "--max-age",
        type=int,
        metavar="SECONDS",
        default=600,
        help="how long an index page without cache headers stays fresh (600)",
    )
    g.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        default=30.0,
        help="network timeout per request (30)",
    )
    g.add_argument(
        "--retries",
        type=int,
        metavar="N",
        default=3,
        help="retries on connection errors, timeouts and 5xx (3)",
    )


def _add_target_options(p: argparse.ArgumentParser, *, what: str) -> None:
    g = p.add_argument_group("target")
    g.add_argument("--python-version", metavar="X.Y[.Z]", help=f"target interpreter version {what}")
    g.add_argument(
        "--platform",
        metavar="PLATFORM",
        action="append",
        default=[],
        help="target platform: linux/amd64, linux/arm64, linux/arm/v7 or a pip "
        "tag such as manylinux_2_28_x86_64",
    )


def _add_verbosity(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0, help="more output (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lockpin",
        description="Pin everything a container build depends on.",
    )
    parser.add_argument("--version", action="version", version=f"lockpin {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    h = sub.add_parser(
        "hash",
        help="add sha256 hashes to a file of pinned requirements",
        description="Add --hash=sha256:… for every file of each pinned release.",
    )
    h.add_argument("file", metavar="FILE")
    h.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write here instead of rewriting FILE in place ('-' for stdout)",
    )
    h.add_argument(
        "--update", action="store_true", help="replace existing hashes that disagree with the index"
    )
    _add_target_options(h, what="(restricts hashes to files installable on it)")
    _add_index_options(h)
    _add_net_options(h)
    _add_verbosity(h)

    v = sub.add_parser(
        "verify",
        help="check a lockfile against the index: hashes and dependency closure",
        description="Exit 0 when every pinned release's hashes are exactly what the index "
        "serves and (for a lock) the pins are exactly the closure of its roots; "
        "1 with a report otherwise; 2 on errors.",
    )
    v.add_argument("file", metavar="FILE")
    v.add_argument(
        "--download", action="store_true", help="also download every file and check its bytes"
    )
    closure = v.add_mutually_exclusive_group()
    closure.add_argument(
        "--closure",
        dest="closure",
        action="store_true",
        default=None,
        help="check the dependency closure even of a file without a lockpin/pip-compile/uv "
        "header (the default for files with one); use it in CI",
    )
    closure.add_argument(
        "--no-closure",
        dest="closure",
        action="store_false",
        help="check hashes only",
    )
    _add_target_options(
        v,
        what="(default: the lock header's targets; expect only the files installable on them)",
    )
    _add_index_options(v)
    _add_net_options(v)
    _add_verbosity(v)

    _add_compile_parser(sub)
    return parser


def _add_compile_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    c = sub.add_parser(
        "compile",
        help="resolve requirements into a hashed lockfile",
        description="Resolve requirements for an explicit target and write a "
        "--require-hashes lockfile.",
    )
    c.add_argument(
        "src_files",
        nargs="*",
        metavar="SRC",
        help="requirements.in / pyproject.toml files (default: requirements.in)",
    )
    c.add_argument(
        "-o",
        "--output-file",
        metavar="OUT",
        help="lockfile to write ('-' for stdout; default: requirements.txt next to "
        "the first input, or pylock.toml with --format pylock)",
    )
    c.add_argument(
        "-c",
        "--constraint",
        metavar="FILE",
        action="append",
        default=[],
        help="constraints file (repeatable)",
    )
    c.add_argument(
        "--extra",
        metavar="NAME",
        action="append",
        default=[],
        help="pyproject.toml optional-dependencies to include (repeatable)",
    )
    c.add_argument("--all-extras", action="store_true", help="include every extra")
    c.add_argument(
        "--group",
        metavar="NAME",
        action="append",
        default=[],
        help="PEP 735 dependency group from pyproject.toml (repeatable)",
    )
    c.add_argument("--pre", action="store_true", help="allow pre-releases")
    c.add_argument(
        "--exclude-newer",
        metavar="TIMESTAMP",
        help="ignore files uploaded after this RFC 3339 time or date",
    )
    c.add_argument(
        "-U", "--upgrade", action="store_true", help="ignore the existing lockfile's pins"
    )
    c.add_argument(
        "-P",
        "--upgrade-package",
        metavar="NAME[==VER]",
        action="append",
        default=[],
        help="upgrade one package (repeatable)",
    )
    c.add_argument(
        "--only-binary",
        metavar="NAMES",
        action="append",
        default=[],
        help="refuse sdists for these packages (':all:' for every one)",
    )
    c.add_argument(
        "--no-binary",
        metavar="NAMES",
        action="append",
        default=[],
        help="refuse wheels for these packages (':all:' for every one); "
        "--only-binary wins for a package named by both",
    )
    c.add_argument(
        "--format",
        choices=["requirements", "pylock"],
        default="requirements",
        help="requirements.txt (default) or PEP 751 pylock.toml",
    )
    c.add_argument(
        "--target-hashes-only",
        action="store_true",
        help="hash only the files installable on the target(s)",
    )
    c.add_argument("--no-header", action="store_true", help="omit the header comment")
    c.add_argument("--no-annotate", action="store_true", help="omit the '# via' notes")
    c.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the lockfile differs from what would be written; never write",
    )
    c.add_argument("--dry-run", action="store_true", help="print the lockfile; do not write")
    _add_target_options(c, what="(default: the running interpreter)")
    _add_index_options(c)
    _add_net_options(c)
    _add_verbosity(c)


# -- mapping arguments onto API values -------------------------------------------------------


def _http_config(args: argparse.Namespace) -> HttpConfig:
    from pathlib import Path

    from .net.cache import default_cache_dir
    from .net.http import HttpConfig

    insecure = set(args.allow_insecure_host)
    env_hosts = os.environ.get("LOCKPIN_ALLOW_INSECURE_HOST", "")
    insecure.update(h.strip() for h in env_hosts.split(",") if h.strip())
    cache_dir = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else None
    if cache_dir is None and not args.no_cache:
        cache_dir = default_cache_dir()
    return HttpConfig(
        timeout=args.timeout,
        retries=max(0, args.retries),
        allow_insecure_hosts=frozenset(insecure),
        cache_dir=cache_dir,
        offline=args.offline,
        refresh=args.refresh,
        max_age=args.max_age,
        user_agent=f"lockpin/{_version()}",
    )


def _index_config(args: argparse.Namespace) -> tuple[IndexConfig, bool]:
    from .python.index import PYPI_SIMPLE, IndexConfig

    env_index = os.environ.get("LOCKPIN_INDEX_URL")
    explicit = args.index_url or env_index
    return (
        IndexConfig(
            index_url=explicit or PYPI_SIMPLE,
            extra_index_urls=tuple(args.extra_index_url),
            find_links=tuple(args.find_links),
            no_index=args.no_index,
            index_strategy=args.index_strategy,
        ),
        bool(explicit),
    )


def _target(args: argparse.Namespace) -> Target | None:
    from .errors import InputError
    from .python.target import parse_target

    if not args.python_version and not args.platform:
        return None
    if len(args.platform) > 1:
        raise InputError(f"lockpin {args.command} takes one --platform.")
    return parse_target(
        python_version=args.python_version, platform=args.platform[0] if args.platform else None
    )


def _targets(args: argparse.Namespace) -> list[Target]:
    """Every ``--platform`` (with ``--python-version``); empty when neither is given."""
    from .python.target import parse_target

    if not args.python_version and not args.platform:
        return []
    platforms = args.platform or [None]
    return [parse_target(python_version=args.python_version, platform=p) for p in platforms]


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.ERROR if args.quiet else logging.WARNING
    if args.verbose == 1:
        level = logging.INFO
    elif args.verbose >= 2:
        level = logging.DEBUG
    logging.basicConfig(level=level, format="lockpin: %(message)s", stream=sys.stderr)
    if args.verbose < 3:
        for noisy in ("httpx", "httpcore", "hpack", "h2"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _warn(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(f"lockpin: warning: {message}", file=sys.stderr)


def _cmd_hash(args: argparse.Namespace) -> int:
    from . import hash_requirements

    index, explicit = _index_config(args)
    result = hash_requirements(
        args.file,
        output=args.output,
        index=index,
        index_explicit=explicit,
        target=_target(args),
        update=args.update,
        http=_http_config(args),
    )
    for w in result.warnings:
        _warn(args, w)
    if args.output == "-":
        sys.stdout.write(result.text)
    if result.disagreements and not args.update:
        for d in result.disagreements:
            print(f"lockpin: {d}", file=sys.stderr)
        print(
            "lockpin: nothing was written. If the index is right (a re-uploaded or "
            "rebuilt file), rerun with --update to replace those hashes.",
            file=sys.stderr,
        )
        return 1
    if not args.quiet and args.output != "-":
        n = sum(len(r.files) for r in result.releases)
        print(
            f"lockpin: {len(result.releases)} release(s), {n} file hash(es) -> {result.written}",
            file=sys.stderr,
        )
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from . import verify

    index, explicit = _index_config(args)
    result = verify(
        args.file,
        index=index,
        index_explicit=explicit,
        targets=_targets(args),
        download=args.download,
        closure=args.closure,
        http=_http_config(args),
    )
    for w in result.warnings:
        _warn(args, w)
    for p in result.problems:
        print(str(p))
    if result.problems:
        print(
            f"lockpin: {args.file}: {len(result.problems)} problem(s) in "
            f"{len({p.location for p in result.problems})} release(s).",
            file=sys.stderr,
        )
        return 1
    if not args.quiet:
        extra = f", {result.downloaded} file(s) downloaded and checked" if args.download else ""
        if result.closure_targets:
            extra += "; the pins are the complete dependency closure for " + "; ".join(
                result.closure_targets
            )
        print(
            f"lockpin: {args.file}: {len(result.releases)} release(s) match the index{extra}.",
            file=sys.stderr,
        )
    return 0


def _cmd_compile(args: argparse.Namespace) -> int:
    from ._compilecmd import run_compile_cli

    index, explicit = _index_config(args)
    return run_compile_cli(
        args, http=_http_config(args), index=index, index_explicit=explicit, warn=_warn
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args.argv = list(sys.argv[1:] if argv is None else argv)
    _setup_logging(args)
    from .errors import LockpinError

    handlers = {"hash": _cmd_hash, "verify": _cmd_verify, "compile": _cmd_compile}
    try:
        return handlers[args.command](args)
    except LockpinError as exc:
        from .net.redact import redact_text

        print(f"lockpin: error: {redact_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lockpin: interrupted", file=sys.stderr)
        return 130


# Options that change how lockpin runs, not what the lock contains: left out of the
# header so that the same lock is written whatever the cache or verbosity (as
# pip-compile does).
_RUN_ONLY_FLAGS = frozenset(
    {
        "-q",
        "--quiet",
        "-v",
        "-vv",
        "-vvv",
        "--verbose",
        "--no-cache",
        "--refresh",
        "--offline",
        "-U",
        "--upgrade",
        "--dry-run",
        "--check",
    }
)
_RUN_ONLY_OPTIONS = frozenset(
    {"--cache-dir", "--max-age", "--timeout", "--retries", "-P", "--upgrade-package"}
)


def command_line(argv: Sequence[str]) -> str:
    """The command as a user would retype it (credentials redacted, run-only
    options such as ``--cache-dir`` or ``-q`` left out)."""
    from .net.redact import redact_text

    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if arg in _RUN_ONLY_FLAGS:
            continue
        if name in _RUN_ONLY_OPTIONS:
            skip = "=" not in arg
            continue
        kept.append(arg)
    return redact_text(shlex.join(["lockpin", *kept]))
