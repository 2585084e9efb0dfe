"""The Python commands: ``lockpin compile``, ``lockpin hash``, ``lockpin verify``.

Each maps its arguments onto library values, calls one public function, prints the
result and returns the exit code. Imported when the parser is built: lockpin's
library modules are imported inside the ``run_*`` functions only.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from . import _options as opt
from . import _output as out

if TYPE_CHECKING:
    import argparse

__all__ = ["add_commands", "run_compile", "run_hash", "run_verify"]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_hash(sub)
    _add_verify(sub)
    _add_compile(sub)


def _add_hash(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    h = sub.add_parser(
        "hash",
        help="add sha256 hashes to a file of pinned requirements",
        description="Add --hash=sha256:… for every file of each pinned release.",
    )
    h.set_defaults(run=run_hash)
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
    opt.add_target_options(h, what="(restricts hashes to files installable on it)")
    opt.add_index_options(h)
    opt.add_net_options(h)
    opt.add_verbosity(h)


def _add_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser(
        "verify",
        help="check a lockfile against the index: hashes and dependency closure",
        description="Exit 0 when every pinned release's hashes are exactly what the index "
        "serves and (for a lock) the pins are exactly the closure of its roots; "
        "1 with a report otherwise; 2 on errors.",
    )
    v.set_defaults(run=run_verify)
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
    opt.add_target_options(
        v,
        what="(default: the lock header's targets; expect only the files installable on them)",
    )
    opt.add_index_options(v)
    opt.add_net_options(v)
    opt.add_verbosity(v)


def _add_compile(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser(
        "compile",
        help="resolve requirements into a hashed lockfile",
        description="Resolve requirements for an explicit target and write a "
        "--require-hashes lockfile.",
    )
    c.set_defaults(run=run_compile)
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
    opt.add_upgrade_options(
        c,
        what="lockfile",
        package_metavar="NAME[==VER]",
        package_help="upgrade one package (repeatable)",
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
    c.add_argument(
        "--build-python",
        metavar="PATH",
        help="interpreter that builds sdists to read their metadata (default: a CPython "
        "of the target's X.Y from pyenv, uv or PATH, else the running one)",
    )
    c.add_argument("--no-header", action="store_true", help="omit the header comment")
    c.add_argument("--no-annotate", action="store_true", help="omit the '# via' notes")
    opt.add_check_options(c, what="lockfile")
    opt.add_target_options(c, what="(default: the running interpreter)")
    opt.add_base_options(c, what="the target's Python version and wheel platform tags")
    opt.add_index_options(c)
    opt.add_net_options(c)
    opt.add_verbosity(c)


# -- hash ---------------------------------------------------------------------------------------


def run_hash(args: argparse.Namespace) -> int:
    from .. import hash_requirements

    index, precedence = opt.index_config(args)
    to_stdout = args.output == "-"
    with out.progress(quiet=args.quiet) as progress:
        result = hash_requirements(
            args.file,
            output=None if to_stdout else args.output,
            write=not to_stdout,
            index=index,
            index_precedence=precedence,
            target=opt.single_target(args),
            update=args.update,
            http=opt.http_config(args),
            reporter=progress,
        )
    out.warn_all(result.warnings, quiet=args.quiet)
    if to_stdout:
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
    if not to_stdout:
        n = sum(len(r.files) for r in result.releases)
        out.note(
            f"{len(result.releases)} release(s), {n} file hash(es) -> {result.written}",
            quiet=args.quiet,
        )
    return 0


# -- verify -------------------------------------------------------------------------------------


def run_verify(args: argparse.Namespace) -> int:
    from .. import verify

    index, precedence = opt.index_config(args)
    with out.progress(quiet=args.quiet) as progress:
        result = verify(
            args.file,
            index=index,
            index_precedence=precedence,
            targets=opt.targets(args),
            download=args.download,
            closure=args.closure,
            http=opt.http_config(args),
            reporter=progress,
        )
    out.warn_all(result.warnings, quiet=args.quiet)
    if out.report_problems(
        result.problems,
        summary=f"{args.file}: {len(result.problems)} problem(s) in "
        f"{len({p.location for p in result.problems})} release(s).",
    ):
        return 1
    extra = f", {result.downloaded} file(s) downloaded and checked" if args.download else ""
    if result.closure_targets:
        extra += "; the pins are the complete dependency closure for " + "; ".join(
            result.closure_targets
        )
    out.note(
        f"{args.file}: {len(result.releases)} release(s) match the index{extra}.",
        quiet=args.quiet,
    )
    return 0


# -- compile ------------------------------------------------------------------------------------


def _default_output(args: argparse.Namespace, src_files: list[str]) -> str:
    name = "pylock.toml" if args.format == "pylock" else "requirements.txt"
    first = src_files[0]
    directory = os.path.dirname(first)
    if first.endswith(".in") and args.format != "pylock":
        return first[:-3] + ".txt"
    return os.path.join(directory, name) if directory else name


def _check_output_path(output: str) -> None:
    """Refuse an output path the lock could not be written to: its directory
    missing or not writable, or the path itself a directory."""
    from ..errors import InputError

    directory = os.path.dirname(os.path.abspath(output))
    if os.path.isdir(output):
        raise InputError(f"{output}: is a directory; pass a file name to -o/--output-file.")
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise InputError(
            f"{output}: cannot write the lock there: {directory} {what}. Create the "
            "directory, or choose another -o/--output-file."
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(
            f"{output}: cannot write the lock there: the directory {directory} is not "
            "writable. Choose another -o/--output-file."
        )


def run_compile(args: argparse.Namespace) -> int:
    import dataclasses

    from .. import compile as compile_lock
    from ..errors import InputError
    from ..python.compile import parse_exclude_newer
    from ..python.lock import same_lock_content

    src_files = list(args.src_files) or ["requirements.in"]
    for src in src_files:
        if not os.path.exists(src):
            raise InputError(
                f"{src}: no such file. Pass the requirements.in or pyproject.toml to lock."
            )
    output = args.output_file or _default_output(args, src_files)
    if output != "-" and os.path.abspath(output) in {os.path.abspath(s) for s in src_files}:
        raise InputError(f"{output}: the output file is also an input; choose another -o.")
    if output != "-" and not args.check and not args.dry_run:
        _check_output_path(output)  # before a resolution that may take minutes
    exclude_newer = parse_exclude_newer(args.exclude_newer) if args.exclude_newer else None
    index, precedence = opt.index_config(args)
    with out.progress(quiet=args.quiet) as progress:
        bases = opt.base_images(args, reporter=progress)
        out.warn_all(tuple(dict.fromkeys(w for b in bases for w in b.warnings)), quiet=args.quiet)
        targets = [b.target(args.python_version) for b in bases] if bases else opt.targets(args)
        lock = compile_lock(
            src_files,
            constraints=args.constraint,
            extras=args.extra,
            all_extras=args.all_extras,
            groups=args.group,
            targets=targets,
            index=index,
            index_precedence=precedence,
            pre=args.pre,
            exclude_newer=exclude_newer,
            only_binary=args.only_binary,
            no_binary=args.no_binary,
            existing=output if output != "-" and os.path.exists(output) else None,
            upgrade=args.upgrade,
            upgrade_packages=args.upgrade_package,
            http=opt.http_config(args),
            build_isolation_python=args.build_python,
            reporter=progress,
        )
    lock = dataclasses.replace(
        lock,
        command=opt.command_line(args.argv),
        bases=tuple(b.locked() for b in bases),
    )
    out.warn_all(lock.warnings, quiet=args.quiet)
    if args.format == "pylock":
        text = lock.to_pylock(target_hashes_only=args.target_hashes_only)
    else:
        text = lock.to_requirements_txt(
            header=not args.no_header,
            annotate=not args.no_annotate,
            target_hashes_only=args.target_hashes_only,
        )
    current = out.read_current(output, what="lockfile") if args.check else ""
    return out.deliver_lock(
        output,
        text,
        current=current,
        # the same pins, hashes and options made by another command line are up to date
        unchanged=same_lock_content(current, text, pylock=args.format == "pylock"),
        check=args.check,
        dry_run=args.dry_run,
        update_with="lockpin compile",
        written=f"{len(lock.packages)} package(s) pinned -> {output}",
        quiet=args.quiet,
    )
