"""Draw docs/img/benchmarks.png from benchmarks/results/latest.json (run by compare.py).

Usage: benchmarks/.venv/bin/python benchmarks/chart.py RESULTS.json OUT.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

TOOLS = ("lockpin", "uv", "pip-compile", "pip-lock")
LABELS = {"pip-lock": "pip lock"}
COLORS = {"lockpin": "#d62728", "uv": "#6a3d9a", "pip-compile": "#1f77b4", "pip-lock": "#2ca02c"}


def main(src: str, dest: str) -> None:
    res = json.loads(Path(src).read_text(encoding="utf-8"))
    cells, sets = res["cells"], res["settings"]["sets"]
    modes = [m for m in ("cold", "warm") if m in res["settings"]["modes"]]
    tools = [t for t in TOOLS if t in res["settings"]["tools"]]
    fig, axes = plt.subplots(1, len(modes), figsize=(5.5 * len(modes), 4.2), squeeze=False)
    width = 0.8 / len(tools)
    for ax, mode in zip(axes[0], modes, strict=True):
        for i, tool in enumerate(tools):
            for j, name in enumerate(sets):
                cell = cells.get(f"{name}|{tool}|{mode}")
                x = j - 0.4 + width * (i + 0.5)
                if cell is None:
                    continue
                if cell["median"] is None:
                    ax.text(x, 0.06, "✗", ha="center", color=COLORS[tool], fontsize=9)
                    continue
                ax.bar(x, cell["median"], width, color=COLORS[tool])
                ax.text(x, cell["median"] * 1.08, f"{cell['median']:.2g}", ha="center",
                        fontsize=6.5)  # fmt: skip
        ax.set_yscale("log")
        ax.set_ylim(0.05, None)
        ax.set_xticks(range(len(sets)), sets)
        ax.set_title(f"{mode} cache")
        ax.set_ylabel("seconds (median, log scale)")
        ax.grid(axis="y", which="both", alpha=0.25)
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS[t]) for t in tools]
    fig.legend(handles, [LABELS.get(t, t) for t in tools], loc="upper center",
               ncol=len(tools), frameon=False)  # fmt: skip
    fig.text(0.99, 0.01, f"exclude-newer {res['exclude_newer']}  ·  {res['date']}  ·  ✗ failed",
             ha="right", fontsize=7, color="0.4")  # fmt: skip
    fig.tight_layout(rect=(0, 0.03, 1, 0.93))
    fig.savefig(dest, dpi=120)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
