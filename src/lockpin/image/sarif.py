"""Findings of :mod:`lockpin.image.check` as SARIF 2.1.0 (GitHub code scanning). Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .check import RULES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .check import Finding

__all__ = ["to_sarif"]

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def to_sarif(findings: Sequence[Finding], *, version: str = "0") -> dict[str, object]:
    """One run of tool ``lockpin`` with every rule of :data:`RULES` and one result
    per finding (``file`` as a relative URI, ``line`` as ``startLine``)."""
    rule_ids = sorted(RULES)
    rules = [
        {
            "id": rid,
            "name": rid,
            "shortDescription": {"text": RULES[rid][1]},
            "defaultConfiguration": {"level": _LEVEL[RULES[rid][0]]},
        }
        for rid in rule_ids
    ]
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": rule_ids.index(f.rule),
            "level": _LEVEL[f.severity],
            "message": {"text": f"{f.message}. Fix: {f.fix}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file.replace("\\", "/").lstrip("/")},
                        "region": {"startLine": max(f.line, 1)},
                    }
                }
            ],
        }
        for f in findings
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "lockpin",
                        "version": version,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
