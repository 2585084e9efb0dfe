"""``lockpin dockerfile check``: the rules of :mod:`lockpin.image.check` on a file.

Exit 1 when a finding of severity ``error`` remains, 0 otherwise, 2 on bad input
(a Dockerfile that does not parse or cannot be read). ``--context DIR`` (default:
the Dockerfile's directory) is where ``-r`` files and ``uv.lock``/``poetry.lock``
are looked up, read only when present.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

from . import _options as opt

if TYPE_CHECKING:
    import argparse

__all__ = ["add_check", "repo_path", "run_check"]


def repo_path(path: str) -> str:
    """``path`` relative to the repository root, for SARIF (GitHub resolves result
    paths against the root of the checkout): the nearest directory above the file
    holding ``.git`` (a directory, or a file in worktrees and submodules). Outside
    a repository: relative to the working directory when the file is below it,
    else the bare file name -- never an absolute path or a ``..`` escape."""
    full = os.path.abspath(path)
    here = os.path.dirname(full)
    while True:
        if os.path.exists(os.path.join(here, ".git")):
            return os.path.relpath(full, here).replace(os.sep, "/")
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    try:
        rel = os.path.relpath(full, os.getcwd())
    except ValueError:  # another drive (Windows)
        rel = full
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return os.path.basename(full)
    return rel.replace(os.sep, "/")


def add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check",
        help="report every moving input of a Dockerfile",
        description="Check FROM digests, pip/uv/poetry/apt/apk installs, ADD and "
        "downloads for inputs that change between builds (rules LP101…; see "
        "docs/dockerfile.md).",
    )
    p.set_defaults(run=run_check)
    p.add_argument("dockerfile", nargs="?", default="Dockerfile", metavar="DOCKERFILE")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument("--context", metavar="DIR", help="build context (default: DOCKERFILE's dir)")
    p.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a build arg, as docker build takes it (NAME alone: $NAME); repeatable",
    )
    p.add_argument("--ignore", action="append", default=[], metavar="RULE", help="(repeatable)")
    opt.add_verbosity(p)


def run_check(args: argparse.Namespace) -> int:
    from .._io import read_input_bytes
    from ..errors import InputError
    from ..image.check import DirectoryContext, check
    from ..image.dockerfile import parse

    path = args.dockerfile
    try:
        text = read_input_bytes(path, what="Dockerfile").decode("utf-8", "replace")
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}; name an existing Dockerfile"
        ) from None
    context = args.context or os.path.dirname(os.path.abspath(path))
    findings = check(
        parse(text, filename=path),
        DirectoryContext(context),
        build_args=opt.build_args(args.build_arg),
        ignore=args.ignore,
        # [tool.lockpin.dockerfile] severity (set by cli/_config.py; no flag)
        severities=getattr(args, "severity", None) or None,
    )
    if args.format == "sarif":
        from .. import __version__
        from ..image.sarif import to_sarif

        doc = to_sarif(findings, version=__version__, paths={path: repo_path(path)})
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "json":
        json.dump([f.to_dict() for f in findings], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for f in findings:
            sys.stdout.write(f"{f.file}:{f.line}: {f.severity} {f.rule} {f.message}\n")
            sys.stdout.write(f"  fix: {f.fix}\n")
    return 1 if any(f.severity == "error" for f in findings) else 0
