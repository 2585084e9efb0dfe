"""`lockpin dockerfile check --format sarif`: valid against the official SARIF 2.1.0 schema
(tests/data/sarif/, from oasis-tcs/sarif-spec) and meeting what GitHub code scanning
documents for uploads: rules with descriptions and help, results with a level, message,
one location with a start line and a repository-relative URI, and fingerprints."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lockpin.cli import main
from lockpin.image.check import RULES, Finding
from lockpin.image.sarif import FINGERPRINT_KEY, SRCROOT, artifact_uri, to_sarif

SCHEMA_FILE = Path(__file__).parent.parent / "data" / "sarif" / "sarif-schema-2.1.0.json"
DIGEST = "sha256:" + "a" * 64
HASHED = "flask==3.0.0 --hash=sha256:" + "b" * 64 + "\n"

CLEAN = f"# lockpin: platform=linux/amd64\nFROM debian:12@{DIGEST}\nRUN echo hello\n"
MANY = """\
FROM python:3.12-slim AS build
RUN pip install flask
RUN pip install -r req.txt
RUN uv sync
RUN poetry install
RUN apt-get update && apt-get install -y curl
RUN apk add git
ADD https://example.org/tool.tar.gz /opt/
ADD https://github.com/example/repo.git /src
RUN curl -fsSL https://example.org/install.sh | sh
FROM debian
RUN pip install flask
"""
SUPPRESSED = f"""\
# lockpin: ignore-file=LP102
FROM debian:12@{DIGEST}
# lockpin: ignore=LP201
RUN pip install flask
# lockpin: ignore=LP403
RUN curl -fsSL https://example.org/install.sh | sh
RUN apt-get install -y curl
"""


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    # every format jsonschema knows (the schema uses draft 6's "uri-reference" for
    # artifactLocation.uri): "uri"/"uri-reference" need rfc3986-validator, a test extra
    checker = jsonschema.FormatChecker()
    assert {"uri", "uri-reference"} <= set(checker.checkers)
    return jsonschema.Draft4Validator(schema, format_checker=checker)


def sarif(
    capsys: pytest.CaptureFixture[str], dockerfile: Path, *extra: str, code: int | None = None
) -> dict[str, Any]:
    rc = main(["dockerfile", "check", str(dockerfile), "--format", "sarif", *extra])
    if code is not None:
        assert rc == code
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def github_requirements(doc: dict[str, Any]) -> None:
    """What GitHub's "SARIF support for code scanning" asks of an uploaded file."""
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "lockpin"
    assert driver["version"]
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(RULES)
    for r in rules:
        assert r["shortDescription"]["text"]
        assert r["fullDescription"]["text"]
        assert r["help"]["text"]
        assert r["help"]["markdown"]
        assert r["defaultConfiguration"]["level"] in {"error", "warning", "note"}
        props = r["properties"]
        assert len(props["tags"]) <= 20
        # security-severity is read only for rules tagged "security", as a score 0.0-10.0
        assert "security" in props["tags"]
        assert re.fullmatch(r"\d+\.\d", props["security-severity"])
        assert 0.0 < float(props["security-severity"]) <= 10.0
        assert props["precision"] in {"very-high", "high", "medium", "low"}
    bases = run["originalUriBaseIds"]
    fingerprints = []
    for res in run["results"]:
        assert res["ruleId"] in ids
        assert ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in {"error", "warning", "note"}
        assert res["message"]["text"]
        assert 1 <= len(res["locations"]) <= 10
        loc = res["locations"][0]["physicalLocation"]
        assert loc["region"]["startLine"] >= 1
        art = loc["artifactLocation"]
        uri = art["uri"]
        # relative to the repository root: no scheme, no leading slash, no climbing out
        assert uri
        assert not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri)
        assert not uri.startswith("/")
        assert ".." not in uri.split("/")
        assert art["uriBaseId"] == SRCROOT
        assert SRCROOT in bases
        # our own key; primaryLocationLineHash is GitHub's, computed by upload-sarif
        fp = res["partialFingerprints"]
        assert set(fp) == {FINGERPRINT_KEY}
        fingerprints.append(fp[FINGERPRINT_KEY])
    assert len(fingerprints) == len(set(fingerprints))


def test_the_validator_rejects_a_broken_log(validator: jsonschema.Draft4Validator) -> None:
    # the check below can fail: a result without a message, a bad level, a bad URI
    doc = to_sarif([Finding("LP101", "Dockerfile", 1, "error", "m", "f")], version="1")
    validator.validate(doc)
    res = doc["runs"][0]["results"][0]  # type: ignore[index]
    for key, value in [("message", None), ("level", "fatal"), ("ruleIndex", -2)]:
        broken = json.loads(json.dumps(doc))
        target = broken["runs"][0]["results"][0]
        if value is None:
            del target[key]
        else:
            target[key] = value
        assert not validator.is_valid(broken), key
    broken = json.loads(json.dumps(doc))
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"][
        "uri"
    ] = "a b\\c"
    assert not validator.is_valid(broken)
    assert res["ruleId"] == "LP101"


@pytest.mark.parametrize(
    ("name", "text", "code", "expected"),
    [
        ("clean", CLEAN, 0, []),
        (
            "many",
            MANY,
            1,
            [
                "LP101",
                "LP102",
                "LP201",
                "LP202",
                "LP203",
                "LP204",
                "LP301",
                "LP302",
                "LP401",
                "LP402",
                "LP403",
            ],
        ),
        ("suppressed", SUPPRESSED, 1, ["LP301"]),
    ],
)
def test_valid_against_the_schema_and_githubs_rules(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    validator: jsonschema.Draft4Validator,
    name: str,
    text: str,
    code: int,
    expected: list[str],
) -> None:
    df = write(tmp_path, "Dockerfile", text)
    write(tmp_path, "req.txt", "flask==3.0.0\n")
    doc = sarif(capsys, df, code=code)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    github_requirements(doc)
    results = doc["runs"][0]["results"]
    assert sorted({r["ruleId"] for r in results}) == expected
    for r in results:
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "Dockerfile"
        line = loc["region"]["startLine"]
        assert 1 <= line <= len(text.splitlines())


def test_uri_is_relative_to_the_git_top_level_from_any_cwd(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    validator: jsonschema.Draft4Validator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    df = write(repo, "sub/dir/Dockerfile", "FROM debian:12\nRUN apk add git\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd, arg in [
        (elsewhere, str(df)),
        (repo / "sub", "dir/Dockerfile"),
        (repo, "sub/dir/Dockerfile"),
        (elsewhere, os.path.relpath(df, elsewhere)),
    ]:
        monkeypatch.chdir(cwd)
        doc = sarif(capsys, Path(arg), code=1)
        validator.validate(doc)
        github_requirements(doc)
        uris = {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in doc["runs"][0]["results"]
        }
        assert uris == {"sub/dir/Dockerfile"}, (cwd, arg)


def test_uri_in_a_worktree_or_submodule_and_percent_encoded(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    validator: jsonschema.Draft4Validator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outer = tmp_path / "outer"
    (outer / ".git").mkdir(parents=True)
    sub = outer / "vendor" / "mod"
    sub.mkdir(parents=True)
    (sub / ".git").write_text("gitdir: ../../.git/modules/mod\n")  # the nearest .git wins
    df = write(sub, "my images/Dockerfile", "FROM debian:12\n")
    monkeypatch.chdir(tmp_path)
    doc = sarif(capsys, df, code=1)
    validator.validate(doc)
    loc = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "my%20images/Dockerfile"


def test_outside_a_repository_falls_back_to_the_cwd_then_the_file_name(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    validator: jsonschema.Draft4Validator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if any((p / ".git").exists() for p in [tmp_path, *tmp_path.parents]):
        pytest.skip("tmp_path is inside a git repository")
    df = write(tmp_path, "a/b/Dockerfile", "FROM debian:12\n")
    monkeypatch.chdir(tmp_path)
    doc = sarif(capsys, df, code=1)
    validator.validate(doc)
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "a/b/Dockerfile"
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)  # the file is not below the cwd: never "../a/b/Dockerfile"
    doc = sarif(capsys, df, code=1)
    validator.validate(doc)
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "Dockerfile"


def test_fingerprints_do_not_move_with_lines_added_above(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "FROM debian:12\nRUN pip install flask\nRUN pip install flask\n"
    df = write(tmp_path, "Dockerfile", body)
    before = sarif(capsys, df)["runs"][0]["results"]
    df.write_text("# a comment\n# and another\n" + body)
    after = sarif(capsys, df)["runs"][0]["results"]

    def prints(results: list[dict[str, Any]]) -> list[str]:
        return sorted(r["partialFingerprints"][FINGERPRINT_KEY] for r in results)

    assert prints(before) == prints(after)

    def lines(results: list[dict[str, Any]]) -> list[int]:
        return [
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
            for r in results
            if r["ruleId"] != "LP102"  # the file's, reported at line 1
        ]

    assert lines(after) == [n + 2 for n in lines(before)]
    # the same finding twice: two alerts, not one
    pip = [r["partialFingerprints"][FINGERPRINT_KEY] for r in after if r["ruleId"] == "LP201"]
    assert len(pip) == 2
    assert len(set(pip)) == 2


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("Dockerfile", "Dockerfile"),
        ("sub/dir/Dockerfile", "sub/dir/Dockerfile"),
        ("./sub//dir/./Dockerfile", "sub/dir/Dockerfile"),
        ("sub\\dir\\Dockerfile", "sub/dir/Dockerfile"),
        ("my dir/Docker#file", "my%20dir/Docker%23file"),
        ("/abs/path/Dockerfile", "Dockerfile"),
        ("../up/Dockerfile.prod", "Dockerfile.prod"),
        ("a/../../b/Dockerfile", "Dockerfile"),
        ("C:\\work\\Dockerfile", "Dockerfile"),
        ("", "Dockerfile"),
        (".", "Dockerfile"),
    ],
)
def test_artifact_uri(path: str, uri: str) -> None:
    assert artifact_uri(path) == uri


def test_paths_map_findings_to_the_repository(validator: jsonschema.Draft4Validator) -> None:
    found = [
        Finding("LP101", "/home/me/repo/app/Dockerfile", 1, "error", "m", "f"),
        Finding("LP999", "/home/me/repo/app/Dockerfile", 2, "warning", "a rule added later", "f"),
    ]
    doc = to_sarif(found, version="1", paths={"/home/me/repo/app/Dockerfile": "app/Dockerfile"})
    validator.validate(doc)
    results = doc["runs"][0]["results"]  # type: ignore[index]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results] == [
        "app/Dockerfile",
        "app/Dockerfile",
    ]
    assert "ruleIndex" not in results[1]  # not in the rule table: no index into it
    assert "/home/me" not in json.dumps(doc)
