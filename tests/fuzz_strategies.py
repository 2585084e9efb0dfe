"""Shared pieces of the hostile-input fuzz tests (tests/fuzz/): one hypothesis
settings profile, mutation of real seed inputs, a JSON strategy, and a peak-memory
probe that runs a snippet in a fresh interpreter.

Every fuzz property uses :data:`FUZZ` (derandomized: the same examples on every
run and every machine, so CI cannot flake on a new random draw) with its own
``max_examples``; the settings are applied per test, never as a global profile.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

T = TypeVar("T")

__all__ = [
    "DOCKERFILE_CORPUS",
    "FUZZ",
    "TOKENS",
    "attempt",
    "dumps",
    "json_values",
    "mutated",
    "note",
    "peak_rss_mib",
]

#: derandomized, no deadline (a slow CI machine must not fail a property), and the
#: health checks that only say "this strategy is big" off: the seeds are big on purpose
FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: text that parsers treat specially somewhere: line ends, escapes, quotes, heredoc
#: and variable syntax, deb822 and JSON punctuation, a BOM, NUL, odd unicode (line and
#: paragraph separators, combining and wide characters, an astral character)
TOKENS: tuple[str, ...] = (
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\\",
    "\\\n",
    "`",
    "`\n",
    "#",
    "# escape=`\n",
    "# syntax=docker/dockerfile:1\n",
    ":",
    ",",
    "|",
    "(",
    ")",
    "[",
    "]",
    "<",
    ">",
    "<<EOF\n",
    "<<-EOF\n",
    "EOF\n",
    "\tEOF\n",
    "$",
    "${",
    "}",
    "${A:-x}",
    '"',
    "'",
    "=",
    "@",
    "/",
    "..",
    "--platform=",
    "FROM ",
    " AS ",
    "\x00",
    "\x0c",
    "\x0b",
    "\x85",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\u0301",
    "\u00e9",
    "\u3000",
    "\U0001f600",
    ".",
    "~",
    "+",
    "-",
    "0",
    "9" * 30,
)


@st.composite
def mutated(
    draw: st.DrawFn,
    seeds: Sequence[str],
    *,
    tokens: Sequence[str] = TOKENS,
    max_mutations: int = 6,
) -> str:
    """One of ``seeds`` with up to ``max_mutations`` edits: insert a token or a random
    character, delete or duplicate a span, replace a character, cut the end, or splice
    in part of another seed. Starting from real inputs keeps most examples close to
    what the parser accepts, where its interesting decisions are."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, max_mutations))):
        n = len(text)
        at = draw(st.integers(0, n))
        kind = draw(st.integers(0, 6))
        if kind == 0:
            text = text[:at] + draw(st.sampled_from(tokens)) + text[at:]
        elif kind == 1:
            text = text[:at] + draw(st.characters()) + text[at:]
        elif kind == 2 and n:
            end = draw(st.integers(at, min(n, at + 40)))
            text = text[:at] + text[end:]
        elif kind == 3 and n:
            end = draw(st.integers(at, min(n, at + 80)))
            text = text[:end] + text[at:end] + text[end:]
        elif kind == 4 and at < n:
            text = text[:at] + draw(st.characters()) + text[at + 1 :]
        elif kind == 5:
            text = text[:at]
        else:
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            text = text[:at] + other[start : start + 200] + text[at:]
    return text


def attempt(fn: Callable[[], T], *errors: type[Exception]) -> T | Exception:
    """``fn()``, or the exception of one of ``errors`` it raised (any other
    propagates and fails the property): the fuzz checks look at both outcomes."""
    try:
        return fn()
    except errors as exc:
        return exc


def note(what: str) -> None:
    """``hypothesis.event`` (counted in ``--hypothesis-show-statistics``) when
    inside a property; nothing in a plain test that shares the checks."""
    if currently_in_test_context():
        event(what)


def json_values(*, max_leaves: int = 30) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values (also the floats and huge integers JSON allows)."""
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
    )
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.text(max_size=12), children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


def peak_rss_mib(code: str, *, timeout: float = 300) -> tuple[float, str]:
    """Run ``code`` in a fresh interpreter and return its peak resident memory (MiB,
    from ``ru_maxrss`` of the child) and its stdout. The child's own baseline counts
    too, so bounds should be generous; a failure of the snippet fails the test."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        """
        import resource as _resource
        print("PEAK_KIB", _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    src = Path(__file__).resolve().parents[1] / "src"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    peak = [line for line in lines if line.startswith("PEAK_KIB ")]
    assert peak, done.stdout[-2000:]
    return int(peak[-1].split()[1]) / 1024, "\n".join(
        line for line in lines if not line.startswith("PEAK_KIB ")
    )


def _corpus() -> tuple[str, ...]:
    folder = Path(__file__).parent / "data" / "dockerfiles"
    texts = []
    for path in sorted(folder.glob("*/Dockerfile")):
        texts.append(path.read_bytes().decode("utf-8"))
    return tuple(texts)


#: the real Dockerfiles of tests/data/dockerfiles (decoded; they are all UTF-8)
DOCKERFILE_CORPUS: tuple[str, ...] = _corpus()


def dumps(value: object) -> bytes:
    """``value`` as JSON bytes, as a registry would send it."""
    return json.dumps(value).encode()
