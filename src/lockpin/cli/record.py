"""The release log commands: ``lockpin record add|show|diff``.

Each command maps its arguments onto library values, calls one public function
(``lockpin.record_add``/``record_show``/``record_diff``) and prints the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import _options as opt

if TYPE_CHECKING:
    import argparse

__all__ = ["add_commands"]

_EPILOG = """\
examples:
  docker buildx build --push --metadata-file meta.json -t ghcr.io/owner/app:1.4.0 .
  lockpin record add --version 1.4.0 --metadata-file meta.json
  lockpin record show 1.4.0 --format json
  lockpin record diff 1.3.0 1.4.0

exit status: 0 done; 2 bad input (no digest in the metadata file, a corrupt log
line, an unknown version, a duplicate version, a Dockerfile whose
`lockpin dockerfile check` has errors -- unless --allow-unpinned).
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import argparse

    group = opt.add_command_group(
        sub,
        "record",
        help="the release log: record which image shipped, show and compare releases",
        description="Record what shipped in a JSON Lines log (releases.jsonl).",
    )

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--log",
            type=Path,
            default=Path("releases.jsonl"),
            metavar="FILE",
            help="the release log (default: releases.jsonl)",
        )
        opt.add_verbosity(p)

    add = group.add_parser(
        "add",
        help="append a release to the log",
        description="Record a build: its image digest, pinned bases and lock hashes.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.set_defaults(run=run_add)
    add.add_argument("--version", required=True, help="the release's version, e.g. 1.4.0")
    add.add_argument(
        "--metadata-file",
        required=True,
        type=Path,
        metavar="FILE",
        help="docker buildx --metadata-file, or podman/buildah --digestfile, kaniko --digest-file",
    )
    add.add_argument("--dockerfile", type=Path, default=Path("Dockerfile"), metavar="FILE")
    add.add_argument(
        "--lock",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a lock the image installs (repeatable); those the Dockerfile COPYs are found",
    )
    add.add_argument(
        "--platform", action="append", default=[], metavar="PLATFORM", help="built platform"
    )
    add.add_argument("--force", action="store_true", help="record a version again")
    add.add_argument(
        "--context",
        type=Path,
        metavar="DIR",
        help="build context the check reads -r files and locks from (default: DOCKERFILE's dir)",
    )
    add.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="record even if `lockpin dockerfile check` has errors (the record lists them)",
    )
    common(add)

    show = group.add_parser("show", help="print one release", epilog=_EPILOG)
    show.set_defaults(run=run_show)
    show.add_argument("version")
    show.add_argument("--format", choices=["text", "json"], default="text")
    common(show)

    diff = group.add_parser("diff", help="what changed between two releases", epilog=_EPILOG)
    diff.set_defaults(run=run_diff)
    diff.add_argument("old")
    diff.add_argument("new")
    diff.add_argument("--format", choices=["text", "json"], default="text")
    common(diff)


def run_add(args: argparse.Namespace) -> int:
    from ..image.record import record_add

    rec = record_add(
        version=args.version,
        metadata_file=args.metadata_file,
        dockerfile=args.dockerfile,
        locks=args.lock,
        platforms=args.platform,
        log=args.log,
        force=args.force,
        allow_unpinned=args.allow_unpinned,
        context=args.context,
    )
    if not args.quiet:
        print(f"recorded {rec.version}: {rec.digest} in {args.log}", file=sys.stderr)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ..image.record import record_show

    rec = record_show(args.version, log=args.log)
    if args.format == "json":
        sys.stdout.write(json.dumps(rec.to_dict(), indent=2, sort_keys=True) + "\n")
        return 0
    lines = [
        f"version:   {rec.version}",
        f"time:      {rec.time}",
        f"digest:    {rec.digest}",
        *(f"name:      {n}" for n in rec.image_names),
        *(f"platform:  {p}" for p in rec.platforms),
        *(f"base:      {b}" for b in rec.bases),
        f"dockerfile: {rec.dockerfile} {rec.dockerfile_sha256}",
        *(f"lock:      {lock.path} {lock.sha256} ({len(lock.pins)} pins)" for lock in rec.locks),
        f"lockpin:   {rec.lockpin_version}",
    ]
    if rec.allow_unpinned:
        lines.append("warning:   recorded with --allow-unpinned")
        lines.extend(
            f"unpinned:  {rec.dockerfile}:{u.line}: {u.rule} {u.message}" for u in rec.unpinned
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from ..image.record import record_diff

    diff = record_diff(args.old, args.new, log=args.log)
    if args.format == "json":
        changes = [{"section": s, "name": n, "old": o, "new": w} for s, n, o, w in diff.changes]
        sys.stdout.write(
            json.dumps({"a": diff.a, "b": diff.b, "changes": changes}, indent=2) + "\n"
        )
    else:
        sys.stdout.write(diff.render_text())
    return 0
