"""``lockpin dockerfile snippet``: the ``COPY`` + ``RUN`` steps that install exactly
a hashed requirements lock and/or an apt lock (pure: values in, text out).

What it writes, in this order (system packages before the Python packages that
may link against them):

- for an apt lock, ``COPY`` of the install script (``lockpin apt export --format
  script``, which the caller writes next to the Dockerfile: a file rather than a
  ``COPY <<EOF`` heredoc, because heredocs need BuildKit's Dockerfile frontend
  1.4 and the legacy builder refuses them, while a file works with every builder
  and is reviewed in its own diff), then ``RUN sh SCRIPT && rm -f SCRIPT``;
- for a requirements lock, ``COPY`` of every file it reads (``-r``/``-c``
  files too, laid out under ``dest`` as beside the top file), then ``RUN pip
  install --no-deps --require-hashes -r …``: with a BuildKit cache mount of
  pip's cache (``RUN --mount=type=cache,target=/root/.cache/pip``), or
  ``--no-cache-dir`` for the legacy builder (no cache left in the layer).

The requirements must be fully hashed and pinned (:func:`check_hashed`):
``--require-hashes`` would fail the build otherwise, later and further from
the fix. Paths are build-context paths, as ``COPY`` takes them: relative, and
inside the context.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lockpin.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from lockpin.python.reqfile import ParsedRequirements

__all__ = [
    "DEFAULT_APT_SCRIPT",
    "PIP_CACHE",
    "Snippet",
    "SnippetInput",
    "check_hashed",
    "context_path",
    "dockerfile_snippet",
    "render_snippet",
]

#: the file name of the apt install script when none is named
DEFAULT_APT_SCRIPT = "apt-install.sh"

#: pip's cache directory for root, the user of a ``RUN`` step by default
PIP_CACHE = "/root/.cache/pip"


@dataclass(frozen=True, slots=True)
class SnippetInput:
    """What the snippet installs. ``requirements``: the context path of the top
    requirements file and its parse (``None``: no Python step). ``apt_script``:
    the context path of the exported apt install script (``None``: no apt step).
    ``dest``: the directory inside the image the files are copied to.
    ``buildkit``: use a cache mount for pip's downloads."""

    requirements: tuple[str, ParsedRequirements] | None = None
    apt_script: str | None = None
    dest: str = "/tmp"
    buildkit: bool = True


def context_path(path: str, *, what: str) -> str:
    """``path`` as a ``COPY`` source: relative, ``/``-separated, inside the build
    context (the current directory). :class:`InputError` otherwise."""
    norm = posixpath.normpath(path.replace("\\", "/"))
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../"):
        raise InputError(
            f"{what} {path} is not inside the build context: COPY reads only files under "
            "the context directory; run lockpin from the context directory and name the "
            "file by a relative path"
        )
    if any(c in norm for c in "\n\r\"'$` \t*?[]"):
        raise InputError(f"{what} {path!r}: name a file without spaces, quotes or wildcards")
    return norm


def check_hashed(parsed: ParsedRequirements) -> None:
    """Every requirement of ``parsed`` pinned (``==``/``===`` or a direct file
    reference) and with at least one ``--hash``: what ``pip install
    --require-hashes`` needs. :class:`InputError` naming ``FILE:LINE``."""
    if not parsed.requirements:
        raise InputError(
            f"{parsed.files[0]} has no requirements; name the lock written by lockpin compile"
        )
    for req in parsed.requirements:
        where = str(req.location)
        if req.editable:
            raise InputError(
                f"{req.text}: an editable requirement cannot be installed with "
                "--require-hashes; lock it with lockpin compile",
                location=where,
            )
        if req.url is None and req.pinned_version is None:
            raise InputError(
                f"{req.text} is not pinned with ==; pip --require-hashes refuses it: "
                "run lockpin compile to write a pinned, hashed lock",
                location=where,
            )
        if not req.hashes:
            raise InputError(
                f"{req.text} has no --hash; pip --require-hashes refuses it: run "
                "lockpin hash on the file (or lockpin compile to write a hashed lock)",
                location=where,
            )


def _copy_targets(top: str, files: tuple[str, ...], dest: str) -> list[tuple[str, str]]:
    """``(source, target)`` of every file: each laid under ``dest`` as it lies
    beside the top file, so ``-r``/``-c`` paths resolve in the image too."""
    base = posixpath.dirname(top)
    pairs: list[tuple[str, str]] = []
    for index, name in enumerate(files):
        source = top if index == 0 else context_path(name, what="requirements file")
        rel = posixpath.relpath(source, base or ".")
        if rel.startswith("../"):
            raise InputError(
                f"{top} includes {source}, outside its directory: move the included file "
                "beside it (or below it) so that the -r/-c path also works in the image"
            )
        pairs.append((source, posixpath.join(dest, rel)))
    return pairs


def _check_dest(dest: str) -> str:
    norm = posixpath.normpath(dest)
    if not posixpath.isabs(norm) or any(c in norm for c in "\n\r\"'$` \t*?[]"):
        raise InputError(
            f"--dest {dest!r}: name an absolute directory inside the image, without "
            "spaces, quotes or wildcards"
        )
    return norm


def render_snippet(spec: SnippetInput) -> str:
    """The Dockerfile text of the module docstring (ends with a newline;
    deterministic: the same input gives the same bytes)."""
    if spec.requirements is None and spec.apt_script is None:
        raise InputError("nothing to install: name --requirements and/or --apt")
    dest = _check_dest(spec.dest)
    lines = ["# Generated by lockpin dockerfile snippet: installs exactly the locks."]
    if spec.apt_script is not None:
        script = context_path(spec.apt_script, what="apt script")
        target = posixpath.join(dest, posixpath.basename(script))
        lines += [
            f"COPY {script} {target}",
            f"RUN sh {target} && rm -f {target}",
        ]
    if spec.requirements is not None:
        top, parsed = spec.requirements
        top = context_path(top, what="requirements file")
        check_hashed(parsed)
        pairs = _copy_targets(top, parsed.files, dest)
        lines += [f"COPY {source} {target}" for source, target in pairs]
        installed = pairs[0][1]
        if spec.buildkit:
            lines.append(
                f"RUN --mount=type=cache,target={PIP_CACHE} \\\n"
                f"    pip install --no-deps --require-hashes -r {installed}"
            )
        else:
            lines.append(
                f"RUN pip install --no-cache-dir --no-deps --require-hashes -r {installed}"
            )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Snippet:
    """What :func:`dockerfile_snippet` made: the Dockerfile ``text``, and for an
    apt lock the install ``apt_script`` the caller writes at ``apt_script_path``
    (the ``COPY`` source the text names); both ``None`` without one."""

    text: str
    apt_script: str | None = None
    apt_script_path: str | None = None


def dockerfile_snippet(
    requirements: str | None = None,
    apt_lock: str | None = None,
    *,
    apt_script_path: str = DEFAULT_APT_SCRIPT,
    dest: str = "/tmp",
    buildkit: bool = True,
    reader: Callable[[str], str] | None = None,
) -> Snippet:
    """The snippet for the requirements lock at ``requirements`` and/or the
    apt.lock at ``apt_lock`` (build-context paths). Files are read through
    ``reader`` (default: :func:`lockpin._io.read_text`); nothing is written.
    :class:`InputError` for a missing file, an unhashed requirement
    (``FILE:LINE``), an apt.lock that does not parse."""
    from lockpin.apt.export import export_script
    from lockpin.apt.lock import AptLock
    from lockpin.python.reqfile import parse_requirements

    if reader is None:
        from lockpin._io import read_text

        def reader(path: str) -> str:
            return read_text(path, what="input file")

    if requirements is None and apt_lock is None:
        raise InputError("nothing to install: name --requirements FILE and/or --apt APT_LOCK")
    parsed = None
    if requirements is not None:
        parsed = (requirements, parse_requirements(requirements, reader=reader))
    script = None
    if apt_lock is not None:
        script = export_script(AptLock.from_toml(reader(apt_lock), filename=apt_lock))
    text = render_snippet(
        SnippetInput(
            requirements=parsed,
            apt_script=apt_script_path if script is not None else None,
            dest=dest,
            buildkit=buildkit,
        )
    )
    return Snippet(
        text=text,
        apt_script=script,
        apt_script_path=apt_script_path if script is not None else None,
    )
