"""``lockpin check-all``: the CI gate, every check ``[tool.lockpin]`` names.

One summary line per check on stdout (``ok``, ``DRIFT``, ``FAIL``), then the details
of each failing one (with ``-v``, of every one). Exit 0 when every check passes, 1
when any drifts or fails (the others still run), 2 on a bad or empty config.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from . import _options as opt
from . import _output as out

if TYPE_CHECKING:
    import argparse

    from ..config import Config

__all__ = ["add_commands", "run_check_all"]

_EPILOG = """\
What runs comes from pyproject.toml (see docs/configuration.md):
  [[tool.lockpin.locks]]         compile --check, then verify, of each Python lock
  [[tool.lockpin.apt-locks]]     apt compile --check of each apt lock
  [tool.lockpin.dockerfile]      files = [...]: dockerfile pin --check and dockerfile check
  [tool.lockpin.check-all]       checks = [...]: only these kinds (compile, verify, apt,
                                 dockerfile-pin, dockerfile-check)

exit status: 0 every check passed; 1 a check found drift or failed; 2 a bad config,
or one that names nothing to check.
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import argparse

    p = sub.add_parser(
        "check-all",
        help="run every check the [tool.lockpin] config names (for CI)",
        description="Run compile --check, verify, apt compile --check, dockerfile pin "
        "--check and dockerfile check for every lock and Dockerfile the config names.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=run_check_all)
    opt.add_index_options(p)
    opt.add_insecure_registry(p.add_argument_group("registry"))
    opt.add_net_options(p)
    opt.add_verbosity(p)


def run_check_all(args: argparse.Namespace) -> int:
    from ..checkall import check_all
    from ..errors import InputError

    config: Config = args.lockpin_config
    if config.path is None:
        raise InputError(
            "no pyproject.toml with [tool.lockpin] here or above (up to the repository "
            "root); name one with --config, or see docs/configuration.md."
        )
    if not (config.locks or config.apt_locks or config.dockerfiles or config.get("apt.src")):
        raise InputError(
            f"{config.path}: [tool.lockpin] names nothing to check; add [[tool.lockpin.locks]], "
            "[[tool.lockpin.apt-locks]] or [tool.lockpin.dockerfile] files (docs/configuration.md)."
        )
    index, precedence = opt.index_config(args)
    with out.progress(quiet=args.quiet) as progress:
        result = check_all(
            config,
            index=index,
            index_precedence=precedence,
            http=opt.http_config(args),
            insecure_registries=tuple(args.insecure_registry),
            reporter=progress,
        )
    for check in result.checks:
        sys.stdout.write(check.line() + "\n")
    for check in result.checks:
        if check.details and (check.status != "ok" or args.verbose):
            sys.stdout.write(f"\n== {check.line()}\n")
            for line in check.details:
                sys.stdout.write(f"  {line}\n")
    failed = sum(1 for c in result.checks if c.status != "ok")
    if failed:
        out.note(f"{failed} of {len(result.checks)} check(s) failed.", quiet=args.quiet)
        return 1
    out.note(f"all {len(result.checks)} check(s) passed.", quiet=args.quiet)
    return 0
