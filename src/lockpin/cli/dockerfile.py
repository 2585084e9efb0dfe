"""The Dockerfile commands: ``lockpin dockerfile pin`` and ``snippet``.

One command group, one module (as ``cli/apt.py``). ``pin`` maps its arguments
onto :func:`lockpin.pin_dockerfile`, prints the diff of what it changes and
writes the file atomically; lockpin's library modules are imported inside the
``run_*`` functions only. :func:`make_resolver` is the seam the tests replace
to run the command against an in-memory registry. ``snippet`` reads the locks,
renders :func:`lockpin.image.snippet.render_snippet` and writes the apt script
and the snippet only once everything is known to be good.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from . import _options as opt
from . import _output as out

if TYPE_CHECKING:
    import argparse

    from ..image.pin import Resolver

__all__ = ["add_commands", "make_resolver", "run_pin", "run_snippet"]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = opt.add_command_group(
        sub,
        "dockerfile",
        help="pin the base images of a Dockerfile by digest",
        description="Rewrite the FROM lines of a Dockerfile to name:tag@sha256:… "
        "(the tag kept as the label), resolved at the registry.",
    )
    _add_pin(group)
    from ._dockerfile_check import add_check

    add_check(group)
    _add_snippet(group)


_PIN_EPILOG = """\
Every FROM becomes name:tag@sha256:… (the index digest of a multi-platform image, so
the image stays buildable for every platform); scratch and earlier stages are left
alone; FROM ${BASE} pins the default of ARG BASE. Digests already there are kept
unless --update. FROM lines that cannot be pinned in the file (a variable without a
default, an image built from several variables) are reported as warnings.

examples:
  lockpin dockerfile pin                       # ./Dockerfile
  lockpin dockerfile pin docker/app.Dockerfile --platform linux/amd64 --platform linux/arm64
  lockpin dockerfile pin --update              # move every pin to what its tag is now
  lockpin dockerfile pin --check               # in CI: exit 1 if a FROM is not pinned

exit status: 0 written or up to date; 1 --check found something to pin; 2 bad input
(a Dockerfile that does not parse, a bad reference), an image or platform the
registry does not have, or a network error. The Dockerfile is untouched on failure;
it is not replaced when it is read-only (chmod a-w) or was changed on disk while
lockpin was at the registry (run again).
"""


def _add_pin(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import argparse

    p = sub.add_parser(
        "pin",
        help="rewrite every FROM to name:tag@sha256:…",
        description="Resolve the image of every FROM at its registry and pin it by\n"
        "digest, keeping the tag; everything else in the file stays byte for byte.",
        epilog=_PIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=run_pin, allow_insecure_host=[])
    p.add_argument(
        "dockerfile",
        nargs="?",
        default="Dockerfile",
        metavar="DOCKERFILE",
        help="(default: ./Dockerfile)",
    )
    p.add_argument(
        "--platform",
        metavar="PLATFORM",
        action="append",
        default=[],
        help="check that every image has this platform, e.g. linux/arm64 (repeatable); "
        "the pin stays the multi-platform index",
    )
    p.add_argument(
        "--update",
        action="store_true",
        help="move existing digests to what their tags point at now (prints old -> new)",
    )
    p.add_argument(
        "--build-arg",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a build arg, as given to docker build, for expanding FROM lines (repeatable)",
    )
    opt.add_check_options(p, what="Dockerfile")
    opt.add_insecure_registry(p.add_argument_group("registry"))
    opt.add_net_options(p)
    opt.add_verbosity(p)


def make_resolver(args: argparse.Namespace) -> Resolver:
    """The registry, with the network options of ``args``."""
    from ..image.pin import RegistryResolver

    return RegistryResolver(
        http=opt.http_config(args), insecure_registries=tuple(args.insecure_registry)
    )


def run_pin(args: argparse.Namespace) -> int:
    from .. import pin_dockerfile
    from .._io import atomic_write

    path = args.dockerfile
    result = pin_dockerfile(
        path,
        resolver=make_resolver(args),
        platforms=tuple(args.platform),
        update=args.update,
        build_args=opt.build_args(args.build_arg),
    )
    out.warn_all((str(u) for u in result.unpinned), quiet=args.quiet)
    if result.unchanged:
        out.note(f"{path}: every FROM that can be pinned is pinned.", quiet=args.quiet)
        return 0
    if args.check:
        out.write_check_diff(path, result.original, result.text)
        again = " --update" if args.update else ""
        out.note(f"{path} has FROM lines to pin; run 'lockpin dockerfile pin{again} {path}'.")
        return 1
    if args.dry_run:
        out.write_check_diff(path, result.original, result.text)
        return 0
    atomic_write(path, result.text, expected=result.original)
    out.write_check_diff(path, result.original, result.text, after="pinned")
    for change in result.changes:
        if change.old_digest is not None:
            out.note(
                f"{path}:{change.line}: {change.old}: {change.old_digest} -> {change.new_digest}",
                quiet=args.quiet,
            )
    out.note(f"{path}: {len(result.changes)} reference(s) pinned.", quiet=args.quiet)
    return 0


_SNIPPET_EPILOG = """\
Paths are build-context paths: run it from the context directory (as docker build .).
With --apt, the install script (lockpin apt export --format script) is written to
--apt-script (default: apt-install.sh beside -o, or in the current directory) and the
snippet COPYs it: a file, not a COPY <<EOF heredoc, works with the legacy builder too.
The requirements must be pinned and hashed (lockpin compile, or lockpin hash).

examples:
  lockpin dockerfile snippet --requirements requirements.txt
  lockpin dockerfile snippet --requirements requirements.txt --apt apt.lock -o install.Dockerfile
  lockpin dockerfile snippet --requirements requirements.txt --no-buildkit --dest /opt/app

exit status: 0 printed (or written); 2 bad input (a missing file, a requirement without
--hash, an apt.lock that does not parse). Nothing is written on failure.
"""


def _add_snippet(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import argparse

    p = sub.add_parser(
        "snippet",
        help="print the COPY + RUN steps that install exactly the locks",
        description="Print the Dockerfile COPY and RUN steps that install a hashed\n"
        "requirements lock and/or an apt.lock, exactly; paste them after FROM.",
        epilog=_SNIPPET_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=run_snippet)
    p.add_argument("--requirements", metavar="FILE", help="a hashed requirements lock")
    p.add_argument("--apt", metavar="APT_LOCK", help="an apt.lock (lockpin apt compile)")
    p.add_argument(
        "--apt-script",
        metavar="PATH",
        help="where to write the apt install script (default: apt-install.sh beside -o)",
    )
    p.add_argument(
        "--dest",
        metavar="DIR",
        default="/tmp",
        help="the directory in the image the files are copied to (default: /tmp)",
    )
    p.add_argument(
        "--buildkit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="cache pip's downloads in a BuildKit cache mount (default); --no-buildkit for "
        "the legacy builder (pip --no-cache-dir)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the snippet here, not stdout")
    opt.add_verbosity(p)


def run_snippet(args: argparse.Namespace) -> int:
    import sys

    from .._io import atomic_write
    from ..image.snippet import DEFAULT_APT_SCRIPT, dockerfile_snippet

    snippet = dockerfile_snippet(
        args.requirements,
        args.apt,
        apt_script_path=args.apt_script
        or os.path.join(os.path.dirname(args.output or ""), DEFAULT_APT_SCRIPT),
        dest=args.dest,
        buildkit=args.buildkit,
    )
    if snippet.apt_script is not None and snippet.apt_script_path is not None:
        atomic_write(snippet.apt_script_path, snippet.apt_script)
        out.note(f"{snippet.apt_script_path}: the apt install script, written.", quiet=args.quiet)
    if args.output:
        atomic_write(args.output, snippet.text)
        out.note(f"{args.output}: snippet written.", quiet=args.quiet)
    else:
        sys.stdout.write(snippet.text)
    return 0
