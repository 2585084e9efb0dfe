"""Debian version comparison (lockpin.apt.version) against Debian Policy 5.6.12 and
the real ``dpkg --compare-versions`` / ``dpkg --validate-version`` as oracles.

The tables are checked twice: against the expected answers written here, and (in
one batched shell run each) against dpkg itself, so that a wrong expectation
cannot hide. Hypothesis then draws realistic and nasty versions and compares
lockpin's order and validity with dpkg's.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from functools import cmp_to_key

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockpin.apt.version import (
    DebVersion,
    InvalidVersion,
    compare_versions,
    parse_version,
    satisfies,
    version_key,
)

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")

# ---------------------------------------------------------------------------
# the oracle: one shell process per batch, the versions passed as arguments (no
# quoting), dpkg called once or twice per pair


_COMPARE_SCRIPT = """
while [ $# -gt 1 ]; do
  if dpkg --compare-versions -- "$1" lt "$2"; then echo -1
  elif dpkg --compare-versions -- "$1" eq "$2"; then echo 0
  else echo 1
  fi
  shift 2
done
"""

_VALIDATE_SCRIPT = """
for v; do dpkg --validate-version -- "$v" >/dev/null 2>&1; echo $?; done
"""


def dpkg_compare(pairs: list[tuple[str, str]]) -> list[int]:
    """dpkg's -1/0/1 for each pair."""
    args = [v for pair in pairs for v in pair]
    out = subprocess.run(
        ["sh", "-c", _COMPARE_SCRIPT, "sh", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(out) == len(pairs)
    return [int(word) for word in out]


def dpkg_valid(versions: list[str]) -> list[bool]:
    """Whether ``dpkg --validate-version`` accepts each version."""
    out = subprocess.run(
        ["sh", "-c", _VALIDATE_SCRIPT, "sh", *versions],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(out) == len(versions)
    return [word == "0" for word in out]


def lockpin_valid(version: str) -> bool:
    try:
        parse_version(version)
    except InvalidVersion:
        return False
    return True


def strtol_epoch(version: str) -> bool:
    """Whether dpkg reads the epoch of ``version`` through one of strtol's
    allowances (a sign, leading whitespace) that lockpin refuses on purpose."""
    head, colon, _ = version.strip(" \t").partition(":")
    return bool(colon) and not head.isdigit() and re.fullmatch(r"\s*[+-]?[0-9]+", head) is not None


# ---------------------------------------------------------------------------
# comparison: a table of hard cases

# (a, b, expected compare(a, b))
ORDER_CASES = [
    # plain numbers, leading zeros, long runs
    ("1.0", "1.0", 0),
    ("1.0", "1.1", -1),
    ("1.2", "1.10", -1),
    ("1.00", "1.0", 0),
    ("1.01", "1.1", 0),
    ("1.001", "1.1", 0),
    ("007", "7", 0),
    ("10", "9", 1),
    ("1.0", "1", 1),
    ("1.0", "1.", 0),  # an empty digit run is 0
    ("1.", "1", 1),
    ("18446744073709551616", "18446744073709551615", 1),
    ("1." + "9" * 40, "1." + "9" * 39 + "8", 1),
    # epochs
    ("1:1.0", "2.0", 1),
    ("0:1.0", "1.0", 0),
    ("00:1.0", "1.0", 0),
    ("1:0", "0:99999", 1),
    ("2:1", "10:0", -1),
    ("2147483647:1", "2147483646:9", 1),
    # "~" sorts before everything, even the end of the string
    ("1.0~rc1", "1.0", -1),
    ("1.0~~", "1.0~", -1),
    ("1.0~~a", "1.0~", -1),
    ("1.0~", "1.0", -1),
    ("1~", "1", -1),
    ("1-~", "1", -1),
    ("1-~~", "1-~", -1),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc1-1", "1.0-1", -1),
    ("1.0-1~bpo1", "1.0-1", -1),
    ("1.0-1~deb12u1", "1.0-1", -1),
    ("1.0-1", "1.0-1+deb12u1", -1),
    # letters before non-letters, the end before letters
    ("1.0a", "1.0", 1),
    ("1.0a", "1.0+", -1),
    ("1.0a", "1.0.", -1),
    ("1.0Z", "1.0a", -1),
    ("1.0z", "1.0+", -1),
    ("1.0+", "1.0.", -1),
    ("1.0+", "1.0-0", 1),
    ("1.0-0", "1.0", 0),
    ("1.0.", "1.0-0", 1),
    ("1a", "1", 1),
    ("1a", "1~", 1),
    ("1a", "1b", -1),
    ("1+a", "1.a", -1),
    # revisions: the last hyphen splits; upstream may hold hyphens
    ("1.0-1", "1.0-2", -1),
    ("1.0-1-1", "1.0-1-2", -1),
    ("1.0-1-1", "1.0-2", 1),  # upstream 1.0-1 > 1.0
    ("1.0-10", "1.0-9", 1),
    ("1.0-1", "1.0", 1),
    ("1.0-0", "1.0-00", 0),
    ("1.0-a", "1.0-0", 1),
    ("1.0-1.1", "1.0-1+b1", 1),
    ("1.0-1+b1", "1.0-1", 1),
    # ":" in upstream only with an epoch
    ("1:1.0:1", "1:1.0", 1),
    ("1:1.0:1", "1:1.0.1", 1),  # ":" sorts after "."
    ("1:1:1-1", "1:1:1", 1),
    # real archive spellings
    ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
    ("1:2.39.5-0+deb12u2", "1:2.39.2-1.1", 1),
    ("7.88.1-10+deb12u12", "7.88.1-10+deb12u5", 1),
    ("3.0.11-1~deb12u2", "3.0.11-1", -1),
    ("15.8-0+deb12u1", "15.10-0+deb12u1", -1),
    ("1.2.13.dfsg-1", "1.2.13-1", 1),
    ("0.0~git20230101.abc-1", "0.0~git20221201.def-1", 1),
]


@pytest.mark.parametrize(("a", "b", "expected"), ORDER_CASES)
def test_compare_table(a: str, b: str, expected: int) -> None:
    assert compare_versions(a, b) == expected
    assert compare_versions(b, a) == -expected
    key_a, key_b = version_key(a), version_key(b)
    assert (key_a > key_b) - (key_a < key_b) == expected
    va, vb = parse_version(a), parse_version(b)
    assert (va == vb) == (expected == 0)
    assert (va < vb) == (expected < 0)
    assert (va > vb) == (expected > 0)
    assert (va <= vb) == (expected <= 0)
    assert (va >= vb) == (expected >= 0)
    if expected == 0:
        assert hash(va) == hash(vb)


@needs_dpkg
def test_compare_table_agrees_with_dpkg() -> None:
    answers = dpkg_compare([(a, b) for a, b, _ in ORDER_CASES])
    wrong = [(a, b, e, d) for (a, b, e), d in zip(ORDER_CASES, answers, strict=True) if d != e]
    assert wrong == []


def test_revision_compared_when_upstreams_are_equal() -> None:
    """Revisions compare as strings of their own (a letter beats a digit run of 0)."""
    assert compare_versions("1-a", "1-0") == 1
    assert compare_versions("1-~", "1") == -1  # "" (no revision) is like "0", after "~"


def test_sorting_by_key_is_dpkgs_order() -> None:
    versions = [
        "1.0",
        "1:0.1",
        "1.0~rc1",
        "1.0-1",
        "1.0+b1",
        "1.0a",
        "1.0.1",
        "0.9",
        "1.0-1~bpo1",
        "1.00",
        "2~",
    ]
    by_key = sorted(versions, key=version_key)
    by_cmp = sorted(versions, key=cmp_to_key(compare_versions))
    assert [version_key(v) for v in by_key] == [version_key(v) for v in by_cmp]
    assert by_key[0] == "0.9"
    assert by_key[-1] == "1:0.1"
    assert by_key.index("1.0~rc1") < by_key.index("1.0") < by_key.index("1.0-1~bpo1")


def test_very_long_digit_runs_compare_numerically() -> None:
    """Beyond Python's int() limit (4300 digits) the runs still compare as numbers,
    leading zeros ignored: no ValueError from deep inside a sort."""
    small = "1." + "0" * 5000 + "1"  # = 1.1
    big = "1." + "9" * 4500
    assert compare_versions(small, big) == -1
    assert compare_versions(small, "1.1") == 0
    assert compare_versions("1." + "9" * 9000, "1." + "9" * 8999 + "8") == 1
    assert compare_versions("1." + "7" * 9000, "1." + "7" * 9000) == 0
    assert parse_version("0" * 5000 + "1:2").epoch == 1
    with pytest.raises(InvalidVersion, match="too big"):
        parse_version("1" * 5000 + ":2")


@needs_dpkg
def test_very_long_digit_runs_agree_with_dpkg() -> None:
    pairs = [
        ("1." + "0" * 5000 + "1", "1." + "9" * 4500),
        ("1." + "0" * 5000 + "1", "1.1"),
        ("1." + "9" * 6000, "1." + "9" * 5999 + "8"),
        ("1." + "9" * 4001 + "a", "1." + "9" * 4001),
    ]
    assert dpkg_compare(pairs) == [compare_versions(a, b) for a, b in pairs]


# ---------------------------------------------------------------------------
# parsing and equality


@pytest.mark.parametrize(
    ("text", "epoch", "upstream", "revision"),
    [
        ("1.0", 0, "1.0", ""),
        ("1:1.0", 1, "1.0", ""),
        ("001:1.0", 1, "1.0", ""),
        ("1.0-1", 0, "1.0", "1"),
        ("1.0-1-2", 0, "1.0-1", "2"),
        ("1:2:3", 1, "2:3", ""),
        ("1:2:3-4", 1, "2:3", "4"),
        ("1.0--1", 0, "1.0-", "1"),
        ("2147483647:1", 2147483647, "1", ""),
        ("0:0", 0, "0", ""),
        ("1.0~rc1+dfsg-1~bpo12+1", 0, "1.0~rc1+dfsg", "1~bpo12+1"),
        ("  1.0-1\t", 0, "1.0", "1"),
        ("9Z.a+~-Z.a+~", 0, "9Z.a+~", "Z.a+~"),
    ],
)
def test_parse_fields(text: str, epoch: int, upstream: str, revision: str) -> None:
    version = parse_version(text)
    assert (version.epoch, version.upstream, version.revision) == (epoch, upstream, revision)
    assert str(version) == text.strip(" \t")


def test_equal_versions_keep_their_own_spelling() -> None:
    spellings = ["1.0", "0:1.0", "1.0-0", "1.00", "00:1.000-00"]
    versions = [parse_version(s) for s in spellings]
    assert len(set(versions)) == 1
    assert [str(v) for v in versions] == spellings
    assert DebVersion(1, "2.0", "3") == parse_version("1:2.0-3")
    assert str(DebVersion(1, "2.0", "3")) == "1:2.0-3"
    assert str(DebVersion(0, "2.0", "")) == "2.0"
    assert DebVersion(0, "1", "").__eq__("1") is NotImplemented


# (text, reason fragment); every one of them dpkg --validate-version refuses too
INVALID_CASES = [
    ("", "empty"),
    ("   ", "empty"),
    ("1 0", "whitespace"),
    ("1.0 -1", "whitespace"),
    ("1.0\n", "whitespace"),
    ("1.0\x0b", "whitespace"),
    (":1.0", "epoch before ':' is empty"),
    ("a:1.0", "not a number"),
    ("1a:1.0", "not a number"),
    ("-1:1.0", "not a number"),
    ("2147483648:1", "too big"),
    ("99999999999999999999:1", "too big"),
    ("1:", "nothing follows"),
    ("1.0-", "revision after the last '-' is empty"),
    ("-1", "upstream version is empty"),
    ("1:-1", "upstream version is empty"),
    ("a1.0", "must start with a digit"),
    ("~1", "must start with a digit"),
    (".1", "must start with a digit"),
    ("1:a", "must start with a digit"),
    ("<unknown>", "must start with a digit"),
    ("1.0_1", "upstream version may hold only"),
    ("1.0/1", "upstream version may hold only"),
    ("1.0é", "upstream version may hold only"),
    ("1٣", "upstream version may hold only"),  # a non-ASCII digit
    ("1.0-1_2", "revision may hold only"),
    ("1.0-1:2", "not a number"),  # the first ":" ends the epoch "1.0-1"
    ("1.0-a:b", "not a number"),
    ("1:1.0-1:2", "revision may hold only"),
    ("1.0-1/2", "revision may hold only"),
    ("1.0-é", "revision may hold only"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID_CASES)
def test_invalid_versions_are_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidVersion) as info:
        parse_version(text)
    assert reason in info.value.reason
    assert info.value.version == text
    assert repr(text) in str(info.value)
    with pytest.raises(InvalidVersion):
        version_key(text)
    assert isinstance(info.value, ValueError)


@needs_dpkg
def test_dpkg_refuses_the_invalid_table_too() -> None:
    texts = [text for text, _ in INVALID_CASES]
    assert dpkg_valid(texts) == [False] * len(texts)


@needs_dpkg
def test_dpkg_accepts_the_valid_table() -> None:
    texts = sorted({v for a, b, _ in ORDER_CASES for v in (a, b)})
    assert dpkg_valid(texts) == [True] * len(texts)


@pytest.mark.parametrize("text", ["+1:2", "-0:2", "\n1:2", " +0:1.0", "\x0c1:2"])
def test_strtol_epochs_are_refused_although_dpkg_takes_them(text: str) -> None:
    """dpkg parses the epoch with strtol (a sign and leading whitespace pass); apt
    compares epochs as strings and orders ``+1`` after ``1``: lockpin refuses them."""
    assert strtol_epoch(text)
    with pytest.raises(InvalidVersion):
        parse_version(text)


@needs_dpkg
def test_dpkg_does_take_strtol_epochs() -> None:
    assert dpkg_valid(["+1:2", "-0:2", "\n1:2"]) == [True, True, True]
    # ... and reads "+1" as 1, where apt (apt_pkg.version_compare) puts "+1:2" after "1:2"
    assert dpkg_compare([("+1:2", "1:2")]) == [0]


# ---------------------------------------------------------------------------
# satisfies


@pytest.mark.parametrize(
    ("version", "op", "wanted", "expected"),
    [
        ("1.0", "<<", "1.1", True),
        ("1.1", "<<", "1.1", False),
        ("1.0", "<=", "1.0", True),
        ("1.0", "<", "1.0", True),  # deprecated spelling of <=
        ("1.1", "<", "1.0", False),
        ("1.0", "=", "1.00", True),
        ("1.0", "=", "1.0-1", False),
        ("1.0", ">=", "1.0", True),
        ("1.0", ">", "1.0", True),  # deprecated spelling of >=
        ("0.9", ">", "1.0", False),
        ("1.0", ">>", "1.0", False),
        ("1.0+b1", ">>", "1.0", True),
        ("1.0~rc1", ">=", "1.0", False),
        ("1:0.1", ">=", "9.9", True),
    ],
)
def test_satisfies(version: str, op: str, wanted: str, expected: bool) -> None:
    assert satisfies(version, op, wanted) is expected


@pytest.mark.parametrize("op", ["==", "!=", "lt", "", "=>"])
def test_satisfies_refuses_unknown_operators(op: str) -> None:
    with pytest.raises(ValueError, match="unknown relation operator"):
        satisfies("1.0", op, "1.0")


# ---------------------------------------------------------------------------
# hypothesis against the real dpkg

_ALNUM_PIECES = st.sampled_from(
    ["0", "1", "2", "9", "00", "01", "10", "99", "007", "a", "b", "z", "A", "Z", "rc", "dfsg"]
)
_SEPARATORS = st.sampled_from([".", "+", "~", "~~", "", "-", ".~", "+~", "~a"])


@st.composite
def _version_part(draw: st.DrawFn, *, hyphen: bool, colon: bool) -> str:
    """An upstream or revision: pieces that collide often (small alphabet)."""
    pieces = draw(st.lists(st.tuples(_SEPARATORS, _ALNUM_PIECES), max_size=5))
    text = "".join(sep + piece for sep, piece in pieces)
    if not hyphen:
        text = text.replace("-", ".")
    if colon and draw(st.booleans()):
        text += ":" + draw(_ALNUM_PIECES)
    return text


@st.composite
def valid_versions(draw: st.DrawFn) -> str:
    epoch = draw(st.sampled_from(["", "", "", "0:", "1:", "2:", "01:", "10:", "2147483647:"]))
    upstream = draw(st.sampled_from("0123456789")) + draw(
        _version_part(hyphen=True, colon=bool(epoch))
    )
    revision = draw(st.one_of(st.just(""), _version_part(hyphen=False, colon=False)))
    if revision or upstream.endswith("-") or "-" in upstream:
        # a version whose upstream holds "-" needs a revision (the last "-" splits)
        revision = revision.lstrip("-") or draw(_ALNUM_PIECES)
        return f"{epoch}{upstream}-{revision}"
    return f"{epoch}{upstream}"


_REALISTIC = st.sampled_from(
    [
        "1.0",
        "1.0-1",
        "1:2.39.5-0+deb12u2",
        "2.36-9+deb12u4",
        "7.88.1-10+deb12u12",
        "1.0~rc1-1",
        "3.0.11-1~deb12u2",
        "0.0~git20230101.abc1-1",
        "1.2.13.dfsg-1",
        "20230311",
        "2:8.2.3995-1ubuntu2.15",
        "1.0+b1",
    ]
)
_ANY_VALID = st.one_of(valid_versions(), _REALISTIC)

# each example costs a few dpkg processes (~4 ms each): keep the whole module fast
DIFFERENTIAL = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SMALLER = settings(DIFFERENTIAL, max_examples=150)


def test_the_strategy_makes_valid_versions() -> None:
    """The generator is itself checked (a strategy of invalid versions would make
    the differential below vacuous)."""

    @settings(max_examples=200, deadline=None)
    @given(_ANY_VALID)
    def check(version: str) -> None:
        assert lockpin_valid(version), version

    check()


@needs_dpkg
@DIFFERENTIAL
@given(st.lists(st.tuples(_ANY_VALID, _ANY_VALID), min_size=1, max_size=3))
def test_order_agrees_with_dpkg(pairs: list[tuple[str, str]]) -> None:
    mine = [compare_versions(a, b) for a, b in pairs]
    assert mine == dpkg_compare(pairs), pairs


@needs_dpkg
@SMALLER
@given(st.lists(_ANY_VALID, min_size=2, max_size=5))
def test_sorted_order_agrees_with_dpkg(versions: list[str]) -> None:
    """Sorting by the key puts every neighbour in dpkg's order (lt or eq)."""
    ordered = sorted(versions, key=version_key)
    neighbours = list(itertools.pairwise(ordered))
    assert all(answer <= 0 for answer in dpkg_compare(neighbours)), ordered


# nasty text: the characters that matter to the rules, and some that must not pass
_NASTY = st.text(alphabet=st.sampled_from([*"0123456789azAZ.+~-:_ \t\n/é!", "٣"]), max_size=10)


@needs_dpkg
@SMALLER
@given(st.lists(st.one_of(_NASTY, _ANY_VALID), min_size=1, max_size=8))
def test_validity_agrees_with_dpkg(texts: list[str]) -> None:
    """lockpin accepts exactly what ``dpkg --validate-version`` accepts, bar the
    strtol epochs (refused on purpose, test above)."""
    answers = dpkg_valid(texts)
    for text, dpkg_ok in zip(texts, answers, strict=True):
        if strtol_epoch(text):
            assert not lockpin_valid(text), text
        else:
            assert lockpin_valid(text) == dpkg_ok, (text, dpkg_ok)
