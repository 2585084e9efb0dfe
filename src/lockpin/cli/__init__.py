"""The ``lockpin`` command: the root parser, dispatch to a command, errors to exit codes.

No logic lives in the CLI: each command maps its arguments onto library values,
calls one public function and prints the result. One module per command group:
``cli/python.py`` (``compile``, ``hash``, ``verify``), ``cli/apt.py`` (``apt
compile|export|verify``), ``cli/dockerfile.py`` (``dockerfile pin``),
``cli/image.py`` (``image resolve``); shared option groups in ``_options.py``,
what is printed besides results in ``_output.py``. A new group starts from
``_options.add_command_group`` and ends its commands in ``_output.deliver_lock``
(compile: check, print or write the lock) and ``_output.report_problems`` (verify).

Exit codes (the same for every command; docs/errors.md): 0 success; 1 the check
asked for failed (``verify`` found differences, ``compile --check`` found drift,
``hash`` found disagreeing hashes, or resolution is impossible); 2 bad input,
network or index errors, or a bad command line; 70 an internal error (a bug in
lockpin); 130 interrupted; 141 stdout was closed early (``lockpin … | head -1``).
A :class:`~lockpin.errors.LockpinError` is printed as one ``lockpin: error: ...``
paragraph, never a traceback; any other exception as one ``lockpin: internal
error: ...`` paragraph saying how to report it, with the traceback only under
``-v``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, NoReturn

from . import apt, checkall, dockerfile, image, python, record
from ._config import add_config_option, apply_config
from ._options import setup_logging

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]

# Exit codes besides a LockpinError's own (1 or 2) and argparse's 2: the values
# shells and sysexits.h give these cases (docs/errors.md lists them all).
_EXIT_INTERNAL = 70  # EX_SOFTWARE: an exception lockpin did not expect, a bug
_EXIT_INTERRUPTED = 130  # 128 + SIGINT
_EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer killed by it


class _Parser(argparse.ArgumentParser):
    """argparse's parser (every command's: sub-parsers take their parent's class),
    a usage error said in one line, exit 2: ``lockpin compile: error: argument
    --timeout: invalid float value: 'abc' (see lockpin compile --help)``. The whole
    usage block argparse prints before it buries the one line that matters;
    ``--help`` shows it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser: argparse.ArgumentParser = _Parser(
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
    from ._output import error, internal_error

    try:
        apply_config(args)
        code: int = args.run(args)
        # Results may still sit in stdout's buffer: a closed pipe shows here, not at exit.
        sys.stdout.flush()
    except LockpinError as exc:
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print("lockpin: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (``| head -1``): nothing is wrong and nobody
        # is listening; say nothing. Subprocess pipes never raise it this far
        # (``communicate`` swallows EPIPE), so it is stdout's.
        _detach_stdout()
        return _EXIT_BROKEN_PIPE
    except Exception as exc:
        internal_error(exc, verbose=getattr(args, "verbose", 0) > 0)
        return _EXIT_INTERNAL
    return code


def _detach_stdout() -> None:
    """Point stdout at /dev/null: Python flushes it again at exit, and a second
    broken pipe there would print "Exception ignored ... BrokenPipeError"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (captured in tests)
        pass
