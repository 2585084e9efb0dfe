"""CLI glue for ``lockpin compile``: argument values in, files and exit code out."""

from __future__ import annotations

import difflib
import os
import sys
from typing import TYPE_CHECKING

from ._io import atomic_write
from .errors import InputError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from .net.http import HttpConfig
    from .python.index import IndexConfig
    from .python.target import Target

__all__ = ["run_compile_cli"]


def _targets(args: argparse.Namespace) -> list[Target]:
    from .python.target import parse_target

    platforms = args.platform or [None]
    return [parse_target(python_version=args.python_version, platform=p) for p in platforms]


def _default_output(args: argparse.Namespace, src_files: list[str]) -> str:
    name = "pylock.toml" if args.format == "pylock" else "requirements.txt"
    first = src_files[0]
    directory = os.path.dirname(first)
    if first.endswith(".in") and args.format != "pylock":
        return first[:-3] + ".txt"
    return os.path.join(directory, name) if directory else name


def run_compile_cli(
    args: argparse.Namespace,
    *,
    http: HttpConfig,
    index: IndexConfig,
    index_explicit: bool,
    warn: Callable[[argparse.Namespace, str], None],
) -> int:
    from .cli import command_line
    from .python.compile import compile_lock, parse_exclude_newer

    src_files = list(args.src_files) or ["requirements.in"]
    for src in src_files:
        if not os.path.exists(src):
            raise InputError(
                f"{src}: no such file. Pass the requirements.in or pyproject.toml to lock."
            )
    output = args.output_file or _default_output(args, src_files)
    to_stdout = output == "-" or args.dry_run
    if output != "-" and os.path.abspath(output) in {os.path.abspath(s) for s in src_files}:
        raise InputError(f"{output}: the output file is also an input; choose another -o.")
    exclude_newer = parse_exclude_newer(args.exclude_newer) if args.exclude_newer else None
    existing = output if output != "-" and os.path.exists(output) else None
    progress = None
    if sys.stderr.isatty() and not args.quiet:
        from ._progress import Progress

        progress = Progress(sys.stderr)
    try:
        lock = compile_lock(
            src_files,
            constraints=args.constraint,
            extras=args.extra,
            all_extras=args.all_extras,
            groups=args.group,
            targets=_targets(args),
            index=index,
            index_explicit=index_explicit,
            pre=args.pre,
            exclude_newer=exclude_newer,
            only_binary=args.only_binary,
            no_binary=args.no_binary,
            existing=existing,
            upgrade=args.upgrade,
            upgrade_packages=args.upgrade_package,
            http=http,
            command=command_line(args.argv),
            on_event=progress.event if progress else None,
        )
    finally:
        if progress is not None:
            progress.close()
    for w in lock.warnings:
        warn(args, w)
    if args.format == "pylock":
        text = lock.to_pylock(target_hashes_only=args.target_hashes_only)
    else:
        text = lock.to_requirements_txt(
            header=not args.no_header,
            annotate=not args.no_annotate,
            target_hashes_only=args.target_hashes_only,
        )
    if args.check:
        from ._io import read_input_bytes

        try:  # size-capped, regular files only: the output path may name a device
            current = read_input_bytes(output, what="lockfile").decode("utf-8", "replace")
        except (OSError, InputError):
            current = ""
        if current == text:
            if not args.quiet:
                print(f"lockpin: {output} is up to date.", file=sys.stderr)
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{output} (current)",
            tofile=f"{output} (would write)",
        )
        sys.stdout.writelines(diff)
        print(
            f"lockpin: {output} is out of date; run lockpin compile to update it.", file=sys.stderr
        )
        return 1
    if to_stdout:
        sys.stdout.write(text)
        return 0
    atomic_write(output, text)
    if not args.quiet:
        print(f"lockpin: {len(lock.packages)} package(s) pinned -> {output}", file=sys.stderr)
    return 0
