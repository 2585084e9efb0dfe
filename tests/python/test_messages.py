"""What ``lockpin compile`` tells a person, on real files from the local index: a
missing dependency group named with the groups there are, each warning once, an
unknown extra warned about, a bad output path refused before any resolution, and
a conflict that says why the releases a requirement allows cannot be used."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pytest

from fixtures.dists import _tar_gz, build_wheel
from lockpin.cli._output import OncePerRun
from lockpin.errors import ResolutionError
from lockpin.net.http import HttpConfig
from lockpin.python.compile import compile_lock
from lockpin.python.index import IndexConfig
from lockpin.python.models import DistFile
from lockpin.python.target import parse_target
from lockpin.python.unusable import why_unusable
from support import run_cli, run_subprocess

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fixtures.index_server import IndexServer

AMD64 = ["--python-version", "3.12", "--platform", "linux/amd64"]
ARM64 = ["--platform", "linux/arm64"]
TARGET = parse_target(python_version="3.12", platform="linux/amd64")

# Every test runs in its own tmp_path with no lockpin configuration (conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


def _failing_sdist(root: Path, name: str, version: str) -> None:
    """An sdist whose PEP 517 backend does not exist: its metadata build fails at
    once, offline (no build requirements to install)."""
    base = f"{name}-{version}"
    (root / f"{base}.tar.gz").write_bytes(
        _tar_gz(
            {
                f"{base}/pyproject.toml": b'[build-system]\nrequires = []\nbuild-backend = "nope"\n'
                b'backend-path = ["."]\n',
                f"{base}/PKG-INFO": f"Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n"
                "Dynamic: Requires-Dist\n".encode(),
            }
        )
    )


@pytest.fixture
def private(
    tmp_path_factory: pytest.TempPathFactory, make_index: Callable[..., IndexServer]
) -> IndexServer:
    """An index of its own: ``broken`` 1.0 (a wheel) and 2.0 (only an sdist, which
    does not build), ``user``/``user2`` requiring ``broken``, ``hasx`` with
    the extra ``socks``, ``asker`` requiring ``hasx[sockz]``."""
    root = tmp_path_factory.mktemp("private-index")
    build_wheel(root, "broken", "1.0")
    _failing_sdist(root, "broken", "2.0")
    build_wheel(root, "user", "1.0", requires=["broken"])
    build_wheel(root, "user2", "1.0", requires=["broken"])
    build_wheel(root, "dep", "1.0")
    build_wheel(root, "hasx", "1.0", extras={"socks": ["dep"]})
    build_wheel(root, "asker", "1.0", requires=["hasx[sockz]"])
    server = make_index(root, standard=False)
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for path in sorted(root.iterdir()):
        server.add_file(path.name, upload_time=when)
    return server


# -- --group ---------------------------------------------------------------------------------------


def test_an_unknown_group_names_the_pyproject_and_its_groups(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = []\n'
        '[dependency-groups]\ndev = ["alpha"]\ntest = ["beta"]\n'
    )
    result = run_subprocess("compile", "pyproject.toml", "--group", "nope", "-o", "-", cwd=tmp_path)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert result.err == (
        "lockpin: error: pyproject.toml: no dependency group 'nope'; it defines: dev, test.\n"
    )


@pytest.mark.parametrize(
    ("tool_table", "where"),
    [
        ('[tool.poetry.group.dev.dependencies]\npytest = "*"\n', "[tool.poetry.group.dev]"),
        ('[tool.pdm.dev-dependencies]\ndev = ["pytest"]\n', "[tool.pdm.dev-dependencies].dev"),
        ('[tool.uv]\ndev-dependencies = ["pytest"]\n', "[tool.uv].dev-dependencies"),
    ],
)
def test_another_tools_group_is_named_as_such(tmp_path: Path, tool_table: str, where: str) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = []\n' + tool_table
    )
    result = run_subprocess("compile", "pyproject.toml", "--group", "dev", "-o", "-", cwd=tmp_path)
    assert result.code == 2
    assert result.err == (
        "lockpin: error: pyproject.toml: no dependency group 'dev' in [dependency-groups] "
        f"(it defines: none); {where} is another tool's own format, which lockpin does not "
        "read. List the group under [dependency-groups] (PEP 735) to lock it.\n"
    )


# -- each warning once -----------------------------------------------------------------------------


def test_a_skipped_release_is_warned_about_once(private: IndexServer, tmp_path: Path) -> None:
    """Two targets, two requirers: the resolver meets broken 2.0 once per target;
    the person reads about it once."""
    (tmp_path / "requirements.in").write_text("user\nuser2\n")
    result = run_subprocess(
        "compile",
        "requirements.in",
        "-o",
        "-",
        "-i",
        private.simple_url,
        *AMD64,
        *ARM64,
        cwd=tmp_path,
    )
    assert result.code == 0, result.err
    assert "broken==1.0" in result.out
    skipping = [line for line in result.err.splitlines() if "skipping broken==2.0" in line]
    assert len(skipping) == 1, result.err


def test_once_per_run_filter() -> None:
    once = OncePerRun()

    def record(level: int, message: str) -> logging.LogRecord:
        return logging.LogRecord("lockpin.x", level, __file__, 1, message, (), None)

    assert once.filter(record(logging.WARNING, "skipping a==1"))
    assert not once.filter(record(logging.WARNING, "skipping a==1"))
    assert once.filter(record(logging.WARNING, "skipping b==1"))
    for level in (logging.ERROR, logging.DEBUG):  # not warnings: every one passes
        assert once.filter(record(level, "boom"))
        assert once.filter(record(level, "boom"))


# -- unknown extras --------------------------------------------------------------------------------


def _lock(index: IndexServer, text: str, tmp_path: Path) -> tuple[str, ...]:
    (tmp_path / "requirements.in").write_text(text)
    lock = compile_lock(
        ["requirements.in"],
        targets=(TARGET,),
        index=IndexConfig(index_url=index.simple_url),
        http=HttpConfig(cache_dir=tmp_path / "cache"),
    )
    return lock.warnings


def test_an_unknown_extra_of_a_root_is_warned_about(
    index_server: IndexServer, tmp_path: Path
) -> None:
    warnings = _lock(index_server, "withextras[fast,fastt]\n", tmp_path)
    assert [w for w in warnings if "extra" in w] == [
        "requirements.in:1: withextras 1.0 has no extra 'fastt' (it has: fast)."
    ]


def test_a_known_extra_is_not_warned_about(index_server: IndexServer, tmp_path: Path) -> None:
    assert not [w for w in _lock(index_server, "withextras[fast]\n", tmp_path) if "extra" in w]


def test_an_unknown_extra_asked_by_a_dependency_is_warned_about_once(
    private: IndexServer, tmp_path: Path
) -> None:
    warnings = _lock(private, "asker\nhasx[sockz]\n", tmp_path)
    assert [w for w in warnings if "extra" in w] == [
        "requirements.in:2: hasx 1.0 has no extra 'sockz' (it has: socks).",
        "hasx 1.0 has no extra 'sockz' (it has: socks), which asker==1.0 asks for.",
    ]


# -- the output path -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            "missing-dir/lock.txt",
            "missing-dir/lock.txt: cannot write the lock there: {tmp}/missing-dir does not exist",
        ),
        (
            "afile/lock.txt",
            "afile/lock.txt: cannot write the lock there: {tmp}/afile is not a directory",
        ),
        ("adir", "adir: is a directory; pass a file name to -o/--output-file."),
    ],
)
def test_a_bad_output_path_is_refused_before_resolving(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    output: str,
    message: str,
) -> None:
    index = make_index()
    (tmp_path / "requirements.in").write_text("beta\n")
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    result = run_cli(
        capsys, "compile", "requirements.in", "-o", output, "-i", index.simple_url, *AMD64
    )
    assert result.code == 2
    assert message.format(tmp=tmp_path) in result.err
    assert index.requests == []  # nothing resolved, nothing fetched


# -- why a release cannot be used ------------------------------------------------------------------


def _conflict(index: IndexServer, text: str, tmp_path: Path, **kwargs: object) -> str:
    (tmp_path / "requirements.in").write_text(text)
    with pytest.raises(ResolutionError) as info:
        compile_lock(
            ["requirements.in"],
            targets=(kwargs.pop("target", TARGET),),  # type: ignore[arg-type]
            index=IndexConfig(index_url=index.simple_url),
            http=HttpConfig(cache_dir=tmp_path / "cache"),
            **kwargs,  # type: ignore[arg-type]
        )
    return str(info.value)


@pytest.mark.parametrize(
    ("requirement", "options", "line"),
    [
        ("newpy==1.0", {}, "  newpy 1.0: Requires-Python >=3.13 (the target has Python 3.12.0)"),
        ("alpha>=2", {}, "  alpha 2.0: yanked (broken)"),
        (
            "beta",
            {"no_binary": [":all:"]},
            "  beta 1.0: its wheels are left out by --no-binary, and it has no sdist",
        ),
        (
            "platwheel",
            {
                "only_binary": [":all:"],
                "target": parse_target(python_version="3.13", platform="linux/amd64"),
            },
            "  platwheel 1.0: no cp313 wheel for linux/amd64, and its sdist is left out by "
            "--only-binary",
        ),
        (
            "platwheel",
            {"exclude_newer": datetime(2024, 2, 1, tzinfo=timezone.utc)},
            "  platwheel 1.0: all its files were uploaded after --exclude-newer "
            "2024-02-01T00:00:00Z",
        ),
    ],
)
def test_a_conflict_says_why_a_release_is_unusable(
    index_server: IndexServer,
    tmp_path: Path,
    requirement: str,
    options: dict[str, object],
    line: str,
) -> None:
    message = _conflict(index_server, requirement + "\n", tmp_path, **options)
    assert line in message.splitlines(), message


def test_usable_versions_list_final_releases_before_pre_releases(
    index_server: IndexServer, tmp_path: Path
) -> None:
    message = _conflict(index_server, "prerel<1\n", tmp_path)
    assert "  versions of prerel usable on this target: 1.0, 2.0b1" in message.splitlines()


def test_a_pin_whose_sdist_fails_to_build_says_so(private: IndexServer, tmp_path: Path) -> None:
    message = _conflict(private, "broken==2.0\n", tmp_path)
    (line,) = [x for x in message.splitlines() if x.startswith("  broken 2.0:")]
    assert line.startswith("  broken 2.0: no wheel, and its sdist fails to build ("), message


LATE = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _file(name: str, **kwargs: object) -> DistFile:
    return DistFile(name, f"https://files.example/{name}", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("files", "kwargs", "expected"),
    [
        ((), {}, "it has no files"),
        (
            (_file("x-1.0-cp38-cp38-win_amd64.whl"),),
            {},
            "no cp312 wheel for linux/amd64 and no sdist",
        ),
        (
            (_file("x-1.0.tar.gz"),),
            {"usable": True, "build_failure": "exit 1"},
            "no wheel, and its sdist fails to build (exit 1)",
        ),
        (
            (_file("x-1.0-py3-none-any.whl"),),
            {"usable": True, "build_failure": "bad"},
            "its metadata cannot be read (bad)",
        ),
        (
            (_file("x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"), _file("x-1.0.tar.gz")),
            {"usable": True, "build_failure": "Cython error"},
            "no cp312 wheel for linux/amd64, and its sdist fails to build (Cython error)",
        ),
        (
            (_file("x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", upload_time=LATE),),
            {"exclude_newer": datetime(2024, 1, 1, tzinfo=timezone.utc)},
            "all its files were uploaded after --exclude-newer 2024-01-01T00:00:00Z",
        ),
        (
            (_file("x-1.0.tar.gz", requires_python="<3.12"),),
            {},
            "Requires-Python <3.12 (the target has Python 3.12.0)",
        ),
        (
            (_file("x-1.0-py3-none-any.whl"), _file("x-1.0.tar.gz")),
            {},
            "its files are left out by --only-binary/--no-binary",
        ),
    ],
)
def test_why_unusable(
    files: tuple[DistFile, ...], kwargs: dict[str, object], expected: str
) -> None:
    assert why_unusable(files, target=TARGET, **kwargs) == expected  # type: ignore[arg-type]
