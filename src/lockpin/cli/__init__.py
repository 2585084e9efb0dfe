"""The ``lockpin`` command: the root parser, dispatch to a command, errors to exit codes.

No logic lives in the CLI: each command maps its arguments onto library values,
calls one public function and prints the result. One module per command group:
``cli/python.py`` (``compile``, ``hash``, ``verify``), ``cli/apt.py`` (``apt
compile|export|verify``), ``cli/dockerfile.py`` (``dockerfile pin``),
``cli/image.py`` (``image resolve``); shared option groups in ``_options.py``,
what is printed besides results in ``_output.py``. A new group starts from
``_options.add_command_group`` and ends its commands in ``_output.deliver_lock``
(compile: check, print or write the lock) and ``_output.report_problems`` (verify).

Exit codes: 0 success; 1 the check asked for failed (``verify`` found
differences, ``compile --check`` found drift, ``hash`` found disagreeing hashes,
or resolution is impossible); 2 bad input, network or index errors, or a bad
command line; 130 interrupted. A :class:`~lockpin.errors.LockpinError` is printed
as one ``lockpin: error: ...`` paragraph, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import apt, checkall, dockerfile, image, python, record
from ._config import add_config_option, apply_config
from ._options import setup_logging

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="lockpin",
        description="Pin everything a container build depends on.",
    )
    parser.add_argument("--version", action="version", version=f"lockpin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    python.add_commands(sub)
    apt.add_commands(sub)
    dockerfile.add_commands(sub)
    image.add_commands(sub)
    record.add_commands(sub)
    checkall.add_commands(sub)
    add_config_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lockpin`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    A bad command line exits through :class:`SystemExit` (code 2) as argparse does.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args.argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging(args)
    from ..errors import LockpinError
    from ._output import error

    try:
        apply_config(args)
        code: int = args.run(args)
    except LockpinError as exc:
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print("lockpin: interrupted", file=sys.stderr)
        return 130
    return code
