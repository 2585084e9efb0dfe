"""The apt commands: ``lockpin apt compile``, ``lockpin apt export``, ``lockpin apt verify``.

One command group, one module: ``lockpin apt`` is a sub-parser of its own, so a
later group (``lockpin image``, ``lockpin dockerfile``) joins the same way with
its own module. Each command maps its arguments onto library values, calls one
public function, prints the result and returns the exit code; lockpin's library
modules are imported inside the ``run_*`` functions only.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from . import _options as opt
from . import _output as out

if TYPE_CHECKING:
    import argparse

__all__ = ["add_commands", "run_compile", "run_export", "run_verify"]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = opt.add_command_group(
        sub,
        "apt",
        help="pin Debian/Ubuntu packages: compile, export, verify an apt.lock",
        description="Resolve apt packages against the signed Debian/Ubuntu archive into "
        "an apt.lock, export it for a Dockerfile RUN step, and check it still downloads.",
    )
    _add_compile(group)
    _add_export(group)
    _add_verify(group)


def _add_archive_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("archive")
    g.add_argument(
        "--mirror",
        metavar="URL",
        help="a Debian-layout mirror to use instead of the distribution's archive",
    )
    g.add_argument(
        "--security-mirror",
        metavar="URL",
        help="where the -security suite lives (default: the distribution's security archive)",
    )
    g.add_argument(
        "--snapshot",
        metavar="TIMESTAMP",
        help="resolve against the archive as it was then (e.g. 20250520T000000Z), "
        "from the snapshot archive",
    )
    g.add_argument(
        "--snapshot-url",
        metavar="URL",
        help="base URL of the snapshot archive (default: snapshot.debian.org / "
        "snapshot.ubuntu.com)",
    )
    g.add_argument(
        "--keyring",
        metavar="FILE",
        help="OpenPGP keyring that signs the archive (default: the distribution's "
        "archive keyring in /usr/share/keyrings)",
    )
    g.add_argument(
        "--insecure-skip-verify",
        action="store_true",
        help="do not check InRelease signatures (unsigned local mirrors only; "
        "nothing then vouches for what is pinned)",
    )
    opt.add_insecure_host_option(
        g,
        help="allow plain http:// to HOST for anything not covered by the archive "
        "signature (the archive's own hosts need not be listed)",
    )


_COMPILE_EPILOG = """\
apt.in lists one package per line: 'curl', 'libpq5 (>= 15)' or 'git=1:2.39.5-0+deb12u2';
'#' starts a comment.

examples:
  lockpin apt compile apt.in --release bookworm --platform linux/amd64
  lockpin apt compile apt.in --release bookworm --arch amd64 --arch arm64
  lockpin apt compile apt.in --release noble --component universe --platform linux/amd64
  lockpin apt compile apt.in --release bookworm --arch amd64 --snapshot 20250520T000000Z
  lockpin apt compile --check          # in CI: exit 1 if apt.lock is out of date
  lockpin apt compile -P curl          # move curl's pin, keep the others

exit status: 0 written or up to date; 1 --check found drift, or the packages cannot
be installed together; 2 bad input, an archive that fails verification, or a
network error.
"""


def _add_compile(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import argparse

    c = sub.add_parser(
        "compile",
        help="resolve apt.in into apt.lock (exact versions and .deb sha256s)",
        # Raw text (for the examples): the description is wrapped by hand.
        description="Resolve the packages of apt.in and their whole dependency closure\n"
        "against the signed archive, as apt-get install --no-install-recommends would\n"
        "inside the image, and write apt.lock.",
        epilog=_COMPILE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.set_defaults(run=run_compile)
    c.add_argument("src_file", nargs="?", metavar="SRC", help="package list (default: apt.in)")
    c.add_argument(
        "-o",
        "--output-file",
        metavar="OUT",
        help="lock to write ('-' for stdout; default: apt.lock next to SRC)",
    )
    c.add_argument(
        "--release",
        metavar="NAME",
        help="distribution release: bookworm, trixie, jammy, noble, ... "
        "(default: the existing lock's)",
    )
    c.add_argument(
        "--distro",
        choices=["debian", "ubuntu"],
        help="distribution (default: told by the release name)",
    )
    c.add_argument(
        "--platform",
        metavar="PLATFORM",
        action="append",
        default=[],
        help="target platform, e.g. linux/amd64, linux/arm64 (repeatable: one lock for several)",
    )
    c.add_argument(
        "--arch",
        metavar="ARCH",
        action="append",
        default=[],
        help="Debian spelling of --platform: amd64, arm64, armhf, ... (repeatable)",
    )
    c.add_argument(
        "--component",
        metavar="NAME",
        action="append",
        default=[],
        help="archive component besides main (repeatable), e.g. universe, contrib",
    )
    c.add_argument(
        "--suite",
        metavar="NAME",
        action="append",
        default=[],
        help="use exactly these suites (repeatable; default: RELEASE, RELEASE-updates "
        "and RELEASE-security)",
    )
    c.add_argument(
        "--with-recommends",
        action="store_true",
        help="install Recommends too (default: as apt-get --no-install-recommends)",
    )
    c.add_argument(
        "--base-status",
        metavar="FILE",
        help="the base image's /var/lib/dpkg/status: what is installed already "
        "(default: the release's Essential and Priority: required packages)",
    )
    opt.add_upgrade_options(
        c,
        what="lock",
        package_metavar="NAME",
        package_help="move this package's pin to the newest candidate (repeatable)",
    )
    opt.add_check_options(c, what="lock")
    opt.add_base_options(
        c, what="the release, snapshot and installed packages (instead of --base-status)"
    )
    _add_archive_options(c)
    opt.add_net_options(c)
    opt.add_verbosity(c)


_LOCK_HELP = "an apt.lock (default: apt.lock)"


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    e = sub.add_parser(
        "export",
        help="print apt.lock as apt-get arguments, sha256sum lines or a RUN script",
        description="Print an apt.lock in a form a Dockerfile RUN step consumes.",
    )
    e.set_defaults(run=run_export)
    e.add_argument("lock_file", nargs="?", default="apt.lock", metavar="LOCK", help=_LOCK_HELP)
    e.add_argument(
        "--format",
        choices=["apt-get", "sha256sums", "script"],
        default="script",
        help="apt-get: name=version arguments; sha256sums: lines for sha256sum -c; "
        "script: a POSIX sh script that downloads, checks and installs exactly the "
        "pinned .debs (default)",
    )
    e.add_argument(
        "--platform",
        metavar="PLATFORM",
        help="the platform to export (needed for apt-get and sha256sums when the lock has several)",
    )
    e.add_argument(
        "--keyring-in-image",
        metavar="PATH",
        help="for --format script: the archive's keyring inside the image (COPY it there "
        "first), named signed-by= for the lock's sources; needed when the lock was compiled "
        "with a --keyring the image does not trust (default: the image's trusted keys)",
    )
    e.add_argument(
        "-o", "--output", metavar="OUT", help="write here instead of stdout ('-': stdout)"
    )
    opt.add_verbosity(e)


def _add_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser(
        "verify",
        help="check that every pinned .deb is still downloadable with its sha256",
        description="Exit 0 when every pinned version is still served by the lock's "
        "sources with the recorded sha256; 1 with a report otherwise; 2 on errors.",
    )
    v.set_defaults(run=run_verify)
    v.add_argument("lock_file", nargs="?", default="apt.lock", metavar="LOCK", help=_LOCK_HELP)
    v.add_argument(
        "--download",
        action="store_true",
        help="also download every .deb and check its bytes (default: check the signed "
        "indexes, and download only what they no longer list)",
    )
    v.add_argument(
        "--keyring",
        metavar="FILE",
        help="keyring to check InRelease with (needed when the lock was compiled with one)",
    )
    v.add_argument(
        "--insecure-skip-verify",
        action="store_true",
        help="do not check InRelease signatures (unsigned local mirrors only; implied when "
        "the lock was compiled with it)",
    )
    opt.add_insecure_host_option(
        v, help="allow plain http:// to HOST (the lock's archive hosts need not be listed)"
    )
    opt.add_net_options(v)
    opt.add_verbosity(v)


# -- compile ------------------------------------------------------------------------------------


def _platforms(args: argparse.Namespace) -> list[str]:
    from ..apt.distro import oci_platform

    platforms = list(args.platform)
    platforms.extend(oci_platform(arch) for arch in args.arch)
    return platforms


def run_compile(args: argparse.Namespace) -> int:
    import dataclasses

    from .. import apt_compile
    from ..errors import InputError

    src = args.src_file or "apt.in"
    if not os.path.exists(src):
        raise InputError(f"{src}: no such file. Pass the package list (apt.in) to lock.")
    output = args.output_file or os.path.join(os.path.dirname(src), "apt.lock")
    if output != "-" and os.path.abspath(output) == os.path.abspath(src):
        raise InputError(f"{output}: the output file is also the input; choose another -o.")
    if output != "-" and not args.check and not args.dry_run:
        parent = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(parent):
            raise InputError(f"{output}: directory {parent} does not exist; create it first.")
    existing = output if output != "-" and os.path.exists(output) else None
    with out.progress(quiet=args.quiet) as progress:
        bases = opt.base_images(args, platforms=_platforms(args), reporter=progress)
        out.warn_all(tuple(dict.fromkeys(w for b in bases for w in b.warnings)), quiet=args.quiet)
        result = apt_compile(
            src,
            release=args.release,
            distro=args.distro,
            platforms=_platforms(args),
            base_images=bases,
            components=args.component,
            suites=args.suite,
            mirror=args.mirror,
            security_mirror=args.security_mirror,
            snapshot=args.snapshot,
            snapshot_url=args.snapshot_url,
            keyring=args.keyring,
            insecure_skip_verify=args.insecure_skip_verify,
            with_recommends=args.with_recommends,
            base_status=args.base_status,
            existing=existing,
            upgrade=args.upgrade,
            upgrade_packages=args.upgrade_package,
            http=opt.http_config(args),
            reporter=progress,
        )
    lock = dataclasses.replace(result.lock, command=opt.command_line(args.argv))
    out.warn_all(result.warnings, quiet=args.quiet)
    per = ", ".join(
        f"{sum(1 for p in lock.packages if p.platform == plat)} for {plat}"
        for plat in lock.platforms
    )
    return out.deliver_lock(
        output,
        lock.to_toml(),
        current="" if existing is None else out.read_current(existing, what="lock"),
        # The pins are what the lock holds: an unchanged lock keeps its file (and
        # its evidence of when they were verified) rather than churn it for a
        # newer InRelease date.
        unchanged=result.previous is not None and result.previous.same_content(lock),
        check=args.check,
        dry_run=args.dry_run,
        update_with="lockpin apt compile",
        written=f"{len(lock.packages)} package pin(s) ({per}) -> {output}",
        kept=f"{output} is up to date ({len(lock.packages)} package(s)).",
        quiet=args.quiet,
    )


# -- export -------------------------------------------------------------------------------------


def run_export(args: argparse.Namespace) -> int:
    from .. import apt_export
    from .._io import atomic_write

    text = apt_export(
        args.lock_file,
        format=args.format,
        platform=args.platform,
        keyring_in_image=args.keyring_in_image,
    )
    if args.output and args.output != "-":
        atomic_write(args.output, text)
        if args.format == "script":
            os.chmod(args.output, 0o755)
        out.note(f"{args.format} -> {args.output}", quiet=args.quiet)
        return 0
    sys.stdout.write(text)
    return 0


# -- verify -------------------------------------------------------------------------------------


def run_verify(args: argparse.Namespace) -> int:
    from .. import apt_verify

    with out.progress(quiet=args.quiet) as progress:
        result = apt_verify(
            args.lock_file,
            download=args.download,
            keyring=args.keyring,
            insecure_skip_verify=args.insecure_skip_verify,
            http=opt.http_config(args),
            reporter=progress,
        )
    out.warn_all(result.warnings, quiet=args.quiet)
    if out.report_problems(
        result.problems,
        summary=f"{args.lock_file}: {len(result.problems)} of {result.checked} pin(s) "
        "can no longer be installed as locked. Re-run lockpin apt compile (with -P NAME "
        "for those packages) and commit the new lock, or pin a --snapshot.",
    ):
        return 1
    extra = f", {result.downloaded} .deb(s) downloaded and checked" if result.downloaded else ""
    out.note(
        f"{args.lock_file}: {result.checked} pin(s) still downloadable with their sha256{extra}.",
        quiet=args.quiet,
    )
    return 0
