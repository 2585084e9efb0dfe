"""Debian version comparison fuzzed with hypothesis, against two oracles.

Properties: :func:`parse_version` returns a :class:`DebVersion` or raises
:class:`InvalidVersion` on any text (and its message stays short); the order is a
total order on generated versions (antisymmetric, transitive on triples, equality
exactly when the comparison is 0, equal versions hash alike, ``version_key``
sorts as ``compare_versions`` compares); it agrees with python-debian's
``NativeVersion`` on many pairs and with the real ``dpkg --compare-versions`` on a
sample of 200 pairs (one batched shell run).
"""

from __future__ import annotations

import functools
import itertools
import shutil
import subprocess

import pytest
from debian.debian_support import NativeVersion
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from fuzz_strategies import FUZZ, attempt, mutated
from lockpin.apt.version import (
    DebVersion,
    InvalidVersion,
    compare_versions,
    parse_version,
    version_key,
)

# Few distinct characters, so that generated versions often share prefixes and
# collide on the rules that matter: "~" before the end, letters before other
# characters, digit runs compared as numbers (leading zeros), "-" and ":" splitting.
_UP_FIRST = st.sampled_from("0129")
_UP_CHARS = st.sampled_from("0019aAzZ.+~-")
_REV_CHARS = st.sampled_from("0019aAz.+~")


@st.composite
def versions(draw: st.DrawFn) -> str:
    """A valid Debian version (what dpkg --validate-version accepts)."""
    epoch = draw(st.one_of(st.none(), st.sampled_from(["0", "1", "2", "00", "10"])))
    upstream = draw(_UP_FIRST) + draw(st.text(_UP_CHARS, max_size=6))
    if epoch is not None and draw(st.booleans()):
        upstream += ":" + draw(st.text(_UP_CHARS, max_size=2))
    revision = draw(st.one_of(st.none(), st.text(_REV_CHARS, min_size=1, max_size=4)))
    text = f"{epoch}:{upstream}" if epoch is not None else upstream
    if revision is not None or "-" in upstream:
        text += "-" + (revision or "0")
    return text


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


@settings(FUZZ, max_examples=500)
@given(st.one_of(st.text(max_size=30), mutated(("1:2.36-9+deb12u4", "0.9~rc1", "2:1.0-1~bpo1"))))
def test_any_text_is_a_version_or_invalid_version(text: str) -> None:
    version = attempt(lambda: parse_version(text), InvalidVersion)
    if isinstance(version, InvalidVersion):
        assert version.version == text
        assert len(str(version)) < 400
        return
    assert isinstance(version, DebVersion)
    assert parse_version(str(version)) == version
    assert compare_versions(text, str(version)) == 0


@settings(FUZZ, max_examples=500)
@given(versions(), versions(), versions())
def test_the_order_is_total(a: str, b: str, c: str) -> None:
    ab, ba = compare_versions(a, b), compare_versions(b, a)
    assert ab == -ba
    assert (parse_version(a) == parse_version(b)) == (ab == 0)
    if ab == 0:
        assert hash(parse_version(a)) == hash(parse_version(b))
    assert sign((version_key(a) > version_key(b)) - (version_key(a) < version_key(b))) == ab
    bc, ac = compare_versions(b, c), compare_versions(a, c)
    if ab <= 0 and bc <= 0:
        assert ac <= 0
    if ab == 0 and bc == 0:
        assert ac == 0
    ordered = sorted([a, b, c], key=version_key)
    assert all(compare_versions(x, y) <= 0 for x, y in itertools.pairwise(ordered))


@settings(FUZZ, max_examples=1500)
@given(versions(), versions())
def test_agrees_with_python_debian(a: str, b: str) -> None:
    theirs = sign(NativeVersion(a)._compare(NativeVersion(b)))
    assert compare_versions(a, b) == theirs, (a, b)


# -- dpkg itself -----------------------------------------------------------------------------------

_DPKG_BATCH = r"""
while IFS= read -r a && IFS= read -r b; do
  if dpkg --compare-versions -- "$a" lt "$b"; then echo -1
  elif dpkg --compare-versions -- "$a" eq "$b"; then echo 0
  else echo 1; fi
done
"""


@functools.cache
def _pairs() -> list[tuple[str, str]]:
    """200 pairs drawn (deterministically) from the same strategy."""
    found: list[tuple[str, str]] = []

    @settings(FUZZ, max_examples=200, phases=[Phase.generate])
    @given(versions(), versions())
    def collect(a: str, b: str) -> None:
        found.append((a, b))

    collect()
    return found


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")
def test_agrees_with_dpkg_on_200_pairs() -> None:
    pairs = _pairs()
    assert len(pairs) >= 150
    stdin = "".join(f"{a}\n{b}\n" for a, b in pairs)
    done = subprocess.run(
        ["sh", "-c", _DPKG_BATCH], input=stdin, capture_output=True, text=True, check=True
    )
    answers = [int(line) for line in done.stdout.split()]
    assert len(answers) == len(pairs), done.stderr
    wrong = [
        (a, b, mine, theirs)
        for (a, b), theirs in zip(pairs, answers, strict=True)
        if (mine := compare_versions(a, b)) != theirs
    ]
    assert not wrong, wrong[:10]
