"""PEP 517 ``prepare_metadata_for_build_wheel`` for sdists whose metadata is
dynamic: the last resort, run in an isolated virtual environment created by an
interpreter of the target's minor version when one is found
(:func:`find_build_python`; ``--build-python`` chooses one), since a build reads
``sys.version_info`` and a C extension's build fails or differs on another
Python. A failed build's error names the sdist, the interpreter (path, version,
how it was chosen) and the tail of the build log, and says what to do."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import weakref
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import BuildError, InputError
from ..net.policy import is_loopback
from ..net.redact import redact_text, split_auth
from .models import parse_filename

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator, Mapping

    from .index import IndexConfig

__all__ = [
    "BUILD_DIR_PREFIXES",
    "BUILD_STEP_TIMEOUT",
    "BuildEnvironments",
    "BuildError",
    "BuildPython",
    "MetadataBuilder",
    "Processes",
    "find_build_python",
    "make_metadata_builder",
    "owned_temp_dir",
    "probe_build_python",
    "sweep_orphaned_build_dirs",
]

log = logging.getLogger(__name__)

_HOOK = r"""
import importlib, json, os, sys
src, backend_spec, backend_path, phase, out = sys.argv[1:6]
os.chdir(src)
for p in reversed(json.loads(backend_path)):
    sys.path.insert(0, os.path.join(src, p))
mod, _, obj = backend_spec.partition(":")
backend = importlib.import_module(mod)
for part in filter(None, obj.split(".")):
    backend = getattr(backend, part)
if phase == "requires":
    hook = getattr(backend, "get_requires_for_build_wheel", None)
    result = hook({}) if hook else []
else:
    hook = getattr(backend, "prepare_metadata_for_build_wheel", None)
    if hook is not None:
        result = hook(out, {})
    else:
        result = "wheel:" + backend.build_wheel(out, {})
with open(os.path.join(out, ".lockpin-result"), "w") as fh:
    json.dump(result, fh)
"""


#: Caps on what an sdist may unpack to: a gzip stream expands up to ~1000-fold, so the
#: download cap alone does not bound the disk a hostile archive can fill.
MAX_UNPACKED_BYTES = 4 << 30
MAX_MEMBERS = 200_000
#: Largest pyproject.toml read to find the build backend.
MAX_PYPROJECT_BYTES = 1 << 20
#: Seconds one step of a build (creating its environment, installing its build
#: requirements, each backend hook) may take before it is stopped: a setup.py
#: that waits for input or loops must not hang the lock. Builders made by
#: :func:`make_metadata_builder` take their own ``timeout``.
BUILD_STEP_TIMEOUT = 600.0


def _refuse(filename: str, member: str, why: str) -> BuildError:
    return BuildError(
        f"{filename}: refusing to unpack member {member!r}: {why}. The sdist is malformed or "
        "hostile; nothing was written outside lockpin's temporary build directory. Use a "
        "wheel of this release, or another release.",
        filename=filename,
    )


def _parts(name: str) -> list[str]:
    """The components of an archive member name, ``.`` and empty ones dropped."""
    return [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]


def _check_name(filename: str, name: str) -> list[str]:
    if name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        raise _refuse(filename, name, "it is an absolute path")
    parts = _parts(name)
    if ".." in parts:
        raise _refuse(filename, name, "its path contains '..'")
    if not parts:
        raise _refuse(filename, name, "it has an empty name")
    return parts


def _check_tar(tf: tarfile.TarFile, filename: str) -> list[tarfile.TarInfo]:
    """Every member, checked before anything is written.

    Python 3.11 up to 3.11.12 (and 3.12 up to 3.12.10) have ways around the ``data``
    filter (CVE-2025-4517 and kin, through ``os.path.realpath``), so this check
    stands on its own, lexically, with no file system look-ups: names are relative
    with no ``..``; only files, directories and links; a symbolic link's target,
    walked from the link's directory, stays inside and passes through no other
    link; no member lies under (or replaces) a link. Then no write can follow a
    link out of the build directory, however the links chain.
    """
    members: list[tarfile.TarInfo] = []
    total = 0
    for ti in tf:
        members.append(ti)
        if len(members) > MAX_MEMBERS:
            raise _refuse(filename, ti.name, f"the archive has more than {MAX_MEMBERS} members")
        total += max(ti.size, 0)
        if total > MAX_UNPACKED_BYTES:
            raise _refuse(
                filename,
                ti.name,
                f"the archive unpacks to more than {MAX_UNPACKED_BYTES >> 30} GiB",
            )
    links = {"/".join(_check_name(filename, ti.name)) for ti in members if ti.issym() or ti.islnk()}
    for ti in members:
        parts = _check_name(filename, ti.name)
        if not (ti.isreg() or ti.isdir() or ti.issym() or ti.islnk()):
            raise _refuse(filename, ti.name, "it is a device, FIFO or other special file")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in links:
                raise _refuse(filename, ti.name, "its path goes through a link")
        if not (ti.issym() or ti.islnk()) and "/".join(parts) in links:
            raise _refuse(filename, ti.name, "it replaces a link")
        if ti.issym() or ti.islnk():
            target = ti.linkname
            if not target or target.startswith(("/", "\\")) or os.path.isabs(target):
                raise _refuse(filename, ti.name, f"it links to the absolute path {target!r}")
            # A symbolic link resolves from its own directory, a hard link from the root.
            stack = parts[:-1] if ti.issym() else []
            pieces = _parts(target)
            for i, piece in enumerate(pieces):
                if piece == "..":
                    if not stack:
                        raise _refuse(filename, ti.name, f"it links outside the sdist ({target!r})")
                    stack.pop()
                    continue
                stack.append(piece)
                if i + 1 < len(pieces) and "/".join(stack) in links:
                    raise _refuse(filename, ti.name, f"its target {target!r} goes through a link")
            if ti.islnk() and "/".join(stack) in links:
                raise _refuse(filename, ti.name, "it is a hard link to a link")
    return members


def _check_zip(zf: zipfile.ZipFile, filename: str) -> None:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _refuse(filename, infos[-1].filename, f"more than {MAX_MEMBERS} members")
    total = 0
    for info in infos:
        _check_name(filename, info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(filename, info.filename, "it is a symbolic link")
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise _refuse(
                filename,
                info.filename,
                f"the archive unpacks to more than {MAX_UNPACKED_BYTES >> 30} GiB",
            )


def _extract(data: bytes, filename: str, dest: Path) -> Path:
    """Unpack an sdist into ``dest`` (an empty directory); return its top directory."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                _check_zip(zf, filename)
                zf.extractall(dest)
        else:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
                members = _check_tar(tf, filename)
                if hasattr(tarfile, "data_filter"):
                    # Belt and braces: the data filter also drops set-uid bits and
                    # ownership, and re-checks every path against the real directory.
                    tf.extractall(dest, members=members, filter="data")
                else:  # pragma: no cover - Pythons before 3.11.4
                    tf.extractall(dest, members=members)
    except tarfile.TarError as exc:
        # tarfile.FilterError (the data filter refused a member) carries the member.
        member = getattr(getattr(exc, "tarinfo", None), "name", None)
        if isinstance(member, str):
            raise _refuse(filename, member, str(exc)) from exc
        raise BuildError(
            f"{filename}: cannot unpack the sdist ({exc}).", filename=filename
        ) from exc
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        raise BuildError(
            f"{filename}: cannot unpack the sdist ({exc}).", filename=filename
        ) from exc
    roots = [p for p in dest.iterdir() if p.is_dir() and not p.is_symlink()]
    if len(roots) != 1:
        raise BuildError(
            f"{filename}: expected one top-level directory in the sdist.", filename=filename
        )
    return roots[0]


class Processes:
    """The build steps running for one builder, so that :meth:`stop` can end them
    (a lock that failed, or finished while a build read ahead was still running,
    must not wait for it). Each step runs in its own process group: a backend's
    compiler or helper processes stop with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[str]] = set()
        self.stopped = False

    def start(self, cmd: list[str], env: dict[str, str] | None) -> subprocess.Popen[str]:
        with self._lock:
            if self.stopped:
                raise _Stopped
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
                start_new_session=os.name == "posix",
            )
            self._live.add(proc)
            return proc

    def finished(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._live.discard(proc)

    def stop(self) -> None:
        """Kill every running step; steps asked for later fail at once."""
        with self._lock:
            self.stopped = True
            live = list(self._live)
        for proc in live:
            _kill(proc)


class _Stopped(Exception):
    """A build step was asked for after :meth:`Processes.stop`."""


def _kill(proc: subprocess.Popen[str]) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, 9)
        else:  # pragma: no cover - Windows has no process groups to kill
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _run(
    cmd: list[str],
    *,
    what: str,
    filename: str,
    timeout: float,
    transient: bool,
    env: dict[str, str] | None = None,
    procs: Processes | None = None,
) -> None:
    """Run one build step of sdist ``filename``; ``what`` names the step (and the sdist).

    ``transient`` marks a failure of the step as one that says nothing lasting about
    the sdist (see :class:`BuildError`); running out of ``timeout`` seconds always
    does, since a busier machine or network may simply be slower, and so does a
    step stopped through ``procs``.
    """
    stopped = BuildError(
        f"{what} was stopped: lockpin no longer needed it.", filename=filename, transient=True
    )
    registry = procs if procs is not None else Processes()
    try:
        proc = registry.start(cmd, env)
    except _Stopped:
        raise stopped from None
    try:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            raise BuildError(
                f"{what} did not finish within {timeout:g} s and was stopped (it may wait for "
                "input or never end). Use a wheel of this release or pin another release; a "
                "build that is only slow needs a longer limit "
                "(lockpin.python.build.BUILD_STEP_TIMEOUT).",
                filename=filename,
                transient=True,
            ) from None
        except BaseException:
            _kill(proc)
            proc.communicate()
            raise
    finally:
        registry.finished(proc)
    if proc.returncode != 0:
        if registry.stopped:
            raise stopped
        tail = redact_text((stderr or stdout).strip())[-1500:]
        raise BuildError(
            f"{what} failed (exit {proc.returncode}):\n{tail}",
            filename=filename,
            transient=transient,
        )


def _trusted_host(url: str, allowed: Collection[str]) -> str | None:
    """``HOST[:PORT]`` of a plain-http ``url`` the user allowed (``HOST`` or
    ``HOST:PORT`` in ``allowed``, as :func:`lockpin.net.policy.check_url` reads it), for
    pip's ``--trusted-host``; ``None`` for any other URL. Loopback hosts need no such
    option: pip trusts them too."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return None
    host = (parts.hostname or "").lower()
    netloc = parts.netloc.rpartition("@")[2].lower()  # never the credentials
    port = netloc.rpartition("]")[2].partition(":")[2] or "80"
    if not host or is_loopback(host) or (host not in allowed and f"{host}:{port}" not in allowed):
        return None
    return netloc


def _pip_sources(
    index: IndexConfig, environ: Mapping[str, str], *, allow_insecure_hosts: Collection[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """pip options naming where build requirements come from.

    Any user on the machine can read a process's arguments (``ps``), so index URLs
    that carry credentials never go there: they reach pip through ``PIP_INDEX_URL``,
    ``PIP_EXTRA_INDEX_URL`` and ``PIP_FIND_LINKS`` in its environment (readable only
    by the same user, like a netrc file would be). Credential-free URLs stay on the
    command line, so pip's own messages name them. Returns ``(arguments,
    environment additions)``; values already in the user's environment for the
    list-valued variables are kept, as pip would have combined them with the
    command line before.

    A source on plain ``http://`` whose host the user allowed (``allow_insecure_hosts``,
    as in :class:`~lockpin.net.config.HttpConfig`) is passed as ``--trusted-host
    HOST[:PORT]`` (a host name is no secret), or pip would ignore it. Only such hosts:
    pip's ``--trusted-host`` also turns off TLS checks for ``https://`` to the host,
    which lockpin never does for a host reached over https.
    """
    args: list[str] = []
    secret: dict[str, list[str]] = {}
    trusted: dict[str, None] = {}

    def place(option: str, variable: str, url: str) -> None:
        host = _trusted_host(split_auth(url)[0], allow_insecure_hosts)
        if host is not None:
            trusted[host] = None
        if split_auth(url)[1] is None:
            args.extend([option, url])
        else:
            # pip splits these variables on whitespace; a URL has none unquoted.
            secret.setdefault(variable, []).append(url.replace(" ", "%20"))

    if index.no_index:
        args.append("--no-index")
    else:
        place("--index-url", "PIP_INDEX_URL", index.index_url)
        for extra in index.extra_index_urls:
            place("--extra-index-url", "PIP_EXTRA_INDEX_URL", extra)
    for link in index.find_links:
        place("--find-links", "PIP_FIND_LINKS", link)
    for host in trusted:
        args.extend(["--trusted-host", host])
    env: dict[str, str] = {}
    for variable, urls in secret.items():
        kept = environ.get(variable, "") if variable != "PIP_INDEX_URL" else ""
        env[variable] = " ".join([*kept.split(), *urls])
    return args, env


def _requirements(value: object, *, filename: str, what: str) -> list[str]:
    """Build requirements as normalized PEP 508 strings: never a pip option."""
    from packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise BuildError(
            f"{filename}: {what} is not a list of requirement strings: {value!r:.200}",
            filename=filename,
        )
    try:
        return [str(Requirement(r)) for r in value]
    except InvalidRequirement as exc:
        raise BuildError(
            f"{filename}: invalid requirement in {what}: {exc}", filename=filename
        ) from exc


def _read_small(path: Path, *, limit: int, filename: str) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise BuildError(f"{filename}: cannot read {path.name}: {exc}", filename=filename) from exc
    if len(data) > limit:
        raise BuildError(
            f"{filename}: {path.name} is larger than {limit >> 20} MiB.", filename=filename
        )
    return data


def _build_system(src: Path, filename: str) -> dict[str, object]:
    from .. import _toml

    pyproject = src / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    text = _read_small(pyproject, limit=MAX_PYPROJECT_BYTES, filename=filename)
    try:
        table = _toml.loads(text.decode("utf-8")).get("build-system", {})
    except (UnicodeDecodeError, _toml.TOMLDecodeError) as exc:
        raise BuildError(
            f"{filename}: pyproject.toml does not parse: {exc}", filename=filename
        ) from exc
    if not isinstance(table, dict):
        raise BuildError(
            f"{filename}: [build-system] in pyproject.toml is not a table.", filename=filename
        )
    return table


def _hook_result(out: Path, filename: str, what: str) -> object:
    try:
        return json.loads(_read_small(out / ".lockpin-result", limit=1 << 20, filename=filename))
    except ValueError as exc:
        raise BuildError(
            f"{what} of {filename} returned no readable result: {exc}", filename=filename
        ) from exc


@functools.lru_cache(maxsize=8)
def _host_pip(python_version: str | None) -> tuple[str, ...] | None:
    """How to run the pip installed beside lockpin against another interpreter
    (``pip --python``, pip >= 22.3), or ``None`` when there is none or it does not
    support ``python_version`` (its Requires-Python). pip then runs inside the build
    interpreter from its own files: the seconds ``ensurepip`` takes per build
    environment are saved."""
    import importlib.metadata
    import importlib.util

    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    if python_version is None or importlib.util.find_spec("pip") is None:
        return None
    try:
        meta = importlib.metadata.metadata("pip")
        if Version(meta["Version"]) < Version("22.3"):
            return None
        requires = meta.get_all("Requires-Python") or []
        if requires and not SpecifierSet(requires[0]).contains(python_version, True):
            return None
    except (importlib.metadata.PackageNotFoundError, InvalidSpecifier, InvalidVersion, KeyError):
        return None
    return (sys.executable, "-m", "pip")


#: The prefixes of lockpin's temporary build directories (in ``tempfile.gettempdir()``).
BUILD_DIR_PREFIXES = ("lockpin-build-", "lockpin-buildenv-")
#: The file in each that names the process using it.
_OWNER_FILE = ".lockpin-owner"
#: A directory whose owner is gone is removed once it is this old (seconds), one with no
#: owner file (made by an older lockpin) once it is :data:`_UNOWNED_SECONDS` old.
_ORPHAN_SECONDS = 600.0
_UNOWNED_SECONDS = 86400.0


def owned_temp_dir(prefix: str) -> Path:
    """A new temporary directory that names this process as its user, so that a later
    run can tell it was left behind by a killed one (:func:`sweep_orphaned_build_dirs`,
    done here once per process)."""
    _sweep_once()
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    (directory / _OWNER_FILE).write_text(f"{os.getpid()}\n")
    return directory


@contextlib.contextmanager
def _build_dir() -> Iterator[Path]:
    directory = owned_temp_dir(BUILD_DIR_PREFIXES[0])
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@functools.cache
def _sweep_once() -> int:
    return sweep_orphaned_build_dirs()


def _owner_alive(directory: Path) -> bool | None:
    """Whether the process named in ``directory``'s owner file runs; ``None`` when
    there is no readable owner file or this platform cannot tell."""
    try:
        pid = int((directory / _OWNER_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    if os.name == "nt" or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (another user's: EPERM)
    return True


def sweep_orphaned_build_dirs(root: Path | None = None, *, now: float | None = None) -> int:
    """Remove the build directories a killed lockpin left in ``root`` (default: the
    temporary directory): those whose owner process is gone and that are older than
    :data:`_ORPHAN_SECONDS`, and those with no owner file older than a day. A
    directory in use (its owner runs) is never touched. Best effort; returns how
    many were removed."""
    base = root if root is not None else Path(tempfile.gettempdir())
    moment = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(base))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(BUILD_DIR_PREFIXES):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            age = moment - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        alive = _owner_alive(Path(entry.path))
        limit = _UNOWNED_SECONDS if alive is None else _ORPHAN_SECONDS
        if alive or age < limit:
            continue
        log.debug("removing %s, left behind by a lockpin that was stopped", entry.path)
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed


class BuildEnvironments:
    """The build environments of one builder: one per (interpreter, build
    requirements), made on first use and then only read, so that sdists with the
    same build requirements (most need just ``setuptools``) share one instead of
    each installing its own. An environment is finished before it is handed out and
    never changed afterwards (dynamic requirements from
    ``get_requires_for_build_wheel`` get an environment of their own, keyed by the
    union). They live in one temporary directory, removed by :meth:`close` or when
    the object is collected.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: Path | None = None
        self._cleanup: weakref.finalize[..., object] | None = None
        self._made: dict[tuple[str, tuple[str, ...]], Path] = {}
        self._making: dict[tuple[str, tuple[str, ...]], threading.Lock] = {}

    def get(
        self, python: str, requires: list[str], make: Callable[[Path, list[str]], None]
    ) -> Path:
        """The environment for ``python`` with ``requires`` installed; ``make(dir,
        requires)`` builds one in ``dir`` when there is none yet (a failure leaves
        nothing behind, so the next caller tries again)."""
        key = (python, tuple(sorted(set(requires))))
        with self._lock:
            if self._root is None:
                self._root = owned_temp_dir("lockpin-buildenv-")
                # removed with this object at the latest (a builder nobody closed)
                self._cleanup = weakref.finalize(
                    self, shutil.rmtree, str(self._root), ignore_errors=True
                )
            root = self._root
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                done = self._made.get(key)
            if done is not None:
                return done
            env_dir = Path(tempfile.mkdtemp(prefix="env-", dir=root))
            try:
                make(env_dir, list(key[1]))
            except BaseException:
                shutil.rmtree(env_dir, ignore_errors=True)
                raise
            with self._lock:
                self._made[key] = env_dir
            return env_dir

    def close(self) -> None:
        with self._lock:
            cleanup, self._cleanup, self._root = self._cleanup, None, None
            self._made.clear()
        if cleanup is not None:
            cleanup()


def _env_python(env_dir: Path) -> str:
    return str(env_dir / ("Scripts" if os.name == "nt" else "bin") / "python")


def _build_sync(
    data: bytes,
    filename: str,
    index: IndexConfig,
    python: str,
    timeout: float,
    *,
    allow_insecure_hosts: Collection[str],
    python_version: str | None = None,
    envs: BuildEnvironments | None = None,
    procs: Processes | None = None,
) -> bytes:
    from .metadata import MAX_METADATA_BYTES

    with _build_dir() as root:
        src = _extract(data, filename, root / "src")
        build_system = _build_system(src, filename)
        requires = _requirements(
            build_system.get("requires", ["setuptools>=40.8.0"]),
            filename=filename,
            what="[build-system] requires",
        )
        backend = str(build_system.get("build-backend", "setuptools.build_meta:__legacy__"))
        backend_path = build_system.get("backend-path", [])
        if not isinstance(backend_path, list):
            raise BuildError(
                f"{filename}: [build-system] backend-path is not a list.", filename=filename
            )
        sources, secret_env = _pip_sources(
            index, os.environ, allow_insecure_hosts=allow_insecure_hosts
        )
        pip_env = {**os.environ, **secret_env} if secret_env else None
        host_pip = _host_pip(python_version)

        def make(env_dir: Path, reqs: list[str]) -> None:
            # Without pip in it: bootstrapping pip costs seconds, and a backend with
            # no build requirements (an in-tree backend, ``requires = []``) never
            # needs it. pip beside lockpin installs into it when it can.
            _run(
                [python, "-m", "venv", "--without-pip", str(env_dir)],
                what=f"creating a build environment for {filename}",
                filename=filename,
                timeout=timeout,
                transient=True,
                procs=procs,
            )
            if not reqs:
                return
            env_python = _env_python(env_dir)
            if host_pip is not None:
                pip = [*host_pip, "--python", env_python]
            else:
                _run(
                    [env_python, "-m", "ensurepip", "--default-pip"],
                    what=f"installing pip into the build environment of {filename}",
                    filename=filename,
                    timeout=timeout,
                    transient=True,
                    procs=procs,
                )
                pip = [env_python, "-m", "pip"]
            _run(
                [
                    *pip,
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "--no-compile",
                    *sources,
                    "--",
                    *reqs,
                ],
                what=f"installing build requirements of {filename}",
                filename=filename,
                timeout=timeout,
                transient=True,
                env=pip_env,
                procs=procs,
            )

        def environment(reqs: list[str]) -> str:
            if envs is not None:
                return _env_python(envs.get(python, reqs, make))
            env_dir = Path(tempfile.mkdtemp(prefix="env-", dir=root))
            make(env_dir, reqs)
            return _env_python(env_dir)

        env_python = environment(requires)
        hook = root / "hook.py"
        hook.write_text(_HOOK)
        out = root / "out"
        out.mkdir()
        what = f"get_requires_for_build_wheel of {filename}"
        _run(
            [
                env_python,
                str(hook),
                str(src),
                backend,
                json.dumps(backend_path),
                "requires",
                str(out),
            ],
            what=what,
            filename=filename,
            timeout=timeout,
            transient=False,
            procs=procs,
        )
        dynamic = _requirements(_hook_result(out, filename, what), filename=filename, what=what)
        if set(dynamic) - set(requires):
            env_python = environment([*requires, *dynamic])
        what = f"prepare_metadata_for_build_wheel of {filename}"
        _run(
            [
                env_python,
                str(hook),
                str(src),
                backend,
                json.dumps(backend_path),
                "metadata",
                str(out),
            ],
            what=what,
            filename=filename,
            timeout=timeout,
            transient=False,
            procs=procs,
        )
        result = _hook_result(out, filename, what)
        if isinstance(result, str) and result.startswith("wheel:"):
            from .metadata import wheel_metadata_from_zip

            wheel = _read_small(out / result[6:], limit=1 << 30, filename=filename)
            return wheel_metadata_from_zip(wheel, source=filename)
        return _read_small(
            out / str(result) / "METADATA", limit=MAX_METADATA_BYTES, filename=filename
        )


@dataclass(frozen=True, slots=True)
class BuildPython:
    """The interpreter that runs sdist builds: its ``path``, its version
    (``"3.12.7"``) and ``how`` it was chosen (for messages)."""

    path: str
    version: str
    how: str

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def describe(self) -> str:
        return f"{self.path} (CPython {self.version}, {self.how})"


_PROBE = (
    "import sys, venv, ensurepip; print(sys.implementation.name, '%d.%d.%d' % sys.version_info[:3])"
)
#: Seconds an interpreter may take to say what it is.
_PROBE_TIMEOUT = 30.0


def probe_build_python(path: str, *, how: str) -> BuildPython | None:
    """``path`` as a :class:`BuildPython` when it runs as a CPython with the
    ``venv`` and ``ensurepip`` modules (Debian's ``python3.X`` without
    ``python3.X-venv`` has neither), else ``None``."""
    try:
        proc = subprocess.run(
            [path, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            check=False,
            timeout=_PROBE_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("build interpreter %s does not run: %s", path, exc)
        return None
    words = proc.stdout.split()
    if proc.returncode != 0 or len(words) != 2 or words[0] != "cpython":
        log.debug("build interpreter %s is unusable: %s", path, proc.stderr.strip()[-200:])
        return None
    return BuildPython(path, words[1], how)


def _patch_key(name: str, minor: str) -> int | None:
    """The patch number of a directory name ``<minor>.<patch>`` (pyenv's), else ``None``."""
    head, _, patch = name.partition(minor + ".")
    return int(patch) if not head and patch.isdigit() else None


def _pyenv_pythons(minor: str, environ: Mapping[str, str], home: Path) -> list[str]:
    roots = [Path(environ["PYENV_ROOT"])] if environ.get("PYENV_ROOT") else []
    roots.append(home / ".pyenv")
    pyenv = shutil.which("pyenv", path=environ.get("PATH"))
    if not any(r.is_dir() for r in roots) and pyenv:
        try:
            out = subprocess.run(
                [pyenv, "root"], capture_output=True, text=True, check=False, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            roots.append(Path(out))
    found: list[tuple[int, str]] = []
    for root in dict.fromkeys(roots):
        versions = root / "versions"
        if not versions.is_dir():
            continue
        for entry in versions.iterdir():
            patch = _patch_key(entry.name, minor)
            exe = entry / "bin" / "python"
            if patch is not None and exe.is_file():
                found.append((patch, str(exe)))
    return [exe for _, exe in sorted(found, reverse=True)]


def _uv_pythons(minor: str, environ: Mapping[str, str], home: Path) -> list[str]:
    """uv-managed CPythons (``cpython-3.12.7-linux-x86_64-gnu``), newest patch first."""
    if environ.get("UV_PYTHON_INSTALL_DIR"):
        root = Path(environ["UV_PYTHON_INSTALL_DIR"])
    else:
        data = Path(environ["XDG_DATA_HOME"]) if environ.get("XDG_DATA_HOME") else None
        root = (data or home / ".local" / "share") / "uv" / "python"
    if not root.is_dir():
        return []
    found: list[tuple[int, str]] = []
    for entry in root.iterdir():
        kind, _, rest = entry.name.partition("-")
        patch = _patch_key(rest.partition("-")[0], minor)
        exe = entry / "bin" / f"python{minor}"
        if kind == "cpython" and patch is not None and exe.is_file():
            found.append((patch, str(exe)))
    return [exe for _, exe in sorted(found, reverse=True)]


def _uv_find(minor: str, environ: Mapping[str, str]) -> list[str]:
    uv = shutil.which("uv", path=environ.get("PATH"))
    if uv is None:
        return []
    try:
        proc = subprocess.run(
            [uv, "python", "find", "--no-project", "--no-python-downloads", minor],
            capture_output=True,
            text=True,
            check=False,
            timeout=_PROBE_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    path = proc.stdout.strip()
    return [path] if proc.returncode == 0 and path else []


def find_build_python(
    minor: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> BuildPython:
    """An interpreter of the target's ``minor`` version (``"3.12"``) to build sdists
    with, looked for in this order: this interpreter, pyenv
    (``$PYENV_ROOT``/``~/.pyenv``/``pyenv root``: ``versions/3.12.*``, newest
    first), uv-managed Pythons (``~/.local/share/uv/python``), ``python3.12`` on
    ``PATH`` (not a pyenv shim: it may point at another version), ``uv python
    find 3.12``. Each is run once to check it is a CPython of that version with
    ``venv`` and ``ensurepip``. None found (or ``minor`` ``None``): this
    interpreter, with ``how`` saying so.
    """
    env = os.environ if environ is None else environ
    where = Path.home() if home is None else home
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    this = BuildPython(
        sys.executable,
        ".".join(str(n) for n in sys.version_info[:3]),
        "the interpreter running lockpin"
        if minor in (None, running)
        else f"the interpreter running lockpin: no CPython {minor} was found",
    )
    if minor is None or minor == running:
        return this
    candidates: list[tuple[str, list[str]]] = [
        ("pyenv", _pyenv_pythons(minor, env, where)),
        ("uv-managed", _uv_pythons(minor, env, where)),
    ]
    on_path = shutil.which(f"python{minor}", path=env.get("PATH"))
    if on_path and "/shims/" not in on_path.replace(os.sep, "/"):
        candidates.append(("PATH", [on_path]))
    seen: set[str] = set()
    for how, paths in (*candidates, ("uv python find", None)):
        for path in paths if paths is not None else _uv_find(minor, env):
            if path in seen:
                continue
            seen.add(path)
            found = probe_build_python(path, how=how)
            if found is not None and found.minor == minor:
                log.info("building sdists with %s", found.describe())
                return found
    log.warning(
        "no CPython %s found (pyenv, uv, python%s on PATH): sdists are built with %s %s, "
        "which may give other metadata or fail. Pass --build-python PATH to choose one.",
        minor,
        minor,
        sys.executable,
        this.version,
    )
    return this


def _advice(python: BuildPython, target_python: str | None, filename: str) -> str:
    parsed = parse_filename(filename)
    name = parsed[0] if parsed else filename
    other = ""
    if target_python and python.minor != target_python:
        other = (
            f" It is not the target's Python {target_python}."
            if python.how == "--build-python"
            else f" No CPython {target_python} was found to build with (pyenv, uv, "
            f"python{target_python} on PATH)."
        )
    return (
        f"{filename} was built with {python.describe()}.{other} Pass --build-python PATH "
        f"(or LOCKPIN_BUILD_PYTHON) to build it with another interpreter, install what the "
        f"build needs, or use --only-binary {name} (or pin a release with a wheel for the "
        "target) to do without the sdist."
    )


class MetadataBuilder:
    """PEP 517 metadata builds of sdists (see :func:`make_metadata_builder`):
    call it with the sdist's bytes and file name for its METADATA bytes.

    The interpreter is chosen on the first build (:func:`find_build_python`);
    :meth:`cache_key` names it, so that a failure remembered for one interpreter
    is not replayed for another.
    """

    def __init__(
        self,
        index: IndexConfig,
        *,
        python: BuildPython | None,
        target_python: str | None,
        timeout: float | None,
        allow_insecure_hosts: Collection[str],
    ) -> None:
        self._index = index
        self._python = python
        self._target_python = target_python
        self._timeout = BUILD_STEP_TIMEOUT if timeout is None else timeout
        self._hosts = frozenset(h.lower() for h in allow_insecure_hosts)
        self._lock = threading.Lock()
        self._envs = BuildEnvironments()
        self._procs = Processes()
        # Builds read ahead (IndexWorld speculation) and the resolver's own share the
        # machine: at most one per core at a time.
        self._slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

    def close(self) -> None:
        """Stop the builds still running (read ahead, no longer needed) and remove
        the build environments made so far; later builds fail at once."""
        self._procs.stop()
        self._envs.close()

    def python(self) -> BuildPython:
        """The interpreter builds run with (looked for once, on first use)."""
        with self._lock:
            if self._python is None:
                self._python = find_build_python(self._target_python)
            return self._python

    def cache_key(self) -> str:
        """``python=<path>|<version>``: what a remembered build failure depends on."""
        python = self.python()
        return f"python={python.path}|{python.version}"

    async def __call__(self, data: bytes, filename: str) -> bytes:
        python = await asyncio.to_thread(self.python)
        log.info("building metadata of %s (PEP 517) with %s", filename, python.describe())

        def build() -> bytes:
            with self._slots:
                return _build_sync(
                    data,
                    filename,
                    self._index,
                    python.path,
                    self._timeout,
                    allow_insecure_hosts=self._hosts,
                    python_version=python.version,
                    envs=self._envs,
                    procs=self._procs,
                )

        try:
            return await asyncio.to_thread(build)
        except BuildError as exc:
            raise BuildError(
                f"{exc}\n{_advice(python, self._target_python, filename)}",
                filename=exc.filename or filename,
                transient=exc.transient,
            ) from exc


def make_metadata_builder(
    index: IndexConfig,
    *,
    python: str | None = None,
    target_python: str | None = None,
    timeout: float | None = None,
    allow_insecure_hosts: Collection[str] = (),
) -> MetadataBuilder:
    """The PEP 517 fallback, run in a worker thread so fetches continue.

    ``python`` runs the build environments (``--build-python``); without it, an
    interpreter of ``target_python``'s minor version (``"3.12"``) is looked for
    the first time a build is needed (:func:`find_build_python`), and this
    interpreter is the last resort. Each build step may take ``timeout`` seconds
    (default :data:`BUILD_STEP_TIMEOUT`). ``allow_insecure_hosts`` are the
    plain-http hosts lockpin may reach (``HttpConfig.allow_insecure_hosts``): the
    pip that installs build requirements trusts those among its index and
    find-links hosts (see :func:`_pip_sources`).

    An explicit ``python`` that does not run is an :class:`~lockpin.errors.InputError`
    now, before any resolution.
    """
    explicit = probe_build_python(python, how="--build-python") if python else None
    if python and explicit is None:
        raise InputError(
            f"--build-python {python}: cannot run it as a Python interpreter with the venv "
            "and ensurepip modules. Pass the path of a CPython executable "
            "(e.g. ~/.pyenv/versions/3.12.7/bin/python)."
        )
    return MetadataBuilder(
        index,
        python=explicit,
        target_python=target_python,
        timeout=timeout,
        allow_insecure_hosts=allow_insecure_hosts,
    )
