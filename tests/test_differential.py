"""Differential tests against the real tools on the real PyPI (``-m network``).

For every requirement set in ``benchmarks/sets/*.in``, lockpin's pins and
per-package hash sets must equal ``uv pip compile --generate-hashes`` for the
same target and upload cut-off. Differences that are legitimate are listed in
``ALLOWED`` and explained in ``docs/differences.md``; today there are none.

A ``linux/arm64`` lock must also be accepted by
``pip download --require-hashes --only-binary :all: --platform manylinux_2_28_aarch64``.

Run as a script for the comparison table::

    .venv/bin/python tests/test_differential.py [SET ...]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETS_DIR = ROOT / "benchmarks" / "sets"
EXCLUDE_NEWER = "2026-10-01T00:00:00Z"
UV_PLATFORM = "x86_64-manylinux_2_28"  # uv's name for lockpin's linux/amd64
PYPI = "https://pypi.org/simple"

#: Small stand-ins when benchmarks/sets is not there (e.g. an sdist of the tests).
FALLBACK_SETS = {
    "flask": "flask\n",
    "web": "django\ncelery[redis]\npsycopg[binary]\ngunicorn\n",
    "devtools": "pytest\nmypy\nblack\n",
}

#: set -> name -> (uv's pin, lockpin's pin) that may differ, each explained in
#: docs/differences.md. None means "not pinned by that tool".
ALLOWED: dict[str, dict[str, tuple[str | None, str | None]]] = {}

pytestmark = [pytest.mark.network, pytest.mark.slow]


def set_files(names: list[str] | None = None) -> dict[str, str]:
    """``{set name: requirements.in text}``."""
    found = {p.stem: p.read_text() for p in sorted(SETS_DIR.glob("*.in"))} or FALLBACK_SETS
    if names:
        return {n: found[n] for n in names}
    return found


def find_uv() -> str | None:
    local = ROOT / "benchmarks" / ".venv" / "bin" / "uv"
    return str(local) if local.exists() else shutil.which("uv")


def load_lock(path: Path) -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """Pins and hash sets of a requirements.txt, read with lockpin's parser."""
    from lockpin.python.reqfile import parse_requirements

    text = path.read_text()
    parsed = parse_requirements(str(path), reader=lambda _p: text)
    pins: dict[str, str] = {}
    hashes: dict[str, frozenset[str]] = {}
    for line in parsed.requirements:
        name = str(line.name)
        assert name not in pins, f"{path}: {name} pinned twice"
        pins[name] = str(line.pinned_version)
        hashes[name] = frozenset(h.removeprefix("sha256:") for h in line.hashes)
    return pins, hashes


def run_uv(uv: str, src: Path, out: Path, cache: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    env["UV_NO_CONFIG"] = "1"
    result = subprocess.run(
        [
            uv, "pip", "compile", "--quiet", "--generate-hashes",
            "--python-version", "3.12", "--python-platform", UV_PLATFORM,
            "--exclude-newer", EXCLUDE_NEWER, "--index-url", PYPI, "--no-header",
            "--cache-dir", str(cache), "-o", str(out), str(src),
        ],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"uv failed on {src.name}:\n{result.stderr}")


def run_lockpin(
    src: Path, out: Path, cache: Path, *extra: str, platform: str = "linux/amd64"
) -> None:
    from lockpin.cli import main

    rc = main(
        [
            "compile", str(src), "-o", str(out), "-q", "--no-header",
            "--python-version", "3.12", "--platform", platform,
            "--exclude-newer", EXCLUDE_NEWER, "--index-url", PYPI,
            "--cache-dir", str(cache), *extra,
        ]
    )  # fmt: skip
    if rc != 0:
        raise AssertionError(f"lockpin exited {rc} on {src.name}")


@dataclass
class Row:
    name: str
    pins: int
    equal_pins: int
    equal_hashes: int
    pin_diffs: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    hash_diffs: dict[str, tuple[int, int]] = field(default_factory=dict)

    def markdown(self) -> str:
        return f"| {self.name} | {self.pins} | {self.equal_pins} | {self.equal_hashes} |"


def compare_set(name: str, text: str, work: Path, uv: str) -> Row:
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"{name}.in"
    src.write_text(text)
    run_uv(uv, src, work / f"{name}.uv.txt", work / "uv-cache")
    run_lockpin(src, work / f"{name}.lockpin.txt", work / "lockpin-cache")
    uv_pins, uv_hashes = load_lock(work / f"{name}.uv.txt")
    lp_pins, lp_hashes = load_lock(work / f"{name}.lockpin.txt")
    row = Row(name, len(lp_pins), 0, 0)
    for pkg in sorted(set(uv_pins) | set(lp_pins)):
        theirs, ours = uv_pins.get(pkg), lp_pins.get(pkg)
        if theirs != ours:
            row.pin_diffs[pkg] = (theirs, ours)
            continue
        row.equal_pins += 1
        if uv_hashes[pkg] == lp_hashes[pkg]:
            row.equal_hashes += 1
        else:
            row.hash_diffs[pkg] = (len(uv_hashes[pkg]), len(lp_hashes[pkg]))
    return row


# -- tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uv() -> str:
    found = find_uv()
    if found is None:
        pytest.skip("uv is not installed")
    return found


@pytest.mark.parametrize("name", list(set_files()))
def test_same_pins_and_hashes_as_uv(name: str, uv: str, tmp_path: Path) -> None:
    row = compare_set(name, set_files()[name], tmp_path, uv)
    assert row.pin_diffs == ALLOWED.get(name, {}), row.pin_diffs
    assert row.hash_diffs == {}, row.hash_diffs
    assert row.pins > 0


@pytest.mark.parametrize("target_hashes_only", [False, True])
def test_pip_download_accepts_an_arm64_lock(tmp_path: Path, target_hashes_only: bool) -> None:
    from conftest import pip_environ

    src = tmp_path / "arm.in"
    src.write_text("flask\nmarkupsafe\npyyaml\n")
    lock = tmp_path / "arm.txt"
    extra = ["--target-hashes-only"] if target_hashes_only else []
    run_lockpin(src, lock, tmp_path / "cache", *extra, platform="linux/arm64")
    pins, _ = load_lock(lock)
    assert {"flask", "markupsafe", "pyyaml", "werkzeug", "jinja2"} <= set(pins)
    dest = tmp_path / "dl"
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--require-hashes", "--no-deps",
            "--only-binary", ":all:", "--platform", "manylinux_2_28_aarch64",
            "--python-version", "3.12", "--index-url", PYPI, "-r", str(lock), "-d", str(dest),
        ],
        env=pip_environ(tmp_path / "pip-cache"), capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    got = sorted(p.name for p in dest.iterdir())
    assert len(got) == len(pins)
    # The extension modules came as aarch64 wheels for CPython 3.12.
    for name in ("markupsafe", "pyyaml"):
        wheel = next(g for g in got if g.lower().startswith(name))
        assert "cp312" in wheel, wheel
        assert "aarch64" in wheel, wheel


# -- the table ---------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    uv_path = find_uv()
    if uv_path is None:
        print("uv is not installed", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="lockpin-diff-") as tmp:
        for name, text in set_files(argv or None).items():
            rows.append(compare_set(name, text, Path(tmp) / name, uv_path))
    print("| set | pins | equal pins | equal hashes |")
    print("|---|---|---|---|")
    for row in rows:
        print(row.markdown())
    failed = False
    for row in rows:
        for pkg, (theirs, ours) in row.pin_diffs.items():
            allowed = ALLOWED.get(row.name, {}).get(pkg) == (theirs, ours)
            failed |= not allowed
            tag = "allowed" if allowed else "DIFFERENT"
            print(f"{row.name}: {pkg}: uv {theirs}, lockpin {ours} ({tag})")
        for pkg, (theirs_n, ours_n) in row.hash_diffs.items():
            failed = True
            print(f"{row.name}: {pkg}: hashes differ (uv {theirs_n}, lockpin {ours_n})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
