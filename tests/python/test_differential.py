"""Differential tests against the real tools on the real PyPI (``-m network``).

For every requirement set in ``benchmarks/sets/*.in``, lockpin's pins and
per-package hash sets must equal ``uv pip compile --generate-hashes`` for the
same target and upload cut-off, both locks read by a small parser written here
(not lockpin's own, whose bugs could hide a difference; its table tests run
offline). Differences that are legitimate are listed in
``ALLOWED`` and explained in ``docs/differences.md``; today there are none.

A ``linux/arm64`` lock must also be accepted by
``pip download --require-hashes --only-binary :all: --platform manylinux_2_28_aarch64``.

Run as a script for the comparison table::

    .venv/bin/python tests/python/test_differential.py [SET ...]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
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


def set_files(names: list[str] | None = None) -> dict[str, str]:
    """``{set name: requirements.in text}``."""
    found = {p.stem: p.read_text() for p in sorted(SETS_DIR.glob("*.in"))} or FALLBACK_SETS
    if names:
        return {n: found[n] for n in names}
    return found


def find_uv() -> str | None:
    local = ROOT / "benchmarks" / ".venv" / "bin" / "uv"
    return str(local) if local.exists() else shutil.which("uv")


# -- an independent reader of requirements.txt locks ------------------------------------------
#
# Both tools' output is read with this parser, not lockpin's own (``lockpin.python.reqfile``):
# a bug shared by lockpin's writer and reader must not be able to hide a difference. It knows
# only what a ``--generate-hashes`` lock contains and refuses anything else.

_COMMENT = re.compile(r"(^|\s)#.*$")
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?"
    r"\s*==\s*(?P<version>[^\s;]+)$"
)
_HASH = re.compile(r"^--hash=sha256:(?P<digest>[0-9a-f]{64})$")


@dataclass(frozen=True)
class Pin:
    name: NormalizedName
    version: Version
    hashes: frozenset[str]
    marker: str | None = None


def logical_lines(text: str) -> list[str]:
    """Physical lines joined on a trailing ``\\`` (a comment line never continues), with
    comments and blank lines dropped."""
    joined: list[str] = []
    pending: list[str] = []
    for raw in text.splitlines():
        comment = raw.lstrip().startswith("#")
        if raw.endswith("\\") and not comment:
            pending.append(raw[:-1])
            continue
        if not comment:
            pending.append(raw)
        if pending:
            joined.append(" ".join(pending))
            pending = []
    if pending:
        joined.append(" ".join(pending))
    stripped = (_COMMENT.sub("", line).strip() for line in joined)
    return [line for line in stripped if line]


def parse_lock(text: str) -> list[Pin]:
    """The pins of a hash-pinned requirements.txt; ``ValueError`` for anything else."""
    pins: list[Pin] = []
    for line in logical_lines(text):
        words = line.split()
        if words[0].startswith("--hash"):
            raise ValueError(f"a --hash option with no requirement: {line!r}")
        if words[0].startswith("--"):
            continue  # a global option line such as --index-url
        split = next((i for i, w in enumerate(words) if w.startswith("--")), len(words))
        requirement, _, marker = " ".join(words[:split]).partition(";")
        pin = _PIN.match(requirement.strip())
        if pin is None:
            raise ValueError(f"not a name==version pin: {line!r}")
        hashes = [_HASH.match(w) for w in words[split:]]
        if not hashes or None in hashes:
            raise ValueError(f"not --hash=sha256:<64 hex> options only: {line!r}")
        pins.append(
            Pin(
                canonicalize_name(pin["name"]),
                Version(pin["version"]),
                frozenset(h["digest"] for h in hashes if h is not None),
                marker.strip() or None,
            )
        )
    return pins


def load_lock(path: Path) -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """Pins (normalized versions) and hash sets of a single-target lock."""
    pins: dict[str, str] = {}
    hashes: dict[str, frozenset[str]] = {}
    for pin in parse_lock(path.read_text(encoding="utf-8")):
        assert pin.name not in pins, f"{path}: {pin.name} pinned twice"
        assert pin.marker is None, f"{path}: {pin.name} has a marker in a one-target lock"
        pins[pin.name] = str(pin.version)
        hashes[pin.name] = pin.hashes
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

H1, H2, H3 = "1" * 64, "2" * 64, "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [], id="empty"),
        pytest.param(
            f"flask==3.1.0 --hash=sha256:{H1}\n",
            [Pin(NormalizedName("flask"), Version("3.1.0"), frozenset({H1}))],
            id="one-line",
        ),
        pytest.param(
            f"Foo.Bar_baz==0.1 \\\n    --hash=sha256:{H1} \\\n    --hash=sha256:{H2}\n"
            "    # via -r requirements.in\n",
            [Pin(NormalizedName("foo-bar-baz"), Version("0.1"), frozenset({H1, H2}))],
            id="continuation-several-hashes-via",
        ),
        pytest.param(
            f"# header\n#\n\nalpha==1.0 \\\n    --hash=sha256:{H1}  # trailing\n"
            f"   # indented comment\nbeta==2.0.post1 --hash=sha256:{H3}\n",
            [
                Pin(NormalizedName("alpha"), Version("1.0"), frozenset({H1})),
                Pin(NormalizedName("beta"), Version("2.0.post1"), frozenset({H3})),
            ],
            id="comments-and-blank-lines",
        ),
        pytest.param(
            f'tomli==2.0.1 ; python_version < "3.11" \\\n    --hash=sha256:{H1}\n',
            [
                Pin(
                    NormalizedName("tomli"),
                    Version("2.0.1"),
                    frozenset({H1}),
                    'python_version < "3.11"',
                )
            ],
            id="marker",
        ),
        pytest.param(
            f"--index-url https://pypi.org/simple\n--only-binary :all:\n"
            f"a==1.0 --hash=sha256:{H1}\n",
            [Pin(NormalizedName("a"), Version("1.0"), frozenset({H1}))],
            id="global-options-skipped",
        ),
        pytest.param(
            f"b == 01.0 --hash=sha256:{H2} --hash=sha256:{H2}\n",
            [Pin(NormalizedName("b"), Version("1.0"), frozenset({H2}))],
            id="spaces-and-a-repeated-hash",
        ),
        pytest.param(
            f"c==1.0 \\\n# a comment line ends the logical line\n--hash=sha256:{H1}\n",
            None,
            id="comment-breaks-continuation",
        ),
    ],
)
def test_lock_parser_reads_pins(text: str, expected: list[Pin] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="not --hash"):
            parse_lock(text)
    else:
        assert parse_lock(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("flask>=3\n", "not a name==version", id="range-not-pin"),
        pytest.param(f"flask==3 --hash=md5:{H1[:32]}\n", "not --hash", id="md5"),
        pytest.param("flask==3\n", "not --hash", id="no-hash"),
        pytest.param(f"--hash=sha256:{H1}\n", "no requirement", id="hash-alone"),
        pytest.param(f"flask==3 --hash=sha256:{H1[:63]}\n", "not --hash", id="short-hash"),
        pytest.param(f"-e ./src --hash=sha256:{H1}\n", "not a name==version", id="editable"),
        pytest.param(
            f"x @ https://h/x-1.tar.gz --hash=sha256:{H1}\n", "not a name==version", id="url"
        ),
    ],
)
def test_lock_parser_refuses_what_a_lock_does_not_hold(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_lock(text)


def test_logical_lines_join_on_backslash_only() -> None:
    text = "a==1 \\\n  --x \\\n  --y\nb==2\n# c \\\nd==3 # e\n"
    assert logical_lines(text) == ["a==1    --x    --y", "b==2", "d==3"]


def test_load_lock_refuses_a_name_pinned_twice(tmp_path: Path) -> None:
    lock = tmp_path / "twice.txt"
    lock.write_text(f"Jinja2==3.1 --hash=sha256:{H1}\njinja2==3.1 --hash=sha256:{H2}\n")
    with pytest.raises(AssertionError, match="jinja2 pinned twice"):
        load_lock(lock)


@pytest.fixture(scope="module")
def uv() -> str:
    found = find_uv()
    if found is None:
        pytest.skip("uv is not installed")
    return found


@pytest.mark.parametrize("name", list(set_files()))
@pytest.mark.network
@pytest.mark.slow
def test_same_pins_and_hashes_as_uv(name: str, uv: str, tmp_path: Path) -> None:
    row = compare_set(name, set_files()[name], tmp_path, uv)
    assert row.pin_diffs == ALLOWED.get(name, {}), row.pin_diffs
    assert row.hash_diffs == {}, row.hash_diffs
    assert row.pins > 0


@pytest.mark.parametrize("target_hashes_only", [False, True])
@pytest.mark.network
@pytest.mark.slow
def test_pip_download_accepts_an_arm64_lock(tmp_path: Path, target_hashes_only: bool) -> None:
    from support import pip_environ

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
