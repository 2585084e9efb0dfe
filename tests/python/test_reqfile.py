"""Tests for lockpin.python.reqfile: pip's requirement-file rules, as tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from lockpin.errors import InputError
from lockpin.python.reqfile import (
    Block,
    FileOptions,
    Location,
    LogicalLine,
    ParsedRequirements,
    Reader,
    RequirementLine,
    logical_lines,
    parse_requirement_text,
    parse_requirements,
    split_blocks,
)

A = "a" * 64
B = "b" * 64
C = "c" * 64
LOC = Location("req.txt", 7)


def reader_for(files: dict[str, str]) -> Reader:
    def read(path: str) -> str:
        try:
            return files[path]
        except KeyError:
            raise FileNotFoundError(2, "No such file or directory", path) from None

    return read


def parse_files(
    files: dict[str, str],
    top: str = "requirements.in",
    *,
    constraint: bool = False,
    env: dict[str, str] | None = None,
) -> ParsedRequirements:
    return parse_requirements(top, reader=reader_for(files), constraint=constraint, env=env)


def rejoin(lines: list[LogicalLine], text: str) -> str:
    return "\n".join(line.raw for line in lines) + ("\n" if text.endswith("\n") else "")


# --- logical lines -----------------------------------------------------------------------------

LOGICAL_CASES = [
    pytest.param("", [], id="empty"),
    pytest.param("foo\n", [(1, 1, "foo", None)], id="one"),
    pytest.param("foo", [(1, 1, "foo", None)], id="no-final-newline"),
    pytest.param("\n\n", [(1, 1, "", None), (2, 2, "", None)], id="blank-lines-kept"),
    pytest.param("# hello\n", [(1, 1, "", "# hello")], id="comment-only"),
    pytest.param("  foo==1   # pinned \n", [(1, 1, "foo==1", "# pinned")], id="trailing-comment"),
    pytest.param("foo#bar\n", [(1, 1, "foo#bar", None)], id="hash-sign-inside-word"),
    pytest.param(
        "git+https://h/r#egg=x # c\n",
        [(1, 1, "git+https://h/r#egg=x", "# c")],
        id="url-fragment-is-not-a-comment",
    ),
    pytest.param(
        f"foo==1 \\\n    --hash=sha256:{A} \\\n    --hash=sha256:{B}\nbar\n",
        [(1, 3, f"foo==1     --hash=sha256:{A}     --hash=sha256:{B}", None), (4, 4, "bar", None)],
        id="continuations",
    ),
    pytest.param("foo\\\nbar\n", [(1, 2, "foobar", None)], id="joined-without-space-like-pip"),
    pytest.param(
        "foo \\\n# note\nbar\n",
        [(1, 2, "foo", "# note"), (3, 3, "bar", None)],
        id="comment-line-ends-continuation",
    ),
    pytest.param(
        "foo\\\n#note\n", [(1, 2, "foo", "#note")], id="joined-comment-line-is-still-a-comment"
    ),
    pytest.param(
        "# note \\\nbar\n",
        [(1, 1, "", "# note \\"), (2, 2, "bar", None)],
        id="comment-only-line-never-continues",
    ),
    pytest.param(
        "foo # note \\\nbar\nbaz\n",
        [(1, 2, "foo", "# note bar"), (3, 3, "baz", None)],
        id="pip-joins-before-stripping-comments",
    ),
    pytest.param("foo \\\n\nbar\n", [(1, 2, "foo", None), (3, 3, "bar", None)], id="blank-ends"),
    pytest.param("foo \\", [(1, 1, "foo", None)], id="backslash-at-eof"),
    pytest.param("a\r\nb \\\r\n c\r\n", [(1, 1, "a", None), (2, 3, "b  c", None)], id="crlf"),
]


@pytest.mark.parametrize(("text", "expected"), LOGICAL_CASES)
def test_logical_lines(text: str, expected: list[tuple[int, int, str, str | None]]) -> None:
    lines = logical_lines(text, path="r.txt")
    spans = [(ln.location.line, ln.location.line + ln.raw.count("\n")) for ln in lines]
    assert [(*span, ln.text, ln.comment) for span, ln in zip(spans, lines, strict=True)] == expected
    assert rejoin(lines, text) == text
    assert all(ln.location.path == "r.txt" for ln in lines)


def test_crlf_raw_keeps_carriage_returns() -> None:
    lines = logical_lines("a\r\nb\r\n", path="r.txt")
    assert [ln.raw for ln in lines] == ["a\r", "b\r"]


@pytest.mark.parametrize(
    ("text", "line"), [("a\rb\n", 1), ("a\nb\x0cc\n", 2), ("a\r\nb\r\n\u2028\n", 3)]
)
def test_other_line_breaks_are_refused(text: str, line: int) -> None:
    # pip's splitlines() would break the line there; reading it differently would be worse.
    with pytest.raises(InputError, match="line endings") as info:
        logical_lines(text, path="r.txt")
    assert info.value.location == f"r.txt:{line}"


def test_location_str() -> None:
    assert str(Location("dir/req.txt", 12)) == "dir/req.txt:12"


# --- one requirement ---------------------------------------------------------------------------

# text -> (name, url, editable, extras, marker, requirement as str or None)
REQUIREMENT_CASES = [
    ("Foo_Bar==1.0", ("foo-bar", None, False, set(), None, "Foo_Bar==1.0")),
    ("foo[b,a]>=1,<2", ("foo", None, False, {"a", "b"}, None, "foo[a,b]<2,>=1")),
    (
        'foo==1.0 ; python_version < "3.12"',
        ("foo", None, False, set(), 'python_version < "3.12"', None),
    ),
    ("foo;python_version<'3'", ("foo", None, False, set(), 'python_version < "3"', None)),
    (
        "foo @ https://h/foo-1.0.tar.gz",
        ("foo", "https://h/foo-1.0.tar.gz", False, set(), None, None),
    ),
    (  # pip splits `name @ url; marker` itself; packaging alone would reject it
        "foo @ https://h/foo.zip; os_name == 'posix'",
        ("foo", "https://h/foo.zip", False, set(), 'os_name == "posix"', None),
    ),
    ("foo@ https://h/f.zip", ("foo", "https://h/f.zip", False, set(), None, None)),
    ("https://h/p/foo-1.0.tar.gz", (None, "https://h/p/foo-1.0.tar.gz", False, set(), None, None)),
    (
        "https://h/p/Foo_Bar-1.0-py3-none-any.whl",
        ("foo-bar", "https://h/p/Foo_Bar-1.0-py3-none-any.whl", False, set(), None, None),
    ),
    (
        "https://h/p/x.tar.gz;sha=1 ; python_version >= '3'",
        (None, "https://h/p/x.tar.gz;sha=1", False, set(), 'python_version >= "3"', None),
    ),
    (
        "https://h/p/x.tar.gz; python_version >= '3'",
        (None, "https://h/p/x.tar.gz", False, set(), 'python_version >= "3"', None),
    ),
    (
        "git+https://github.com/o/r@v1#egg=My.Pkg",
        ("my-pkg", "git+https://github.com/o/r@v1#egg=My.Pkg", False, set(), None, None),
    ),
    ("git+https://github.com/o/r", (None, "git+https://github.com/o/r", False, set(), None, None)),
    ("./pkg", (None, "./pkg", False, set(), None, None)),
    ("../pkg[dev, test]", (None, "../pkg", False, {"dev", "test"}, None, None)),
    ("sub/dir", (None, "sub/dir", False, set(), None, None)),
    ("/abs/x-1.0-py3-none-any.whl", ("x", "/abs/x-1.0-py3-none-any.whl", False, set(), None, None)),
    ("pkg-1.0.tar.gz", (None, "pkg-1.0.tar.gz", False, set(), None, None)),
    (
        "./pkg ; sys_platform == 'linux'",
        (None, "./pkg", False, set(), 'sys_platform == "linux"', None),
    ),
    ("-e .", (None, ".", True, set(), None, None)),
    ("-e subdir", (None, "subdir", True, set(), None, None)),  # pip: a directory
    ("-e ./pkg[dev]", (None, "./pkg", True, {"dev"}, None, None)),
    ("--editable=./pkg", (None, "./pkg", True, set(), None, None)),
    ("-e git+https://h/r#egg=foo", ("foo", "git+https://h/r#egg=foo", True, set(), None, None)),
    ("-e file:///src/pkg", (None, "file:///src/pkg", True, set(), None, None)),
]


@pytest.mark.parametrize(("text", "expected"), REQUIREMENT_CASES)
def test_requirement_text(text: str, expected: tuple[object, ...]) -> None:
    name, url, editable, extras, marker, as_string = expected
    line = parse_requirement_text(text, location=LOC)
    assert line.name == name
    assert line.url == url
    assert line.editable is editable
    assert line.extras == extras
    assert (str(line.marker) if line.marker else None) == marker
    assert line.location == LOC
    if as_string is not None:
        assert str(line.requirement) == as_string
    if editable or name is None:
        assert line.requirement is None
    else:
        assert line.requirement is not None
        assert line.requirement.url == url
        assert line.requirement.marker == line.marker


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("foo==1.0", Version("1.0")),
        ("foo == 2.0.post1", Version("2.0.post1")),
        ("foo===1.0", Version("1.0")),
        ("foo==1.0 ; python_version < '3.12'", Version("1.0")),
        ("foo===not-a-version", None),
        ("foo==1.*", None),
        ("foo>=1.0", None),
        ("foo==1.0,!=1.1", None),
        ("foo", None),
        ("foo @ https://h/foo-1.0.tar.gz", None),
        ("./pkg", None),
    ],
)
def test_pinned_version(text: str, version: Version | None) -> None:
    assert parse_requirement_text(text, location=LOC).pinned_version == version


@pytest.mark.parametrize(
    ("text", "hashes"),
    [
        (f"foo==1 --hash=sha256:{A}", (f"sha256:{A}",)),
        (f"foo==1 --hash sha256:{A} --hash=sha256:{B}", (f"sha256:{A}", f"sha256:{B}")),
        (f"foo==1 --hash=sha256:{B} --hash=sha256:{A}", (f"sha256:{B}", f"sha256:{A}")),
        (f"foo==1 --hash='sha384:{'0' * 96}'", (f"sha384:{'0' * 96}",)),
        (f"foo==1 --hash=sha512:{'f' * 128}", (f"sha512:{'f' * 128}",)),
        (f"foo==1 --ha=sha256:{A}", (f"sha256:{A}",)),  # optparse accepts unique prefixes
    ],
)
def test_hashes_in_file_order(text: str, hashes: tuple[str, ...]) -> None:
    line = parse_requirement_text(text, location=LOC)
    assert line.hashes == hashes
    assert line.text == "foo==1"


def test_install_options_are_kept_not_interpreted() -> None:
    line = parse_requirement_text(
        "foo==1 --config-settings key=value -C k2=v2 --global-option=--x", location=LOC
    )
    assert line.install_options == (
        "--config-settings=key=value",
        "--config-settings=k2=v2",
        "--global-option=--x",
    )


def test_comment_and_constraint_are_carried() -> None:
    line = parse_requirement_text("foo==1", location=LOC, constraint=True, comment="# c")
    assert (line.constraint, line.comment) == (True, "# c")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("foo==", "invalid requirement 'foo=='"),
        ("foo=1.0", "did you mean ==?"),
        ("foo (>=1", "invalid requirement"),
        ("foo>=1 ; python_version <", "invalid requirement"),
        ("./pkg ; python_version <", "invalid marker"),
        ("https://h/p/x.whl", "a wheel is named"),
        ("git+https://h/r#egg=foo==1", "#egg=foo==1 is not a project name"),
        ("-e https://h/x.tar.gz", "must be a local path or a VCS URL"),
        ("foo==1 -e ./x", "on its own line"),
        ("-e ./x -e ./y", "on its own line"),
        ("foo==1 --pre", "--pre applies to the whole file"),
        ("foo==1 --index-url https://h/simple", "--index-url applies to the whole file"),
        ("foo==1 bar==2", "invalid requirement 'foo==1 bar==2'"),
        ("foo==1 --hash=sha256:x bar", "unexpected 'bar' after the options"),
        ("foo==1 --hash", "--hash needs a value"),
        ("--editable=", "--editable= needs a value"),
        ("foo==1 --hash=", "--hash= needs a value"),
        ("foo==1 --hash='sha256:x", "check the quotes"),
        ("foo==1 --frobnicate", "option --frobnicate is not allowed"),
        ("foo==1 -x", "option -x is not allowed"),
        ("foo==1 --no", "option --no is not allowed"),  # ambiguous prefix
        ("foo==1 --pre=yes", "--pre takes no value"),
        (f"foo==1 --hash=md5:{A[:32]}", "write it as sha256:<hex digest>"),
        (f"foo==1 --hash={A}", "write it as sha256:<hex digest>"),
        (f"foo==1 --hash=SHA256:{A}", "write it as sha256:<hex digest>"),
        ("foo==1 --hash=sha256:abc", "64 lower-case hex digits"),
        (f"foo==1 --hash=sha256:{A.upper()}", "64 lower-case hex digits"),
        (f"foo==1 --hash=sha256:{'g' * 64}", "64 lower-case hex digits"),
        ("--index-url https://h/simple", "expected a requirement"),
    ],
)
def test_requirement_errors_name_location(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_requirement_text(text, location=LOC)
    assert info.value.location == "req.txt:7"
    assert str(info.value).startswith("req.txt:7: ")
    assert fragment in str(info.value)


def test_packaging_reason_is_in_the_message() -> None:
    with pytest.raises(InputError, match="Expected"):
        parse_requirement_text("foo==", location=LOC)


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${PKG}==1", {"PKG": "foo"}, "foo==1"),
        ("foo @ ${BASE_1}/foo.zip", {"BASE_1": "https://h"}, "foo @ https://h/foo.zip"),
    ],
)
def test_env_expansion_in_requirements(
    text: str, env: dict[str, str] | None, expected: str
) -> None:
    assert parse_requirement_text(text, location=LOC, env=env).text == expected


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ("${pkg}==1", {"pkg": "foo"}),  # pip: upper case, digits and _ only
        ("$PKG==1", {"PKG": "foo"}),  # pip: only the ${NAME} form
        ("${PKG}==1", {"PKG": ""}),  # pip: empty values are not substituted
        ("${PKG}==1", {"OTHER": "x"}),
        ("${PKG}==1", None),
    ],
)
def test_env_expansion_leaves_the_rest(text: str, env: dict[str, str]) -> None:
    with pytest.raises(InputError, match=r"invalid requirement '\$"):
        parse_requirement_text(text, location=LOC, env=env)


# --- whole files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", FileOptions()),
        ("-i https://a/simple\n", FileOptions(index_url="https://a/simple")),
        ("--index-url=https://a/simple\n", FileOptions(index_url="https://a/simple")),
        ("-ihttps://a/simple\n", FileOptions(index_url="https://a/simple")),
        (
            "--index-url https://a/simple\n--index-url https://b/simple\n",
            FileOptions(index_url="https://b/simple"),
        ),
        (
            "--extra-index-url https://x\n--extra-index-url=https://y\n--extra-index-url https://x\n",
            FileOptions(extra_index_urls=("https://x", "https://y")),
        ),
        (
            "--index-url https://a --extra-index-url https://x\n",
            FileOptions(index_url="https://a", extra_index_urls=("https://x",)),
        ),
        (
            "-f wheels\n--find-links=/abs\n-f https://h/links\n-f file:///w\n",
            FileOptions(find_links=("wheels", "/abs", "https://h/links", "file:///w")),
        ),
        (
            "--no-index\n--pre\n--prefer-binary\n--require-hashes\n",
            FileOptions(no_index=True, pre=True, prefer_binary=True, require_hashes=True),
        ),
        ("--only-binary Foo_Bar,baz\n", FileOptions(only_binary=frozenset({"foo-bar", "baz"}))),
        ("--only-binary=:all:\n", FileOptions(only_binary=frozenset({":all:"}))),
        (
            "--no-binary foo\n--only-binary foo,bar\n",
            FileOptions(only_binary=frozenset({"foo", "bar"})),
        ),
        (
            "--no-binary foo\n--only-binary :all:\n",
            FileOptions(only_binary=frozenset({":all:"})),
        ),
        (
            "--only-binary :all:\n--no-binary foo\n",
            FileOptions(only_binary=frozenset({":all:"}), no_binary=frozenset({"foo"})),
        ),
        ("--no-binary foo\n--no-binary :none:\n", FileOptions()),
        (
            "--trusted-host h1\n--trusted-host h2:8080\n",
            FileOptions(trusted_hosts=("h1", "h2:8080")),
        ),
        ("--use-feature=truststore\n", FileOptions()),
        ("--require-hash\n", FileOptions(require_hashes=True)),  # optparse prefix
    ],
)
def test_file_options(content: str, expected: FileOptions) -> None:
    parsed = parse_files({"requirements.in": content})
    assert parsed.options == expected
    assert parsed.requirements == ()


def test_find_links_relative_to_the_including_file() -> None:
    files = {
        "requirements.in": "-r sub/more.in\n-f here\n",
        "sub/more.in": "-f ../wheels\n-f local\n-f /abs/w\n",
    }
    assert parse_files(files).options.find_links == ("wheels", "sub/local", "/abs/w", "here")


def test_requirements_in_order_with_comments_and_locations() -> None:
    files = {
        "requirements.in": "# top\nflask>=3  # web\n\n-r base.in\nclick\n",
        "base.in": "requests==2.31.0 \\\n  --hash=sha256:" + A + "\n",
    }
    parsed = parse_files(files)
    got = [(str(r.location), r.text, r.comment, r.hashes) for r in parsed.requirements]
    assert got == [
        ("requirements.in:2", "flask>=3", "# web", ()),
        ("base.in:1", "requests==2.31.0", None, (f"sha256:{A}",)),
        ("requirements.in:5", "click", None, ()),
    ]
    assert parsed.files == ("requirements.in", "base.in")
    assert parsed.constraints == ()


@pytest.mark.parametrize(
    "line",
    [
        "-r sub/b.in",
        "--requirement sub/b.in",
        "--requirement=sub/b.in",
        "-rsub/b.in",
        "-r ./sub/../sub/b.in",
        "-r '${DIR}/b.in'",
        "-r file:sub/b.in",
    ],
)
def test_include_spellings(line: str) -> None:
    files = {"dir/a.in": line + "\n", "dir/sub/b.in": "foo\n"}
    parsed = parse_files(files, top="dir/a.in", env={"DIR": "sub"})
    assert [r.name for r in parsed.requirements] == ["foo"]
    assert parsed.files == ("dir/a.in", "dir/sub/b.in")


def test_nested_paths_are_relative_to_the_including_file() -> None:
    files = {
        "proj/requirements.in": "-r deps/base.in\n",
        "proj/deps/base.in": "-r ../common/c.in\n-c pins.txt\n",
        "proj/common/c.in": "foo\n",
        "proj/deps/pins.txt": "foo==1.0\n",
    }
    parsed = parse_files(files, top="proj/requirements.in")
    assert parsed.files == (
        "proj/requirements.in",
        "proj/deps/base.in",
        "proj/common/c.in",
        "proj/deps/pins.txt",
    )
    assert [str(r.location) for r in parsed.requirements] == ["proj/common/c.in:1"]
    (pin,) = parsed.constraints
    assert (str(pin.location), pin.constraint, pin.pinned_version) == (
        "proj/deps/pins.txt:1",
        True,
        Version("1.0"),
    )


def test_top_file_as_constraints() -> None:
    parsed = parse_files({"c.txt": "foo==1\n"}, top="c.txt", constraint=True)
    assert parsed.requirements == ()
    assert [c.constraint for c in parsed.constraints] == [True]


def test_requirement_include_inside_a_constraints_file_follows_pip() -> None:
    # pip treats `-r` inside a -c file as requirements, not constraints.
    files = {"requirements.in": "-c c.txt\n", "c.txt": "-r r.txt\nbar==2\n", "r.txt": "foo\n"}
    parsed = parse_files(files)
    assert [r.name for r in parsed.requirements] == ["foo"]
    assert [c.name for c in parsed.constraints] == ["bar"]


def test_diamond_include_is_read_once() -> None:
    files = {
        "requirements.in": "-r a.in\n-r b.in\n",
        "a.in": "-r common.in\n",
        "b.in": "-r ./common.in\n",
        "common.in": "foo\n",
    }
    calls: list[str] = []
    read = reader_for(files)

    def counting(path: str) -> str:
        calls.append(path)
        return read(path)

    parsed = parse_requirements("requirements.in", reader=counting)
    assert [r.name for r in parsed.requirements] == ["foo"]
    assert calls == ["requirements.in", "a.in", "common.in", "b.in"]
    assert parsed.files == ("requirements.in", "a.in", "common.in", "b.in")


def test_same_file_as_requirements_and_constraints() -> None:
    files = {"requirements.in": "-r x.txt\n-c x.txt\n", "x.txt": "foo==1\n"}
    parsed = parse_files(files)
    assert [(r.name, r.constraint) for r in parsed.requirements] == [("foo", False)]
    assert [(r.name, r.constraint) for r in parsed.constraints] == [("foo", True)]
    assert parsed.files == ("requirements.in", "x.txt")


def test_options_merge_across_files_in_order() -> None:
    files = {
        "requirements.in": "-i https://first\n-r more.in\n--extra-index-url https://x2\n",
        "more.in": "-i https://second\n--extra-index-url https://x1\n--pre\n",
    }
    options = parse_files(files).options
    assert options.index_url == "https://second"
    assert options.extra_index_urls == ("https://x1", "https://x2")
    assert options.pre


@pytest.mark.parametrize(
    ("files", "location", "fragments"),
    [
        (
            {"requirements.in": "foo\n-r a.in\n", "a.in": "-r requirements.in\n"},
            "a.in:1",
            ["include cycle requirements.in -> a.in -> requirements.in"],
        ),
        ({"requirements.in": "-r ./requirements.in\n"}, "requirements.in:1", ["include cycle"]),
        (
            {"requirements.in": "-r a.in\n", "a.in": "\n\n-c b.in\n", "b.in": "-r a.in\n"},
            "b.in:1",
            ["include cycle a.in -> b.in -> a.in"],
        ),
        (
            {"requirements.in": "foo\n\n-r sub/missing.in\n"},
            "requirements.in:3",
            ["cannot read sub/missing.in", "No such file or directory"],
        ),
        (
            {"requirements.in": "-c missing.txt\n"},
            "requirements.in:1",
            ["cannot read missing.txt"],
        ),
        (
            {"requirements.in": "-r https://h/r.txt\n"},
            "requirements.in:1",
            ["https://h/r.txt by URL is not supported"],
        ),
        (
            {"requirements.in": "-r\n"},
            "requirements.in:1",
            ["-r needs a value"],
        ),
        (
            {"requirements.in": "-r a.in b.in\n"},
            "requirements.in:1",
            ["unexpected 'b.in' after the options"],
        ),
        (
            {"requirements.in": f"foo==1\n    --hash=sha256:{A}\n"},
            "requirements.in:2",
            ["--hash must be on the same logical line", "backslash"],
        ),
        (
            {"requirements.in": "--install-option=--x\n"},
            "requirements.in:1",
            ["option --install-option is not allowed"],
        ),
        (
            {"requirements.in": "--no-index=1\n"},
            "requirements.in:1",
            ["--no-index takes no value"],
        ),
        (
            {"requirements.in": "-r a.in\n", "a.in": "ok\nfoo bar\n"},
            "a.in:2",
            ["invalid requirement 'foo bar'"],
        ),
        (
            {"requirements.in": "-c c.txt\n", "c.txt": "-e ./x\n"},
            "c.txt:1",
            ["constraints must be named requirements"],
        ),
        (
            {"requirements.in": "-c c.txt\n", "c.txt": "./x\n"},
            "c.txt:1",
            ["constraint './x' is not allowed"],
        ),
        (
            {"requirements.in": "-c c.txt\n", "c.txt": "foo[x]==1\n"},
            "c.txt:1",
            ["without extras"],
        ),
    ],
)
def test_file_errors_name_location(
    files: dict[str, str], location: str, fragments: list[str]
) -> None:
    with pytest.raises(InputError) as info:
        parse_files(files)
    assert info.value.location == location
    for fragment in fragments:
        assert fragment in str(info.value)


def test_missing_top_file() -> None:
    with pytest.raises(InputError, match=r"cannot read requirements file nope\.in") as info:
        parse_files({}, top="nope.in")
    assert info.value.location is None


def test_missing_nested_file_says_where_paths_are_relative_to() -> None:
    with pytest.raises(InputError, match=r"relative to the directory of d/requirements\.in"):
        parse_files({"d/requirements.in": "-r x.in\n"}, top="d/requirements.in")


# --- blocks for layout-preserving rewrites ---------------------------------------------------

PIP_COMPILE = f"""\
#
# This file is autogenerated by pip-compile with Python 3.11
#
--index-url https://pypi.org/simple

click==8.1.7 \\
    --hash=sha256:{A} \\
    --hash=sha256:{B}
    # via flask
flask==3.0.0 \\
    --hash=sha256:{C}
    # via
    #   -r requirements.in
    #   other
# a loose comment
    # indented, but after a comment block
itsdangerous==2.1.2

    # after a blank line
"""


def test_split_blocks_pip_compile_layout() -> None:
    blocks = split_blocks(PIP_COMPILE, path="requirements.txt")
    summary = [
        (b.requirement.name if b.requirement else None, [ln.location.line for ln in b.lines])
        for b in blocks
    ]
    assert summary == [
        (None, [1]),
        (None, [2]),
        (None, [3]),
        (None, [4]),
        (None, [5]),
        ("click", [6, 9]),
        ("flask", [10, 12, 13, 14]),
        (None, [15]),
        (None, [16]),
        ("itsdangerous", [17]),
        (None, [18]),
        (None, [19]),
    ]
    click = blocks[5].requirement
    assert click is not None
    assert click.hashes == (f"sha256:{A}", f"sha256:{B}")
    assert click.pinned_version == Version("8.1.7")
    assert blocks[5].lines[1].comment == "# via flask"
    raws = [ln.raw for b in blocks for ln in b.lines]
    assert "\n".join(raws) + "\n" == PIP_COMPILE


def test_split_blocks_validates_lines() -> None:
    with pytest.raises(InputError, match=r"^r\.txt:2: .*invalid requirement"):
        split_blocks("foo==1\nfoo==\n", path="r.txt")
    with pytest.raises(InputError, match=r"^r\.txt:2: --hash must be on the same logical line"):
        split_blocks(f"foo==1\n--hash=sha256:{A}\n", path="r.txt")


def test_split_blocks_does_not_follow_includes() -> None:
    # A reader would be needed to follow it; split_blocks has none and must not need one.
    blocks = split_blocks("-r other.txt\n", path="r.txt")
    assert blocks == [Block(tuple(logical_lines("-r other.txt\n", path="r.txt")), None)]


def test_split_blocks_editable_is_a_requirement() -> None:
    (block,) = split_blocks("-e ./pkg\n", path="r.txt")
    assert isinstance(block.requirement, RequirementLine)
    assert block.requirement.editable


# --- properties --------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,6}(?:[._-][A-Za-z0-9]{1,4}){0,2}", fullmatch=True)
versions = st.builds(
    lambda parts, post: ".".join(map(str, parts)) + (f".post{post}" if post is not None else ""),
    st.lists(st.integers(0, 300), min_size=1, max_size=4),
    st.none() | st.integers(0, 9),
)
HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
digests = st.sampled_from(sorted(HEX_LENGTH)).flatmap(
    lambda algo: st.text(
        "0123456789abcdef", min_size=HEX_LENGTH[algo], max_size=HEX_LENGTH[algo]
    ).map(lambda hexdigest: f"{algo}:{hexdigest}")
)
entries = st.tuples(
    names,
    versions,
    st.lists(digests, max_size=3),
    st.sampled_from(["continued", "one-line"]),
    st.lists(st.sampled_from(["    # via x", "# top", "", "  # via\n  #   -r r.in"]), max_size=2),
)


def render(entry: tuple[str, str, list[str], str, list[str]], newline: str) -> str:
    name, version, hashes, style, after = entry
    if style == "continued":
        head = " \\\n    ".join([f"{name}=={version}", *(f"--hash={h}" for h in hashes)])
    else:
        head = " ".join([f"{name}=={version}", *(f"--hash {h}" for h in hashes)])
    return "\n".join([head, *after]).replace("\n", newline)


@given(
    st.lists(entries, max_size=6),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_round_trip_and_stable_parse(
    items: list[tuple[str, str, list[str], str, list[str]]], newline: str, final_newline: bool
) -> None:
    text = newline.join(render(item, newline) for item in items)
    if final_newline and text:
        text += newline
    lines = logical_lines(text, path="r.txt")
    assert rejoin(lines, text) == text
    blocks = split_blocks(text, path="r.txt")
    assert rejoin([ln for b in blocks for ln in b.lines], text) == text

    parsed = parse_files({"r.txt": text}, top="r.txt")
    got = [(r.name, r.pinned_version, r.hashes) for r in parsed.requirements]
    assert got == [(canonicalize_name(n), Version(v), tuple(h)) for n, v, h, _, _ in items]
    assert [b.requirement for b in blocks if b.requirement] == list(parsed.requirements)
    # Writing what was read in one canonical layout and reading it again changes nothing.
    canonical = "".join(
        " ".join([r.text, *(f"--hash={h}" for h in r.hashes)]) + "\n" for r in parsed.requirements
    )
    again = parse_files({"r.txt": canonical}, top="r.txt")
    assert [(r.name, r.requirement, r.hashes) for r in again.requirements] == [
        (r.name, r.requirement, r.hashes) for r in parsed.requirements
    ]
