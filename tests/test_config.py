"""[tool.lockpin] and LOCKPIN_*: parsing, discovery, precedence, bad input, the docs table."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lockpin import _toml
from lockpin.cli import build_parser, main
from lockpin.cli._config import apply_config, leaf_parsers
from lockpin.config import SETTINGS, Config, find_config, load_config, parse_config
from lockpin.errors import InputError

if TYPE_CHECKING:
    import argparse

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty repository as the current directory, no LOCKPIN_* in the environment."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("LOCKPIN_")]:
        monkeypatch.delenv(name)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def parsed(argv: list[str], environ: dict[str, str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.argv = argv
    apply_config(args, environ=environ or {})
    return args


CONFIG = """\
[tool.lockpin]
python-version = "3.11"
platforms = ["linux/amd64", "linux/arm64"]
index-url = "https://config.example/simple"
allow-insecure-host = ["config-host"]
timeout = 7
cache-dir = "cache"

[tool.lockpin.compile]
exclude-newer = "2024-06-01"
output-file = "locks/requirements.txt"
src = ["app.in"]

[tool.lockpin.apt]
release = "bookworm"
mirror = "http://config-mirror/debian"

[tool.lockpin.dockerfile]
ignore = ["LP401"]
severity = { LP102 = "error" }
"""

# (argv, environment, dest, expected): flag > env > config > built-in default
PRECEDENCE = [
    (["compile"], {}, "python_version", "3.11"),
    (["compile"], {"LOCKPIN_PYTHON_VERSION": "3.12"}, "python_version", "3.12"),
    (
        ["compile", "--python-version", "3.13"],
        {"LOCKPIN_PYTHON_VERSION": "3.12"},
        "python_version",
        "3.13",
    ),
    (["compile"], {}, "platform", ["linux/amd64", "linux/arm64"]),
    (["compile", "--platform", "linux/arm/v7"], {}, "platform", ["linux/arm/v7"]),
    (
        ["compile"],
        {"LOCKPIN_PLATFORMS": "linux/arm64, linux/amd64"},
        "platform",
        ["linux/arm64", "linux/amd64"],
    ),
    (["verify", "x.txt"], {}, "index_url", "https://config.example/simple"),
    (
        ["verify", "x.txt"],
        {"LOCKPIN_INDEX_URL": "https://env.example/simple"},
        "index_url",
        "https://env.example/simple",
    ),
    (
        ["hash", "x.txt", "-i", "https://flag.example/simple"],
        {"LOCKPIN_INDEX_URL": "https://env.example/simple"},
        "index_url",
        "https://flag.example/simple",
    ),
    (["compile"], {}, "exclude_newer", "2024-06-01"),
    (["compile", "--exclude-newer", "2025-01-01"], {}, "exclude_newer", "2025-01-01"),
    (["compile"], {}, "output_file", "locks/requirements.txt"),
    (["compile"], {}, "src_files", ["app.in"]),
    (["compile", "other.in"], {}, "src_files", ["other.in"]),
    (["apt", "compile"], {"LOCKPIN_APT_SRC": "docker/apt.in"}, "src_file", "docker/apt.in"),
    (["apt", "compile", "x.in"], {"LOCKPIN_APT_SRC": "docker/apt.in"}, "src_file", "x.in"),
    (["compile"], {}, "timeout", 7.0),
    (["compile"], {"LOCKPIN_TIMEOUT": "9.5"}, "timeout", 9.5),
    (["compile", "--timeout", "3"], {"LOCKPIN_TIMEOUT": "9.5"}, "timeout", 3.0),
    (["compile"], {}, "retries", 3),  # built-in default: not in the config
    (["compile"], {"LOCKPIN_RETRIES": "0"}, "retries", 0),
    (["compile"], {}, "cache_dir", "cache"),
    (["apt", "compile"], {"LOCKPIN_CACHE_DIR": "/env/cache"}, "cache_dir", "/env/cache"),
    (["apt", "compile"], {}, "release", "bookworm"),
    (["apt", "compile"], {"LOCKPIN_APT_RELEASE": "trixie"}, "release", "trixie"),
    (
        ["apt", "compile", "--release", "noble"],
        {"LOCKPIN_APT_RELEASE": "trixie"},
        "release",
        "noble",
    ),
    (["apt", "compile"], {}, "mirror", "http://config-mirror/debian"),
    (["apt", "compile"], {}, "platform", ["linux/amd64", "linux/arm64"]),
    (["apt", "verify"], {}, "release", None),  # not an option of apt verify
    (["dockerfile", "check"], {}, "ignore", ["LP401"]),
    (["dockerfile", "check", "--ignore", "LP201"], {}, "ignore", ["LP201", "LP401"]),
    (["dockerfile", "check"], {}, "severity", {"LP102": "error"}),
    (
        ["dockerfile", "check"],
        {"LOCKPIN_DOCKERFILE_SEVERITY": "LP101=note"},
        "severity",
        {"LP101": "note"},
    ),
    # merge lists: flags add to the config's (or environment's) hosts
    (
        ["compile", "--allow-insecure-host", "flag-host"],
        {},
        "allow_insecure_host",
        ["flag-host", "config-host"],
    ),
    (["compile"], {"LOCKPIN_ALLOW_INSECURE_HOST": "a,b"}, "allow_insecure_host", ["a", "b"]),
    (["compile", "--no-index"], {"LOCKPIN_NO_INDEX": "0"}, "no_index", True),
    # python-version is compile's only: verify and hash keep the lock header's targets
    (["verify", "x.txt"], {}, "python_version", None),
    (["hash", "x.txt"], {"LOCKPIN_PYTHON_VERSION": "3.12"}, "python_version", None),
    (["compile"], {"LOCKPIN_NO_INDEX": "yes"}, "no_index", True),
]


@pytest.mark.parametrize(("argv", "environ", "dest", "expected"), PRECEDENCE)
def test_precedence(
    project: Path, argv: list[str], environ: dict[str, str], dest: str, expected: object
) -> None:
    write(project / "pyproject.toml", CONFIG)
    assert getattr(parsed(argv, environ), dest, None) == expected


def test_without_config_the_built_in_defaults_stay(project: Path) -> None:
    args = parsed(["compile"])
    assert (args.python_version, args.platform, args.timeout, args.cache_dir) == (
        None,
        [],
        30.0,
        None,
    )


def test_discovery_walks_up_to_the_repository_root(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "pyproject.toml", '[tool.lockpin]\npython-version = "3.10"\n')
    deep = project / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_config() == str(project / "pyproject.toml")
    assert parsed(["compile"]).python_version == "3.10"
    # a nearer pyproject.toml wins, even without [tool.lockpin]
    write(project / "a" / "pyproject.toml", "[project]\nname = 'x'\n")
    assert parsed(["compile"]).python_version is None


def test_discovery_stops_at_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "pyproject.toml", '[tool.lockpin]\npython-version = "3.10"\n')
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "sub").mkdir()
    assert find_config(tmp_path / "repo" / "sub") is None
    assert find_config(tmp_path / "repo" / "..") == str(tmp_path / "pyproject.toml")


def test_relative_paths_are_relative_to_the_pyproject(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "svc" / "pyproject.toml", CONFIG)
    deep = project / "svc" / "src"
    deep.mkdir()
    monkeypatch.chdir(deep)
    args = parsed(["compile"])  # above the current directory: absolute
    assert args.output_file == str(project / "svc" / "locks" / "requirements.txt")
    assert args.cache_dir == str(project / "svc" / "cache")
    # from elsewhere, through --config / LOCKPIN_CONFIG
    monkeypatch.chdir(project)
    assert parsed(["compile", "--config", "svc/pyproject.toml"]).cache_dir == "svc/cache"
    args = parsed(["compile"], {"LOCKPIN_CONFIG": "svc/pyproject.toml"})
    assert args.output_file == "svc/locks/requirements.txt"


def test_explicit_config_outside_the_tree_gives_absolute_paths(
    tmp_path: Path, project: Path
) -> None:
    elsewhere = write(tmp_path.parent / f"{tmp_path.name}-other" / "pyproject.toml", CONFIG)
    args = parsed(["compile", "--config", str(elsewhere)])
    assert args.cache_dir == str(elsewhere.parent / "cache")


def test_locks_and_checks(project: Path) -> None:
    text = """\
[tool.lockpin]
[[tool.lockpin.locks]]
src = "requirements.in"
[[tool.lockpin.locks]]
src = ["deps/dev.in"]
output = "deps/dev.lock.txt"
platforms = ["linux/arm64"]
verify = false
[[tool.lockpin.apt-locks]]
src = "docker/apt.in"
[tool.lockpin.dockerfile]
files = ["Dockerfile", "docker/Dockerfile"]
[tool.lockpin.check-all]
checks = ["dockerfile-check", "compile"]
"""
    config = parse_config(_toml.loads(text), source="pyproject.toml", base_dir="proj")
    assert [(lk.src, lk.output, lk.platforms, lk.verify) for lk in config.locks] == [
        (("proj/requirements.in",), "proj/requirements.txt", None, True),
        (("proj/deps/dev.in",), "proj/deps/dev.lock.txt", ("linux/arm64",), False),
    ]
    assert [(a.src, a.output) for a in config.apt_locks] == [
        ("proj/docker/apt.in", "proj/docker/apt.lock")
    ]
    assert config.dockerfiles == ("proj/Dockerfile", "proj/docker/Dockerfile")
    assert config.checks == ("compile", "dockerfile-check")  # in the order they run


def test_the_compile_table_is_a_lock_and_formats_default_from_it() -> None:
    text = """\
[tool.lockpin.compile]
src = ["app.in"]
format = "pylock"
"""
    config = parse_config(_toml.loads(text), source="pyproject.toml", base_dir=".")
    assert [(lk.src, lk.output, lk.format) for lk in config.locks] == [
        (("app.in",), "pylock.toml", "pylock")
    ]
    text += '[[tool.lockpin.locks]]\nsrc = "b.in"\n[[tool.lockpin.locks]]\nsrc = "c.in"\n'
    text += 'format = "requirements"\n'
    config = parse_config(_toml.loads(text), source="pyproject.toml", base_dir=".")
    assert [(lk.output, lk.format) for lk in config.locks] == [
        ("pylock.toml", "pylock"),
        ("c.txt", "requirements"),
    ]


def test_no_tool_lockpin_is_an_empty_config(project: Path) -> None:
    write(project / "pyproject.toml", "[project]\nname = 'x'\n")
    assert load_config() == Config(path="pyproject.toml")


BAD = [
    (
        "[tool.lockpin]\nplatfrom = []\n",
        "pyproject.toml:2: [tool.lockpin] platfrom: unknown key; did you mean 'platforms'?",
    ),
    (
        "[tool.lockpin.apt]\nrelase = 'bookworm'\n",
        "pyproject.toml:2: [tool.lockpin] apt.relase: unknown key; did you mean 'release'?",
    ),
    (
        "[tool.lockpin.comple]\npre = true\n",
        "pyproject.toml:1: [tool.lockpin] comple: unknown key; did you mean 'compile'?",
    ),
    (
        "[tool.lockpin]\ntimeout = 'soon'\n",
        "pyproject.toml:2: [tool.lockpin] timeout: expected a number, got str 'soon'",
    ),
    (
        "[tool.lockpin]\nretries = 2.5\n",
        "pyproject.toml:2: [tool.lockpin] retries: expected an integer, got float 2.5",
    ),
    (
        "[tool.lockpin]\nplatforms = [1]\n",
        "pyproject.toml:2: [tool.lockpin] platforms: expected a list of strings, got list [1]",
    ),
    (
        "[tool.lockpin]\noffline = 'yes'\n",
        "pyproject.toml:2: [tool.lockpin] offline: expected true or false, got str 'yes'",
    ),
    (
        "[tool.lockpin]\nindex-strategy = 'best'\n",
        "pyproject.toml:2: [tool.lockpin] index-strategy: expected one of first-index, "
        "unsafe-best-match, got 'best'",
    ),
    (
        "[tool.lockpin]\napt = 3\n",
        "pyproject.toml:2: [tool.lockpin] apt: expected a table, got int",
    ),
    (
        "[tool.lockpin.dockerfile]\nseverity = {LP101 = 'fatal'}\n",
        'pyproject.toml:2: [tool.lockpin] dockerfile.severity.LP101: expected "error", '
        '"warning" or "note", got \'fatal\'',
    ),
    (
        "[tool.lockpin.check-all]\nchecks = ['compiel']\n",
        "pyproject.toml:2: [tool.lockpin] check-all.checks: unknown check 'compiel'; "
        "did you mean 'compile'?",
    ),
    (
        "[[tool.lockpin.locks]]\noutput = 'x.txt'\n",
        "pyproject.toml:1: [tool.lockpin] locks[0].src: missing: name the input(s) to lock",
    ),
    (
        "[[tool.lockpin.locks]]\nsrc = 'a.in'\n"
        "[[tool.lockpin.locks]]\nsrc = 'b.in'\noutptu = 'x'\n",
        "pyproject.toml:5: [tool.lockpin] locks[1].outptu: unknown key; did you mean 'output'?",
    ),
    (
        "[tool.lockpin]\nlocks = {src = 'a.in'}\n",
        "pyproject.toml:2: [tool.lockpin] locks: expected an array of tables",
    ),
    ("[tool.lockpin\n", "pyproject.toml: invalid TOML:"),
    (
        "[tool.lockpin.dockerfile]\nignore = ['LP1O1']\n",
        "pyproject.toml:2: [tool.lockpin] dockerfile.ignore: unknown rule 'LP1O1'; "
        "did you mean 'LP101'?",
    ),
    (
        "[tool.lockpin.dockerfile]\nseverity = {LP999 = 'note'}\n",
        "pyproject.toml:2: [tool.lockpin] dockerfile.severity.LP999: unknown rule 'LP999'",
    ),
    ("[tool]\nlockpin = 1\n", "pyproject.toml: [tool.lockpin]: expected a table, got int"),
    # a value quoted back never shows the credentials of an index URL
    (
        "[tool.lockpin]\nindex-url = ['https://user:s3cret@idx.example/simple']\n",
        "pyproject.toml:2: [tool.lockpin] index-url: expected a string, got list "
        "['https://user:****@idx.example/simple']",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_config(
    project: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    write(project / "pyproject.toml", text)
    with pytest.raises(InputError) as info:
        load_config()
    assert str(info.value).startswith(message)
    # through the CLI: exit 2, one error paragraph, no traceback, before any work
    assert main(["dockerfile", "check", "missing-Dockerfile"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lockpin: error: {message}")
    assert "Traceback" not in err
    assert "missing-Dockerfile" not in err


def test_unknown_key_lists_the_known_keys(project: Path) -> None:
    write(project / "pyproject.toml", "[tool.lockpin.dockerfile]\nzzz = 1\n")
    with pytest.raises(
        InputError,
        match=r"known keys of \[tool.lockpin.dockerfile\]: "
        r"context, files, ignore, severity",
    ):
        load_config()


BAD_ENV = [
    ({"LOCKPIN_TIMEOUT": "soon"}, "$LOCKPIN_TIMEOUT='soon': expected a number."),
    ({"LOCKPIN_RETRIES": "x"}, "$LOCKPIN_RETRIES='x': expected an integer."),
    (
        {"LOCKPIN_OFFLINE": "perhaps"},
        "$LOCKPIN_OFFLINE='perhaps': expected 1/true/yes or 0/false/no.",
    ),
    ({"LOCKPIN_INDEX_STRATEGY": "best"}, "$LOCKPIN_INDEX_STRATEGY='best': expected one of "),
    ({"LOCKPIN_CONFIG": "nope.toml"}, "nope.toml: no such config file"),
    (
        {"LOCKPIN_DOCKERFILE_SEVERITY": "LP101=fatal"},
        "$LOCKPIN_DOCKERFILE_SEVERITY='LP101=fatal': expected RULE=error|warning|note",
    ),
    (
        {"LOCKPIN_DOCKERFILE_SEVERITY": "LP999=note"},
        "$LOCKPIN_DOCKERFILE_SEVERITY='LP999=note': expected RULE=error|warning|note",
    ),
]


@pytest.mark.parametrize(("environ", "message"), BAD_ENV)
def test_bad_environment(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    message: str,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(["hash", "missing.txt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lockpin: error: {message}"), err
    assert "Traceback" not in err


def test_missing_explicit_config(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dockerfile", "check", "--config", "other.toml"]) == 2
    assert "other.toml: no such config file" in capsys.readouterr().err


def test_dockerfile_check_reads_its_table(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "Dockerfile", "FROM python:3.12\nRUN pip install flask\n")
    assert main(["dockerfile", "check"]) == 1
    out = capsys.readouterr().out
    assert "error LP101" in out
    assert "LP201" in out
    assert "warning LP102" in out
    write(
        project / "pyproject.toml",
        '[tool.lockpin.dockerfile]\nignore = ["LP201"]\n'
        'severity = {LP101 = "note", LP102 = "error"}\n',
    )
    assert main(["dockerfile", "check"]) == 1  # LP102 is an error now
    out = capsys.readouterr().out
    assert "note LP101" in out
    assert "error LP102" in out
    assert "LP201" not in out
    write(
        project / "pyproject.toml",
        '[tool.lockpin.dockerfile]\nignore = ["LP201", "LP102"]\nseverity = {LP101 = "note"}\n',
    )
    assert main(["dockerfile", "check"]) == 0


# -- the mapping table against the commands and the docs ------------------------------------------


def test_every_setting_names_a_real_option() -> None:
    parsers = dict(leaf_parsers(build_parser()))
    for setting in SETTINGS:
        for command in setting.commands:
            dests = {a.dest for a in parsers[command]._actions}
            if setting.flag != "-":
                assert setting.dest in dests, (setting.dotted, command)
            if setting.flag.startswith("--"):
                flags = {f for a in parsers[command]._actions for f in a.option_strings}
                assert setting.flag in flags, (setting.dotted, command)
    envs = [s.env for s in SETTINGS]
    assert len(envs) == len(set(envs))
    assert {"LOCKPIN_INDEX_URL", "LOCKPIN_ALLOW_INSECURE_HOST", "LOCKPIN_CACHE_DIR"} <= set(envs)


def _doc_rows() -> dict[str, list[str]]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 6:
            rows[cells[0].strip("`")] = cells
    return rows


def test_the_docs_table_is_the_settings_table() -> None:
    rows = _doc_rows()
    assert set(rows) == {s.dotted for s in SETTINGS}
    for s in SETTINGS:
        _key, env, flag, commands, _meaning, _default = rows[s.dotted]
        assert env == f"`{s.env}`", s.dotted
        assert flag == ("-" if s.flag == "-" else f"`{s.flag}`"), s.dotted
        assert re.findall(r"`([^`]+)`", commands) == list(s.commands), s.dotted


def test_the_docs_example_is_a_valid_config() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    example = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert example is not None
    config = parse_config(_toml.loads(example[1]), source="pyproject.toml", base_dir=".")
    assert [lk.src for lk in config.locks] == [("requirements.in",), ("requirements-dev.in",)]
    assert config.severities == {"LP102": "error"}
    assert config.get("compile.exclude-newer") == "2026-11-30"
