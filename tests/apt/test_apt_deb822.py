"""The deb822 parser (lockpin.apt.deb822): the rules of its module docstring as
tables, and python-debian's parser as an oracle on generated stanzas, on the
fixture archive's ``Packages`` files and (``-m network``) on Debian bookworm's
main/amd64 ``Packages``.

python-debian keeps a multi-line value's continuation lines raw; :func:`debian_value`
applies lockpin's documented rules to them (one leading whitespace character
removed, trailing whitespace stripped, ``.`` for an empty line) so the two can be
compared field by field.
"""

from __future__ import annotations

import lzma
import urllib.request
import warnings
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockpin.apt.deb822 import Deb822Error, field_of, iter_stanzas, parse_stanza, stanza_spans

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fixtures.apt_archive import ServedArchive

debian_deb822 = pytest.importorskip("debian.deb822")


def debian_value(raw: str) -> str:
    first, *rest = raw.split("\n")
    lines = [first.strip(" \t")]
    for raw_line in rest:
        line = raw_line[1:].rstrip(" \t")
        lines.append("" if line == "." else line)
    return "\n".join(lines)


def debian_stanzas(text: str) -> list[dict[str, str]]:
    """python-debian's paragraphs of ``text``, names lower-cased, values by the rules."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paragraphs = debian_deb822.Deb822.iter_paragraphs(
            text.splitlines(keepends=True), use_apt_pkg=False
        )
        return [{k.lower(): debian_value(v) for k, v in p.items()} for p in paragraphs]


def assert_field_of_agrees(text: str, names: Iterable[str]) -> None:
    """field_of on every span gives what parse_stanza gives, for every name asked
    (in several spellings) and for one that is absent."""
    for start, end in stanza_spans(text):
        stanza = parse_stanza(text[start:end])
        for name in [*names, "X-Absent-Field"]:
            for spelling in {name, name.lower(), name.upper(), name.title()}:
                assert field_of(text, start, end, spelling) == stanza.get(name.lower()), (
                    spelling,
                    text[start:end],
                )


# ---------------------------------------------------------------------------
# the rules, one table each


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Package: a\n", {"package": "a"}),
        (
            "PACKAGE: a\nPre-Depends: b\nSHA256: c\n",
            {"package": "a", "pre-depends": "b", "sha256": "c"},
        ),
        ("Package:a", {"package": "a"}),
        ("Package:   a  \t\n", {"package": "a"}),
        ("Empty:\nOther:  \n", {"empty": "", "other": ""}),
        ("Key: a: b: c\n", {"key": "a: b: c"}),
        ("Key: #not a comment\n", {"key": "#not a comment"}),
        # continuations: one leading whitespace character off, trailing off, "." empty
        (
            "D: short\n long\n .\n  indented  \n\tafter tab\n",
            {"d": "short\nlong\n\n indented\nafter tab"},
        ),
        ("D: x\n ..\n . \n", {"d": "x\n..\n"}),
        ("SHA256:\n abc 1 a\n def 2 b\n", {"sha256": "\nabc 1 a\ndef 2 b"}),
        ("Depends: a,\n b (>= 1),\n c\n", {"depends": "a,\nb (>= 1),\nc"}),
        # comments anywhere, also inside a value
        ("# head\nA: 1\n# mid\nB: 2\n# tail\n", {"a": "1", "b": "2"}),
        ("A: x\n# inside\n y\n", {"a": "x\ny"}),
        # blank lines around the stanza
        ("\n\n \t\nA: 1\n\n\t\n", {"a": "1"}),
        ("", {}),
        ("\n \n", {}),
        ("# only a comment\n", {}),
        # names: printable ASCII without ":", not starting with "#" or "-"
        ("X-Odd!Name$%&'*: v\n", {"x-odd!name$%&'*": "v"}),
        ("a-: v\n", {"a-": "v"}),
    ],
)
def test_parse_stanza(text: str, expected: dict[str, str]) -> None:
    assert parse_stanza(text) == expected
    assert list(iter_stanzas(text)) == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("A: 1\nA: 2\n", 2, "duplicate field 'A' (first on line 1)"),
        ("Package: a\nDepends: b\npackage: c\n", 3, "duplicate field 'package' (first on line 1)"),
        ("A: 1\nno colon here\n", 2, "expected 'Field: value', got 'no colon here'"),
        (" continued\nA: 1\n", 1, "continuation line 'continued' before any field"),
        ("A: 1\n-B: 2\n", 2, "expected 'Field: value'"),
        ("A: 1\nB C: 2\n", 2, "expected 'Field: value'"),
        ("A: 1\n: 2\n", 2, "expected 'Field: value'"),
        ("A: 1\nBé: 2\n", 2, "expected 'Field: value'"),
        ("A: 1\n\nB: 2\n", 2, "blank line inside a stanza"),
        ("A: 1\n \nB: 2\n", 2, "blank line inside a stanza"),
        ("A: 1\r\nB: 2\r\n", 1, "carriage return"),
        ("A: 1\nB: 2\r\n", 2, "carriage return"),
        ("A: " + "x" * 100 + "\nbad " + "y" * 100 + "\n", 2, "..."),
    ],
)
def test_parse_stanza_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(Deb822Error) as info:
        parse_stanza(text)
    assert info.value.line == line
    assert message in info.value.message
    assert str(info.value).startswith(f"line {line}: ")


def test_first_line_shifts_error_lines() -> None:
    with pytest.raises(Deb822Error) as info:
        parse_stanza("\n\nA: 1\nA: 2\n", first_line=10)
    assert info.value.line == 13


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A: 1\n\nA: 2\n", [{"a": "1"}, {"a": "2"}]),
        ("A: 1\n\n\n\nA: 2", [{"a": "1"}, {"a": "2"}]),
        ("A: 1\n \nA: 2\n", [{"a": "1"}, {"a": "2"}]),
        ("A: 1\n\t\n  \n\nA: 2\n\n", [{"a": "1"}, {"a": "2"}]),
        ("\n\nA: 1\nB: x\n y\n\n", [{"a": "1", "b": "x\ny"}]),
        ("A: 1\n\n# a comment stanza\n\nA: 2\n", [{"a": "1"}, {"a": "2"}]),
        ("A: 1\n\n# comment\nA: 2\n", [{"a": "1"}, {"a": "2"}]),
        ("A: x\n y\n \nB: 2", [{"a": "x\ny"}, {"b": "2"}]),  # a whitespace line ends it
        ("", []),
        ("\n\n", []),
    ],
)
def test_iter_stanzas(text: str, expected: list[dict[str, str]]) -> None:
    assert list(iter_stanzas(text)) == expected
    spans = list(stanza_spans(text))
    assert [parse_stanza(text[s:e]) for s, e in spans if parse_stanza(text[s:e])] == expected
    for start, end in spans:
        assert text[start : end - 1].strip() != ""  # no span of blanks only
        assert start == 0 or text[start - 1] == "\n"


def test_iter_stanzas_errors_name_the_line_of_the_file() -> None:
    text = "A: 1\n\nB: 2\nC: 3\n\nD: 4\nbroken\n"
    with pytest.raises(Deb822Error) as info:
        list(iter_stanzas(text))
    assert info.value.line == 7
    with pytest.raises(Deb822Error) as info:
        list(iter_stanzas("A: 1\n \t\nB: 2\nB: 3\n"))
    assert info.value.line == 4
    with pytest.raises(Deb822Error) as info:
        list(iter_stanzas("A: 1\n\nB: 2\r\n"))
    assert info.value.line == 3


def test_stanza_spans_end_after_the_last_newline() -> None:
    text = "A: 1\nB: 2\n\n\nC: 3\n \nD: 4"
    assert [text[s:e] for s, e in stanza_spans(text)] == ["A: 1\nB: 2\n", "C: 3\n", "D: 4"]
    text = "A: 1\n\nC: 3\n"
    assert [text[s:e] for s, e in stanza_spans(text)] == ["A: 1\n", "C: 3\n"]


@pytest.mark.parametrize(
    "text",
    [
        "Package: a\nVersion: 1\nDepends: b,\n c\nDescription: x\n .\n y\n",
        "package: a\nVERSION: 1\n",
        "Version: 1\nPackage: a\n",
        "Package: a\nDepends: b,\n# comment\n c\n",
        "Package: a\nDepends:\n b\n \nPre-Depends: c\n",
        "Package: a\nSHA256: " + "0" * 64 + "\nMD5sum: 1\n",
        "Package: a\nX-Depends: no\nDepends: yes\n",
        "Pre-Depends: p\nDepends: d\n",
    ],
)
def test_field_of_agrees_with_parse_stanza(text: str) -> None:
    assert_field_of_agrees(
        text, ["Package", "Version", "Depends", "Pre-Depends", "Description", "SHA256", "MD5sum"]
    )


def test_field_of_on_a_span_of_a_larger_text() -> None:
    text = "Package: a\nDepends: x\n\nPackage: b\n\nPackage: c\nDepends: z\n"
    spans = list(stanza_spans(text))
    assert [field_of(text, s, e, "Depends") for s, e in spans] == ["x", None, "z"]
    assert [field_of(text, s, e, "package") for s, e in spans] == ["a", "b", "c"]


# ---------------------------------------------------------------------------
# python-debian as the oracle, on generated stanzas

_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,7}", fullmatch=True)
_PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
_CONTENT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8)
_PADDING = st.sampled_from(["", " ", "  ", "\t", " \t"])


@st.composite
def _continuation(draw: st.DrawFn) -> str:
    lead = draw(st.sampled_from([" ", "\t", "  ", " \t"]))
    body = draw(st.one_of(_CONTENT, st.just("."), st.builds("{} {}".format, _CONTENT, _CONTENT)))
    return lead + body + draw(_PADDING)


@st.composite
def stanza_texts(draw: st.DrawFn) -> str:
    names = draw(st.lists(_NAMES, min_size=1, max_size=6, unique_by=str.lower))
    lines: list[str] = []
    for name in names:
        if draw(st.integers(0, 5)) == 0:
            lines.append("#" + draw(_PRINTABLE))
        first = draw(st.one_of(st.just(""), _PRINTABLE)).strip(" \t")
        space = draw(_PADDING)
        lines.append(f"{name}:{space}{first}{draw(_PADDING) if first else ''}")
        for _ in range(draw(st.integers(0, 3))):
            if draw(st.integers(0, 7)) == 0:
                lines.append("#" + draw(_PRINTABLE))
            lines.append(draw(_continuation()))
    return "\n".join(lines)


@st.composite
def file_texts(draw: st.DrawFn) -> str:
    stanzas = draw(st.lists(stanza_texts(), min_size=1, max_size=4))
    parts = [draw(st.sampled_from(["", "\n", " \n", "\n\t\n"]))]
    for i, stanza in enumerate(stanzas):
        parts.append(stanza)
        if i < len(stanzas) - 1:
            blanks = draw(st.lists(st.sampled_from(["", " ", "\t", "  "]), min_size=1, max_size=3))
            parts.append("\n" + "".join(b + "\n" for b in blanks))
    parts.append(draw(st.sampled_from(["", "\n", "\n\n", "\n \n"])))
    return "".join(parts)


ORACLE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ORACLE
@given(file_texts())
def test_agrees_with_python_debian(text: str) -> None:
    mine = list(iter_stanzas(text))
    assert mine == debian_stanzas(text)
    assert len(mine) == len([s for s in stanza_spans(text) if parse_stanza(text[s[0] : s[1]])])


@settings(ORACLE, max_examples=150)
@given(file_texts())
def test_field_of_agrees_on_generated_files(text: str) -> None:
    names = {name for stanza in iter_stanzas(text) for name in stanza}
    assert_field_of_agrees(text, sorted(names))


# ---------------------------------------------------------------------------
# real Packages files


def test_fixture_archive_packages_agree_with_python_debian(apt_archive: ServedArchive) -> None:
    checked = 0
    for data in apt_archive.built.packages.values():
        text = data.decode()
        mine = list(iter_stanzas(text))
        assert mine == debian_stanzas(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = list(
                debian_deb822.Packages.iter_paragraphs(text.splitlines(True), use_apt_pkg=False)
            )
        assert [s["package"] for s in mine] == [p["Package"] for p in theirs]
        assert_field_of_agrees(text, ["Package", "Version", "Depends", "SHA256", "Description"])
        checked += len(mine)
    assert checked > 10


BOOKWORM_PACKAGES = "https://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz"


@pytest.mark.network
def test_bookworm_main_amd64_agrees_with_python_debian() -> None:
    with urllib.request.urlopen(BOOKWORM_PACKAGES, timeout=120) as response:
        text = lzma.decompress(response.read()).decode()
    mine = list(iter_stanzas(text))
    theirs = debian_stanzas(text)
    assert len(mine) == len(theirs) > 50_000
    different = [(m.get("package"), m, t) for m, t in zip(mine, theirs, strict=True) if m != t]
    assert different == []
    spans = list(stanza_spans(text))
    assert len(spans) == len(mine)
    for (start, end), stanza in zip(spans[::97], mine[::97], strict=True):
        for name in ("Package", "Version", "Depends", "Pre-Depends", "SHA256", "Description"):
            assert field_of(text, start, end, name) == stanza.get(name.lower())
