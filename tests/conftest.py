"""Shared fixtures: a standard set of tiny real distributions, local indexes, pip venvs
(their value types and the pip helpers are in support.py).

The standard set (built once per session into ``dist_dir``; upload times UTC):

=============  =======  ==================================  ===========  ==========================
project        version  files                               uploaded     served with
=============  =======  ==================================  ===========  ==========================
alpha          1.0      wheel + sdist, Requires-Python      2024-01-01
                        >=3.8
alpha          1.1      wheel + sdist, Requires-Python      2024-06-01
                        >=3.8
alpha          2.0      wheel (no Requires-Python)          2025-01-01   yanked: "broken"
beta           1.0      wheel, Requires-Dist alpha>=1.0     2024-02-01
Foo.Bar_baz    0.1      wheel + sdist (display name kept)   2024-03-01   301 to /simple/foo-bar-baz/
nohash         1.0      wheel                               2024-03-02   md5 only
nohash2        1.0      wheel                               2024-03-03   no hash at all
onlysdist      1.0      sdist, static PKG-INFO 2.2,         2024-03-04
                        Requires-Dist alpha<2
dynsdist       1.0      sdist, ``Dynamic: Requires-Dist``,  2024-03-05   deps only via PEP 517 build
                        pyproject dynamic deps; builds
                        to Requires-Dist beta>=1.0
platwheel      1.0      cp312 manylinux x86_64 + aarch64,   2024-03-06
                        cp312 win_amd64, cp311 manylinux
                        x86_64, sdist
withextras     1.0      wheel, extra "fast" -> beta         2024-03-07
newpy          0.9      wheel, Requires-Python >=3.8        2024-03-08
newpy          1.0      wheel, Requires-Python >=3.13       2024-03-09
prerel         1.0      wheel                               2024-03-10
prerel         2.0b1    wheel                               2024-03-11
moved          1.0      wheel                               2024-03-12   /simple/moved/ -> 302 ->
                                                                         /elsewhere/moved/
hidden         1.0      wheel                               2024-03-13   .metadata served, not
                                                                         advertised
nometa         1.0      wheel                               2024-03-14   .metadata 404
=============  =======  ==================================  ===========  ==========================

Fixtures: ``dist_dir``, ``standard_set``, ``index_server`` (JSON + HTML),
``html_index_server`` (HTML only), ``make_index`` (factory, function scope),
``pip_env`` (fresh venv with pip), ``run_pip`` (pip isolated from this
machine's pip configuration); the apt archive's (``apt_archive``,
``make_apt_archive``, ...) from the plugin :mod:`fixtures.apt_plugin`; the OCI
registry's (``oci_registry``, ``docker_config``) from :mod:`fixtures.registry_plugin`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from fixtures.dists import build_sdist, build_wheel
from fixtures.index_server import IndexServer
from support import PipEnv, Published, StandardSet, run_pip_in

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

# The signed apt archive's fixtures, for tests/apt and tests/cli alike.
pytest_plugins = ["fixtures.apt_plugin", "fixtures.registry_plugin"]

PLATWHEEL_TAGS = (
    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64",
    "cp312-cp312-win_amd64",
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
)


def _utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=timezone.utc)


def build_standard_set(out: Path) -> StandardSet:
    """Build the table in this module's docstring into ``out``."""
    files: list[Published] = []

    def publish(path: Path, when: datetime, **options: Any) -> None:
        files.append(Published(path, {"upload_time": when, **options}))

    for version, when in (("1.0", _utc(2024, 1, 1)), ("1.1", _utc(2024, 6, 1))):
        publish(build_wheel(out, "alpha", version, requires_python=">=3.8"), when)
        publish(build_sdist(out, "alpha", version, requires_python=">=3.8"), when)
    publish(build_wheel(out, "alpha", "2.0"), _utc(2025, 1, 1), yanked="broken")
    publish(build_wheel(out, "beta", "1.0", requires=["alpha>=1.0"]), _utc(2024, 2, 1))
    publish(build_wheel(out, "Foo.Bar_baz", "0.1"), _utc(2024, 3, 1))
    publish(build_sdist(out, "Foo.Bar_baz", "0.1"), _utc(2024, 3, 1))
    publish(build_wheel(out, "nohash", "1.0"), _utc(2024, 3, 2), hashes="md5")
    publish(build_wheel(out, "nohash2", "1.0"), _utc(2024, 3, 3), hashes="none")
    publish(build_sdist(out, "onlysdist", "1.0", requires=["alpha<2"]), _utc(2024, 3, 4))
    dynsdist = build_sdist(
        out,
        "dynsdist",
        "1.0",
        requires=["beta>=1.0"],
        dynamic=["Requires-Dist"],
        static_pyproject=False,
    )
    publish(dynsdist, _utc(2024, 3, 5))
    for tag in PLATWHEEL_TAGS:
        publish(build_wheel(out, "platwheel", "1.0", tag=tag), _utc(2024, 3, 6))
    publish(build_sdist(out, "platwheel", "1.0"), _utc(2024, 3, 6))
    withextras = build_wheel(out, "withextras", "1.0", extras={"fast": ["beta"]})
    publish(withextras, _utc(2024, 3, 7))
    publish(build_wheel(out, "newpy", "0.9", requires_python=">=3.8"), _utc(2024, 3, 8))
    publish(build_wheel(out, "newpy", "1.0", requires_python=">=3.13"), _utc(2024, 3, 9))
    publish(build_wheel(out, "prerel", "1.0"), _utc(2024, 3, 10))
    publish(build_wheel(out, "prerel", "2.0b1"), _utc(2024, 3, 11))
    publish(build_wheel(out, "moved", "1.0"), _utc(2024, 3, 12))
    publish(build_wheel(out, "hidden", "1.0"), _utc(2024, 3, 13), metadata="hidden")
    publish(build_wheel(out, "nometa", "1.0"), _utc(2024, 3, 14), metadata="absent")
    return StandardSet(out, tuple(files), {"moved": "/elsewhere/moved/"})


def serve_standard_set(server: IndexServer, standard: StandardSet) -> IndexServer:
    for project, page_path in standard.moved.items():
        server.add_project(project, page_path=page_path)
    for published in standard.files:
        server.add_file(published.path, **published.options)
    return server


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run in ``tmp_path`` (inputs are named relative to it, as users do), with no
    lockpin configuration from the environment and a private cache. Modules that
    drive the CLI use it for every test: ``pytestmark = pytest.mark.usefixtures(...)``."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("LOCKPIN_")]:  # docs/configuration.md
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LOCKPIN_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def no_pip_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pip configuration from this machine (``PIP_*``, pip.conf) reaches the pip a
    sdist build runs: it sees only the index lockpin hands it."""
    for var in [v for v in os.environ if v.startswith("PIP_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


@pytest.fixture(scope="session")
def standard_set(tmp_path_factory: pytest.TempPathFactory) -> StandardSet:
    return build_standard_set(tmp_path_factory.mktemp("dists"))


@pytest.fixture(scope="session")
def dist_dir(standard_set: StandardSet) -> Path:
    """Directory holding every file of the standard set (treat as read-only)."""
    return standard_set.root


@pytest.fixture(scope="session")
def index_server(standard_set: StandardSet) -> Iterator[IndexServer]:
    """The standard set, JSON or HTML by content negotiation. Shared: do not reconfigure it."""
    with serve_standard_set(IndexServer(standard_set.root), standard_set) as server:
        yield server


@pytest.fixture(scope="session")
def html_index_server(standard_set: StandardSet) -> Iterator[IndexServer]:
    """The standard set, always PEP 503 HTML whatever the client accepts."""
    server = IndexServer(standard_set.root, html_only=True)
    with serve_standard_set(server, standard_set) as server:
        yield server


@pytest.fixture
def make_index(standard_set: StandardSet) -> Iterator[Callable[..., IndexServer]]:
    """Factory for a private, started server (stopped at teardown); safe to break.

    ``make_index(root=None, *, standard=True, **IndexServer options)``: with
    ``standard=True`` it serves the standard set (from ``dist_dir``).
    """
    servers: list[IndexServer] = []

    def make(root: Path | None = None, *, standard: bool = True, **options: Any) -> IndexServer:
        server = IndexServer(root or standard_set.root, **options)
        if standard:
            serve_standard_set(server, standard_set)
        servers.append(server.start())
        return server

    yield make
    for server in servers:
        server.stop()


# -- pip in throw-away venvs -------------------------------------------------


@pytest.fixture(scope="session")
def _venv_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # `python -m venv` with ensurepip costs ~3 s; copying a finished one is much
    # cheaper. A venv copied with its symlinks works when run through its own
    # bin/python (pyvenv.cfg is found next to it); only bin/ script shebangs
    # point at the template, hence `python -m pip` everywhere.
    path = tmp_path_factory.mktemp("venv-template") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path


@pytest.fixture
def pip_env(_venv_template: Path, tmp_path: Path) -> PipEnv:
    """A fresh venv with pip (the interpreter's bundled version)."""
    path = tmp_path / "venv"
    shutil.copytree(_venv_template, path, symlinks=True)
    return PipEnv(path)


@pytest.fixture
def run_pip() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_pip(venv_path, *args, check=True)``: pip isolated from the machine's config."""
    return run_pip_in
