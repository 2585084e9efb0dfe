"""Findings of :mod:`lockpin.image.check` as SARIF 2.1.0 for GitHub code scanning. Pure.

One run of tool ``lockpin`` with every rule of :data:`~lockpin.image.check.RULES`
(``shortDescription``, ``fullDescription``, ``help`` in text and Markdown,
``defaultConfiguration.level``, ``properties.tags``/``precision``/
``security-severity``) and one result per finding: ``level``, ``message`` (with
the fix), ``locations[0].physicalLocation`` with ``region.startLine`` and an
``artifactLocation`` whose ``uri`` is a relative, percent-encoded path resolved
against ``uriBaseId`` ``%SRCROOT%`` (the repository root: GitHub resolves result
paths against the root of the checkout), and ``partialFingerprints`` that do not
move when lines are added above the finding.

The caller says which path each finding's file has below the repository root
(``paths``; the CLI finds the git top-level). A path that is absolute or climbs
out with ``..`` is never written: its file name is used instead.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import TYPE_CHECKING
from urllib.parse import quote

from .check import RULES

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .check import Finding

__all__ = ["SRCROOT", "artifact_uri", "to_sarif"]

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "lockpinFinding/v1"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}
# GitHub reads security-severity as a CVSS-like score: 7.0-8.9 high, 4.0-6.9
# medium, 0.1-3.9 low. Remote content that runs or lands unverified is high; an
# input that moves between builds is medium; no platform named is low.
_SECURITY_SEVERITY = {"error": "5.0", "warning": "2.0", "note": "1.0"}
_HIGH = {"LP401", "LP402", "LP403"}

# Rule id -> (full description, help in Markdown). Rules without an entry (added
# to check.RULES later) get their short description and a pointer to the docs.
_HELP: dict[str, tuple[str, str]] = {
    "LP101": (
        "A FROM line names its image by tag (or :latest, or nothing) rather than by "
        "digest, also when the image comes from an ARG default or a build arg: the tag "
        "can point at another image at the next build.",
        "Pin every base by digest: `lockpin dockerfile pin Dockerfile` rewrites "
        "`FROM python:3.12-slim` to `FROM python:3.12-slim@sha256:…`.",
    ),
    "LP102": (
        "No platform is named anywhere (no FROM --platform= and no "
        "'# lockpin: platform=' line): the build takes the builder's own platform, so "
        "the same Dockerfile gives different images on different machines.",
        "Build with `docker buildx build --platform linux/amd64 .` and say so in the "
        "file with a `# lockpin: platform=linux/amd64` line (or `FROM --platform=`).",
    ),
    "LP201": (
        "pip installs packages by name (pinned or not), or from a requirements file "
        "without --hash lines: what is installed depends on the index at build time.",
        "Lock with `lockpin compile`, then install with "
        "`pip install --no-deps --require-hashes -r requirements.txt` "
        "(`lockpin dockerfile snippet` prints the steps).",
    ),
    "LP202": (
        "pip install -r runs without --require-hashes or --no-deps: a file without "
        "hashes is accepted, or pip resolves dependencies the lock does not name.",
        "Add `--require-hashes --no-deps` to the `pip install -r` command.",
    ),
    "LP203": (
        "uv installs without a lock: uv pip install without a hashed lockfile, or "
        "uv sync without --locked/--frozen and a uv.lock in the build context.",
        "Commit `uv.lock` and run `uv sync --locked` (or `--frozen`).",
    ),
    "LP204": (
        "poetry install runs without a poetry.lock in the build context: Poetry "
        "resolves afresh at build time.",
        "Commit `poetry.lock` next to `pyproject.toml` and copy it into the build.",
    ),
    "LP205": (
        "pipenv install names packages, or runs without --deploy: Pipenv resolves "
        "afresh instead of installing exactly Pipfile.lock.",
        "Commit `Pipfile.lock` and run `pipenv install --deploy` (or `pipenv sync`).",
    ),
    "LP206": (
        "pipx install/inject/run resolves the application and its dependencies at "
        "build time: nothing is pinned or hashed.",
        "Lock the tool with `lockpin compile` and install it with "
        "`pip install --no-deps --require-hashes -r` into its own virtual environment.",
    ),
    "LP207": (
        "conda/mamba/micromamba install or create of package specs: the channel "
        "decides what is installed at build time.",
        "Install from an explicit lock (`conda-lock`, or `conda create --file` of an "
        "`@EXPLICIT` list with hashes).",
    ),
    "LP301": (
        "apt-get install / apt install names a package without =version: the "
        "archive decides what is installed at build time.",
        "Lock the packages with `lockpin apt compile` and install them with the script "
        "of `lockpin apt export --format script` (`lockpin dockerfile snippet --apt`).",
    ),
    "LP302": (
        "apk add names a package without =version: the repository decides what is "
        "installed at build time.",
        "Name every package as `name=version`.",
    ),
    "LP401": (
        "ADD downloads a URL without --checksum: whatever the server sends goes into the image.",
        "Use `ADD --checksum=sha256:<hex> URL DEST`.",
    ),
    "LP402": (
        "ADD copies a git repository without a commit: the branch or tag can move.",
        "Name the commit: `ADD https://host/repo.git#<40-hex commit> DEST`.",
    ),
    "LP403": (
        "curl/wget output is piped into a shell, or a download is not checked "
        "(sha256sum -c or similar) in the same RUN: unverified remote content runs "
        "or lands in the image.",
        "Download to a file, check it (`echo '<sha256>  file' | sha256sum -c -`), then use it.",
    ),
    "LP501": (
        "npm install / yarn add / pnpm add resolves packages at build time instead of "
        "installing the committed lockfile.",
        "Commit the lockfile and run `npm ci` (`yarn install --immutable`, "
        "`pnpm install --frozen-lockfile`).",
    ),
    "LP502": (
        "gem install without a version (-v): RubyGems picks the newest at build time.",
        "Use Bundler with a committed `Gemfile.lock` (`bundle install --frozen`), or "
        "`gem install NAME -v VERSION`.",
    ),
    "LP503": (
        "go install of @latest or a branch: the module version moves.",
        "Name an exact version: `go install example.com/tool@v1.2.3`.",
    ),
}


def artifact_uri(path: str) -> str:
    """``path`` (relative to the repository root) as a relative URI reference:
    forward slashes, normalised, percent-encoded. An absolute path or one that
    climbs out with ``..`` gives just its file name, never the path itself."""
    p = path.replace("\\", "/")
    p = posixpath.normpath(p) if p else "Dockerfile"
    drive = len(p) > 1 and p[1] == ":"  # C:/… from a Windows path
    if drive or p == ".." or p.startswith(("/", "../")):
        p = posixpath.basename(p) or "Dockerfile"
    if p in (".", ".."):
        p = "Dockerfile"
    return quote(p, safe="/")


def _rule(rid: str) -> dict[str, object]:
    severity, short = RULES[rid]
    full, help_md = _HELP.get(rid, (short, "See the rule table in docs/dockerfile.md of lockpin."))
    security = "7.0" if rid in _HIGH else _SECURITY_SEVERITY[severity]
    return {
        "id": rid,
        "name": rid,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help_md.replace("`", ""), "markdown": help_md},
        "defaultConfiguration": {"level": _LEVEL[severity]},
        "properties": {
            "tags": ["security", "supply-chain", "reproducibility", "dockerfile"],
            "precision": "high",
            "security-severity": security,
        },
    }


def _fingerprint(rule: str, uri: str, message: str, occurrence: int) -> str:
    """Stable across lines added above: the rule, file and message (which names the
    offending image, package or URL), plus the occurrence of that triple."""
    digest = hashlib.sha256(f"{rule}\0{uri}\0{message}".encode()).hexdigest()[:32]
    return f"{digest}:{occurrence}"


def to_sarif(
    findings: Sequence[Finding],
    *,
    version: str = "0",
    paths: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The SARIF log of ``findings``; ``paths`` maps a finding's ``file`` to its
    path below the repository root (default: the ``file`` itself)."""
    rule_ids = sorted(RULES)
    index = {rid: i for i, rid in enumerate(rule_ids)}
    seen: dict[tuple[str, str, str], int] = {}
    results = []
    for f in findings:
        uri = artifact_uri((paths or {}).get(f.file, f.file))
        key = (f.rule, uri, f.message)
        seen[key] = seen.get(key, 0) + 1
        result: dict[str, object] = {"ruleId": f.rule}
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        result.update(
            {
                "level": _LEVEL[f.severity],
                "message": {"text": f"{f.message}. Fix: {f.fix}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri, "uriBaseId": SRCROOT},
                            "region": {"startLine": max(f.line, 1)},
                        }
                    }
                ],
                "partialFingerprints": {
                    FINGERPRINT_KEY: _fingerprint(f.rule, uri, f.message, seen[key])
                },
            }
        )
        results.append(result)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "lockpin",
                        "version": version,
                        "rules": [_rule(rid) for rid in rule_ids],
                    }
                },
                "originalUriBaseIds": {
                    SRCROOT: {
                        "description": {
                            "text": "The root of the repository (the git top-level "
                            "above the Dockerfile): result paths are relative to it."
                        }
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
