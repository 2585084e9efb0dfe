"""Errors that carry data: :class:`BuildError` says whether a failure is transient and
which sdist failed, and a PEP 517 build step that never ends is stopped.

(:class:`ResolutionError.conflicts` is tested with the resolver, in python/test_provider.py.)
"""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import stat
import sys
import tarfile
from typing import TYPE_CHECKING

import pytest

from fixtures.dists import FIXED_MTIME, build_sdist
from lockpin.errors import BuildError, Conflict, LockpinError, ResolutionError
from lockpin.net.http import Http, HttpConfig
from lockpin.python import build as build_module
from lockpin.python.fetch import MetadataFetcher
from lockpin.python.index import IndexConfig
from lockpin.python.models import DistFile

if TYPE_CHECKING:
    from pathlib import Path

SDIST = "p-1.0.tar.gz"
#: generous: only a hang guard for steps that end by themselves
LONG = 120.0


# -- the values --------------------------------------------------------------------------------


def test_build_error_defaults() -> None:
    error = BuildError("boom")
    assert (str(error), error.filename, error.transient) == ("boom", None, False)
    assert isinstance(error, LockpinError)


def test_resolution_error_keeps_its_message_and_data() -> None:
    conflict = Conflict("requirement", "b<2", "a==1.0", "b", ("2.0",))
    error = ResolutionError("text", target="t", conflicts=(conflict,), skipped=("c==1",))
    assert (str(error), error.target, error.conflicts, error.skipped) == (
        "text",
        "t",
        (conflict,),
        ("c==1",),
    )
    assert error.exit_code == 1
    with pytest.raises(AttributeError):
        conflict.requirement = "b<3"  # type: ignore[misc]


# -- one build step ----------------------------------------------------------------------------


@pytest.mark.parametrize("transient", [False, True])
def test_a_failing_step_names_the_step_and_carries_the_flag(transient: bool) -> None:
    script = "import sys; sys.stderr.write('boom'); sys.exit(3)"
    what = f"prepare_metadata_for_build_wheel of {SDIST}"
    with pytest.raises(BuildError) as info:
        build_module._run(
            [sys.executable, "-c", script],
            what=what,
            filename=SDIST,
            timeout=LONG,
            transient=transient,
        )
    assert str(info.value) == f"{what} failed (exit 3):\nboom"
    assert (info.value.filename, info.value.transient) == (SDIST, transient)


def test_a_step_that_never_ends_is_stopped() -> None:
    what = f"get_requires_for_build_wheel of {SDIST}"
    with pytest.raises(BuildError) as info:
        build_module._run(
            [sys.executable, "-c", "import time; time.sleep(600)"],
            what=what,
            filename=SDIST,
            timeout=0.5,
            transient=False,
        )
    message = str(info.value)
    assert message.startswith(f"{what} did not finish within 0.5 s and was stopped")
    assert "BUILD_STEP_TIMEOUT" in message
    # A slow machine is no lasting fact about the sdist: the next run tries again.
    assert (info.value.filename, info.value.transient) == (SDIST, True)


def test_the_default_limit_is_ten_minutes() -> None:
    assert build_module.BUILD_STEP_TIMEOUT == 600.0


# -- whole builds through a stand-in interpreter ------------------------------------------------


def _fake_python(tmp_path: Path, *, venv_fails: bool = False) -> str:
    """An "interpreter" whose ``-m venv --without-pip DIR`` links DIR/bin/python to
    this one in a few milliseconds, so the step limit only ever meets the hooks. It
    answers lockpin's probe (``-I -c ...``) as a CPython 3.12.0."""
    script = tmp_path / "fake-python"
    body = (
        "echo 'venv: no space left' >&2; exit 1"
        if venv_fails
        else f'mkdir -p "$4/bin" && ln -s "{os.path.realpath(sys.executable)}" "$4/bin/python"'
    )
    probe = 'if [ "$1" = "-I" ]; then echo cpython 3.12.0; exit 0; fi'
    script.write_text(f"#!/bin/sh\n{probe}\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _sdist_with_backend(backend: str) -> bytes:
    """``p-1.0.tar.gz`` whose in-tree backend ``hooks`` is ``backend``."""
    members = {
        "p-1.0/PKG-INFO": (
            b"Metadata-Version: 2.2\nName: p\nVersion: 1.0\nDynamic: Requires-Dist\n"
        ),
        "p-1.0/pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "hooks"\nbackend-path = ["."]\n'
        ),
        "p-1.0/hooks.py": backend.encode(),
    }
    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path, data in sorted(members.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), FIXED_MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


HANGS = (
    "import time\ndef get_requires_for_build_wheel(config_settings=None):\n    time.sleep(600)\n"
)
CRASHES = (
    "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"
    "def prepare_metadata_for_build_wheel(directory, config_settings=None):\n"
    "    raise RuntimeError('setup.py is broken')\n"
)


@pytest.mark.skipif(os.name == "nt", reason="the stand-in interpreter is a shell script")
@pytest.mark.parametrize(
    ("backend", "venv_fails", "timeout", "message", "transient"),
    [
        pytest.param(
            HANGS,
            False,
            2.0,
            f"get_requires_for_build_wheel of {SDIST} did not finish within 2 s",
            True,
            id="hook-hangs",
        ),
        pytest.param(
            CRASHES,
            False,
            LONG,
            f"prepare_metadata_for_build_wheel of {SDIST} failed (exit 1):",
            False,
            id="hook-crashes",
        ),
        pytest.param(
            CRASHES,
            True,
            LONG,
            f"creating a build environment for {SDIST} failed (exit 1):\nvenv: no space left",
            True,
            id="environment-fails",
        ),
    ],
)
def test_build_failures_say_whether_they_last(
    tmp_path: Path,
    backend: str,
    venv_fails: bool,
    timeout: float,
    message: str,
    transient: bool,
) -> None:
    builder = build_module.make_metadata_builder(
        IndexConfig(no_index=True),
        python=_fake_python(tmp_path, venv_fails=venv_fails),
        timeout=timeout,
    )

    async def run() -> bytes:
        return await builder(_sdist_with_backend(backend), SDIST)

    with pytest.raises(BuildError) as info:
        asyncio.run(run())
    assert str(info.value).startswith(message), info.value
    assert (info.value.filename, info.value.transient) == (SDIST, transient)


# -- what the metadata cache remembers ---------------------------------------------------------


@pytest.mark.parametrize(("transient", "builds"), [(False, 1), (True, 2)])
def test_only_lasting_build_failures_are_remembered(
    tmp_path: Path, transient: bool, builds: int
) -> None:
    sdist = build_sdist(
        tmp_path, "p", "1.0", requires=["alpha"], dynamic=["Requires-Dist"], static_pyproject=False
    )
    dist = DistFile(sdist.name, sdist.as_uri())
    calls: list[str] = []

    async def build(data: bytes, filename: str) -> bytes:
        calls.append(filename)
        raise BuildError(f"hook of {filename} failed", filename=filename, transient=transient)

    async def fetch() -> BuildError:
        async with Http(HttpConfig(cache_dir=tmp_path / "cache")) as http:
            with pytest.raises(BuildError) as info:
                await MetadataFetcher(http, build_metadata=build).fetch(dist)
            return info.value

    first, second = asyncio.run(fetch()), asyncio.run(fetch())
    assert len(calls) == builds
    assert str(first) == str(second) == f"hook of {SDIST} failed"
    assert second.filename == SDIST
