"""``.pre-commit-hooks.yaml``: it parses (a small reader of its one shape, and PyYAML
when installed agrees), its hooks are the four the docs promise, and every
``entry`` is a lockpin command whose ``--help`` works."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from support import run_subprocess

HOOKS = Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml"


def read_hooks(text: str) -> list[dict[str, object]]:
    """The file's shape: a list of flat mappings of plain scalars (``true``/``false``
    booleans); anything else fails the test."""
    hooks: list[dict[str, object]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.fullmatch(r"(- |  )([a-z_]+): (\S.*)", line)
        assert m, f"unexpected line: {line!r}"
        if m[1] == "- ":
            hooks.append({})
        value: object = {"true": True, "false": False}.get(m[3], m[3])
        assert hooks, "a key before the first hook"
        hooks[-1][m[2]] = value
    return hooks


def test_hooks_parse_and_name_the_four_checks() -> None:
    hooks = read_hooks(HOOKS.read_text())
    if importlib.util.find_spec("yaml") is not None:
        yaml = importlib.import_module("yaml")  # untyped: no stubs needed
        assert yaml.safe_load(HOOKS.read_text()) == hooks
    assert [h["entry"] for h in hooks] == [
        "lockpin compile --check",
        "lockpin apt compile --check",
        "lockpin dockerfile pin --check",
        "lockpin dockerfile check",
        "lockpin check-all",
    ]
    for hook in hooks:
        assert {"id", "name", "entry", "language", "files"} <= hook.keys()
        assert hook["language"] == "python"
        re.compile(str(hook["files"]))
    ids = [h["id"] for h in hooks]
    assert len(set(ids)) == len(ids)


def test_hook_file_patterns_match_the_files_they_check() -> None:
    by_id = {h["id"]: re.compile(str(h["files"])) for h in read_hooks(HOOKS.read_text())}
    assert by_id["lockpin-compile"].search("app/requirements.in")
    assert not by_id["lockpin-compile"].search("docs/requirements.md")
    assert by_id["lockpin-apt-compile"].search("apt.lock")
    assert by_id["lockpin-dockerfile-check"].search("docker/Dockerfile")
    assert not by_id["lockpin-dockerfile-check"].search("Dockerfile.md")
    for changed in ("pyproject.toml", "requirements-dev.in", "docker/apt.lock", "Dockerfile"):
        assert by_id["lockpin-check-all"].search(changed), changed
    assert not by_id["lockpin-check-all"].search("docs/configuration.md")


@pytest.mark.parametrize("hook", read_hooks(HOOKS.read_text()), ids=lambda h: str(h["id"]))
def test_every_entry_is_a_lockpin_command(hook: dict[str, object]) -> None:
    words = shlex.split(str(hook["entry"]))
    assert words[0] == "lockpin"
    command = [w for w in words[1:] if not w.startswith("-")]
    if (
        command == ["dockerfile", "check"]
        and importlib.util.find_spec("lockpin.image.check") is None
    ):
        pytest.skip("lockpin dockerfile check is not there yet (lockpin.image.check)")
    r = run_subprocess(*words[1:], "--help")
    assert r.code == 0, r.err
    assert r.out.startswith("usage: lockpin " + " ".join(command))
    for flag in words[1:]:
        if flag.startswith("-"):
            assert flag in r.out
