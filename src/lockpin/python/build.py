"""PEP 517 ``prepare_metadata_for_build_wheel`` for sdists whose metadata is
dynamic: the last resort, run in an isolated virtual environment."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BuildError
from ..net.redact import redact_text

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .index import IndexConfig

__all__ = ["BuildError", "make_metadata_builder"]

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


def _extract(data: bytes, filename: str, dest: Path) -> Path:
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            if sys.version_info >= (3, 12):
                tf.extractall(dest, filter="data")
            else:  # pragma: no cover - older Pythons
                for member in tf.getmembers():
                    target = (dest / member.name).resolve()
                    if not str(target).startswith(str(dest.resolve())):
                        raise BuildError(f"{filename}: unsafe path {member.name!r} in the archive")
                tf.extractall(dest)
    roots = [p for p in dest.iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise BuildError(f"{filename}: expected one top-level directory in the sdist.")
    return roots[0]


def _run(cmd: list[str], *, what: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = redact_text((proc.stderr or proc.stdout).strip())[-1500:]
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def _build_sync(data: bytes, filename: str, index: IndexConfig, python: str) -> bytes:
    from .. import _toml

    with tempfile.TemporaryDirectory(prefix="lockpin-build-") as tmp:
        root = Path(tmp)
        src = _extract(data, filename, root / "src")
        build_system: dict[str, object] = {}
        pyproject = src / "pyproject.toml"
        if pyproject.is_file():
            build_system = _toml.loads(pyproject.read_text("utf-8")).get("build-system", {})
        requires = list(build_system.get("requires", ["setuptools>=40.8.0"]))  # type: ignore[call-overload]
        backend = str(build_system.get("build-backend", "setuptools.build_meta:__legacy__"))
        backend_path = list(build_system.get("backend-path", []))  # type: ignore[call-overload]
        env_dir = root / "env"
        # Without pip: bootstrapping it costs seconds, and a backend with no build
        # requirements (an in-tree backend, ``requires = []``) never needs it.
        _run(
            [python, "-m", "venv", "--without-pip", str(env_dir)],
            what=f"creating a build environment for {filename}",
        )
        env_python = str(env_dir / ("Scripts" if os.name == "nt" else "bin") / "python")
        pip_args = [env_python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        if index.no_index:
            pip_args.append("--no-index")
        else:
            pip_args += ["--index-url", index.index_url]
            for extra in index.extra_index_urls:
                pip_args += ["--extra-index-url", extra]
        for link in index.find_links:
            pip_args += ["--find-links", link]

        have_pip: list[bool] = []

        def install(reqs: list[str]) -> None:
            if not reqs:
                return
            if not have_pip:
                _run(
                    [env_python, "-m", "ensurepip", "--default-pip"],
                    what=f"installing pip into the build environment of {filename}",
                )
                have_pip.append(True)
            _run([*pip_args, *reqs], what=f"installing build requirements of {filename}")

        install([str(r) for r in requires])
        hook = root / "hook.py"
        hook.write_text(_HOOK)
        out = root / "out"
        out.mkdir()
        base = [env_python, str(hook), str(src), backend, json.dumps(backend_path)]
        _run([*base, "requires", str(out)], what=f"get_requires_for_build_wheel of {filename}")
        extra = json.loads((out / ".lockpin-result").read_text())
        install([str(r) for r in extra])
        _run([*base, "metadata", str(out)], what=f"prepare_metadata_for_build_wheel of {filename}")
        result = json.loads((out / ".lockpin-result").read_text())
        if isinstance(result, str) and result.startswith("wheel:"):
            from .metadata import wheel_metadata_from_zip

            return wheel_metadata_from_zip((out / result[6:]).read_bytes(), source=filename)
        return (out / str(result) / "METADATA").read_bytes()


def make_metadata_builder(
    index: IndexConfig, *, python: str | None = None
) -> Callable[[bytes, str], Awaitable[bytes]]:
    """The PEP 517 fallback, run in a worker thread so fetches continue."""
    interpreter = python or sys.executable

    async def build(data: bytes, filename: str) -> bytes:
        log.info("building metadata of %s (PEP 517)", filename)
        return await asyncio.to_thread(_build_sync, data, filename, index, interpreter)

    return build
