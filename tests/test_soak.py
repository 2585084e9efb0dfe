"""``benchmarks/soak.py`` with tiny counts, so that the soak does not rot between
the times someone runs it in full (its result is in docs/reliability.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_soak_runs_and_everything_holds(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKPIN_")}
    proc = subprocess.run(
        [
            sys.executable, str(ROOT / "benchmarks" / "soak.py"),
            "--python", "2", "--apt", "1", "--image", "2",
            "--seed", "3", "--kill-rate", "0.5", "--out", str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| kind | runs | completed | killed |" in proc.stdout
    result = json.loads(out.read_text())
    assert result["held"] is True
    kinds = {k["kind"]: k for k in result["kinds"]}
    assert kinds["python compile"]["runs"] == 2
    assert kinds["apt compile"]["runs"] == 1
    for kind in kinds.values():
        assert kind["cache_usable"] is True
        assert kind["lost"] == kind["tracebacks"] == kind["different"] == 0
        assert kind["completed"] + kind["killed"] == kind["runs"]
