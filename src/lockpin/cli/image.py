"""The image commands: ``lockpin image resolve``.

``lockpin image`` is a command group of its own (``_options.add_command_group``);
each command maps its arguments onto library values, calls one public function
and prints the result. lockpin's library modules are imported inside the
``run_*`` functions only.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from . import _options as opt
from . import _output as out

if TYPE_CHECKING:
    import argparse

    from ..image.resolve import ResolvedImage

__all__ = ["add_commands", "run_resolve"]

_RESOLVE_EPILOG = """\
examples:
  lockpin image resolve python:3.12-slim
  lockpin image resolve python:3.12-slim --platform linux/amd64 --platform linux/arm64
  lockpin image resolve ghcr.io/owner/app:1.4 --format json
  lockpin image resolve registry.internal:5000/app:1 --insecure-registry registry.internal:5000

Credentials come from Docker's config ($DOCKER_CONFIG/config.json, else
~/.docker/config.json: auths, credHelpers, credsStore), as docker login writes it.

exit status: 0 resolved; 2 bad reference, unknown image or tag, missing platform,
authentication or network failure, or a registry answer that fails verification.
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = opt.add_command_group(
        sub,
        "image",
        help="container images: resolve a reference to the digests to pin",
        description="Talk to OCI registries (no Docker daemon needed).",
    )
    _add_resolve(group)


def _add_resolve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import argparse

    r = sub.add_parser(
        "resolve",
        help="print the digest a reference points at now, and each platform's",
        description="Resolve an image reference at its registry: the digest to pin it by\n"
        "(the index digest of a multi-platform image) and each platform's manifest\n"
        "digest. Every digest is computed from the bytes the registry served.",
        epilog=_RESOLVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.set_defaults(run=run_resolve)
    r.add_argument("reference", metavar="REF", help="an image reference, e.g. python:3.12-slim")
    r.add_argument(
        "--platform",
        metavar="PLATFORM",
        action="append",
        default=[],
        help="only this platform, which must exist (repeatable), e.g. linux/arm64, linux/arm/v7",
    )
    r.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text (default): readable; json: for tools",
    )
    opt.add_insecure_registry(r)
    r.set_defaults(allow_insecure_host=[])
    opt.add_net_options(r)
    opt.add_verbosity(r)


def run_resolve(args: argparse.Namespace) -> int:
    from ..image.resolve import resolve_image

    with out.progress(quiet=args.quiet) as progress:
        result = resolve_image(
            args.reference,
            platforms=args.platform,
            http=opt.http_config(args),
            insecure_registries=args.insecure_registry,
            reporter=progress,
        )
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(render_text(result))
    return 0


def render_text(result: ResolvedImage) -> str:
    """``REF@DIGEST`` first (what to paste into a ``FROM``), then one line per platform."""
    kind = "index" if result.is_index else "manifest"
    lines = [
        result.pinned.familiar,
        f"  {kind} {result.digest}",
    ]
    width = max((len(m.platform) for m in result.manifests), default=0)
    for m in result.manifests:
        lines.append(f"  {m.platform.ljust(width)}  {m.digest}")
    return "\n".join(lines) + "\n"
