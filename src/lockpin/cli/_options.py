"""Option groups shared by the commands, and the mapping of parsed arguments onto
the library's values (``HttpConfig``, ``IndexConfig``, targets).

Imported when the parser is built (also for ``lockpin --version``): only the
standard library at module level; lockpin's own modules inside the functions.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from ..image.base import BaseImage
    from ..net.config import Deadline, HttpConfig
    from ..progress import Reporter
    from ..python.hashverify import IndexPrecedence
    from ..python.index import IndexConfig
    from ..python.target import Target

__all__ = [
    "add_base_options",
    "add_check_options",
    "add_command_group",
    "add_index_options",
    "add_insecure_host_option",
    "add_insecure_registry",
    "add_net_options",
    "add_target_options",
    "add_upgrade_options",
    "add_verbosity",
    "base_images",
    "build_args",
    "command_line",
    "http_config",
    "index_config",
    "setup_logging",
    "single_target",
    "targets",
]


# -- command groups and option groups -----------------------------------------------------------


def add_command_group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """A command group such as ``lockpin apt``: a sub-parser whose commands are
    added to the returned action. Run without a command, it prints its help and
    exits 2."""
    group = sub.add_parser(name, help=help, description=description)
    group.set_defaults(run=lambda args: _print_help(group), quiet=False, verbose=0)
    return group.add_subparsers(dest=f"{name}_command", metavar="COMMAND")


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def add_upgrade_options(
    p: argparse.ArgumentParser, *, what: str, package_metavar: str, package_help: str
) -> None:
    """``-U``/``--upgrade`` and ``-P``/``--upgrade-package`` of a compile command
    (run-only: left out of the lock's header, see :func:`command_line`)."""
    p.add_argument(
        "-U", "--upgrade", action="store_true", help=f"ignore the existing {what}'s pins"
    )
    p.add_argument(
        "-P",
        "--upgrade-package",
        metavar=package_metavar,
        action="append",
        default=[],
        help=package_help,
    )


def add_check_options(p: argparse.ArgumentParser, *, what: str) -> None:
    """``--check`` and ``--dry-run`` of a compile command (run-only, as above); the
    command ends in :func:`~lockpin.cli._output.deliver_lock`."""
    p.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 if the {what} differs from what would be written; never write",
    )
    p.add_argument("--dry-run", action="store_true", help=f"print the {what}; do not write")


def add_insecure_host_option(g: argparse._ActionsContainer, *, help: str) -> None:
    """``--allow-insecure-host`` (read by :func:`http_config`, with
    ``$LOCKPIN_ALLOW_INSECURE_HOST``); ``help`` says which hosts need it."""
    g.add_argument("--allow-insecure-host", metavar="HOST", action="append", default=[], help=help)


def add_index_options(p: argparse.ArgumentParser) -> None:
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
    add_insecure_host_option(
        g, help="allow plain http:// to HOST or HOST:PORT (loopback hosts are always allowed)"
    )


def add_net_options(p: argparse.ArgumentParser) -> None:
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
    g.add_argument(
        "--deadline",
        type=_deadline_seconds,
        metavar="SECONDS",
        default=None,
        help="total time for the command's network work, retries included; past it the "
        "command fails and writes nothing (default: none; for CI)",
    )


def _deadline_seconds(text: str) -> float:
    """``--deadline``'s value: a positive, finite number of seconds."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_target_options(p: argparse.ArgumentParser, *, what: str) -> None:
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


def add_base_options(p: argparse.ArgumentParser, *, what: str) -> None:
    """``--base IMAGE`` / ``--base-from DOCKERFILE[:STAGE]`` (read by :func:`base_images`)."""
    g = p.add_argument_group("base image")
    which = g.add_mutually_exclusive_group()
    which.add_argument(
        "--base",
        metavar="IMAGE",
        help=f"read {what} from this image (per --platform), e.g. python:3.12-slim@sha256:…",
    )
    which.add_argument(
        "--base-from",
        metavar="DOCKERFILE[:STAGE]",
        help="like --base, with the pinned FROM image of a Dockerfile stage (default: the last)",
    )
    add_insecure_registry(g)


def add_insecure_registry(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--insecure-registry HOST`` (repeatable), for every command that talks to
    registries."""
    parser.add_argument(
        "--insecure-registry",
        metavar="HOST",
        action="append",
        default=[],
        help="speak plain http to this registry (HOST or HOST:PORT; loopback registries "
        "always are)",
    )


def base_images(
    args: argparse.Namespace,
    *,
    platforms: Sequence[str] | None = None,
    reporter: Reporter | None = None,
) -> list[BaseImage]:
    """The base image read once per platform (``platforms``, default ``--platform``);
    empty without ``--base``/``--base-from``."""
    if not args.base and not args.base_from:
        return []  # without importing the image reader: most runs have no base
    from ..errors import InputError
    from ..image.base import base_from_dockerfile, read_bases

    reference = args.base
    platforms = list(args.platform if platforms is None else platforms)
    option = "--base"
    if args.base_from:
        option = "--base-from"
        reference, stage_platform = base_from_dockerfile(args.base_from)
        if not platforms and stage_platform and "$" not in stage_platform:
            platforms = [stage_platform]
    if not reference:
        return []
    if not platforms:
        raise InputError(
            f"{option} needs the platform(s) to read the image for: --platform linux/amd64 "
            "(repeatable)."
        )
    for platform in platforms:
        if "/" not in platform:
            raise InputError(
                f"--platform {platform!r}: with {option}, name Docker platforms "
                "(linux/amd64, linux/arm64); the wheel tags come from the image's C library."
            )
    # every platform at once, over one client (blobs the platforms share, once)
    return list(
        read_bases(
            reference,
            platforms=platforms,
            http=http_config(args),
            insecure_registries=tuple(args.insecure_registry),
            reporter=reporter,
        )
    )


def add_verbosity(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="count", default=0, help="more output (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")


# -- arguments -> library values -----------------------------------------------------------------


def http_config(args: argparse.Namespace) -> HttpConfig:
    from pathlib import Path

    from .. import __version__
    from ..net.cache import default_cache_dir
    from ..net.config import HttpConfig

    insecure = set(args.allow_insecure_host)
    env_hosts = os.environ.get("LOCKPIN_ALLOW_INSECURE_HOST", "")
    insecure.update(h.strip() for h in env_hosts.split(",") if h.strip())
    cache_dir = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else None
    if cache_dir is None and not args.no_cache:
        cache_dir = default_cache_dir()
    return HttpConfig(
        deadline=_deadline(args),
        timeout=args.timeout,
        retries=max(0, args.retries),
        allow_insecure_hosts=frozenset(insecure),
        cache_dir=cache_dir,
        offline=args.offline,
        refresh=args.refresh,
        max_age=args.max_age,
        user_agent=f"lockpin/{__version__}",
    )


def _deadline(args: argparse.Namespace) -> Deadline | None:
    """The command's ``--deadline`` (or ``$LOCKPIN_DEADLINE``, or the config's
    ``deadline``), fixed at the first call: every :func:`http_config` of one command
    shares one end, however many clients it opens."""
    from ..errors import InputError
    from ..net.config import Deadline

    seconds = getattr(args, "deadline", None)
    if seconds is None:
        return None
    fixed: Deadline | None = getattr(args, "deadline_fixed", None)
    if fixed is not None:
        return fixed
    try:
        fixed = Deadline.after(float(seconds))
    except (TypeError, ValueError):
        # the flag's own type check ran already; this is $LOCKPIN_DEADLINE or the config
        raise InputError(
            f"deadline {seconds!r}: expected a positive number of seconds "
            "(--deadline, $LOCKPIN_DEADLINE or [tool.lockpin] deadline)."
        ) from None
    args.deadline_fixed = fixed
    return fixed


def index_config(args: argparse.Namespace) -> tuple[IndexConfig, IndexPrecedence]:
    """The index options, and whose primary index wins over an input file's ``-i``
    line: ours when ``--index-url`` (or ``$LOCKPIN_INDEX_URL``) is given, else the file's."""
    from ..python.index import PYPI_SIMPLE, IndexConfig

    given = args.index_url or os.environ.get("LOCKPIN_INDEX_URL")
    config = IndexConfig(
        index_url=given or PYPI_SIMPLE,
        extra_index_urls=tuple(args.extra_index_url),
        find_links=tuple(args.find_links),
        no_index=args.no_index,
        index_strategy=args.index_strategy,
    )
    return config, "given" if given else "files"


def targets(args: argparse.Namespace) -> list[Target]:
    """Every ``--platform`` (with ``--python-version``); empty when neither is given."""
    from ..python.target import parse_target

    if not args.python_version and not args.platform:
        return []
    platforms = args.platform or [None]
    return [parse_target(python_version=args.python_version, platform=p) for p in platforms]


def single_target(args: argparse.Namespace) -> Target | None:
    """The one target of a command that takes at most one ``--platform``."""
    from ..errors import InputError

    if len(args.platform) > 1:
        raise InputError(f"lockpin {args.command} takes one --platform.")
    found = targets(args)
    return found[0] if found else None


def setup_logging(args: argparse.Namespace) -> None:
    import logging

    level = logging.ERROR if args.quiet else logging.WARNING
    if args.verbose == 1:
        level = logging.INFO
    elif args.verbose >= 2:
        level = logging.DEBUG
    from ._output import ONCE

    root = logging.getLogger()
    before = list(root.handlers)
    logging.basicConfig(level=level, format="lockpin: %(message)s", stream=sys.stderr)
    for handler in root.handlers:
        if handler not in before:
            handler.addFilter(ONCE)  # each distinct warning once
    ONCE.seen.clear()
    if args.verbose < 3:
        for noisy in ("httpx", "httpcore", "h2"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    # Never below WARNING, even at -vvv: hpack's debug lines hold the encoded request
    # headers, Authorization (tokens, basic credentials) included.
    logging.getLogger("hpack").setLevel(logging.WARNING)


# -- the command line recorded in a lock's header ------------------------------------------------

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
    {
        "--cache-dir",
        "--max-age",
        "--timeout",
        "--retries",
        "--deadline",
        "-P",
        "--upgrade-package",
    }
)


def command_line(argv: Sequence[str]) -> str:
    """The command as a user would retype it (credentials redacted, run-only
    options such as ``--cache-dir`` or ``-q`` left out)."""
    import shlex

    from ..net.redact import redact_text

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


def build_args(values: list[str]) -> dict[str, str]:
    """``--build-arg NAME=VALUE`` (or ``NAME``: the value of $NAME, as docker
    build takes it; skipped when unset)."""
    from ..errors import InputError

    result: dict[str, str] = {}
    for value in values:
        name, eq, given = value.partition("=")
        if not name:
            raise InputError(f"--build-arg {value!r}: write NAME=VALUE.")
        if eq:
            result[name] = given
        elif name in os.environ:
            result[name] = os.environ[name]
    return result
