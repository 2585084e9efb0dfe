"""``lockpin apt export``: an :class:`~lockpin.apt.lock.AptLock` as text a
Dockerfile ``RUN`` step consumes (pure: values in, text out).

Three formats:

``apt-get``
    The ``name=version`` arguments of one platform, one per line, sorted by
    name: reviewable and diffable, and word splitting makes them arguments
    either way (``apt-get install -y --no-install-recommends $(cat pins.txt)``
    or ``xargs apt-get install -y --no-install-recommends < pins.txt``).

``sha256sums``
    Lines for ``sha256sum -c``: ``<sha256>  <file>``, where ``<file>`` is the name
    apt gives the downloaded ``.deb`` (:func:`lockpin.apt.lock.deb_file_name`:
    ``name_version_arch.deb``, the epoch colon written ``%3a``). One platform's,
    or, for a lock of several platforms and no ``platform``, every platform's
    under a ``# <platform>`` comment line each (``sha256sum -c`` skips comments;
    use ``--ignore-missing`` when only one architecture's files are there).

``script``
    A POSIX ``sh`` script (``set -eu``) that needs nothing but apt, dpkg and
    coreutils in the image (no lockpin, curl or wget): it picks the package list
    of ``dpkg --print-architecture`` (an architecture the lock lacks fails the
    build), runs ``apt-get update`` against a private sources list holding only
    the lock's suites (with private lists: the image's own sources and lists are
    neither used nor changed), ``apt-get download``-s exactly the pinned
    ``name=version`` with apt's own http method, checks every file with
    ``sha256sum -c`` against the lock (one mismatch fails the build, naming the
    file, before anything is installed), then installs the checked files with
    ``apt-get install ./…deb`` and **no source configured at all**. apt rather
    than ``dpkg -i``: apt orders the unpacking and configuring itself (a
    Pre-Depends must be configured before its dependant is unpacked, which
    ``dpkg -i`` does not arrange for a set of files in arbitrary order), while
    with no source it cannot pull in anything the lock does not pin: a missing
    dependency or a downgrade fails the build instead. (A removal the resolver
    planned for a conflict with an installed package happens as apt decides;
    under ``-y`` apt never removes an Essential package.) At the end it
    removes its temporary directory (lists and ``.deb`` files) and
    ``/var/lib/apt/lists/*``.

    Trust, in the image as at compile time. apt checks the suites' InRelease
    signatures again, against the image's trusted keys (Debian and Ubuntu images
    hold their archive's), or against ``keyring_in_image``, a keyring file the
    Dockerfile copied into the image, named with ``signed-by=`` on every source
    line (the script stops with a clear message when the file is missing). A
    lock compiled with a keyring of its own
    (:attr:`~lockpin.apt.lock.AptLock.keyring_name`) and exported without
    ``keyring_in_image`` relies on the image's trusted keys; when ``apt-get
    update`` fails the script says which key the image lacks and how to give
    it. A lock compiled with ``--insecure-skip-verify`` (an unsigned mirror)
    gets ``[trusted=yes]`` on its source lines, and only then, with a comment
    saying that nothing but the sha256 check vouches for the files.

Every value written into the script was validated by
:class:`~lockpin.apt.lock.AptLock` (names, versions, URLs, file names, suites
are from small character sets) and is single-quoted all the same.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:
    from .lock import AptLock, LockedPackage, SuiteRecord

__all__ = ["export_apt_get", "export_script", "export_sha256sums"]


def _one_platform(lock: AptLock, platform: str | None, what: str) -> str:
    if platform is not None:
        _check_platform(lock, platform)
        return platform
    if len(lock.platforms) == 1:
        return lock.platforms[0]
    raise InputError(
        f"the lock has several platforms ({', '.join(lock.platforms)}); {what} is for one: "
        f"name it with --platform, e.g. --platform {lock.platforms[0]}."
    )


def _check_platform(lock: AptLock, platform: str) -> None:
    if platform not in lock.platforms:
        raise InputError(
            f"the lock has no platform {platform!r}; it has {', '.join(lock.platforms)}. "
            f"Name one of those, or re-run lockpin apt compile with --platform {platform}."
        )


def export_apt_get(lock: AptLock, platform: str | None = None) -> str:
    """``name=version`` lines (sorted by name) of ``platform``, which may be left out
    when the lock has only one. Empty text when the platform pins nothing."""
    chosen = _one_platform(lock, platform, "an apt-get argument list")
    return "".join(f"{p.pin}\n" for p in lock.packages_for(chosen))


def _sum_lines(pins: tuple[LockedPackage, ...]) -> list[str]:
    return [f"{p.sha256}  {p.deb_name}" for p in sorted(pins, key=lambda p: p.deb_name)]


def export_sha256sums(lock: AptLock, platform: str | None = None) -> str:
    """``sha256sum -c`` lines for the ``.deb`` files of ``platform`` (sorted by file
    name), or of every platform, each under a ``# <platform>`` line, when
    ``platform`` is ``None`` and the lock has several."""
    if platform is not None or len(lock.platforms) == 1:
        chosen = _one_platform(lock, platform, "sha256sums")
        return "".join(f"{line}\n" for line in _sum_lines(lock.packages_for(chosen)))
    out: list[str] = []
    for each in lock.platforms:
        out.append(f"# {each}")
        out.extend(_sum_lines(lock.packages_for(each)))
    return "".join(f"{line}\n" for line in out)


# -- the RUN script ---------------------------------------------------------------------


def _q(value: str) -> str:
    """Single-quote for sh: inside '…' nothing is special but the quote itself."""
    return "'" + value.replace("'", "'\\''") + "'"


# An absolute path apt's option parser and sh take as one word: no space, "]", "=" or quote.
_IMAGE_PATH = re.compile(r"/[A-Za-z0-9._+~@/-]+")


def _check_keyring_in_image(lock: AptLock, path: str | None) -> None:
    if path is None:
        return
    if not _IMAGE_PATH.fullmatch(path) or any(
        part in ("", ".", "..") for part in path[1:].split("/")
    ):
        raise InputError(
            f"--keyring-in-image {path!r} must be an absolute path in the image, such as "
            "/usr/share/keyrings/mirror.gpg (letters, digits and ._+~@-/ only, no '..')."
        )
    if lock.insecure_skip_verify:
        raise InputError(
            "the lock was compiled with --insecure-skip-verify: its sources are unsigned "
            "and the script marks them [trusted=yes], so there is no signature for "
            "--keyring-in-image to check. Leave it out, or re-lock from a signed mirror."
        )


def _source_line(
    record: SuiteRecord, arch: str, lock: AptLock, keyring_in_image: str | None
) -> str:
    options = [f"arch={arch}"]
    if lock.insecure_skip_verify:
        # Compiled from an unsigned mirror: apt would refuse it (see the script's comment).
        options.append("trusted=yes")
    elif keyring_in_image is not None:
        options.append(f"signed-by={keyring_in_image}")
    if lock.snapshot is not None:
        # A snapshot's InRelease is past its Valid-Until by design.
        options.append("check-valid-until=no")
    return f"deb [{' '.join(options)}] {record.url} {record.suite} {' '.join(lock.components)}"


def _branch(lock: AptLock, platform: str, keyring_in_image: str | None) -> list[str]:
    arch = lock.architecture_of(platform)
    pins = lock.packages_for(platform)
    records = lock.suites_for(arch)
    lines = [f"{arch})  # {platform}"]
    if not pins:
        lines.append("\tset --")
        lines.append("\t;;")
        return lines
    sources = "\n".join(_source_line(r, arch, lock, keyring_in_image) for r in records)
    sums = "\n".join(_sum_lines(pins))
    lines.append(f"\tsources={_q(sources)}")
    lines.append(f"\tsums={_q(sums)}")
    if any(r.url.startswith("https:") for r in records):
        lines.append("\thttps=yes")
    lines.append("\tset -- \\")
    lines.extend(f"\t\t{_q(p.pin)} \\" for p in pins[:-1])
    lines.append(f"\t\t{_q(pins[-1].pin)}")
    lines.append("\t;;")
    return lines


_PREAMBLE = """\
#!/bin/sh
# Generated by lockpin from an apt.lock ({what}).
# Do not edit by hand; re-run: lockpin apt export apt.lock --format script
#
# Installs exactly the packages the lock pins for this image's architecture, with
# nothing but apt, dpkg and coreutils (no lockpin, curl or wget in the image):
# apt-get downloads the pinned .debs from the lock's suites through a private
# sources list and private lists (the image's own are not used), sha256sum checks
# every file against the lock, and apt-get installs the checked files with no
# source configured, so nothing unpinned can come in. Any mismatch fails before
# anything is installed. Run it as root: COPY it into the build context and
# RUN sh ./apt-install.sh
set -eu
export DEBIAN_FRONTEND=noninteractive

https=no
arch=$(dpkg --print-architecture)
case "$arch" in
"""

_CHECKS = """\
if [ "$#" -eq 0 ]; then
	echo "lockpin: the apt.lock pins nothing to install for $arch."
	exit 0
fi
if [ "$https" = yes ] && [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then
	echo "lockpin: the lock's archive is https, and this image has no CA certificates:" \\
		"install ca-certificates first (or lock from an http mirror: every .deb is" \\
		"checked against its sha256 anyway)." >&2
	exit 1
fi
"""

_INSECURE = """\
# This lock was compiled with --insecure-skip-verify, from an unsigned mirror: its
# sources are marked [trusted=yes], so apt checks no InRelease signature either.
# Nothing but the sha256 check of every .deb against the lock vouches for what is
# installed: use it only for a mirror of your own."""

_KEYRING_CHECK = """\
# apt checks the InRelease signatures against this keyring (signed-by=).
keyring={path}
if [ ! -s "$keyring" ]; then
	echo "lockpin: the keyring $keyring is not in this image: COPY it there before" \\
		"this step. The lock's sources are signed by a key of" \\
		"{what}." >&2
	exit 1
fi
"""

_BODY = """\

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
# apt fetches as its sandbox user _apt, which must reach and write these.
chmod 0755 "$tmp"
mkdir -p "$tmp/lists/partial" "$tmp/nolists/partial" "$tmp/archives/partial" \\
	"$tmp/debs" "$tmp/parts"
if id _apt >/dev/null 2>&1; then
	chown _apt "$tmp/lists/partial" "$tmp/archives/partial" "$tmp/debs"
fi
printf '%s\\n' "$sources" >"$tmp/sources.list"
printf '%s\\n' "$sums" >"$tmp/SHA256SUMS"
: >"$tmp/none.list"

# apt-get seeing only the lock's suites (SourceParts: an empty directory); the
# image's sources, lists and package caches are left alone. Error-Mode=any: a
# suite that fails to update is an error, not a warning.
apt_locked() {
	apt-get -q \\
		-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=$tmp/parts" \\
		-o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache::Archives=$tmp/archives" \\
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \\
		-o APT::Update::Error-Mode=any -o Acquire::Retries=3 -o Acquire::Languages=none \\
		"$@"
}
if ! apt_locked update; then
	echo "lockpin: apt-get update failed for the apt.lock's sources (above)." \\
		"$update_hint Nothing was installed." >&2
	exit 1
fi
(cd "$tmp/debs" && apt_locked download "$@")
if ! (cd "$tmp/debs" && sha256sum -c --strict "$tmp/SHA256SUMS"); then
	echo "lockpin: a downloaded .deb is not the one in the apt.lock (FAILED above):" \\
		"the archive served other bytes for a pinned version. Nothing was installed." >&2
	exit 1
fi

set --
while read -r _ file; do
	set -- "$@" "$tmp/debs/$file"
done <"$tmp/SHA256SUMS"
# No source configured: apt orders the unpacking (Pre-Depends) itself and fails
# rather than fetch or downgrade anything the lock does not say.
apt-get -q -y --no-install-recommends \\
	-o "Dir::Etc::SourceList=$tmp/none.list" -o "Dir::Etc::SourceParts=$tmp/parts" \\
	-o "Dir::State::Lists=$tmp/nolists" -o "Dir::Cache::Archives=$tmp/archives" \\
	-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \\
	install "$@"
rm -rf "$tmp" /var/lib/apt/lists/*
"""


def _update_hint(lock: AptLock, keyring_in_image: str | None) -> str:
    """What the script says when ``apt-get update`` fails (a signature apt could not
    check is the likely cause that the user can fix)."""
    if lock.insecure_skip_verify:
        return "Is the mirror reachable from the build?"
    if keyring_in_image is not None:
        return (
            f"If apt says NO_PUBKEY, {keyring_in_image} does not hold the key that signs "
            "the lock's sources: copy in the keyring the lock was compiled with"
            + (f" ({lock.keyring_name})." if lock.keyring_name else ".")
        )
    if lock.keyring_name is not None:
        return (
            f"The lock was compiled with a keyring of its own ({lock.keyring_name}, sha256 "
            f"{lock.keyring_sha256}): if apt says NO_PUBKEY or that a source is not signed, "
            "this image does not trust that key. COPY the keyring into the image and export "
            "the script with lockpin apt export --keyring-in-image PATH, or add it to "
            "/etc/apt/trusted.gpg.d first."
        )
    package = "ubuntu-keyring" if lock.distribution == "ubuntu" else "debian-archive-keyring"
    return f"If apt says NO_PUBKEY, the image lacks the archive's keyring: install {package} first."


def export_script(
    lock: AptLock, platform: str | None = None, *, keyring_in_image: str | None = None
) -> str:
    """The POSIX ``sh`` script of the module docstring, with a branch for each of the
    lock's platforms (only ``platform``'s when given); ``keyring_in_image`` is the
    path of the archive's keyring inside the image, named ``signed-by=`` (the
    image's trusted keys when ``None``). :class:`InputError` for a path that is
    not a plain absolute one, or for a lock of an unsigned mirror (nothing to check)."""
    _check_keyring_in_image(lock, keyring_in_image)
    if platform is not None:
        _check_platform(lock, platform)
    platforms = [platform] if platform is not None else list(lock.platforms)
    arches = [lock.architecture_of(p) for p in platforms]
    what = f"{lock.distribution} {lock.release}; {' '.join(platforms)}"
    if lock.snapshot is not None:
        what += f"; snapshot {lock.snapshot}"
    lines = [_PREAMBLE.format(what=what).rstrip("\n")]
    for each in platforms:
        lines.extend(_branch(lock, each, keyring_in_image))
    have = ", ".join(arches)
    lines.extend(
        [
            "*)",
            f'\techo "lockpin: the apt.lock pins packages for {have}, not for $arch:" \\',
            '\t\t"re-run lockpin apt compile with --platform for this image\'s platform." >&2',
            "\texit 1",
            "\t;;",
            "esac",
        ]
    )
    trust = [_CHECKS]
    if lock.insecure_skip_verify:
        trust.append(_INSECURE + "\n")
    elif keyring_in_image is not None:
        signer = (
            f"the keyring {lock.keyring_name} (sha256 {lock.keyring_sha256})"
            if lock.keyring_name
            else f"the {lock.distribution} archive key"
        )
        trust.append(_KEYRING_CHECK.format(path=_q(keyring_in_image), what=signer))
    trust.append(f"update_hint={_q(_update_hint(lock, keyring_in_image))}\n")
    return "\n".join(lines) + "\n" + "".join(trust) + _BODY
