"""lockpin.image.check: each rule on real Dockerfile shapes, suppressions, severities."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from lockpin.image.check import Finding, check
from lockpin.image.dockerfile import parse

if TYPE_CHECKING:
    from pathlib import Path

DIGEST = "sha256:" + "a" * 64
PINNED = f"FROM --platform=linux/amd64 debian:12@{DIGEST}\n"


class Ctx:
    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = files or {}

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)


def rules(text: str, files: dict[str, bytes] | None = None, **kw: object) -> list[str]:
    found = check(parse(text), Ctx(files), **kw)  # type: ignore[arg-type]
    return sorted(f.rule for f in found)


HASHED = b"flask==3.0.0 --hash=sha256:" + b"b" * 64 + b"\n"

CASES = [
    ("FROM debian:12\n", "LP101"),
    ("FROM debian\n", "LP101"),
    ("FROM debian:latest\n", "LP101"),
    ("ARG BASE=python:3.12\nFROM ${BASE}\n", "LP101"),
    ("RUN pip install flask\n", "LP201"),
    ("RUN pip install flask==3.0.0\n", "LP201"),
    ("RUN sudo -E PIP_NO_CACHE=1 python3 -m pip install requests\n", "LP201"),
    ('RUN ["pip3", "install", "x"]\n', "LP201"),
    ("RUN <<EOF\nset -e\npip install x\nEOF\n", "LP201"),
    ("RUN apt-get update && \\\n    apt-get install -y curl\n", "LP301"),
    ("RUN apt install -y curl=8.0\n", None),
    ("RUN apk add --no-cache curl\n", "LP302"),
    ("RUN apk add curl=8.5.0-r0\n", None),
    ("ADD https://example.com/x.tgz /x\n", "LP401"),
    (f"ADD --checksum={DIGEST} https://example.com/x.tgz /x\n", None),
    ("ADD git@github.com:o/r.git /src\n", "LP402"),
    ("ADD https://github.com/o/r.git#" + "c" * 40 + " /src\n", None),
    ("RUN curl -fsSL https://x.sh | sh\n", "LP403"),
    ("RUN wget -qO- https://x.sh | bash -s\n", "LP403"),
    ("RUN curl -o f https://x/f\n", "LP403"),
    ("RUN curl -o f https://x/f && echo 'ab  f' | sha256sum -c -\n", None),
    ("RUN poetry install\n", "LP204"),
    ("RUN uv sync\n", "LP203"),
    ("RUN uv pip install flask\n", "LP203"),
    ("RUN echo 'unterminated\n", None),
    ("RUN echo apt-get install -y x\n", None),
]


@pytest.mark.parametrize(("body", "rule"), CASES)
def test_rule_table(body: str, rule: str | None) -> None:
    text = body if body.startswith(("FROM", "ARG")) else PINNED + body
    got = [r for r in rules(text) if r != "LP102"]
    assert got == ([rule] if rule else [])


def test_pinned_from_and_platform_pass() -> None:
    assert rules(PINNED) == []


def test_build_arg_overrides_default() -> None:
    text = f"ARG BASE=debian@{DIGEST}\nFROM --platform=linux/amd64 ${{BASE}}\n"
    assert rules(text) == []
    assert rules(text, build_args={"BASE": "debian:12"}) == ["LP101"]


def test_platform_comment_and_warning() -> None:
    f = check(parse(f"FROM debian@{DIGEST}\n"), Ctx())
    assert [(x.rule, x.severity) for x in f] == [("LP102", "warning")]
    assert "--platform" in f[0].fix
    assert rules(f"# lockpin: platform=linux/arm64\nFROM debian@{DIGEST}\n") == []


def test_pip_requirements_read_from_context() -> None:
    run = PINNED + "RUN pip install --no-deps --require-hashes -r requirements.txt\n"
    assert rules(run, {"requirements.txt": HASHED}) == []
    assert rules(run, {"requirements.txt": b"flask==3.0\n"}) == ["LP201"]
    assert rules(run) == []  # absent: not read, flags are right
    assert rules(PINNED + "RUN pip install -r requirements.txt\n") == ["LP202"]


def test_uv_and_poetry_with_locks() -> None:
    assert rules(PINNED + "RUN uv sync --locked\n", {"uv.lock": b"x"}) == []
    assert rules(PINNED + "RUN uv sync --locked\n") == ["LP203"]
    assert rules(PINNED + "RUN poetry install\n", {"poetry.lock": b"x"}) == []


def test_suppressions_and_config() -> None:
    line = "FROM debian:12\n# lockpin: ignore=LP201\nRUN pip install x\n"
    assert rules("# lockpin: platform=linux/amd64\n" + line) == ["LP101"]
    top = "# lockpin: ignore-file=LP101,LP102\n\n" + line
    assert rules(top) == []
    assert rules("FROM debian:12\n", ignore=["LP101", "LP102"]) == []
    f = check(parse(PINNED + "RUN pip install x\n"), Ctx(), severities={"LP201": "warning"})
    assert [x.severity for x in f] == ["warning"]


def test_finding_to_dict_names_line() -> None:
    f = check(parse(PINNED + "RUN apk add curl\n", filename="Dockerfile"), Ctx())
    assert f[0].to_dict()["line"] == 2
    assert isinstance(f[0], Finding)
    assert f[0].to_dict()["file"] == "Dockerfile"


@pytest.mark.parametrize(
    "odd", ["RUN ||| &&\n", "RUN 'a\n", 'RUN ["pip"]\n', "RUN pip\n", "RUN sudo\n", "ADD\tx y\n"]
)
def test_odd_input_never_crashes(odd: str) -> None:
    check(parse(PINNED + odd), Ctx())


class _Fixed:
    def resolve(self, reference: str, platforms: object) -> str:
        return DIGEST


def test_pin_output_passes_the_from_rule(tmp_path: object) -> None:
    from pathlib import Path

    from lockpin.image.pin import pin_dockerfile

    df = Path(str(tmp_path)) / "Dockerfile"
    df.write_text("ARG BASE=python:3.12\nFROM debian:12 AS a\nFROM ${BASE}\nFROM a\n")
    assert rules(df.read_text()).count("LP101") == 2
    pin_dockerfile(df, resolver=_Fixed(), write=True)
    assert "LP101" not in rules(df.read_text())


def test_public_api() -> None:
    import lockpin

    found = lockpin.check_dockerfile("FROM debian:12\n", Ctx(), ignore=["LP102"])
    assert [f.rule for f in found] == ["LP101"]


def test_directory_context_reads_only_regular_files_inside_the_root(tmp_path: Path) -> None:
    from lockpin.image.check import DirectoryContext

    root = tmp_path / "ctx"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "requirements.txt").write_bytes(b"a==1\n")
    (tmp_path / "secret.txt").write_bytes(b"outside\n")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    ctx = DirectoryContext(str(root))
    assert ctx.read("sub/requirements.txt") == b"a==1\n"
    assert ctx.read("../secret.txt") is None
    assert ctx.read("link.txt") is None  # a link out of the context
    assert ctx.read("sub") is None  # a directory
    assert ctx.read("missing.txt") is None
