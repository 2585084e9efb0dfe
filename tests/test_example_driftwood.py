"""The worked example of docs/dockerfile.md, examples/driftwood/: its Dockerfile passes
``lockpin dockerfile check``, its locks are what lockpin writes (pinned, hashed, parsing),
its install steps are what ``lockpin dockerfile snippet`` prints, and its release log
answers ``lockpin record show``/``diff``.

Offline (the shipped files only); the ``network`` tier recompiles the locks.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

import lockpin
from lockpin.apt.export import export_script
from lockpin.apt.lock import AptLock
from lockpin.cli import main
from lockpin.image.buildmeta import parse_build_output
from lockpin.image.check import DirectoryContext
from lockpin.image.dockerfile import parse
from lockpin.image.record import read_log
from lockpin.image.snippet import dockerfile_snippet
from lockpin.python.reqfile import parse_requirements

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "driftwood"
DOCKERFILE = EXAMPLE / "Dockerfile"
# python:3.12-slim as published (see examples/driftwood/README.md for where it was read)
BASE = "python:3.12-slim@sha256:f3fa41d74a768c2fce8016b98c191ae8c1bacd8f1152870a3f9f87d350920b7c"
# the commands the README and the Dockerfile header give, from examples/driftwood/
COMPILE = [
    "compile",
    "requirements.in",
    "--python-version",
    "3.12.12",
    "--platform",
    "linux/amd64",
    "--exclude-newer",
    "2026-12-01T00:00:00Z",
    "-o",
    "requirements.txt",
]
APT_COMPILE = ["apt", "compile", "apt.in", "--release", "trixie", "--platform", "linux/amd64"]


def _read(name: str) -> str:
    return (EXAMPLE / name).read_text(encoding="utf-8")


# -- the Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_check_passes_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dockerfile", "check", str(DOCKERFILE), "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)
    assert [f for f in findings if f["severity"] == "error"] == []
    assert "LP102" not in {f["rule"] for f in findings}  # FROM --platform names it


def test_dockerfile_check_passes_through_the_api() -> None:
    findings = lockpin.check_dockerfile(
        DOCKERFILE.read_text(encoding="utf-8"),
        DirectoryContext(str(EXAMPLE)),
        filename=str(DOCKERFILE),
    )
    assert [f for f in findings if f.severity == "error"] == []


def test_the_checker_reads_the_lock_it_relies_on(tmp_path: Path) -> None:
    # the same Dockerfile over an unhashed requirements.txt is refused: the clean result
    # above comes from reading the shipped hashed lock, not from a blind spot
    (tmp_path / "requirements.txt").write_text("starlette==1.10.0\n")
    findings = lockpin.check_dockerfile(
        DOCKERFILE.read_text(encoding="utf-8"), DirectoryContext(str(tmp_path))
    )
    assert [(f.rule, f.severity) for f in findings] == [("LP201", "error")]


def test_base_is_python_312_slim_by_digest_for_amd64() -> None:
    froms = [
        i for i in parse(DOCKERFILE.read_text(encoding="utf-8")).instructions if i.keyword == "FROM"
    ]
    assert len(froms) == 1
    assert froms[0].arguments == (BASE,)
    assert [(f.name, f.value) for f in froms[0].flags] == [("platform", "linux/amd64")]


def test_copy_sources_exist_in_the_context() -> None:
    copies = [
        i for i in parse(DOCKERFILE.read_text(encoding="utf-8")).instructions if i.keyword == "COPY"
    ]
    sources = [s for i in copies for s in i.arguments[:-1]]
    assert sources == [
        "apt-install.sh",
        "requirements.txt",
        "app/driftwood.py",
    ]
    for source in sources:
        assert (EXAMPLE / source).is_file(), source


def test_the_app_is_python_that_compiles() -> None:
    source = _read("app/driftwood.py")
    compile(source, "app/driftwood.py", "exec")
    # what the image runs is the module the Dockerfile copies
    assert '"driftwood:app"' in _read("Dockerfile")
    assert "\napp = Starlette(" in source


# -- the locks --------------------------------------------------------------------------------


def test_python_lock_is_pinned_and_hashed_on_every_line() -> None:
    parsed = parse_requirements(
        "requirements.txt", reader=lambda p: (EXAMPLE / p).read_text(encoding="utf-8")
    )
    assert parsed.files == ("requirements.txt",)
    names = set()
    for req in parsed.requirements:
        assert req.pinned_version is not None, req.text
        assert req.hashes, req.text
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in req.hashes), req.text
        names.add(req.name)
    # the direct requirements of requirements.in, and the compiled C extension
    assert {"starlette", "uvicorn", "pydantic", "psycopg", "pydantic-core"} <= names
    header = _read("requirements.txt")
    assert "CPython 3.12.12 on linux/amd64" in header
    assert "# exclude-newer: 2026-12-01T00:00:00Z" in header
    assert "#    lockpin " + " ".join(COMPILE) + "\n" in header


def test_apt_lock_parses_for_trixie_amd64() -> None:
    lock = AptLock.from_toml(_read("apt.lock"), filename="apt.lock")
    assert (lock.distribution, lock.release, lock.platforms) == (
        "debian",
        "trixie",
        ("linux/amd64",),
    )
    pins = lock.pins("linux/amd64")
    assert {"ca-certificates", "curl", "libpq5"} <= set(pins)
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.sha256) for p in lock.packages)
    assert lock.command == "lockpin " + " ".join(APT_COMPILE) + " -o apt.lock"


def test_apt_script_is_the_export_of_the_lock() -> None:
    lock = AptLock.from_toml(_read("apt.lock"), filename="apt.lock")
    assert _read("apt-install.sh") == export_script(lock)


def test_install_steps_are_the_generated_snippet() -> None:
    snippet = dockerfile_snippet(
        "requirements.txt",
        "apt.lock",
        reader=lambda p: (EXAMPLE / p).read_text(encoding="utf-8"),
    )
    assert snippet.text in _read("Dockerfile")
    assert snippet.apt_script == _read("apt-install.sh")


# -- the release log --------------------------------------------------------------------------


def _sample_digest(version: str) -> str:
    text = f"driftwood {version}: a sample, no image was built\n".encode()
    return "sha256:" + hashlib.sha256(text).hexdigest()


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_sample_metadata_digests_are_the_stated_sentence(version: str) -> None:
    # nothing was built for the example: each sample digest is the sha256 of a sentence
    # saying so, as the README states, not a made-up number
    meta = EXAMPLE / "sample-build" / f"meta-{version}.json"
    out = parse_build_output(meta.read_bytes(), filename=str(meta))
    assert out.kind == "buildx"
    assert out.digest == _sample_digest(version)
    assert out.names == (f"registry.example/driftwood:{version}",)


def test_record_show_and_diff_on_the_shipped_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLE)
    assert main(["record", "show", "1.1.0", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["image"]["digest"] == _sample_digest("1.1.0")
    assert shown["bases"] == [BASE]
    assert shown["platforms"] == ["linux/amd64"]
    assert main(["record", "diff", "1.0.0", "1.1.0"]) == 0
    diff = capsys.readouterr().out
    assert diff.startswith("1.0.0 -> 1.1.0:\n")
    assert "  base: + python:3.12-slim sha256:f3fa41d7" in diff
    assert "  apt: + curl@linux/amd64 " in diff
    assert re.search(r"^  python: ~ pydantic \S+ -> 2\.14\.4$", diff, re.M)


def test_latest_record_is_the_shipped_files() -> None:
    # releases.jsonl's 1.1.0 is what examples/driftwood/ holds now: re-locking or editing
    # the example without recording a new release fails here
    last = read_log(EXAMPLE / "releases.jsonl")[-1]
    assert last.version == "1.1.0"
    assert last.dockerfile == "Dockerfile"
    assert last.dockerfile_sha256 == "sha256:" + hashlib.sha256(DOCKERFILE.read_bytes()).hexdigest()
    assert {lock.path: lock.sha256 for lock in last.locks} == {
        name: "sha256:" + hashlib.sha256((EXAMPLE / name).read_bytes()).hexdigest()
        for name in ("apt.lock", "requirements.txt")
    }
    assert last.bases == (BASE,)
    assert not last.allow_unpinned


# -- network tier: the locks are what lockpin writes today ------------------------------------


@pytest.mark.network
def test_python_lock_is_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLE)
    assert main([*COMPILE, "--check"]) == 0


@pytest.mark.network
def test_apt_lock_resolves_the_same_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the archive moves (security updates, new InRelease dates): the versions of a fresh
    # compile may differ; the closure, package by package, may not
    monkeypatch.chdir(EXAMPLE)
    out = tmp_path / "apt.lock"
    assert main([*APT_COMPILE, "-U", "-o", str(out)]) == 0
    fresh = AptLock.from_toml(out.read_text(encoding="utf-8"), filename=str(out))
    shipped = AptLock.from_toml(_read("apt.lock"), filename="apt.lock")
    assert set(fresh.pins("linux/amd64")) == set(shipped.pins("linux/amd64"))


# -- the walkthroughs show the real files -----------------------------------------------------


def _fenced(text: str, info: str) -> list[str]:
    return re.findall(rf"^```{info}\n(.*?)^```$", text, re.M | re.S)


def test_docs_show_the_example_dockerfile() -> None:
    docs = (EXAMPLE.parents[1] / "docs" / "dockerfile.md").read_text(encoding="utf-8")
    dockerfile = _read("Dockerfile")
    assert dockerfile[dockerfile.index("\nFROM ") + 1 :] in _fenced(docs, "dockerfile")


def test_readme_shows_the_real_diff(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLE)
    assert main(["record", "diff", "1.0.0", "1.1.0"]) == 0
    real = capsys.readouterr().out.splitlines()
    (shown,) = [b for b in _fenced(_read("README.md"), "console") if "record diff" in b]
    lines = [line for line in shown.splitlines()[1:] if line.strip() != "..."]
    assert lines == real[: len(lines)]
    assert len(lines) > 10
