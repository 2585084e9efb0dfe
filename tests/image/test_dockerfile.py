"""The Dockerfile parser: BuildKit's reading of real-world shapes, exact spans, the
lossless round trip (also under hypothesis), word expansion and the errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockpin.errors import DockerfileError, InputError
from lockpin.image.dockerfile import (
    Dockerfile,
    Edit,
    ExpansionError,
    Instruction,
    Trivia,
    expand,
    from_images,
    global_args,
    global_definition,
    parse,
)

DIGEST = "sha256:" + "a" * 64


def froms(df: Dockerfile) -> list[tuple[str, str, str | None, str | None]]:
    """(image word, kind, stage name, platform flag) of every FROM."""
    return [
        (b.stage.from_args.image.text, b.kind, b.stage.name, b.stage.from_args.platform)
        for b in from_images(df)
    ]


def assert_tiles(df: Dockerfile) -> None:
    pos = 0
    for piece in df.pieces:
        assert piece.start == pos, piece
        assert piece.end > piece.start, piece
        pos = piece.end
    assert pos == len(df.text)
    assert df.write() == df.text


# -- real-world shapes ------------------------------------------------------------------------


SHAPES: dict[str, tuple[str, list[tuple[str, str, str | None, str | None]]]] = {
    "single": (
        "FROM python:3.12-slim\nRUN pip install x\n",
        [("python:3.12-slim", "image", None, None)],
    ),
    "multi-stage": (
        "FROM golang:1.22 AS build\nRUN go build\n\nFROM gcr.io/distroless/static AS run\n"
        "COPY --from=build /app /app\n",
        [
            ("golang:1.22", "image", "build", None),
            ("gcr.io/distroless/static", "image", "run", None),
        ],
    ),
    "from earlier stage": (
        "FROM node:20 AS base\nFROM base AS deps\nFROM deps\n",
        [
            ("node:20", "image", "base", None),
            ("base", "stage", "deps", None),
            ("deps", "stage", None, None),
        ],
    ),
    "buildplatform": (
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nFROM alpine:3.20\n",
        [("golang:1.22", "image", "build", "$BUILDPLATFORM"), ("alpine:3.20", "image", None, None)],
    ),
    "arg base": (
        "ARG BASE=python:3.12-slim\nFROM ${BASE}\n",
        [("${BASE}", "image", None, None)],
    ),
    "scratch": ("FROM scratch\nCOPY app /\n", [("scratch", "scratch", None, None)]),
    "digest present": (
        f"FROM python:3.12@{DIGEST}\n",
        [(f"python:3.12@{DIGEST}", "image", None, None)],
    ),
    "digest only": (f"FROM python@{DIGEST}\n", [(f"python@{DIGEST}", "image", None, None)]),
    "lowercase keywords and AS": (
        "from alpine as Builder\nfrom Builder\nfrom builder\n",
        # BuildKit lower-cases stage names but matches FROM's text as written
        [
            ("alpine", "image", "builder", None),
            ("Builder", "image", None, None),
            ("builder", "stage", None, None),
        ],
    ),
    "later stage name is an image": (
        "FROM later AS first\nFROM alpine AS later\n",
        [("later", "image", "first", None), ("alpine", "image", "later", None)],
    ),
    "per-arch stages": (
        "FROM alpine AS base-amd64\nFROM alpine AS base-arm64\nFROM base-${TARGETARCH}\n",
        [
            ("alpine", "image", "base-amd64", None),
            ("alpine", "image", "base-arm64", None),
            ("base-${TARGETARCH}", "stage", None, None),
        ],
    ),
    "unresolved": ("ARG BASE\nFROM $BASE\n", [("$BASE", "unresolved", None, None)]),
    "registry with port": (
        "FROM localhost:5000/team/app:1.0 AS x\n",
        [("localhost:5000/team/app:1.0", "image", "x", None)],
    ),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_real_world_shapes(name: str) -> None:
    text, expected = SHAPES[name]
    df = parse(text)
    assert_tiles(df)
    assert froms(df) == expected


def test_multi_stage_api() -> None:
    text = (
        "# syntax=docker/dockerfile:1.7\n"
        "ARG PY=3.12\n"
        "FROM python:${PY}-slim AS build\n"
        "RUN pip wheel .\n"
        "FROM build AS test\n"
        "RUN pytest\n"
        "FROM python:${PY}-slim\n"
        "COPY --from=build /w /w\n"
    )
    df = parse(text)
    assert [d.name for d in df.directives] == ["syntax"]
    assert [i.keyword for i in df.meta_args()] == ["ARG"]
    stages = df.stages()
    assert [(s.index, s.name) for s in stages] == [(0, "build"), (1, "test"), (2, None)]
    assert [[i.keyword for i in s.instructions] for s in stages] == [["RUN"], ["RUN"], ["COPY"]]
    assert [i.stage for i in df.instructions] == [None, 0, 0, 1, 1, 2, 2]
    copy = stages[2].instructions[0]
    flag = copy.flag("from")
    assert flag is not None
    assert flag.value == "build"
    assert copy.arguments == ("/w", "/w")
    assert [b.text for b in from_images(df)] == ["python:3.12-slim", "build", "python:3.12-slim"]
    assert from_images(df, {"PY": "3.13"})[0].text == "python:3.13-slim"


def test_lines_and_spans() -> None:
    text = 'FROM a\n\nRUN x \\\n  y\n# c\nCMD ["z"]'
    df = parse(text)
    run, cmd = df.instructions[1], df.instructions[2]
    assert (run.line, run.end_line) == (3, 4)
    assert text[run.start : run.end] == "RUN x \\\n  y\n"
    assert run.logical == "RUN x   y"
    assert (cmd.line, cmd.json, cmd.arguments) == (6, True, ("z",))
    assert cmd.end == len(text)  # no final newline
    assert [c.text for c in df.comments] == ["c"]
    assert cmd.comments == ("c",)


def test_continuations_with_comments_and_empty_lines() -> None:
    text = (
        "FROM debian:bookworm\n"
        "RUN apt-get update \\\n"
        "    # why this package\n"
        "\n"
        "    && apt-get install -y curl \\\n"
        "  \t\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
        "USER app\n"
    )
    df = parse(text)
    assert_tiles(df)
    run = df.instructions[1]
    assert (run.line, run.end_line) == (2, 7)
    assert run.logical == (
        "RUN apt-get update     && apt-get install -y curl     && rm -rf /var/lib/apt/lists/*"
    )
    assert [c.text for c in df.comments] == ["why this package"]
    assert df.instructions[2].line == 8


def test_escape_directive_backtick_windows() -> None:
    text = (
        "# escape=`\r\n"
        "\r\n"
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022\r\n"
        "COPY testfile.txt c:\\\r\n"
        "RUN dir c:\\ `\r\n"
        "    && echo done\r\n"
    )
    df = parse(text)
    assert_tiles(df)
    assert df.escape == "`"
    copy, run = df.instructions[1], df.instructions[2]
    # a backslash is plain text under escape=`; CRLF ends are not content
    assert copy.logical == "COPY testfile.txt c:\\"
    assert (run.line, run.end_line, run.logical) == (5, 6, "RUN dir c:\\     && echo done")
    assert froms(df) == [("mcr.microsoft.com/windows/servercore:ltsc2022", "image", None, None)]


def test_escape_directive_only_at_the_top() -> None:
    # after a comment, "# escape=`" is a comment: the backslash still continues lines
    df = parse("# hello\n# escape=`\nFROM a\nRUN x \\\n y\n")
    assert df.escape == "\\"
    assert df.directives == ()
    assert df.instructions[1].logical == "RUN x  y"
    # a blank line ends the directives too
    assert parse("\n# escape=`\nFROM a\n").escape == "\\"
    # an unknown directive ends them (and is a comment)
    assert parse("# foo=bar\n# escape=`\nFROM a\n").escape == "\\"
    # keys are case-insensitive, blanks allowed around '='
    df = parse("#  ESCAPE = `\n#syntax=docker/dockerfile:1\nFROM a\n")
    assert df.escape == "`"
    assert [(d.name, d.value) for d in df.directives] == [
        ("escape", "`"),
        ("syntax", "docker/dockerfile:1"),
    ]


def test_heredocs() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM alpine\n"
        "RUN <<EOF\n"
        "set -e\n"
        "echo $HOME\n"
        "EOF\n"
        "RUN <<-'INNER' sh\n"
        "\techo no $expansion\n"
        "\tINNER\n"
        'RUN cat <<A >/a && cat 3<<"B" >/b\n'
        "a\n"
        "A\n"
        "b\n"
        "B\n"
        "COPY <<EOF /etc/app.conf\n"
        "FROM not-an-instruction\n"
        "EOF\n"
        'RUN ["echo", "<<NOT"]\n'
        "RUN echo '<<NOT' \"<<NOR\" <<<herestring\n"
        "ONBUILD RUN <<EOF\n"
        "x\n"
        "EOF\n"
    )
    df = parse(text)
    assert_tiles(df)
    run1, run2, run3, copy, json_run, quoted, onbuild = df.instructions[1:]
    assert [(h.name, h.content, h.start_line, h.end_line) for h in run1.heredocs] == [
        ("EOF", "set -e\necho $HOME\n", 4, 6)
    ]
    assert (run1.line, run1.end_line) == (3, 6)
    (h,) = run2.heredocs
    assert (h.name, h.chomp, h.expand, h.content) == (
        "INNER",
        True,
        False,
        "\techo no $expansion\n",
    )
    assert [(h.name, h.fd, h.expand, h.content) for h in run3.heredocs] == [
        ("A", None, True, "a\n"),
        ("B", 3, False, "b\n"),
    ]
    assert run3.end_line == 14
    assert copy.heredocs[0].content == "FROM not-an-instruction\n"
    assert copy.arguments == ("<<EOF", "/etc/app.conf")
    assert json_run.json
    assert json_run.heredocs == ()
    assert quoted.heredocs == ()
    assert onbuild.trigger is not None
    assert onbuild.trigger.keyword == "RUN"
    assert (onbuild.trigger.line, onbuild.trigger.end_line) == (onbuild.line, onbuild.end_line)
    assert onbuild.trigger.heredocs == onbuild.heredocs
    assert onbuild.trigger.rest == "<<EOF"
    span = onbuild.trigger.source_span(onbuild.trigger.rest_start, len(onbuild.logical))
    assert span is not None
    assert text[span[0] : span[1]] == "<<EOF"
    assert [h.name for h in onbuild.heredocs] == ["EOF"]
    assert len(df.stages()) == 1


def test_a_line_the_lexer_cannot_split_has_no_heredocs() -> None:
    # BuildKit ignores the heredoc words of a line with an unterminated quote
    df = parse("FROM a\nRUN it's <<EOF\nRUN <<\"EOF\n")
    assert [i.heredocs for i in df.instructions[1:]] == [(), ()]


def test_heredoc_with_space_and_crlf_terminator() -> None:
    df = parse("FROM a\r\nRUN cat << EOF\r\nx\r\nEOF\r\nRUN y\r\n")
    assert_tiles(df)
    run = df.instructions[1]
    assert [(h.name, h.content) for h in run.heredocs] == [("EOF", "x\r\n")]
    assert df.instructions[2].line == 5


def test_bom_tabs_and_missing_final_newline() -> None:
    text = "\ufeffFROM\talpine:3.20\tAS\tbase\n\tRUN\techo hi"
    df = parse(text)
    assert_tiles(df)
    assert isinstance(df.pieces[0], Trivia)
    assert df.pieces[0].kind == "bom"
    assert froms(df) == [("alpine:3.20", "image", "base", None)]
    assert df.instructions[1].keyword == "RUN"
    assert df.instructions[1].rest == "echo hi"


def test_arg_parsing() -> None:
    df = parse("ARG A B=1 C=\"two words\" D='x y' E=\nFROM ${C:-alpine}\n")
    defs = df.instructions[0].arg_defs
    assert [(d.name, d.default) for d in defs] == [
        ("A", None),
        ("B", "1"),
        ("C", '"two words"'),
        ("D", "'x y'"),
        ("E", ""),
    ]
    assert global_args(df, {}) == {"B": "1", "C": "two words", "D": "x y", "E": ""}
    assert global_args(df, {"A": "a", "B": "9", "Z": "z"}) == {
        "A": "a",
        "B": "9",
        "C": "two words",
        "D": "x y",
        "E": "",
    }
    c = defs[2]
    logical = df.instructions[0].logical
    assert logical[c.default_start : c.word.end] == '"two words"'
    assert global_definition(df, "C") == (df.instructions[0], c)
    assert global_definition(df, "A") is None


def test_arg_defaults_see_earlier_args_and_stage_args_are_not_global() -> None:
    df = parse(
        "ARG REG=ghcr.io\nARG IMG=${REG}/o/app:1\nARG IMG2\nFROM ${IMG}\n"
        "ARG LATE=x\nFROM ${LATE:-busybox}\n"
    )
    assert [b.text for b in from_images(df)] == ["ghcr.io/o/app:1", "busybox"]
    assert from_images(df, {"REG": "quay.io"})[0].text == "quay.io/o/app:1"
    found = global_definition(df, "IMG")
    assert found is not None
    assert found[1].default == "${REG}/o/app:1"


def test_source_span_maps_logical_back_to_text() -> None:
    text = "FROM a\nRUN one \\\n    two\n"
    df = parse(text)
    run = df.instructions[1]
    start = run.logical.index("two")
    span = run.source_span(start, start + 3)
    assert span is not None
    assert text[span[0] : span[1]] == "two"
    # across the continuation there is no single span
    assert run.source_span(run.logical.index("one"), start + 3) is None


def test_edit() -> None:
    df = parse("FROM a\nFROM b\n")
    w = df.instructions[1].from_.image  # type: ignore[union-attr]
    assert (
        df.edit([Edit(w.start + df.instructions[1].start, w.end + df.instructions[1].start, "c")])
        == "FROM a\nFROM c\n"
    )
    with pytest.raises(ValueError, match="overlapping"):
        df.edit([Edit(0, 4, "x"), Edit(2, 5, "y")])


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("FROM a\nRUN <<EOF\nno end\n", 2, "unterminated heredoc"),
        ("FROM\n", 1, "FROM needs an image"),
        ("FROM --platform=linux/amd64\n", 1, "FROM needs an image"),
        ("FROM --pull=always alpine\n", 1, "unknown flag: --pull"),
        ("FROM --platform alpine\n", 1, "missing a value"),
        ("FROM a AS\n", 1, "one or three arguments"),
        ("FROM a b c d\n", 1, "one or three arguments"),
        ("FROM a AS 1st\n", 1, "invalid name for build stage"),
        ("FROM a\nFORM b\n", 2, "unknown instruction: FORM"),
        ("RUN x\nFROM a\n", 1, "before the first FROM"),
        ("ARG A\n", 1, "no FROM"),
        ("", 1, "no instructions"),
        ("# only a comment\n\n", 2, "no instructions"),
        ("# escape=x\nFROM a\n", 1, "invalid escape token"),
        ("# escape=\\\n# escape=`\nFROM a\n", 2, "only one escape parser directive"),
        ("FROM a\nARG\n", 2, "ARG requires at least one argument"),
        ("FROM a\nARG =x\n", 2, "ARG names can not be blank"),
        ("FROM busybox\n\nENV PATH\n", 3, "ENV must have two arguments"),
        ("FROM a\nLABEL a=b c\n", 2, "can't find = in 'c'"),
        ("FROM a\nENV =x\n", 2, "ENV names can not be blank"),
        ("FROM a\nENV\n", 2, "ENV requires at least one argument"),
        ("FROM a\nONBUILD ONBUILD RUN x\n", 2, "Chaining ONBUILD"),
        ("FROM a\nONBUILD FROM b\n", 2, "isn't allowed as an ONBUILD trigger"),
        ('FROM a\nCMD ["a", 1]\n', 2, "arrays must be comprised of strings"),
    ],
)
def test_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        parse(text, filename="app/Dockerfile")
    assert info.value.location == f"app/Dockerfile:{line}"
    assert info.value.line == line
    assert message in str(info.value)
    assert isinstance(info.value, InputError)


def test_expansion_errors_name_the_from_line() -> None:
    df = parse("ARG A\nFROM ${A:?set_A}\n")
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: .*A: set_A"):
        from_images(df)


def test_blank_base_name_is_refused() -> None:
    with pytest.raises(DockerfileError, match="should not be blank"):
        from_images(parse('ARG E=""\nFROM ${E}x\n'.replace("x", "")))


# -- expansion -----------------------------------------------------------------------------------

ENV = {"A": "alpha", "E": "", "P": "python:3.12-slim"}


@pytest.mark.parametrize(
    ("word", "text", "used", "unset"),
    [
        ("$A", "alpha", {"A"}, set()),
        ("${A}", "alpha", {"A"}, set()),
        ("x${A}y", "xalphay", {"A"}, set()),
        ("$U", "", set(), {"U"}),
        ("${U:-def}", "def", set(), {"U"}),
        ("${U-def}", "def", set(), {"U"}),
        ("${E:-def}", "def", {"E"}, set()),
        ("${E-def}", "", {"E"}, set()),
        ("${A:+set}", "set", {"A"}, set()),
        ("${E:+set}", "", {"E"}, set()),
        ("${E+set}", "set", {"E"}, set()),
        ("${U:+set}", "", set(), {"U"}),
        ("${P%-slim}", "python:3.12", {"P"}, set()),
        ("${P%%:*}", "python", {"P"}, set()),
        ("${P#*:}", "3.12-slim", {"P"}, set()),
        ("${P##*[}", "python:3.12-slim", {"P"}, set()),
        ("${P/3.12/3.13}", "python:3.13-slim", {"P"}, set()),
        ("${A//a/o}", "olpho", {"A"}, set()),
        ("'$A'", "$A", set(), set()),
        ('"$A b"', "alpha b", {"A"}, set()),
        ("\\$A", "$A", set(), set()),
        ("$", "$", set(), set()),
        ("${U:-${A}}", "alpha", {"A"}, {"U"}),
    ],
)
def test_expand(word: str, text: str, used: set[str], unset: set[str]) -> None:
    e = expand(word, ENV)
    assert (e.text, set(e.used), set(e.unset)) == (text, used, unset)


def test_expand_backtick_escape() -> None:
    assert expand("`$A", ENV, escape="`").text == "$A"
    assert expand("c:\\$A", ENV, escape="`").text == "c:\\alpha"


@pytest.mark.parametrize(
    "word", ["${", "${}", "${A", "${:x}", "${E:?}", "${U?gone}", "'open", '"open', "${A:#x}"]
)
def test_expand_refuses(word: str) -> None:
    with pytest.raises(ExpansionError):
        expand(word, ENV)


# -- the round trip ------------------------------------------------------------------------------

_LINE = st.sampled_from(
    [
        "FROM python:3.12-slim",
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build",
        "from build as final",
        "ARG BASE=python:3.12",
        'ARG X="a b" Y',
        "FROM ${BASE}",
        "FROM scratch",
        "RUN echo hi \\",
        "RUN echo hi `",
        "  && echo there",
        "# a comment",
        "#",
        "# syntax=docker/dockerfile:1",
        "# escape=`",
        "",
        "   ",
        "\t",
        "\\",
        "RUN <<EOF",
        "RUN <<-EOF cat",
        "COPY <<EOF /dst",
        "RUN cat <<A <<'B'",
        "EOF",
        "\tEOF",
        "A",
        "B",
        'CMD ["python", "-m", "app"]',
        "ENV K=v",
        "ONBUILD RUN echo x",
        "COPY --from=build /a /b",
        "WORKDIR /app",
        "LABEL a=b",
    ]
)


def _check_round_trip(text: str) -> None:
    try:
        df = parse(text)
    except DockerfileError:
        return
    assert_tiles(df)
    for instruction in df.instructions:
        _check_instruction(df, instruction)
    with contextlib.suppress(DockerfileError):
        from_images(df)


def _check_instruction(df: Dockerfile, instruction: Instruction) -> None:
    assert instruction.line <= instruction.end_line
    assert df.text[instruction.start : instruction.end].lstrip("\ufeff")
    for lstart, tstart, length in instruction.segments:
        assert instruction.logical[lstart : lstart + length] == df.text[tstart : tstart + length]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_LINE, max_size=12),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.booleans(),
)
def test_round_trip_dockerfile_like(lines: list[str], newline: str, final: bool, bom: bool) -> None:
    text = newline.join(lines) + (newline if final and lines else "")
    _check_round_trip(("\ufeff" if bom else "") + text)
    _check_round_trip(("\ufeff" if bom else "") + "FROM a" + newline + text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_round_trip_any_text(text: str) -> None:
    _check_round_trip(text)
    _check_round_trip("FROM a\n" + text)
