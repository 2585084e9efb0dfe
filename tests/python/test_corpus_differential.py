"""The real-world corpus of benchmarks/sets/real/: lockpin's pins against uv's.

Offline: every corpus file is the exact bytes recorded in ``sources.toml`` (repository,
path, commit, licence), and every file there is listed.

``-m network``: on a few corpus files, ``lockpin compile`` and ``uv pip compile`` (target
3.12 linux/amd64, the corpus cut-off) pin the same names at the same versions. The one
documented difference (docs/differences.md): lockpin honours a ``Requires-Python`` upper
bound that uv drops, so where a version differs, the test asserts that uv's version
declares a ``Requires-Python`` the target 3.12 does not satisfy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from lockpin._toml import loads

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "benchmarks" / "sets" / "real"
EXCLUDE_NEWER = "2026-11-01T00:00:00Z"  # as benchmarks/compare.py --corpus
PYPI = "https://pypi.org/simple"
UV_PLATFORM = "x86_64-manylinux_2_28"
TARGET = "3.12"
#: small and medium files from different ecosystems (web server, Flask, docs, Django)
DIFFERENTIAL = (
    "tiangolo__uvicorn-gunicorn-docker__docker-images__requirements.in",
    "pallets__flask__pyproject.toml",
    "squidfunk__mkdocs-material__requirements.in",
    "healthchecks__healthchecks__requirements.in",
)


def sources() -> list[dict[str, str]]:
    entries: list[dict[str, str]] = loads((REAL / "sources.toml").read_text())["file"]
    return entries


def test_every_corpus_file_is_the_recorded_bytes() -> None:
    entries = sources()
    listed = {e["file"] for e in entries}
    on_disk = {p.name for p in REAL.iterdir() if p.name != "sources.toml"}
    assert on_disk == listed
    assert len(entries) >= 20
    for e in entries:
        digest = hashlib.sha256((REAL / e["file"]).read_bytes()).hexdigest()
        assert digest == e["sha256"], e["file"]
        assert re.fullmatch(r"[0-9a-f]{40}", e["commit"]), e["file"]
        assert e["url"] == f"https://github.com/{e['repo']}/blob/{e['commit']}/{e['path']}"
        assert e["license"], e["file"]


# -- the network tier ----------------------------------------------------------------------

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\]+)")


def read_pins(path: Path) -> dict[str, str]:
    """``{normalized name: version}`` of a requirements.txt lock, read independently of
    lockpin's own parser."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := _PIN.match(line):
            assert canonicalize_name(m[1]) not in pins, f"{path}: {m[1]} pinned twice"
            pins[canonicalize_name(m[1])] = m[2]
    return pins


def requires_python(name: str, version: str) -> set[str]:
    """The ``requires-python`` values PyPI's JSON simple page gives the files of a release."""
    req = urllib.request.Request(
        f"{PYPI}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        page = json.loads(resp.read())
    found: set[str] = set()
    for f in page["files"]:
        fn = f["filename"]
        try:
            ver = (
                parse_wheel_filename(fn)[1] if fn.endswith(".whl") else parse_sdist_filename(fn)[1]
            )
        except ValueError:
            continue
        if str(ver) == version and f.get("requires-python"):
            found.add(f["requires-python"])
    return found


def source_file(name: str, work: Path) -> Path:
    """The corpus file, a pyproject.toml copied under the name both tools recognise."""
    if not name.endswith(".toml"):
        return REAL / name
    dest = work / name.removesuffix(".toml") / "pyproject.toml"
    dest.parent.mkdir(parents=True)
    dest.write_bytes((REAL / name).read_bytes())
    return dest


@pytest.mark.network
@pytest.mark.parametrize("name", DIFFERENTIAL)
def test_lockpin_pins_what_uv_pins(name: str, tmp_path: Path) -> None:
    from lockpin.cli import main

    uv = ROOT / "benchmarks" / ".venv" / "bin" / "uv"
    uv_exe = str(uv) if uv.exists() else shutil.which("uv")
    if uv_exe is None:
        pytest.skip("uv is not installed")
    src = source_file(name, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    env["UV_NO_CONFIG"] = "1"
    uv_out, lp_out = tmp_path / "uv.txt", tmp_path / "lockpin.txt"
    done = subprocess.run(
        [
            uv_exe, "pip", "compile", "-q", "--generate-hashes", "--no-header",
            "--python-version", TARGET, "--python-platform", UV_PLATFORM,
            "--exclude-newer", EXCLUDE_NEWER, "--default-index", PYPI,
            "--cache-dir", str(tmp_path / "uv-cache"), "-o", str(uv_out), str(src),
        ],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rc = main(
        [
            "compile", str(src), "-o", str(lp_out), "-q", "--no-header",
            "--python-version", TARGET, "--platform", "linux/amd64",
            "--exclude-newer", EXCLUDE_NEWER, "--index-url", PYPI,
            "--cache-dir", str(tmp_path / "lockpin-cache"),
        ]
    )  # fmt: skip
    assert rc == 0
    uv_pins, lp_pins = read_pins(uv_out), read_pins(lp_out)
    assert uv_pins, "uv pinned nothing"
    assert set(lp_pins) == set(uv_pins)
    for pkg, version in sorted(uv_pins.items()):
        if lp_pins[pkg] == version:
            continue
        # the documented reason: uv's version needs a Python the target is not
        declared = requires_python(pkg, version)
        assert declared, f"{pkg}: lockpin {lp_pins[pkg]}, uv {version}; no Requires-Python"
        assert all(TARGET + ".0" not in SpecifierSet(s) for s in declared), (pkg, declared)
