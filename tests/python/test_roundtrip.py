"""Round trips: what ``lockpin compile`` writes, ``lockpin verify`` and ``lockpin hash``
read back as meant. ``--only-binary``/``--no-binary`` are written into the lock (pip
installs with them, verify expects only the files they allow); ``--check`` compares
pins, hashes and options, not the command line the header records."""

from __future__ import annotations

import itertools
import re
import sys
from typing import TYPE_CHECKING

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from lockpin import _toml
from lockpin.python.lock import Lock, LockedFile, LockedPackage, same_lock_content
from lockpin.python.models import formats_for
from lockpin.python.reqfile import parse_requirements
from lockpin.python.target import parse_target
from support import run_cli

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.index_server import IndexServer
    from support import CliRun, PipEnv

AMD64 = ["--python-version", "3.12", "--platform", "linux/amd64"]

# Every test runs in its own tmp_path with no lockpin configuration (conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


class Run:
    def __init__(self, index: IndexServer, capsys: pytest.CaptureFixture[str]) -> None:
        self.index = index
        self.capsys = capsys

    def __call__(self, *args: str) -> CliRun:
        result = run_cli(self.capsys, *args, "-i", self.index.simple_url)
        assert "Traceback" not in result.err
        return result


@pytest.fixture
def run(index_server: IndexServer, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(index_server, capsys)


def hash_lines(text: str) -> dict[str, list[str]]:
    """Each pin's ``--hash`` digests, by name."""
    out: dict[str, list[str]] = {}
    name = ""
    for line in text.splitlines():
        pin = re.match(r"([a-z0-9-]+)==", line)
        if pin:
            name = pin.group(1)
            out[name] = []
        found = re.search(r"--hash=sha256:([0-9a-f]{64})", line)
        if found:
            out[name].append(found.group(1))
    return out


# -- --only-binary / --no-binary ----------------------------------------------------------------

# (compile flags, option lines the lock holds, number of platwheel hashes: 1 sdist +
# 4 wheels on the index)
BINARY_CASES = [
    (["--no-binary", "platwheel"], ["--no-binary platwheel"], 1),
    (["--no-binary", ":all:"], ["--no-binary :all:"], 1),
    (["--only-binary", "platwheel"], ["--only-binary platwheel"], 4),
    (["--only-binary", ":all:"], ["--only-binary :all:"], 4),
    (
        ["--only-binary", "platwheel", "--no-binary", ":all:"],
        ["--no-binary :all:", "--only-binary platwheel"],
        4,
    ),
    # --only-binary wins: nothing written that pip would let beat it
    (["--only-binary", ":all:", "--no-binary", "platwheel"], ["--only-binary :all:"], 4),
]


@pytest.mark.parametrize(("flags", "lines", "platwheel"), BINARY_CASES)
def test_a_binary_option_lock_verifies_and_hashes_as_written(
    run: Run, tmp_path: Path, flags: list[str], lines: list[str], platwheel: int
) -> None:
    (tmp_path / "requirements.in").write_text("platwheel\nalpha\n")
    compiled = run("compile", "requirements.in", "-q", *AMD64, *flags)
    assert compiled.code == 0, compiled.both
    lock = tmp_path / "requirements.txt"
    text = lock.read_text()
    options = [line for line in text.splitlines() if line.startswith("--") and "binary" in line]
    assert options == lines
    assert len(hash_lines(text)["platwheel"]) == platwheel

    verified = run("verify", "requirements.txt")
    assert verified.code == 0, verified.both
    assert verified.out == ""

    # lockpin hash on the same file without its hashes writes back the same hashes
    bare = tmp_path / "bare.txt"
    bare.write_text(re.sub(r" \\\n    --hash=sha256:[0-9a-f]{64}", "", text))
    hashed = run("hash", "bare.txt", "-o", "rehashed.txt")
    assert hashed.code == 0, hashed.both
    assert hash_lines((tmp_path / "rehashed.txt").read_text()) == hash_lines(text)


def test_without_its_no_binary_line_the_lock_misses_the_wheel_hashes(
    run: Run, tmp_path: Path
) -> None:
    """The option line is what verify reads: remove it and the sdist-only pin is a
    pin whose wheels pip could pick, unhashed."""
    (tmp_path / "requirements.in").write_text("platwheel\n")
    assert run("compile", "requirements.in", "-q", *AMD64, "--no-binary", "platwheel").code == 0
    lock = tmp_path / "requirements.txt"
    lock.write_text(lock.read_text().replace("--no-binary platwheel\n", ""))
    verified = run("verify", "requirements.txt")
    assert verified.code == 1
    assert "platwheel==1.0: missing hash for platwheel-1.0-cp312-cp312-manylinux" in verified.out
    assert (
        "platwheel==1.0 lists only its sdist's hash: if it was locked with --no-binary, "
        "compile it again (lockpin now writes '--no-binary platwheel' above the pins)"
    ) in verified.err


def test_pip_installs_a_no_binary_lock_from_its_sdist(
    run: Run, tmp_path: Path, pip_env: PipEnv, index_server: IndexServer
) -> None:
    """pip reads the lock's ``--no-binary alpha`` line and builds alpha from the one
    hashed file, its sdist (pip's own hash filter would also pick it: the line is
    what lets ``lockpin verify`` know that one hash is the whole set)."""
    (tmp_path / "requirements.in").write_text("alpha\n")
    host = f"{sys.version_info[0]}.{sys.version_info[1]}"
    args = ["compile", "requirements.in", "-q", "--python-version", host, "--no-binary", "alpha"]
    assert run(*args).code == 0
    lock = tmp_path / "requirements.txt"
    assert "--no-binary alpha\n" in lock.read_text()
    assert len(hash_lines(lock.read_text())["alpha"]) == 1
    result = pip_env.pip(
        "install",
        "--no-cache-dir",
        "--no-deps",
        "--require-hashes",
        "-i",
        index_server.simple_url,
        "-r",
        str(lock),
    )
    assert "alpha-1.1.tar.gz" in result.stdout
    assert "alpha==1.1" in pip_env.pip("list", "--format", "freeze").stdout


def test_a_uv_style_lock_with_every_hash_passes(run: Run, tmp_path: Path) -> None:
    """uv hashes every file of a --no-binary release: the hashes of files the
    option line keeps pip from are harmless, and not reported."""
    (tmp_path / "requirements.in").write_text("platwheel\n")
    assert run("compile", "requirements.in", "-q", *AMD64, "-o", "all.txt").code == 0
    every = hash_lines((tmp_path / "all.txt").read_text())["platwheel"]
    assert len(every) == 5
    lines = " \\\n".join(["platwheel==1.0", *(f"    --hash=sha256:{h}" for h in every)])
    (tmp_path / "uv.txt").write_text(f"--no-binary platwheel\n\n{lines}\n")
    verified = run("verify", "uv.txt")
    assert verified.code == 0, verified.both
    # and without the option line the same hashes are exactly the release's
    (tmp_path / "plain.txt").write_text(f"{lines}\n")
    assert run("verify", "plain.txt").code == 0
    # a lock that lists only a wheel under --no-binary misses the sdist
    wheel_only = [
        h for h in every if h not in hash_lines(_no_binary_lock(run, tmp_path))["platwheel"]
    ]
    (tmp_path / "wheel.txt").write_text(
        f"--no-binary platwheel\nplatwheel==1.0 --hash=sha256:{wheel_only[0]}\n"
    )
    missing = run("verify", "wheel.txt")
    assert missing.code == 1
    assert "missing hash for platwheel-1.0.tar.gz" in missing.out


def _no_binary_lock(run: Run, tmp_path: Path) -> str:
    assert run("compile", "requirements.in", "-q", *AMD64, "--no-binary", "platwheel").code == 0
    return (tmp_path / "requirements.txt").read_text()


def test_an_only_binary_line_needs_a_wheel(run: Run, tmp_path: Path) -> None:
    """``lockpin hash`` under ``--only-binary`` has nothing to hash for an
    sdist-only release, and says that the option line is why."""
    (tmp_path / "pins.txt").write_text("--only-binary onlysdist\nonlysdist==1.0\n")
    result = run("hash", "pins.txt")
    assert result.code != 0
    assert "onlysdist==1.0 has no file installable on any target as a wheel" in result.err
    assert "--only-binary line" in result.err


def test_pylock_records_the_binary_options(run: Run, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("platwheel\n")
    args = ["compile", "requirements.in", "-q", *AMD64, "--format", "pylock"]
    assert run(*args, "--no-binary", "platwheel").code == 0
    data = _toml.loads((tmp_path / "pylock.toml").read_text())
    assert data["tool"]["lockpin"]["no-binary"] == ["platwheel"]
    assert "only-binary" not in data["tool"]["lockpin"]
    (package,) = data["packages"]
    assert "wheels" not in package
    assert package["sdist"]["name"].endswith(".tar.gz")


def _lock(only: set[str], no: set[str]) -> Lock:
    return Lock(
        packages=(),
        targets=(parse_target(python_version="3.12", platform="linux/amd64"),),
        only_binary=frozenset(only),
        no_binary=frozenset(no),
    )


SETS = [set(), {":all:"}, {"x"}, {"x", "y"}, {"y"}]


@pytest.mark.parametrize(("only", "no"), list(itertools.product(SETS, SETS)))
def test_pip_reads_the_written_lines_as_lockpin_applied_them(only: set[str], no: set[str]) -> None:
    """Whatever the combination, the lines in the lock make pip (the rule of
    :meth:`FileOptions.formats`) install each project from what lockpin locked."""
    if ":all:" in only and ":all:" in no:
        no = no - {":all:"}  # compile takes --only-binary :all: over --no-binary :all:
    text = _lock(only, no - only).to_requirements_txt(header=False)
    options = parse_requirements("requirements.txt", reader=lambda _p: text).options
    for name in ("x", "y", "z"):
        key = canonicalize_name(name)
        assert options.formats(key) == formats_for(key, only_binary=only, no_binary=no), text


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("--only-binary :all:\n--no-binary x\n", {"x": "sdist", "y": "wheel"}),  # pip: a name wins
        ("--no-binary :all:\n--only-binary x\n", {"x": "wheel", "y": "sdist"}),
        ("--no-binary x\n--only-binary x\n", {"x": "wheel", "y": "any"}),
        ("--only-binary x,y\n--no-binary :none:\n", {"x": "wheel", "y": "wheel"}),
        ("--only-binary x\n--only-binary :none:\n", {"x": "any", "y": "any"}),
    ],
)
def test_a_file_s_binary_lines_are_read_as_pip_reads_them(
    lines: str, expected: dict[str, str]
) -> None:
    options = parse_requirements("pins.txt", reader=lambda _p: lines).options
    assert {n: options.formats(canonicalize_name(n)) for n in expected} == expected


def test_binary_option_names_are_checked_before_they_are_written() -> None:
    from lockpin.errors import LockpinError

    with pytest.raises(LockpinError, match="not a canonical project name"):
        _lock(set(), {"a\n--index-url http://evil"}).to_requirements_txt()


def test_a_bad_binary_option_value_is_an_input_error(run: Run, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("alpha\n")
    result = run("compile", "requirements.in", *AMD64, "--no-binary", "six;rm")
    assert result.code == 2
    assert "--no-binary 'six;rm': not a project name" in result.err


# -- --check -------------------------------------------------------------------------------------


def test_check_ignores_how_the_command_line_was_spelled(run: Run, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("beta\nplatwheel\n")  # beta needs alpha
    made = run("compile", "requirements.in", "-o", "lock.txt", "-q", *AMD64, "--no-binary", "alpha")
    assert made.code == 0, made.both
    before = (tmp_path / "lock.txt").read_bytes()
    # other option order, --output-file, absolute paths, = spelling
    again = run(
        "compile",
        "--no-binary=alpha",
        "--platform",
        "linux/amd64",
        "--output-file",
        str(tmp_path / "lock.txt"),
        "--python-version=3.12",
        str(tmp_path / "requirements.in"),
        "--check",
    )
    assert again.code == 0, again.both
    assert again.out == ""
    assert "is up to date" in again.err
    assert (tmp_path / "lock.txt").read_bytes() == before


@pytest.mark.parametrize(
    "change",
    [
        ["--no-binary", "platwheel"],  # an option that changes what is installed
        ["--only-binary", "beta"],  # changes no hash here, but what pip may install
    ],
)
def test_check_reports_drift_in_what_is_installed(
    run: Run, tmp_path: Path, change: list[str]
) -> None:
    (tmp_path / "requirements.in").write_text("beta\nplatwheel\n")
    assert run("compile", "requirements.in", "-q", *AMD64).code == 0
    result = run("compile", "requirements.in", *AMD64, *change, "--check")
    assert result.code == 1
    assert "is out of date" in result.err
    assert f"+{change[0]} {change[1]}" in result.out


def test_check_reports_an_edited_hash(run: Run, tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("beta\n")
    assert run("compile", "requirements.in", "-q", *AMD64).code == 0
    lock = tmp_path / "requirements.txt"
    text = lock.read_text()
    digest = hash_lines(text)["beta"][0]
    lock.write_text(text.replace(digest, "0" * 64))
    result = run("compile", "requirements.in", "-o", str(lock), *AMD64, "--check")
    assert result.code == 1
    assert f"+    --hash=sha256:{digest}" in result.out


def _one_pin_lock(command: str | None) -> Lock:
    target = parse_target(python_version="3.12", platform="linux/amd64")
    files = (LockedFile("x-1.0-py3-none-any.whl", "https://h/x-1.0-py3-none-any.whl", "a" * 64),)
    pkg = LockedPackage(canonicalize_name("x"), Version("1.0"), files, via=("-r r.in",))
    return Lock(packages=(pkg,), targets=(target,), command=command)


@pytest.mark.parametrize("pylock", [False, True])
def test_same_lock_content_leaves_out_the_command_only(pylock: bool) -> None:
    def text(lock: Lock) -> str:
        return lock.to_pylock() if pylock else lock.to_requirements_txt()

    one = text(_one_pin_lock("lockpin compile r.in -o x.txt"))
    other = text(_one_pin_lock("lockpin compile --output-file /abs/x.txt /abs/r.in"))
    assert one != other
    assert same_lock_content(one, other, pylock=pylock)
    assert same_lock_content(one, text(_one_pin_lock(None)), pylock=pylock)
    changed = one.replace("a" * 64, "b" * 64)
    assert not same_lock_content(changed, other, pylock=pylock)
    assert not same_lock_content("", other, pylock=pylock)
