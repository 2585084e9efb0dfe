"""The relation parser (lockpin.apt.relation): tables of Policy 7.1's syntax and of
the errors, and python-debian's ``PkgRelation.parse_relations`` as an oracle on
generated fields."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockpin.apt.relation import (
    Relation,
    RelationError,
    Relations,
    format_relations,
    parse_provides,
    parse_relation,
    parse_relations,
)

debian_deb822 = pytest.importorskip("debian.deb822")

R = Relation

# ---------------------------------------------------------------------------
# tables


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("  \n ", ()),
        ("libc6", ((R("libc6"),),)),
        ("libc6 (>= 2.36)", ((R("libc6", ">=", "2.36"),),)),
        (
            "a0 (<< 1), b0 (<= 1), c0 (= 1), d0 (>= 1), e0 (>> 1)",
            (
                (R("a0", "<<", "1"),),
                (R("b0", "<=", "1"),),
                (R("c0", "=", "1"),),
                (R("d0", ">=", "1"),),
                (R("e0", ">>", "1"),),
            ),
        ),
        # the deprecated < and > mean <= and >=
        ("aa (< 1.0), bb (> 2:1.0-1)", ((R("aa", "<=", "1.0"),), (R("bb", ">=", "2:1.0-1"),))),
        # whitespace: none, several, newlines (folded fields), tabs
        ("aa(>=1)", ((R("aa", ">=", "1"),),)),
        ("aa ( >=  1 )", ((R("aa", ">=", "1"),),)),
        ("aa\n (>=\n 1),\n bb\n |\n cc", ((R("aa", ">=", "1"),), (R("bb"), R("cc")))),
        ("\taa\t(>=\t1)\t", ((R("aa", ">=", "1"),),)),
        # alternatives
        (
            "aa | bb (>= 2) | cc:any",
            ((R("aa"), R("bb", ">=", "2"), R("cc", arch_qualifier="any")),),
        ),
        # architecture qualifiers
        ("python3:any (>= 3.11)", ((R("python3", ">=", "3.11", "any"),),)),
        ("gcc-12:native", ((R("gcc-12", arch_qualifier="native"),),)),
        ("libfoo1:amd64", ((R("libfoo1", arch_qualifier="amd64"),),)),
        # architecture lists (source relations)
        ("aa [amd64 !i386]", ((R("aa", arches=("amd64", "!i386")),),)),
        ("aa (>= 1) [linux-any]", ((R("aa", ">=", "1", arches=("linux-any",)),),)),
        ("aa [\n amd64\n arm64 ]", ((R("aa", arches=("amd64", "arm64")),),)),
        # build profiles: checked, then dropped
        ("aa <!nocheck>", ((R("aa"),),)),
        (
            "aa (>= 1) [amd64] <!nocheck> <cross !stage1>",
            ((R("aa", ">=", "1", arches=("amd64",)),),),
        ),
        ("aa <pkg.foo.bar>", ((R("aa"),),)),
        # empty groups are skipped, as dpkg-dev does
        ("aa,", ((R("aa"),),)),
        ("aa, , bb,,", ((R("aa"),), (R("bb"),))),
        (",aa", ((R("aa"),),)),
        # names: Policy's characters
        ("g++-12, lib.x+y-z, 0ad", ((R("g++-12"),), (R("lib.x+y-z"),), (R("0ad"),))),
        # versions with epochs, tildes, hyphens in upstream
        ("aa (>= 1:2.3~rc1-4-5+b1)", ((R("aa", ">=", "1:2.3~rc1-4-5+b1"),),)),
    ],
)
def test_parse_relations(text: str, expected: Relations) -> None:
    assert parse_relations(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment", "reason"),
    [
        ("aa | | bb", "aa | | bb", "empty alternative"),
        ("aa |", "aa |", "empty alternative"),
        ("| aa", "| aa", "empty alternative"),
        ("Foo", "Foo", "invalid package name 'Foo'"),
        ("a", "a", "invalid package name 'a'"),  # Policy: at least two characters
        ("a_b", "a_b", "invalid package name 'a_b'"),
        ("-aa", "-aa", "invalid package name '-aa'"),
        ("(>= 1)", "(>= 1)", "no package name"),
        ("aa (1.0)", "aa (1.0)", "expected a version restriction"),
        ("aa (== 1.0)", "aa (== 1.0)", "expected a version restriction"),
        ("aa (=> 1.0)", "aa (=> 1.0)", "expected a version restriction"),
        ("aa (>= )", "aa (>= )", "expected a version restriction"),
        ("aa (>= 1.0", "aa (>= 1.0", "expected a version restriction"),
        ("aa (>= 1 2)", "aa (>= 1 2)", "expected a version restriction"),
        ("aa (>= a1)", "aa (>= a1)", "must start with a digit (version 'a1')"),
        ("aa (>= 1_0)", "aa (>= 1_0)", "may hold only"),
        ("aa (>= 1:)", "aa (>= 1:)", "nothing follows"),
        ("aa []", "aa []", "empty architecture list"),
        ("aa [AMD64]", "aa [AMD64]", "invalid architecture 'AMD64'"),
        ("aa [amd64,i386]", "aa [amd64", "unexpected text"),  # "," ends the group
        ("aa <>", "aa <>", "empty build profile list"),
        ("aa <No>", "aa <No>", "invalid build profile 'No'"),
        ("aa:", "aa:", "unexpected text after the package name"),
        ("aa:any:amd64", "aa:any:amd64", "unexpected text after the package name"),
        ("aa :any", "aa :any", "unexpected text after the package name"),
        ("aa bb", "aa bb", "unexpected text after the package name"),
        ("aa <!nocheck> [amd64]", "aa <!nocheck> [amd64]", "unexpected text"),
        ("aa, bb (>= x)", "bb (>= x)", "must start with a digit"),
    ],
)
def test_parse_relations_errors(text: str, fragment: str, reason: str) -> None:
    with pytest.raises(RelationError) as info:
        parse_relations(text)
    assert info.value.text == fragment
    assert reason in info.value.reason
    assert str(info.value) == f"invalid relation {fragment!r}: {info.value.reason}"
    assert isinstance(info.value, ValueError)


def test_parse_relation_is_one_alternative() -> None:
    assert parse_relation(" libc6 (>= 2.36) ") == R("libc6", ">=", "2.36")
    assert parse_relation("python3:any") == R("python3", arch_qualifier="any")
    with pytest.raises(RelationError, match="unexpected text"):
        parse_relation("aa, bb")
    with pytest.raises(RelationError, match="unexpected text"):
        parse_relation("aa | bb")
    with pytest.raises(RelationError, match="empty alternative"):
        parse_relation("  ")


def test_errors_are_not_remembered_as_relations() -> None:
    for _ in range(2):
        with pytest.raises(RelationError):
            parse_relations("aa (>= x)")
        with pytest.raises(RelationError):
            parse_relation("Bad")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("mail-transport-agent", (R("mail-transport-agent"),)),
        ("aa, bb (= 1.0-1), cc (=1:2)", (R("aa"), R("bb", "=", "1.0-1"), R("cc", "=", "1:2"))),
        ("aa,\n bb,", (R("aa"), R("bb"))),
        (" , aa , ", (R("aa"),)),
    ],
)
def test_parse_provides(text: str, expected: tuple[Relation, ...]) -> None:
    assert parse_provides(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("aa | bb", "no alternatives"),
        ("aa (>= 1)", "only '(= version)'"),
        ("aa (<< 1)", "only '(= version)'"),
        ("aa:any", "no architecture qualifier or list"),
        ("aa [amd64]", "no architecture qualifier or list"),
        ("Aa", "invalid package name"),
        ("aa (= x)", "must start with a digit"),
    ],
)
def test_parse_provides_errors(text: str, reason: str) -> None:
    with pytest.raises(RelationError) as info:
        parse_provides(text)
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("relation", "text"),
    [
        (R("aa"), "aa"),
        (R("aa", ">=", "1"), "aa (>= 1)"),
        (R("aa", arch_qualifier="any"), "aa:any"),
        (R("aa", "<<", "2", "native", ("amd64", "!i386")), "aa:native (<< 2) [amd64 !i386]"),
    ],
)
def test_relation_str(relation: Relation, text: str) -> None:
    assert str(relation) == text
    assert parse_relation(text) == relation


def test_format_relations() -> None:
    rels = parse_relations("aa (>= 1) | bb:any,\n cc [amd64] <!nocheck>, dd")
    assert format_relations(rels) == "aa (>= 1) | bb:any, cc [amd64], dd"
    assert format_relations(()) == ""


# ---------------------------------------------------------------------------
# python-debian as the oracle, on generated fields

_WS = st.sampled_from(["", "", " ", "  ", "\n ", "\t", " \n\t"])
_SOME_WS = st.sampled_from([" ", "  ", "\n ", "\t"])
# python-debian reads a profile list with "<.+>", which stops at a newline
_LINE_WS = st.sampled_from([" ", "  ", "\t"])
_LINE_WS0 = st.sampled_from(["", " ", "\t"])
_NAME = st.from_regex(r"[a-z0-9][a-z0-9+.-]{1,10}", fullmatch=True)
_VERSION = st.one_of(
    st.from_regex(r"([0-9]{1,3}:)?[0-9][0-9a-zA-Z.+~]{0,6}(-[0-9a-zA-Z.+~]{1,5})?", fullmatch=True),
    st.sampled_from(["1:2.39.5-0+deb12u2", "2.36~", "1.0-1-1", "1:2:3"]),
)
_OP = st.sampled_from(["<<", "<=", "=", ">=", ">>", "<", ">"])
_ARCH = st.sampled_from(["amd64", "!i386", "linux-any", "any-arm64", "!hurd-any", "arm64"])
_PROFILE = st.sampled_from(["nocheck", "!nocheck", "cross", "!stage1", "pkg.foo.bar"])


@st.composite
def alternatives(draw: st.DrawFn) -> str:
    text = draw(_NAME)
    if draw(st.booleans()):
        text += ":" + draw(st.sampled_from(["any", "native", "amd64", "i386"]))
    if draw(st.booleans()):
        text += f"{draw(_WS)}({draw(_WS)}{draw(_OP)}{draw(_WS)}{draw(_VERSION)}{draw(_WS)})"
    if draw(st.integers(0, 3)) == 0:
        arches = draw(st.lists(_ARCH, min_size=1, max_size=3))
        text += f"{draw(_WS)}[{draw(_WS)}{draw(_SOME_WS).join(arches)}{draw(_WS)}]"
    for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0):
        profiles = draw(st.lists(_PROFILE, min_size=1, max_size=2))
        text += f"{draw(_LINE_WS0)}<{draw(_LINE_WS).join(profiles)}>"
    return draw(_WS) + text + draw(_WS)


@st.composite
def relation_fields(draw: st.DrawFn) -> str:
    groups = draw(
        st.lists(st.lists(alternatives(), min_size=1, max_size=3), min_size=1, max_size=4)
    )
    text = ",".join("|".join(group) for group in groups)
    if draw(st.integers(0, 5)) == 0:
        text += "," + draw(_WS)  # a trailing comma: an empty group
    return text


def python_debian(text: str) -> tuple[tuple[tuple[object, ...], ...], ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = debian_deb822.PkgRelation.parse_relations(text)
    out = []
    for group in parsed:
        alts = []
        for rel in group:
            if not rel["name"]:
                continue  # python-debian's entry for an empty group
            op, version = rel["version"] or ("", None)
            op = {"<": "<=", ">": ">=", "": None}.get(op, op)
            arches = tuple(("" if a.enabled else "!") + a.arch for a in rel["arch"] or ())
            alts.append((rel["name"], rel["archqual"], op, version, arches))
        if alts:
            out.append(tuple(alts))
    return tuple(out)


def as_tuples(rels: Relations) -> tuple[tuple[tuple[object, ...], ...], ...]:
    return tuple(
        tuple((r.name, r.arch_qualifier, r.op, r.version, r.arches) for r in group)
        for group in rels
    )


ORACLE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ORACLE
@given(relation_fields())
def test_agrees_with_python_debian(text: str) -> None:
    assert as_tuples(parse_relations(text)) == python_debian(text)


@settings(ORACLE, max_examples=100)
@given(relation_fields())
def test_format_relations_round_trips(text: str) -> None:
    rels = parse_relations(text)
    assert parse_relations(format_relations(rels)) == rels


@settings(ORACLE, max_examples=150)
@given(st.lists(_NAME, min_size=1, max_size=4), st.lists(_VERSION, max_size=4), _WS)
def test_provides_agrees_with_python_debian(names: list[str], versions: list[str], ws: str) -> None:
    items = [
        f"{name}{ws}(={ws}{versions[i]})" if i < len(versions) else name
        for i, name in enumerate(names)
    ]
    text = f",{ws}".join(items)
    assert tuple((r,) for r in parse_provides(text)) == parse_relations(text)
    assert as_tuples(tuple((r,) for r in parse_provides(text))) == python_debian(text)
