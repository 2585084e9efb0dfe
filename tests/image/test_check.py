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


# -- fixes found on the hadolint corpus (tests/data/dockerfiles/) and the list --

SHA = "a" * 64
FIX_CASES = [
    # apt-get: option values are not packages; globs are not exact; local .debs are not judged
    ("RUN apt-get -o Dpkg::Options::=--force-confold install -y curl=8.0\n", None),
    ("RUN apt-get -o Acquire::Retries=3 install -y curl\n", "LP301"),
    ("RUN apt-get install -t bookworm-backports -y curl=8.0\n", None),
    ("RUN apt-get --target-release bookworm install -y -c /etc/apt.conf curl=8.0\n", None),
    ("RUN apt install -y --snapshot 20240101T000000Z curl=8.0\n", None),
    ("RUN apt-get install -y -a arm64 libc6=2.36\n", None),
    ("RUN apt-get install -y ./local.deb /tmp/x.deb\n", None),
    ("RUN apt-get install -y curl=8.0*\n", "LP301"),
    ("RUN apt-get install -y curl=\n", "LP301"),
    ("RUN apt-get install -y libfoo=1:2.0~rc1-1+deb12u1\n", None),
    # apk: --virtual/-t NAME, -X URL, -p ROOT
    ("RUN apk add --no-cache --virtual .build-deps gcc=13.2.1-r0\n", None),
    (
        "RUN apk add -t .deps -X https://dl-cdn.alpinelinux.org/alpine/edge/main gcc=13.2.1-r0\n",
        None,
    ),
    ("RUN apk add -p /sysroot musl=1.2.4-r2\n", None),
    ("RUN apk add --virtual .build-deps gcc\n", "LP302"),
    ("RUN apk add gcc~13\n", "LP302"),
    ("RUN apk add gcc=~13.2\n", "LP302"),
    ("RUN apk add 'gcc>13'\n", "LP302"),
    # LP403: the check must concern the downloaded file; pipes into interpreters always
    ("RUN curl -o f https://x/f && echo 'ab  g' | sha256sum -c - && sh f\n", "LP403"),
    ("RUN curl -o f https://x/f && sha256sum /etc/passwd\n", "LP403"),
    ('RUN curl -fsSLo f https://x/f && echo "$SUM *f" | sha256sum -c -\n', None),
    ('RUN wget https://x/a.tgz && echo "$SUM  a.tgz" | sha256sum -c -\n', None),
    (
        "RUN curl -fsSLO https://x/a.tgz && curl -fsSLO https://x/a.tgz.asc && "
        "gpg --batch --verify a.tgz.asc a.tgz\n",
        None,
    ),
    ("RUN curl -fL -o a.tgz https://x/a.tgz && sha256sum -c SHA256SUMS\n", None),
    ('RUN curl -O https://x/a.tgz && [ "$(sha256sum a.tgz)" = "$S  a.tgz" ]\n', None),
    ("RUN curl https://x/f > f && sha256sum -c f.sha256\n", None),
    ("RUN curl https://x/f > f\n", "LP403"),
    ("RUN curl -fsSL https://x/i.py | python3 -\n", "LP403"),
    ("RUN curl -fsSL https://x/i.sh | sudo sh\n", "LP403"),
    ("RUN curl -fsSL https://x/i.sh | sh && echo 'ab  i.sh' | sha256sum -c -\n", "LP403"),
    ("RUN curl -fsSL https://x/a.tgz | tar -xz\n", "LP403"),
    # pip: local projects, --upgrade pip, pip3.12, uv pip
    ("RUN pip install .\n", "LP201"),
    ("RUN pip install -e .\n", "LP201"),
    ("RUN pip install --upgrade pip\n", "LP201"),
    ("RUN pip3.12 install flask\n", "LP201"),
    ("RUN python3.12 -m pip install flask\n", "LP201"),
    ("RUN pip install --no-deps --require-hashes -r r.txt && pip install --no-deps .\n", None),
    ("RUN pip install --no-deps .\n", "LP201"),
    ("RUN uv pip install --system --no-deps --require-hashes -r r.txt\n", None),
    ("RUN uv pip install --system -r r.txt\n", "LP203"),
    # new rules
    ("RUN pipenv install --system --deploy\n", None),
    ("RUN pipenv sync --system\n", None),
    ("RUN pipenv install --system\n", "LP205"),
    ("RUN pipenv install requests\n", "LP205"),
    ("RUN pipx install black\n", "LP206"),
    ("RUN conda install -y numpy=1.26\n", "LP207"),
    ("RUN mamba install --yes 'flake8'\n", "LP207"),
    ("RUN micromamba create -y -n env --file conda-lock.txt\n", None),
    ("RUN npm ci\n", None),
    ("RUN npm install\n", "LP501"),
    ("RUN npm install -g azurite@3\n", "LP501"),
    ("RUN yarn add left-pad\n", "LP501"),
    ("RUN yarn install --frozen-lockfile\n", None),
    ("RUN gem install bundler\n", "LP502"),
    ("RUN gem install bundler -v 2.5.0\n", None),
    ("RUN go install golang.org/x/tools/gopls@latest\n", "LP503"),
    ("RUN go install golang.org/x/tools/gopls@v0.16.1\n", None),
    ("RUN go install ./cmd/app\n", None),
    ("RUN poetry sync\n", "LP204"),
]


@pytest.mark.parametrize(("body", "rule"), FIX_CASES)
def test_fix_table(body: str, rule: str | None) -> None:
    got = [r for r in rules(PINNED + body) if r != "LP102"]
    assert got == ([rule] if rule else [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"FROM debian@sha512:{'b' * 128}\n", []),
        (f"FROM debian:12@sha256:{'c' * 64}\n", []),
        ("FROM debian@sha256:abc\n", ["LP101"]),
        (f"FROM debian@md5:{'d' * 32}\n", ["LP101"]),
        ("FROM scratch\n", []),
        (f"FROM debian@{DIGEST} AS base\nFROM base\n", []),
        (f"ARG S=base\nFROM debian@{DIGEST} AS base\nFROM ${{S}}\n", []),
        (f"FROM debian@{DIGEST} AS b-amd64\nARG X=amd64\nFROM b-${{X}}\n", []),
        ("ARG FROM\nFROM ${FROM}\n", ["LP101"]),
        (f"FROM debian@{DIGEST} AS builder\nARG FROM\nFROM ${{FROM}}\n", ["LP101"]),
    ],
)
def test_from_digests_stages_and_unset_args(text: str, expected: list[str]) -> None:
    assert rules("# lockpin: platform=linux/amd64\n" + text) == expected


def test_malformed_digest_says_so() -> None:
    f = check(parse(PINNED + "FROM debian@sha256:abc\n"), Ctx())
    lp101 = [x for x in f if x.rule == "LP101"]
    assert len(lp101) == 1
    assert "not a whole digest" in lp101[0].message


def test_requirements_found_through_copy_and_workdir() -> None:
    plain = b"flask==3.0\n"
    flags = "--no-deps --require-hashes"
    # an absolute -r: found through the COPY that placed it, not by its basename
    text = (
        PINNED
        + "COPY deps/prod.txt /app/requirements.txt\n"
        + f"RUN pip install {flags} -r /app/requirements.txt\n"
    )
    assert rules(text, {"deps/prod.txt": plain, "requirements.txt": HASHED}) == ["LP201"]
    assert rules(text, {"deps/prod.txt": HASHED, "requirements.txt": plain}) == []
    # COPY into a directory, relative -r against WORKDIR
    text = PINNED + f"WORKDIR /srv\nCOPY reqs/ ./reqs/\nRUN pip install {flags} -r reqs/lock.txt\n"
    assert rules(text, {"reqs/lock.txt": plain}) == ["LP201"]
    # COPY . DIR
    text = PINNED + f"COPY . /code\nWORKDIR /code\nRUN pip install {flags} -r sub/r.txt\n"
    assert rules(text, {"sub/r.txt": plain}) == ["LP201"]
    # nothing places it: the basename, and the message says so
    text = PINNED + f"RUN pip install {flags} -r /opt/requirements.txt\n"
    f = check(parse(text), Ctx({"requirements.txt": plain}))
    assert [x.rule for x in f] == ["LP201"]
    assert "by its name" in f[0].message
    # a COPY in another stage does not count
    text = (
        PINNED
        + "COPY deps/prod.txt /app/requirements.txt\n"
        + PINNED
        + f"RUN pip install {flags} -r /app/requirements.txt\n"
    )
    f = check(parse(text), Ctx({"deps/prod.txt": plain, "requirements.txt": HASHED}))
    assert [x.rule for x in f] == []


APT_SCRIPT = (
    "#!/bin/sh\n# Generated by lockpin from an apt.lock (bookworm).\nset -eu\n"
    'apt-get -q -y install "$@"\n'
)


def test_lockpin_apt_script_accepted_inline_and_by_name() -> None:
    heredoc = PINNED + "RUN <<'EOF'\n" + APT_SCRIPT + "EOF\n"
    assert rules(heredoc) == []
    by_name = PINNED + "COPY apt-install.sh /tmp/apt-install.sh\nRUN sh /tmp/apt-install.sh\n"
    assert rules(by_name, {"apt-install.sh": APT_SCRIPT.encode()}) == []
    dot = PINNED + "COPY apt-install.sh ./\nRUN ./apt-install.sh\n"
    assert rules(dot, {"apt-install.sh": APT_SCRIPT.encode()}) == []
    # any other script run by name is checked when the context holds it
    other = b"#!/bin/sh\napt-get install -y curl\n"
    assert rules(by_name, {"apt-install.sh": other}) == ["LP301"]
    assert rules(by_name) == []  # not in the context: not judged


def test_apt_findings_name_variables_and_command_output() -> None:
    f = check(parse(PINNED + "RUN apt-get install -y $deps $(cat pkgs.txt) curl=1\n"), Ctx())
    assert [x.rule for x in f] == ["LP301"]
    assert "$deps, $(…)" in f[0].message
    assert "cannot see" in f[0].message
