"""The Dockerfile parser and rewriter fuzzed with hypothesis, from the real corpus
(tests/data/dockerfiles: 59 files from 30 repositories) mutated.

Properties, on every mutated file (also turned to CRLF, given a BOM, an escape
directive, odd unicode): :func:`parse` returns a :class:`Dockerfile` or raises
:class:`DockerfileError` naming ``FILE:LINE`` inside the file, nothing else;
``parse -> write`` is the identity; the pieces tile the text in order;
:func:`from_images` and :func:`global_args` only raise lockpin's errors. Pinning
(:func:`pin_text` with an in-memory resolver) changes only the image text of the
``FROM`` (or ``ARG`` default) lines it reports, keeps every other byte, and is
idempotent. A 50 MB single-line Dockerfile is refused by the CLI with a clear
error in bounded memory.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_strategies import DOCKERFILE_CORPUS, FUZZ, attempt, mutated, note, peak_rss_mib
from lockpin.errors import DockerfileError, InputError, LockpinError
from lockpin.image.check import check
from lockpin.image.dockerfile import Dockerfile, expand, from_images, global_args, parse
from lockpin.image.pin import Change, pin_text
from support import run_cli

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

SMALL = (
    "FROM python:3.12-slim AS base\nRUN echo hi\n",
    "# syntax=docker/dockerfile:1\n# escape=`\nFROM alpine `\n  AS a\nRUN <<EOF\necho\nEOF\n",
    "ARG BASE=python:3.12\nFROM ${BASE}\nFROM base AS b\nCOPY --from=0 /a /b\n",
    "\ufefffrom --platform=$BUILDPLATFORM golang:1.22@sha256:"
    + "a" * 64
    + " as build\r\nRUN go build \\\r\n  ./...\r\n",
    'FROM scratch\nLABEL a="b c" \\\n  d=e\nCMD ["x", "y"]\nONBUILD RUN <<-X\n\tbody\n\tX\n',
)
SEEDS = SMALL + DOCKERFILE_CORPUS


class NoFiles:
    """An empty build context (the checks' Context protocol)."""

    def read(self, path: str) -> bytes | None:
        return None


class Fake:
    """Resolves every reference to a digest of its text (no network)."""

    def resolve(self, reference: str, platforms: Sequence[str]) -> str:
        return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


@st.composite
def dockerfiles(draw: st.DrawFn) -> str:
    text = draw(mutated(SEEDS, max_mutations=5))
    if draw(st.integers(0, 4)) == 0:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if draw(st.integers(0, 6)) == 0:
        text = "\ufeff" + text
    if draw(st.integers(0, 6)) == 0:
        text = "# escape=`\n" + text.replace("\\\n", "`\n")
    return text


def _lines(text: str) -> int:
    return text.count("\n") + 1


def _parsed(text: str) -> Dockerfile | None:
    df = attempt(lambda: parse(text, filename="Dockerfile"), DockerfileError)
    if isinstance(df, DockerfileError):
        note("refused")
        assert df.location == f"Dockerfile:{df.line}"
        assert 1 <= df.line <= _lines(text) + 1, (df.line, _lines(text))
        return None
    assert isinstance(df, Dockerfile)
    note("parsed")
    assert df.write() == text
    pos = 0
    for piece in df.pieces:
        assert piece.start == pos
        assert piece.end >= piece.start
        pos = piece.end
    assert pos == len(text)
    for instruction in df.instructions:
        assert 1 <= instruction.line <= instruction.end_line <= _lines(text)
    return df


@settings(FUZZ, max_examples=400)
@given(dockerfiles())
def test_mutated_dockerfiles_round_trip_or_raise_dockerfile_error(text: str) -> None:
    df = _parsed(text)
    if df is None:
        return
    bases = attempt(lambda: (global_args(df, {}), from_images(df, {"X": "y"}))[1], DockerfileError)
    if isinstance(bases, Exception):
        note("from_images refused")
        return
    for base in bases:
        assert base.kind in ("image", "stage", "scratch", "unresolved")
    # the checks (`lockpin dockerfile check`) over the same file, with an empty
    # build context: findings, never a crash
    findings = check(df, NoFiles())
    note(f"{len(findings)} findings" if len(findings) < 3 else "3+ findings")
    for finding in findings:
        assert 1 <= finding.line <= _lines(text), finding


def _changed_only_images(before: str, after: str, changes: Sequence[Change]) -> None:
    """Every line not reported is byte-for-byte the same; a reported line differs
    only by its reference (old -> new), replaced at one place."""
    # lines as BuildKit counts them: at "\n" only (str.splitlines also splits at
    # form feeds and U+2028)
    old_lines = before.split("\n")
    new_lines = after.split("\n")
    assert len(old_lines) == len(new_lines)
    edited = {c.line: c for c in changes}
    for number, (old, new) in enumerate(zip(old_lines, new_lines, strict=True), start=1):
        change = edited.get(number)
        if change is None:
            assert old == new, number
            continue
        spots = [
            i
            for i in range(len(old))
            if old.startswith(change.old, i)
            and old[:i] + change.new + old[i + len(change.old) :] == new
        ]
        assert spots, (number, old, new)


@settings(FUZZ, max_examples=250)
@given(dockerfiles())
def test_pinning_changes_only_the_image_text_and_is_idempotent(text: str) -> None:
    result = attempt(lambda: pin_text(text, resolver=Fake()), LockpinError)
    if isinstance(result, Exception):
        note(f"pin refused: {type(result).__name__}")
        assert isinstance(result, InputError), result  # DockerfileError is one
        assert str(result)
        return
    assert result.original == text
    _changed_only_images(text, result.text, result.changes)
    note("pinned" if result.changes else "nothing to pin")
    assert parse(result.text).write() == result.text
    again = pin_text(result.text, resolver=Fake())
    assert again.text == result.text
    assert not again.changes


_SOUP = st.sampled_from(
    [
        "FROM a",
        "\n",
        "\r\n",
        "\r",
        "\\",
        "`",
        "# escape=`",
        "#",
        "<<E",
        "<<-E",
        "E",
        " ",
        "RUN x",
        "ARG A=b",
        "FROM $A",
        "\ufeff",
        "\t",
        '"',
        "'",
        "=",
        "[",
        "]",
    ]
)


@settings(FUZZ, max_examples=300)
@given(st.lists(_SOUP, max_size=30))
def test_dockerfile_token_soup_round_trips(tokens: list[str]) -> None:
    _parsed("".join(tokens))
    _parsed("FROM a\n" + "".join(tokens))


@settings(FUZZ, max_examples=200)
@given(st.text(max_size=200))
def test_any_unicode_round_trips(text: str) -> None:
    _parsed(text)
    _parsed("FROM a\n" + text)


# -- bounded memory -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_50_mb_dockerfile_line_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    with path.open("wb") as fh:
        fh.write(b"FROM python:3.12\nRUN echo ")
        fh.write(b"x" * 50_000_000)
        fh.write(b"\n")
    before = path.read_bytes()
    peak, out = peak_rss_mib(
        f"""
        import contextlib, io, sys
        from lockpin.cli import main
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(["dockerfile", "pin", "--offline", {str(path)!r}])
            except SystemExit as exc:
                code = exc.code
        print("CODE", code)
        print(err.getvalue()[:2000])
        """
    )
    assert "CODE 2" in out, out
    assert str(path) in out, out
    assert "16 MiB" in out, out
    assert "Traceback" not in out
    assert path.read_bytes() == before
    assert peak < 400, f"peak {peak:.0f} MiB"


@pytest.mark.slow
def test_a_50_mb_line_given_as_text_is_parsed_in_bounded_memory() -> None:
    """The library reads what it is given (the 16 MiB cap is the file reader's):
    one 50 MB line still parses, and round-trips, in bounded memory."""
    peak, out = peak_rss_mib(
        """
        from lockpin.image.dockerfile import parse
        text = "FROM python:3.12\\nRUN echo " + "x" * 50_000_000 + "\\n"
        df = parse(text)
        print("OK", df.write() == text, len(df.instructions))
        """
    )
    assert "OK True 2" in out, out
    assert peak < 400, f"peak {peak:.0f} MiB"


def test_corpus_is_there() -> None:
    """The seeds are the real corpus, not an empty list (a fuzz run over nothing
    would pass)."""
    assert len(DOCKERFILE_CORPUS) >= 50
    assert all(parse(text).write() == text for text in DOCKERFILE_CORPUS)


# -- word expansion: hostile ARG and FROM values ---------------------------------------------------


def _reference_trim(value: str, pattern: str, *, greedy: bool, suffix: bool) -> str:
    """The shell's rule, written the slow obvious way: try every prefix (suffix)."""
    tokens = re.findall(r"\\.|.", pattern, re.DOTALL)
    regex = re.compile(
        "".join(
            re.escape(t[1:])
            if t.startswith("\\")
            else ".*"
            if t == "*"
            else "."
            if t == "?"
            else re.escape(t)
            for t in tokens
        ),
        re.DOTALL,
    )
    n = len(value)
    for k in range(n, -1, -1) if greedy else range(n + 1):
        part = value[n - k :] if suffix else value[:k]
        if regex.fullmatch(part):
            return value[: n - k] if suffix else value[k:]
    return value


@settings(FUZZ, max_examples=500)
@given(
    st.text("ab.", max_size=12),
    st.lists(st.sampled_from(["a", "b", ".", "*", "?", "\\*", "\\?", "\\\\"]), max_size=6).map(
        "".join
    ),
    st.sampled_from(["#", "##", "%", "%%"]),
)
def test_prefix_and_suffix_trims_match_the_shell_rule(value: str, pattern: str, op: str) -> None:
    got = expand(f"${{v{op}{pattern}}}", {"v": value}).text
    want = _reference_trim(value, pattern, greedy=len(op) == 2, suffix=op[0] == "%")
    assert got == want, (value, pattern, op)


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        (
            "ARG A0=x\n"
            + "".join(f"ARG A{i}=${{A{i - 1}}}${{A{i - 1}}}\n" for i in range(1, 40))
            + "FROM $A39\n",
            None,
            "grow past 64 MiB",
        ),
        ("ARG A=" + "x" * 9000 + "\nARG B=${A//?/$A}\nFROM $B\n", 2, "grow past 64 MiB"),
        ("ARG A=" + "${a:-" * 100 + "x" + "}" * 100 + "\nFROM $A\n", 1, "nested deeper than 64"),
        ("ARG A=" + "a" * 3000 + "c\nARG B=${A/" + "*a" * 8 + "/b}\nFROM $B\n", 2, "too costly"),
    ],
    ids=["billion-laughs", "replace-each-char", "nesting", "backtracking-pattern"],
)
def test_hostile_expansions_are_refused_naming_the_line(
    text: str, line: int | None, match: str
) -> None:
    df = parse(text)
    with pytest.raises(DockerfileError, match=match) as caught:
        from_images(df)
    if line is not None:
        assert caught.value.line == line
    assert len(str(caught.value)) < 600


def test_a_shell_pattern_over_a_long_value_is_linear() -> None:
    """``${A##*b}`` over 20k characters and a 30-star pattern over 3k used to be a
    backtracking regex tried on every prefix (minutes to hours)."""
    assert expand("${a##*b}", {"a": "x" * 20_000}).text == "x" * 20_000
    assert expand("${a#" + "*" * 30 + "b}", {"a": "x" * 3_000}).text == "x" * 3_000
    stage = "a" * 3000
    df = parse(f"FROM alpine AS {stage}\nFROM " + "a${X}" * 40 + "b\n")
    assert [b.kind for b in from_images(df)] == ["image", "unresolved"]


@pytest.mark.parametrize("command", [["dockerfile", "check"], ["dockerfile", "pin", "--offline"]])
def test_the_cli_refuses_a_billion_laughs_dockerfile_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = tmp_path / "Dockerfile"
    lines = [f"ARG A{i}=${{A{i - 1}}}${{A{i - 1}}}\n" for i in range(1, 40)]
    path.write_text("ARG A0=x\n" + "".join(lines) + "FROM $A39\n")
    before = path.read_bytes()
    run = run_cli(capsys, *command, str(path))
    assert run.code == 2, run
    assert f"{path}:27" in run.err, run.err
    assert "grow past 64 MiB" in run.err
    assert "Traceback" not in run.err
    assert len(run.err) < 2000
    assert path.read_bytes() == before
