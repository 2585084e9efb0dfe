"""``lockpin compile`` end to end against the local index fixture: the API
(:func:`lockpin.python.compile.compile_lock`) and the CLI (:func:`lockpin.cli.main`)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from fixtures.dists import build_sdist, build_wheel
from lockpin import _toml
from lockpin.cli import main
from lockpin.errors import InputError, ResolutionError
from lockpin.net.http import HttpConfig
from lockpin.python.compile import compile_lock
from lockpin.python.index import IndexConfig
from lockpin.python.reqfile import parse_requirements
from lockpin.python.target import Target, parse_target
from support import pip_environ

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fixtures.index_server import IndexServer
    from support import StandardSet

AMD64 = parse_target(python_version="3.12", platform="linux/amd64")
TARGET_ARGS = ["--python-version", "3.12", "--platform", "linux/amd64"]


# -- helpers -----------------------------------------------------------------------------------


# Every test runs in its own tmp_path with no lockpin configuration (conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(path: str | Path, text: str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


class Cli:
    """``lockpin compile`` against one index, output captured."""

    def __init__(self, index: IndexServer, capsys: pytest.CaptureFixture[str]) -> None:
        self.index = index
        self.capsys = capsys
        self.out = ""
        self.err = ""

    def __call__(self, *args: str, index: bool = True, target: bool = True) -> int:
        argv = ["compile", *args]
        if index:
            argv += ["-i", self.index.simple_url]
        if target:
            argv += TARGET_ARGS
        self.capsys.readouterr()
        rc = main(argv)
        captured = self.capsys.readouterr()
        self.out, self.err = captured.out, captured.err
        assert "Traceback" not in self.err
        return rc


@pytest.fixture
def cli(index_server: IndexServer, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(index_server, capsys)


def api(
    index: IndexServer,
    *src: str,
    targets: tuple[Target, ...] = (AMD64,),
    cache: Path | None = None,
    **kwargs: object,
) -> str:
    lock = compile_lock(
        list(src),
        targets=targets,
        index=IndexConfig(index_url=index.simple_url),
        http=HttpConfig(cache_dir=cache),
        **kwargs,  # type: ignore[arg-type]
    )
    return lock.to_requirements_txt(header=False)


def pins_of(text: str, path: str = "requirements.txt") -> dict[str, str]:
    parsed = parse_requirements(path, reader=lambda _p: text)
    return {
        str(line.name): str(line.pinned_version)
        for line in parsed.requirements
        if line.pinned_version is not None
    }


def hashes_of(text: str) -> dict[str, set[str]]:
    parsed = parse_requirements("requirements.txt", reader=lambda _p: text)
    out: dict[str, set[str]] = {}
    for line in parsed.requirements:
        out.setdefault(str(line.name), set()).update(h.split(":", 1)[1] for h in line.hashes)
    return out


@pytest.fixture
def dists(standard_set: StandardSet) -> Callable[[str], str]:
    """``dists("alpha-1.1.tar.gz")`` -> its sha256."""
    return lambda filename: sha(standard_set.root / filename)


# -- requirement-file inputs -------------------------------------------------------------------


def test_nested_files_constraints_options_extras_and_markers(cli: Cli) -> None:
    write(
        "requirements.in",
        "# the service\n"
        "-r sub/base.in\n"
        "withextras[fast]  # inline comment\n"
        'platwheel ; sys_platform == "linux"\n'
        'newpy ; python_version < "3.8"\n'
        "--only-binary platwheel\n",
    )
    write("sub/base.in", "-c ../constraints/pins.txt\nbeta \\\n  >=1.0\n")
    write("constraints/pins.txt", "alpha<1.1\nunused==9\n")
    assert cli("requirements.in", "--target-hashes-only") == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert pins_of(text) == {
        "alpha": "1.0",
        "beta": "1.0",
        "platwheel": "1.0",
        "withextras": "1.0",
    }
    assert "alpha==1.0 \\\n" in text
    assert "    # via\n    #   -c constraints/pins.txt\n    #   beta\nbeta==1.0" in text, text
    assert "    # via\n    #   -r sub/base.in\n    #   withextras\n" in text
    # --only-binary platwheel and --target-hashes-only: the amd64 cp312 wheel alone.
    assert hashes_of(text)["platwheel"] == {
        sha(
            cli.index.root
            / "platwheel-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        )
    }
    assert "withextras[fast]" not in text  # extras are stripped


def test_option_lines_choose_the_index(cli: Cli) -> None:
    write("requirements.in", f"--index-url {cli.index.simple_url}\nbeta\n")
    assert cli("requirements.in", index=False) == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert f"--index-url {cli.index.simple_url}\n" in text
    assert f"# index: {cli.index.simple_url}\n" in text
    assert pins_of(text) == {"alpha": "1.1", "beta": "1.0"}


def test_pre_option_line(cli: Cli) -> None:
    write("requirements.in", "--pre\nprerel\n")
    assert cli("requirements.in", "-o", "-") == 0, cli.err
    assert pins_of(cli.out) == {"prerel": "2.0b1"}
    write("requirements.in", "prerel\n")
    assert cli("requirements.in", "-o", "-") == 0
    assert pins_of(cli.out) == {"prerel": "1.0"}
    assert cli("requirements.in", "-o", "-", "--pre") == 0
    assert pins_of(cli.out) == {"prerel": "2.0b1"}


def test_several_inputs_and_cli_constraints(cli: Cli) -> None:
    write("a.in", "beta\n")
    write("b.in", "withextras\n")
    write("c.txt", "alpha==1.0\n")
    assert cli("a.in", "b.in", "-c", "c.txt") == 0, cli.err
    text = Path("a.txt").read_text()  # next to the first input
    assert pins_of(text) == {"alpha": "1.0", "beta": "1.0", "withextras": "1.0"}
    assert "    # via\n    #   -c c.txt\n    #   beta\n" in text
    assert "withextras==1.0 \\\n" in text
    assert text.split("withextras==1.0")[1].count("# via -r b.in") == 1


def test_direct_url_is_hashed_by_downloading(cli: Cli, dists: Callable[[str], str]) -> None:
    url = cli.index.file_url("beta-1.0-py3-none-any.whl")
    write("requirements.in", f"beta @ {url}\n")
    assert cli("requirements.in", "--no-header") == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert f"beta @ {url} \\\n    --hash=sha256:{dists('beta-1.0-py3-none-any.whl')}\n" in text
    assert pins_of(text) == {"alpha": "1.1"}


def test_vcs_and_local_paths_are_pinned_as_given_with_a_warning(cli: Cli) -> None:
    write(
        "requirements.in",
        "beta\ngit+https://example.invalid/repo.git@v1#egg=gitpkg\n-e ./localpkg\n",
    )
    assert cli("requirements.in", "--no-header") == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert "git+https://example.invalid/repo.git@v1#egg=gitpkg\n" in text
    assert "\n-e ./localpkg\n    # via -r requirements.in\n" in text  # still editable
    assert "requirements.in:2: git+https://example.invalid/repo.git@v1#egg=gitpkg is pinned" in (
        cli.err
    )
    assert "requirements.in:3" in cli.err
    assert "--require-hashes cannot cover" in cli.err


# -- pyproject.toml ----------------------------------------------------------------------------

PYPROJECT = """\
[project]
name = "my-service"
version = "0"
dependencies = ["beta"]

[project.optional-dependencies]
fast = ["withextras[fast]"]
Plat_Form = ["platwheel"]

[dependency-groups]
dev = ["prerel", {include-group = "lint"}]
lint = ["foo-bar-baz"]
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {"alpha", "beta"}),
        (["--extra", "fast"], {"alpha", "beta", "withextras"}),
        (["--extra", "plat-form"], {"alpha", "beta", "platwheel"}),
        (["--all-extras"], {"alpha", "beta", "withextras", "platwheel"}),
        (["--group", "dev"], {"alpha", "beta", "prerel", "foo-bar-baz"}),
        (["--group", "lint", "--extra", "fast"], {"alpha", "beta", "foo-bar-baz", "withextras"}),
    ],
)
def test_pyproject_inputs(cli: Cli, args: list[str], expected: set[str]) -> None:
    write("pyproject.toml", PYPROJECT)
    assert cli("pyproject.toml", *args) == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert set(pins_of(text)) == expected
    assert "beta==1.0" in text
    assert "    # via my-service (pyproject.toml)\n" in text


def test_pyproject_unknown_extra_is_an_input_error(cli: Cli) -> None:
    write("pyproject.toml", PYPROJECT)
    assert cli("pyproject.toml", "--extra", "nope") == 2
    assert "no optional-dependencies extra 'nope'" in cli.err
    assert "fast" in cli.err
    assert not Path("requirements.txt").exists()


def test_extra_without_pyproject_is_an_input_error(cli: Cli) -> None:
    write("requirements.in", "beta\n")
    assert cli("requirements.in", "--extra", "x") == 2
    assert "need a pyproject.toml" in cli.err


# -- targets -----------------------------------------------------------------------------------


def test_target_in_header_and_all_files_hashed(cli: Cli, dists: Callable[[str], str]) -> None:
    write("requirements.in", "platwheel\n")
    assert cli("requirements.in") == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert text.startswith(
        "#\n# This file is autogenerated by lockpin for "
        "CPython 3.12.0 on linux/amd64 (manylinux_2_28_x86_64)\n"
    )
    all_files = {p.name for p in cli.index.root.glob("platwheel-1.0*")}
    assert len(all_files) == 5
    assert hashes_of(text)["platwheel"] == {dists(f) for f in all_files}
    assert cli("requirements.in", "--target-hashes-only", "-o", "-") == 0
    assert hashes_of(cli.out)["platwheel"] == {
        dists("platwheel-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
        dists("platwheel-1.0.tar.gz"),
    }


@pytest.mark.parametrize(("python", "expected"), [("3.12", "0.9"), ("3.13", "1.0")])
def test_requires_python_follows_the_target(cli: Cli, python: str, expected: str) -> None:
    write("requirements.in", "newpy\n")
    assert cli("requirements.in", "-o", "-", "--python-version", python, target=False) == 0
    assert pins_of(cli.out) == {"newpy": expected}


@pytest.fixture
def split_index(
    tmp_path_factory: pytest.TempPathFactory, make_index: Callable[..., IndexServer]
) -> IndexServer:
    """Projects whose pins differ between linux/amd64, linux/arm64 and win_amd64."""
    root = tmp_path_factory.mktemp("split")
    server = make_index(root, standard=False)
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for path in (
        build_wheel(
            root,
            "app",
            "1.0",
            requires=["pick>=1", "winonly ; sys_platform == 'win32'", "common"],
        ),
        build_wheel(root, "pick", "1.0"),
        build_wheel(root, "pick", "2.0", tag="cp312-cp312-manylinux_2_17_x86_64"),
        build_wheel(root, "pick", "2.0", tag="cp312-cp312-win_amd64"),
        build_wheel(root, "winonly", "1.0"),
        build_wheel(root, "common", "1.0"),
    ):
        server.add_file(path, upload_time=when)
    return server


def test_repeatable_platform_writes_markers_where_pins_differ(
    split_index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write("requirements.in", "app\n")
    cli = Cli(split_index, capsys)
    platforms = ["linux/amd64", "linux/arm64", "win_amd64"]
    args = ["--python-version", "3.12"]
    for p in platforms:
        args += ["--platform", p]
    assert cli("requirements.in", "--no-header", *args, target=False) == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert re.search(r"^app==1\.0 \\$", text, re.M)
    assert re.search(r"^common==1\.0 \\$", text, re.M)
    assert "pick==1.0 ; sys_platform == 'linux' and platform_machine == 'aarch64' \\\n" in text
    # True on amd64 and win_amd64, false on arm64 (the only other target).
    assert (
        "pick==2.0 ; platform_machine == 'x86_64' or "
        "(sys_platform == 'win32' and platform_machine == 'AMD64') \\\n"
    ) in text
    assert "winonly==1.0 ; sys_platform == 'win32' and platform_machine == 'AMD64' \\\n" in text

    # Each target, evaluating the markers, installs exactly its own single-target lock.
    parsed = parse_requirements("requirements.txt", reader=lambda _p: text)
    for platform in platforms:
        target = parse_target(python_version="3.12", platform=platform)
        selected = {
            str(line.name): str(line.pinned_version)
            for line in parsed.requirements
            if line.marker is None or line.marker.evaluate(target.markers())
        }
        assert (
            cli(
                "requirements.in",
                "-o",
                "-",
                "--python-version",
                "3.12",
                "--platform",
                platform,
                target=False,
            )
            == 0
        )
        assert selected == pins_of(cli.out), platform


def test_markers_of_one_os_use_platform_machine_only(
    split_index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write("requirements.in", "app\n")
    cli = Cli(split_index, capsys)
    argv = ["--python-version", "3.12", "--platform", "linux/amd64", "--platform", "linux/arm64"]
    assert cli("requirements.in", "-o", "-", *argv, target=False) == 0, cli.err
    assert "pick==1.0 ; platform_machine == 'aarch64' \\\n" in cli.out
    assert "pick==2.0 ; platform_machine == 'x86_64' \\\n" in cli.out
    assert "winonly" not in cli.out
    assert "#   CPython 3.12.0 on linux/amd64 (manylinux_2_28_x86_64)\n" in cli.out
    assert "#   CPython 3.12.0 on linux/arm64 (manylinux_2_28_aarch64)\n" in cli.out
    for line in cli.out.splitlines():
        if " ; " in line:
            Marker(line.split(" ; ", 1)[1].rstrip(" \\"))  # valid PEP 508


def test_same_target_twice_is_an_error(cli: Cli) -> None:
    write("requirements.in", "beta\n")
    assert cli("requirements.in", "--platform", "linux/amd64") == 2
    assert "the same target is listed twice" in cli.err


# -- sdists ------------------------------------------------------------------------------------


def test_sdist_with_static_metadata_needs_no_build(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, dists: Callable[[str], str]
) -> None:
    import lockpin.python.build as build

    def no_build(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("static PKG-INFO must not need a PEP 517 build")

    monkeypatch.setattr(build, "_build_sync", no_build)
    write("requirements.in", "onlysdist\n")
    assert cli("requirements.in", "--no-header") == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert f"onlysdist==1.0 \\\n    --hash=sha256:{dists('onlysdist-1.0.tar.gz')}\n" in text
    assert pins_of(text) == {"alpha": "1.1", "onlysdist": "1.0"}
    assert (
        "warning: onlysdist==1.0 has no wheel for CPython 3.12.0 on linux/amd64 "
        "(manylinux_2_28_x86_64): pip will build it from source"
    ) in cli.err
    assert "warning: alpha" not in cli.err


def test_sdist_with_dynamic_metadata_is_built_with_pep517(cli: Cli) -> None:
    write("requirements.in", "dynsdist\n")
    assert cli("requirements.in", "--no-header") == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert pins_of(text) == {"alpha": "1.1", "beta": "1.0", "dynsdist": "1.0"}
    assert "beta==1.0 \\\n" in text
    assert "    # via dynsdist\n" in text
    assert "dynsdist==1.0 has no wheel" in cli.err


def _with_build_requirements(sdist: Path, requires: list[str]) -> bytes:
    """``sdist`` re-packed with ``[build-system] requires`` set to ``requires``."""
    import io
    import json
    import tarfile

    out = io.BytesIO()
    with tarfile.open(sdist) as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith("/pyproject.toml"):
                data = data.replace(b"requires = []", f"requires = {json.dumps(requires)}".encode())
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.usefixtures("no_pip_config")
def test_pep517_build_installs_build_requirements(
    make_index: Callable[..., IndexServer],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A backend with build requirements: pip is bootstrapped into the isolated
    environment and installs them from the lock's index."""
    root = tmp_path_factory.mktemp("buildreq")
    plain = build_sdist(
        root,
        "needsbuild",
        "1.0",
        requires=["alpha"],
        dynamic=["Requires-Dist"],
        static_pyproject=False,
    )
    plain.write_bytes(_with_build_requirements(plain, ["beta>=1"]))
    server = make_index()
    server.add_file(plain, upload_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    write("requirements.in", "needsbuild\n")
    cli = Cli(server, capsys)
    assert cli("requirements.in", "-o", "-", "--no-header") == 0, cli.err
    assert pins_of(cli.out) == {"alpha": "1.1", "needsbuild": "1.0"}
    # The build requirement was fetched from the index (beta and its dependency).
    fetched = {r.path for r in server.requests}
    assert "/files/beta-1.0-py3-none-any.whl" in fetched


def test_failing_pep517_build_is_a_readable_error(
    make_index: Callable[..., IndexServer],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path_factory.mktemp("badbuild")
    sdist = build_sdist(root, "badbuild", "1.0", dynamic=["Requires-Dist"], static_pyproject=False)
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(sdist) as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith("/tinybackend.py"):
                data += (
                    b"\ndef prepare_metadata_for_build_wheel(*a, **k):\n"
                    b"    raise SystemExit('boom: no compiler')\n"
                )
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    sdist.write_bytes(out.getvalue())
    server = make_index(standard=False, root=root)
    server.add_file(sdist)
    write("requirements.in", "badbuild\n")
    cli = Cli(server, capsys)
    # The release that does not build is skipped (like an old sdist met while
    # backtracking); with nothing else to pick, the explanation carries its output.
    assert cli("requirements.in") == 1
    assert "skipped because their metadata could not be read or built: badbuild==1.0" in cli.err
    assert "prepare_metadata_for_build_wheel of badbuild-1.0.tar.gz failed" in cli.err
    assert "boom: no compiler" in cli.err
    assert "Traceback" not in cli.err.split("boom")[0].split("badbuild==1.0:")[0]
    assert not Path("requirements.txt").exists()


@pytest.mark.parametrize(
    "args",
    [["--only-binary", ":all:"], ["--only-binary", "beta,onlysdist"], ["--only-binary=onlysdist"]],
)
def test_only_binary_refuses_sdists(cli: Cli, args: list[str]) -> None:
    write("requirements.in", "onlysdist\n")
    assert cli("requirements.in", *args) == 1
    assert "onlysdist (required by -r requirements.in)" in cli.err
    assert "versions of onlysdist usable on this target: none" in cli.err
    assert not Path("requirements.txt").exists()


def test_only_binary_option_line_keeps_wheels_of_mixed_releases(cli: Cli) -> None:
    write("requirements.in", "--only-binary :all:\nalpha\n")
    assert cli("requirements.in", "-o", "-", "--target-hashes-only") == 0
    assert pins_of(cli.out) == {"alpha": "1.1"}
    assert len(hashes_of(cli.out)["alpha"]) == 1  # the wheel; the sdist does not fit


@pytest.mark.parametrize(
    "how",
    [("--no-binary", "platwheel"), ("--no-binary", ":all:"), ("option-line", ":all:")],
)
def test_no_binary_locks_only_the_sdist(cli: Cli, how: tuple[str, str]) -> None:
    flag, names = how
    if flag == "option-line":
        write("requirements.in", f"--no-binary {names}\nplatwheel\n")
        args: list[str] = []
    else:
        write("requirements.in", "platwheel\n")
        args = [flag, names]
    assert (
        cli(
            "requirements.in",
            "-o",
            "-",
            *args,
        )
        == 0
    ), cli.err
    assert pins_of(cli.out) == {"platwheel": "1.0"}
    assert len(hashes_of(cli.out)["platwheel"]) == 1  # the sdist alone, no wheel
    assert "has no wheel for" in cli.err  # pip will build it: the user is told


def test_only_binary_wins_over_no_binary(cli: Cli) -> None:
    write("requirements.in", "platwheel\n")
    assert (
        cli(
            "requirements.in",
            "-o",
            "-",
            "--no-binary",
            ":all:",
            "--only-binary",
            "platwheel",
        )
        == 0
    )
    assert len(hashes_of(cli.out)["platwheel"]) == 4  # every wheel, no sdist


# -- exclude-newer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "recorded", "alpha"),
    [
        ("2024-05-01", "2024-05-01T00:00:00Z", "1.0"),
        ("2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z", "1.1"),
        ("2024-05-31T23:59:59+00:00", "2024-05-31T23:59:59Z", "1.0"),
        ("2024-06-01T02:00:00+02:00", "2024-06-01T00:00:00Z", "1.1"),
    ],
)
def test_exclude_newer_is_honoured_and_recorded(
    cli: Cli, value: str, recorded: str, alpha: str
) -> None:
    write("requirements.in", "beta\n")
    assert cli("requirements.in", "--exclude-newer", value) == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert f"# exclude-newer: {recorded}\n" in text
    assert pins_of(text)["alpha"] == alpha


def test_exclude_newer_before_everything_is_unsatisfiable(cli: Cli) -> None:
    write("requirements.in", "beta\n")
    assert cli("requirements.in", "--exclude-newer", "2020-01-01") == 1
    assert "versions of beta usable on this target: none" in cli.err
    assert "--exclude-newer 2020-01-01" in cli.err


def test_bad_exclude_newer(cli: Cli) -> None:
    write("requirements.in", "beta\n")
    assert cli("requirements.in", "--exclude-newer", "last tuesday") == 2
    assert "RFC 3339" in cli.err


# -- existing pins, --upgrade, --upgrade-package -----------------------------------------------


def test_existing_pins_are_kept_and_upgrades_move_them(cli: Cli) -> None:
    three13 = ["--python-version", "3.13", "--platform", "linux/amd64"]
    write("requirements.in", "beta\nnewpy\n")
    write("requirements.txt", "alpha==1.0\nbeta==1.0\nnewpy==0.9\n")
    assert cli("requirements.in", *three13, target=False) == 0, cli.err
    assert pins_of(Path("requirements.txt").read_text()) == {
        "alpha": "1.0",
        "beta": "1.0",
        "newpy": "0.9",
    }
    # -P NAME upgrades only that package.
    assert cli("requirements.in", "-P", "alpha", *three13, target=False) == 0
    assert pins_of(Path("requirements.txt").read_text()) == {
        "alpha": "1.1",
        "beta": "1.0",
        "newpy": "0.9",
    }
    # -P NAME==VER moves it to that version, and is not a "# via" source.
    assert cli("requirements.in", "--upgrade-package", "alpha==1.0", *three13, target=False) == 0
    text = Path("requirements.txt").read_text()
    assert pins_of(text)["alpha"] == "1.0"
    assert "upgrade-package" not in text.split("#\n", 2)[-1]
    assert "    # via beta\n" in text
    # --upgrade ignores every existing pin.
    assert cli("requirements.in", "--upgrade", *three13, target=False) == 0
    assert pins_of(Path("requirements.txt").read_text()) == {
        "alpha": "1.1",
        "beta": "1.0",
        "newpy": "1.0",
    }


def test_existing_pin_that_no_longer_fits_is_replaced(cli: Cli) -> None:
    write("requirements.in", "alpha<1.1\n")
    write("requirements.txt", "alpha==1.1\n")
    assert cli("requirements.in") == 0
    assert pins_of(Path("requirements.txt").read_text()) == {"alpha": "1.0"}


def test_upgrade_package_to_an_impossible_version_is_explained(cli: Cli) -> None:
    write("requirements.in", "alpha<1.1\n")
    assert cli("requirements.in", "-P", "alpha==1.1") == 1
    assert "alpha<1.1 (required by -r requirements.in)" in cli.err
    assert "alpha==1.1 (constraint from --upgrade-package alpha==1.1)" in cli.err


# -- output format -----------------------------------------------------------------------------


def test_output_format_is_pip_compiles(cli: Cli, dists: Callable[[str], str]) -> None:
    write("requirements.in", "beta\nwithextras[fast]\n")
    assert cli("requirements.in", "--no-header") == 0, cli.err
    alpha = sorted([dists("alpha-1.1-py3-none-any.whl"), dists("alpha-1.1.tar.gz")])
    expected = (
        f"--index-url {cli.index.simple_url}\n"
        "\n"
        "alpha==1.1 \\\n"
        f"    --hash=sha256:{alpha[0]} \\\n"
        f"    --hash=sha256:{alpha[1]}\n"
        "    # via beta\n"
        "beta==1.0 \\\n"
        f"    --hash=sha256:{dists('beta-1.0-py3-none-any.whl')}\n"
        "    # via\n"
        "    #   -r requirements.in\n"
        "    #   withextras\n"
        "withextras==1.0 \\\n"
        f"    --hash=sha256:{dists('withextras-1.0-py3-none-any.whl')}\n"
        "    # via -r requirements.in\n"
    )
    assert Path("requirements.txt").read_text() == expected
    assert cli("requirements.in", "--no-header", "--no-annotate", "-o", "-") == 0
    assert cli.out == "".join(
        line + "\n" for line in expected.splitlines() if not line.startswith("    #")
    )


def test_header_names_command_target_exclude_newer_and_index(cli: Cli) -> None:
    write("requirements.in", "beta\n")
    assert cli("requirements.in", "--exclude-newer", "2025-01-01") == 0
    text = Path("requirements.txt").read_text()
    header = text.split("\n\n", 1)[0]
    assert header == (
        "#\n"
        "# This file is autogenerated by lockpin for CPython 3.12.0 on linux/amd64 "
        "(manylinux_2_28_x86_64)\n"
        "# by the following command:\n"
        "#\n"
        "#    lockpin compile requirements.in --exclude-newer 2025-01-01 "
        f"-i {cli.index.simple_url} --python-version 3.12 --platform linux/amd64\n"
        "#\n"
        "# exclude-newer: 2025-01-01T00:00:00Z\n"
        f"# index: {cli.index.simple_url}\n"
        "#\n"
        f"--index-url {cli.index.simple_url}"
    )


def test_credentials_are_redacted(
    make_index: Callable[..., IndexServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_index(auth=("user", "s3cret"))
    url = server.simple_url.replace("http://", "http://user:s3cret@")
    write("requirements.in", "beta\n")
    cli = Cli(server, capsys)
    assert cli("requirements.in", "-i", url, index=False) == 0, cli.err
    text = Path("requirements.txt").read_text()
    assert "s3cret" not in text
    assert "user:****@" in text
    assert pins_of(text) == {"alpha": "1.1", "beta": "1.0"}


def test_yanked_pin_is_allowed_with_a_warning(cli: Cli) -> None:
    write("requirements.in", "alpha==2.0\n")
    assert cli("requirements.in", "-o", "-") == 0
    assert pins_of(cli.out) == {"alpha": "2.0"}
    assert "alpha==2.0 is yanked (broken)" in cli.err
    write("requirements.in", "alpha>=1.1\n")
    assert cli("requirements.in", "-o", "-") == 0
    assert pins_of(cli.out) == {"alpha": "1.1"}


def test_pylock_format(cli: Cli, dists: Callable[[str], str]) -> None:
    from packaging.pylock import Pylock

    write("requirements.in", "beta\nplatwheel\n")
    assert cli("requirements.in", "--format", "pylock", "--exclude-newer", "2025-01-01") == 0, (
        cli.err
    )
    text = Path("pylock.toml").read_text()
    lock = Pylock.from_dict(_toml.loads(text))
    assert {str(p.name): str(p.version) for p in lock.packages} == {
        "alpha": "1.1",
        "beta": "1.0",
        "platwheel": "1.0",
    }
    alpha = next(p for p in lock.packages if p.name == "alpha")
    assert alpha.sdist is not None
    assert alpha.sdist.hashes == {"sha256": dists("alpha-1.1.tar.gz")}
    assert [w.hashes["sha256"] for w in alpha.wheels or []] == [dists("alpha-1.1-py3-none-any.whl")]
    plat = next(p for p in lock.packages if p.name == "platwheel")
    assert len(plat.wheels or []) == 4
    assert lock.created_by == "lockpin"
    assert lock.tool is not None
    assert lock.tool["lockpin"]["exclude-newer"] == "2025-01-01T00:00:00Z"
    assert lock.environments is not None
    assert [str(m) for m in lock.environments] == [
        'sys_platform == "linux" and platform_machine == "x86_64" and python_version == "3.12"'
    ]
    # An existing pylock.toml's pins are preferred too.
    write("requirements.in", "beta\nplatwheel\nalpha<=1.1\n")
    assert cli("requirements.in", "--format", "pylock", "--target-hashes-only") == 0
    lock = Pylock.from_dict(_toml.loads(Path("pylock.toml").read_text()))
    plat = next(p for p in lock.packages if p.name == "platwheel")
    assert [w.name for w in plat.wheels or []] == [
        "platwheel-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    ]


def test_check_and_dry_run_never_write(cli: Cli) -> None:
    write("requirements.in", "beta\n")
    assert cli("requirements.in") == 0
    lock = Path("requirements.txt")
    before = lock.read_bytes()
    stat = lock.stat()

    assert cli("requirements.in", "--check") == 0
    assert cli.out == ""
    assert "up to date" in cli.err

    write("requirements.in", "beta\nwithextras\n")
    assert cli("requirements.in", "--check") == 1
    assert "+withextras==1.0 \\\n" in cli.out
    assert cli.out.startswith("--- requirements.txt (current)\n+++ requirements.txt (would write)")
    assert "out of date" in cli.err
    assert lock.read_bytes() == before
    assert lock.stat().st_mtime_ns == stat.st_mtime_ns

    assert cli("requirements.in", "--dry-run") == 0
    assert "withextras==1.0 \\\n" in cli.out
    assert lock.read_bytes() == before

    assert cli("requirements.in", "-o", "-") == 0
    assert "withextras==1.0 \\\n" in cli.out
    assert lock.read_bytes() == before
    assert sorted(p.name for p in Path().iterdir() if p.is_file()) == [
        "requirements.in",
        "requirements.txt",
    ]


def test_check_of_a_missing_lockfile_fails(cli: Cli) -> None:
    write("requirements.in", "beta\n")
    assert cli("requirements.in", "--check") == 1
    assert not Path("requirements.txt").exists()


# -- errors ------------------------------------------------------------------------------------


def test_unsatisfiable_is_explained_with_exit_1(cli: Cli) -> None:
    write("requirements.in", "onlysdist\nalpha>=1.1,!=1.1\n")
    Path("requirements.txt").write_text("keep me\n")
    assert cli("requirements.in") == 1
    assert cli.err.startswith(
        "lockpin: error: the requirements cannot be satisfied together for CPython 3.12.0"
    )
    assert "alpha!=1.1,>=1.1 (required by -r requirements.in)" in cli.err
    assert "versions of alpha usable on this target: 2.0, 1.1, 1.0" in cli.err
    assert "resolvelib" not in cli.err
    assert Path("requirements.txt").read_text() == "keep me\n"


def test_unsatisfiable_through_the_api_raises_resolution_error(index_server: IndexServer) -> None:
    write("requirements.in", "beta\nalpha<1\n")
    with pytest.raises(ResolutionError, match=r"alpha<1 \(required by -r requirements.in\)"):
        api(index_server, "requirements.in")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("beta\nalpha >= = 1\n", "requirements.in:2: invalid requirement"),
        ("beta\n\n--frobnicate\n", "requirements.in:3: option --frobnicate is not allowed"),
        ("beta\n-r missing.in\n", "requirements.in:2: cannot read missing.in"),
        ("-r sub.in\n", "sub.in:2: invalid requirement 'alpha=1'"),
        ("ghost-project\n", "project 'ghost-project' (required by requirements.in:1) was not"),
    ],
    ids=["malformed", "unknown-option", "missing-include", "nested", "unknown-project"],
)
def test_bad_input_exits_2_and_keeps_the_lockfile(cli: Cli, content: str, message: str) -> None:
    write("requirements.in", content)
    write("sub.in", "beta\nalpha=1\n")
    lock = Path("requirements.txt")
    lock.write_bytes(b"# an existing lock\r\nalpha==1.0\n")
    assert cli("requirements.in") == 2
    assert message in cli.err
    assert cli.err.startswith("lockpin: error: ")
    assert lock.read_bytes() == b"# an existing lock\r\nalpha==1.0\n"


def test_bad_input_through_the_api_raises_input_error(index_server: IndexServer) -> None:
    write("requirements.in", "beta\nalpha >= = 1\n")
    with pytest.raises(InputError) as info:
        api(index_server, "requirements.in")
    assert info.value.location == "requirements.in:2"


def test_unknown_command_line_option(cli: Cli) -> None:
    write("requirements.in", "beta\n")
    with pytest.raises(SystemExit) as info:
        cli("requirements.in", "--frobnicate")
    assert info.value.code == 2
    assert "unrecognized arguments: --frobnicate" in cli.capsys.readouterr().err


def test_missing_input_file(cli: Cli) -> None:
    assert cli("nothere.in") == 2
    assert "nothere.in: no such file" in cli.err


def test_output_that_is_an_input_is_refused(cli: Cli) -> None:
    write("requirements.in", "beta\n")
    assert cli("requirements.in", "-o", "requirements.in") == 2
    assert Path("requirements.in").read_text() == "beta\n"


# -- determinism -------------------------------------------------------------------------------


def test_cold_and_warm_cache_write_the_same_bytes(cli: Cli, tmp_path: Path) -> None:
    write("requirements.in", "beta\nwithextras[fast]\nplatwheel\nonlysdist\nhidden\nnometa\n")
    cache = str(tmp_path / "c")
    written = []
    for args in (["--cache-dir", cache], ["--cache-dir", cache], ["--no-cache"]):
        Path("requirements.txt").unlink(missing_ok=True)
        assert cli("requirements.in", *args) == 0, cli.err
        written.append(Path("requirements.txt").read_bytes())
    cold, warm, uncached = written
    assert warm == cold
    # The header leaves out run-only options such as --cache-dir / --no-cache.
    assert uncached == cold
    assert b"\r" not in cold
    assert list((tmp_path / "c").iterdir())


def test_api_and_cli_agree(cli: Cli, index_server: IndexServer) -> None:
    write("requirements.in", "beta\nplatwheel\n")
    text = api(index_server, "requirements.in")
    assert cli("requirements.in", "--no-header", "-o", "-") == 0
    assert cli.out == text


def test_html_only_index_gives_the_same_lock(
    html_index_server: IndexServer, index_server: IndexServer
) -> None:
    write("requirements.in", "beta\nplatwheel\nwithextras[fast]\nnewpy\n")
    json_lock = api(index_server, "requirements.in")
    html_lock = api(html_index_server, "requirements.in")
    assert json_lock.replace(index_server.url, "X") == html_lock.replace(html_index_server.url, "X")


def test_find_links_without_requires_python_uses_the_metadata(
    index_server: IndexServer,
) -> None:
    """A flat find-links page states no Requires-Python: newpy 1.0's metadata
    (>=3.13) must still keep it out of a 3.12 lock, as pip does."""
    write("requirements.in", "newpy\n")
    lock = compile_lock(
        ["requirements.in"],
        targets=(AMD64,),
        index=IndexConfig(no_index=True, find_links=(index_server.links_url,)),
        http=HttpConfig(cache_dir=None),
    )
    pkg = lock.get("newpy")
    assert pkg is not None
    assert str(pkg.version) == "0.9"


# -- the real consumer -------------------------------------------------------------------------


def _pyenv_python(version: str) -> Path | None:
    try:
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    minor = ".".join(version.split(".")[:2])
    path = Path(root) / "versions" / version / "bin" / f"python{minor}"
    return path if path.exists() else None


@pytest.fixture(scope="module")
def py312_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    python = _pyenv_python("3.12.1")
    if python is None:
        pytest.skip("pyenv's CPython 3.12.1 is not installed")
    path = tmp_path_factory.mktemp("py312") / "venv"
    subprocess.run([str(python), "-m", "venv", str(path)], check=True, timeout=300)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("target_hashes_only", [False, True])
def test_pip_installs_the_lock_with_require_hashes(
    cli: Cli, py312_venv: Path, tmp_path: Path, target_hashes_only: bool
) -> None:
    write(
        "requirements.in",
        "beta\nwithextras[fast]\nplatwheel\nonlysdist\nfoo-bar-baz\nhidden\n",
    )
    extra = ["--target-hashes-only"] if target_hashes_only else []
    assert cli("requirements.in", *extra) == 0, cli.err
    venv = tmp_path / "venv"
    shutil.copytree(py312_venv, venv, symlinks=True)
    result = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--require-hashes",
            "--only-binary",
            "platwheel",
            "-i",
            cli.index.simple_url,
            "-r",
            "requirements.txt",
        ],
        env=pip_environ(tmp_path / "pip-cache"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "freeze"],
        env=pip_environ(tmp_path / "pip-cache"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {
        canonicalize_name(n): v
        for n, _, v in (line.partition("==") for line in listed.splitlines())
    }
    for name, version in pins_of(Path("requirements.txt").read_text()).items():
        assert installed.get(canonicalize_name(name)) == version, (name, listed)


def _tool(name: str) -> Path | None:
    """A peer tool: the test dependencies install it on PATH; the benchmark
    harness's venv is the fallback on a developer machine."""
    import shutil

    found = shutil.which(name)
    if found:
        return Path(found)
    local = Path(__file__).parents[2] / "benchmarks" / ".venv" / "bin" / name
    return local if local.exists() else None


@pytest.mark.slow
def test_via_notes_match_pip_compile(index_server: IndexServer, tmp_path: Path) -> None:
    """pip-compile (pip-tools), run on the same index for the same interpreter,
    writes the same pins, hashes and ``# via`` notes."""
    pip_compile = _tool("pip-compile")
    if pip_compile is None:
        pytest.skip("pip-compile (pip-tools) is not installed")
    write("constraints.txt", "alpha<1.1\n")
    write("sub.in", "-c constraints.txt\nbeta\n")
    write("requirements.in", "-r sub.in\nwithextras[fast]\nonlysdist\nfoo-bar-baz\n")
    env = pip_environ(tmp_path / "pip-cache")
    result = subprocess.run(
        [
            str(pip_compile),
            "--quiet",
            "--no-header",
            "--generate-hashes",
            "--strip-extras",
            "--index-url",
            index_server.simple_url,
            "--cache-dir",
            str(tmp_path / "pt-cache"),
            "-o",
            "pip-compile.txt",
            "requirements.in",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    py = subprocess.run(
        [
            str(pip_compile.parent / "python"),
            "-c",
            "import platform;print(platform.python_version())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    rc = main(
        [
            "compile",
            "requirements.in",
            "--no-header",
            "-i",
            index_server.simple_url,
            "--python-version",
            py,
            "-o",
            "lockpin.txt",
        ]
    )
    assert rc == 0
    theirs = Path("pip-compile.txt").read_text()
    ours = Path("lockpin.txt").read_text()
    assert ours == theirs, f"--- pip-compile\n{theirs}\n--- lockpin\n{ours}"


def test_multi_platform_relock_is_stable(
    split_index: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-locking with the existing multi-target lock changes nothing: each target
    prefers its own pin, not the first line of the name."""
    write("requirements.in", "app\n")
    cli = Cli(split_index, capsys)
    args = ["--python-version", "3.12", "--platform", "linux/amd64", "--platform", "linux/arm64"]
    assert cli("requirements.in", *args, target=False) == 0, cli.err
    before = Path("requirements.txt").read_bytes()
    assert cli("requirements.in", "--check", *args, target=False) == 0, cli.out
    assert cli("requirements.in", *args, target=False) == 0
    assert Path("requirements.txt").read_bytes() == before


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, {"pick": "1.0", "app": "1.0"}),
        (
            parse_target(python_version="3.12", platform="linux/amd64"),
            {"pick": "2.0", "app": "1.0"},
        ),
        (
            parse_target(python_version="3.12", platform="linux/arm64"),
            {"pick": "1.0", "app": "1.0"},
        ),
    ],
)
def test_existing_pins_per_target(target: Target | None, expected: dict[str, str]) -> None:
    from lockpin.python.compile import read_existing_pins

    write(
        "requirements.txt",
        "app==1.0 \\\n    --hash=sha256:00\n"
        "pick==1.0 ; platform_machine == 'aarch64' \\\n    --hash=sha256:11\n"
        "pick==2.0 ; platform_machine == 'x86_64' \\\n    --hash=sha256:22\n"
        "    # via app\n",
    )
    prefs = read_existing_pins("requirements.txt", target)
    assert {k: str(v) for k, v in prefs.items()} == expected


@pytest.mark.slow
def test_uv_installs_the_pylock_on_a_later_patch_release(
    cli: Cli, py312_venv: Path, tmp_path: Path
) -> None:
    """A lock for --python-version 3.12 is for the image's 3.12.x: its
    ``environments`` must admit 3.12.1, or installers refuse it."""
    uv = _tool("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    write("requirements.in", "beta\nplatwheel\n")
    assert cli("requirements.in", "--format", "pylock", "--only-binary", ":all:") == 0, cli.err
    venv = tmp_path / "venv"
    shutil.copytree(py312_venv, venv, symlinks=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env["UV_NO_CONFIG"] = "1"
    result = subprocess.run(
        [str(uv), "pip", "install", "--python", str(venv / "bin" / "python"),
         "--cache-dir", str(tmp_path / "uv-cache"), "-r", "pylock.toml"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "+ platwheel==1.0" in result.stderr


def test_pip_and_setuptools_are_pinned_when_required(
    make_index: Callable[..., IndexServer],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Unlike pip-compile's default (commented out as "unsafe"), they are pinned and
    hashed: --require-hashes would refuse the install otherwise."""
    root = tmp_path_factory.mktemp("tools")
    server = make_index(root, standard=False)
    for path in (
        build_wheel(root, "needs-tools", "1.0", requires=["setuptools>=60", "pip"]),
        build_wheel(root, "setuptools", "70.0"),
        build_wheel(root, "pip", "24.0"),
    ):
        server.add_file(path)
    write("requirements.in", "needs-tools\n")
    cli = Cli(server, capsys)
    assert cli("requirements.in", "-o", "-", "--no-header") == 0, cli.err
    assert pins_of(cli.out) == {"needs-tools": "1.0", "pip": "24.0", "setuptools": "70.0"}
    assert "unsafe" not in cli.out
    assert re.search(r"^setuptools==70\.0 \\\n    --hash=sha256:[0-9a-f]{64}\n", cli.out, re.M)


# -- metadata retrieval ------------------------------------------------------------------------


def _wheel_requests(server: IndexServer, filename: str) -> list[tuple[str, str | None]]:
    """``(path, Range header)`` of every request for ``filename`` or its .metadata."""
    return [
        (r.path.split("?")[0], r.headers.get("range"))
        for r in server.requests
        if r.path.startswith(f"/files/{filename}")
    ]


@pytest.mark.parametrize(
    ("project", "ranges", "expected"),
    [
        # Advertised .metadata: one GET of it, the wheel is never touched.
        ("beta", True, ["metadata"]),
        # Served but not advertised: probed all the same.
        ("hidden", True, ["metadata"]),
        # No .metadata: range requests into the wheel, never the whole file.
        ("nometa", True, ["probe", "range"]),
        # No .metadata and no Range support: the Range request gets the whole wheel
        # (200), which is read as is: one request.
        ("nometa", False, ["probe", "range"]),
    ],
)
def test_metadata_is_read_the_cheapest_way(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    project: str,
    ranges: bool,
    expected: list[str],
) -> None:
    server = make_index(ranges=ranges)
    write("requirements.in", f"{project}\n")
    cli = Cli(server, capsys)
    assert cli("requirements.in", "--no-cache", "-o", "-", "--only-binary", ":all:") == 0, cli.err
    wheel = f"{project}-1.0-py3-none-any.whl"
    kinds = []
    for path, range_header in _wheel_requests(server, wheel):
        if path.endswith(".metadata"):
            kinds.append("metadata" if "metadata" not in kinds else "again")
        elif range_header is not None:
            kinds.append("range")
        else:
            kinds.append("full")
    if expected[0] == "probe":
        assert kinds[0] == "metadata"  # the 404 probe
        kinds = kinds[1:]
        expected = expected[1:]
    assert sorted(set(kinds)) == sorted(set(expected)), kinds
    if not ranges:
        assert len(kinds) == 1, kinds


def test_metadata_not_matching_the_advertised_hash_is_refused(
    make_index: Callable[..., IndexServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_index()
    server.invalid("/files/beta-1.0-py3-none-any.whl.metadata", "json")
    write("requirements.in", "beta\n")
    Path("requirements.txt").write_text("old\n")
    cli = Cli(server, capsys)
    assert cli("requirements.in", "--no-cache") == 2
    assert "beta-1.0-py3-none-any.whl.metadata does not match the sha256" in cli.err
    assert Path("requirements.txt").read_text() == "old\n"


def test_metadata_endpoint_failing_falls_back_to_the_wheel(
    make_index: Callable[..., IndexServer], capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken .metadata endpoint (5xx after retries) must not break the lock:
    the wheel itself has the metadata."""
    server = make_index()
    server.fail("/files/beta-1.0-py3-none-any.whl.metadata", 503, times=None)
    write("requirements.in", "beta\n")
    cli = Cli(server, capsys)
    assert cli("requirements.in", "--no-cache", "-o", "-", "--retries", "1") == 0, cli.err
    assert pins_of(cli.out) == {"alpha": "1.1", "beta": "1.0"}


@pytest.mark.parametrize(
    ("platform", "wheel"),
    [
        ("linux/amd64", "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"),
        ("linux/arm64", "cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64"),
        ("manylinux_2_17_x86_64", "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"),
        ("win_amd64", "cp312-cp312-win_amd64"),
        ("linux/arm/v7", None),
    ],
)
def test_platforms_choose_their_wheel(
    cli: Cli, dists: Callable[[str], str], platform: str, wheel: str | None
) -> None:
    write("requirements.in", "platwheel\n")
    argv = ["--python-version", "3.12", "--platform", platform, "--target-hashes-only"]
    assert cli("requirements.in", "-o", "-", *argv, target=False) == 0, cli.err
    expected = {dists("platwheel-1.0.tar.gz")}
    if wheel is not None:
        expected.add(dists(f"platwheel-1.0-{wheel}.whl"))
        assert "no wheel" not in cli.err
    else:
        assert f"platwheel==1.0 has no wheel for CPython 3.12.0 on {platform}" in cli.err
    assert hashes_of(cli.out)["platwheel"] == expected


def test_pylock_with_local_directories_and_vcs(cli: Cli) -> None:
    from packaging.pylock import Pylock

    write("requirements.in", "beta\n-e ./localpkg\n./other ; sys_platform == 'linux'\n")
    assert cli("requirements.in", "--format", "pylock") == 0, cli.err
    lock = Pylock.from_dict(_toml.loads(Path("pylock.toml").read_text()))
    dirs = {p.directory.path: p for p in lock.packages if p.directory is not None}
    assert set(dirs) == {"./localpkg", "./other"}
    assert dirs["./localpkg"].directory is not None
    assert dirs["./localpkg"].directory.editable is True
    assert str(dirs["./other"].marker) == 'sys_platform == "linux"'

    Path("pylock.toml").write_text("old\n")
    write("requirements.in", "beta\ngit+https://example.invalid/r.git@v1#egg=gitpkg\n")
    assert cli("requirements.in", "--format", "pylock") == 2
    assert "a VCS requirement cannot be written to pylock.toml" in cli.err
    assert Path("pylock.toml").read_text() == "old\n"
