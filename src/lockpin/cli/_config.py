"""``[tool.lockpin]`` and ``LOCKPIN_*`` as defaults of the parsed command line.

After argparse has parsed (so ``--help`` shows the built-in defaults, and a bad
command line fails as before), :func:`apply_config` fills each option of
:data:`lockpin.config.SETTINGS` that the command has and the command line did not
give: from its environment variable, else from the config, else the built-in default
stays. Flags win: a list option given on the command line replaces the config's,
except the ``merge`` ones (``allow-insecure-host``, ``insecure-registry``,
``dockerfile.ignore``), which add to it.

Imported when the parser is built: only the standard library at module level.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from ..config import Config, Setting

__all__ = ["add_config_option", "apply_config", "command_path", "leaf_parsers"]


def leaf_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command's parser, by its name as typed (``"apt compile"``)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs and path:
        yield " ".join(path), parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from leaf_parsers(sub, (*path, name))


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` on every command."""
    for _, sub in leaf_parsers(parser):
        sub.add_argument(
            "--config",
            dest="config_file",
            metavar="FILE",
            help="the pyproject.toml whose [tool.lockpin] sets defaults (default: "
            "$LOCKPIN_CONFIG, else the nearest pyproject.toml up to the repository root)",
        )


def command_path(args: argparse.Namespace) -> str:
    name: str = args.command
    sub = getattr(args, f"{name}_command", None)
    return f"{name} {sub}" if sub else name


def _given(argv: Sequence[str]) -> set[str]:
    """The dests the command line set itself: a second parse with every default
    suppressed, so that only what was typed lands in the namespace."""
    from . import build_parser

    fresh = build_parser()
    for _, sub in leaf_parsers(fresh):
        sub._defaults.clear()
        for action in sub._actions:
            action.default = argparse.SUPPRESS
    return set(vars(fresh.parse_known_args(list(argv))[0]))


def _from_env(setting: Setting, text: str) -> object:
    from ..errors import InputError

    def bad(expected: str) -> InputError:
        from ..net.redact import redact_text

        return InputError(redact_text(f"${setting.env}={text!r}: expected {expected}."))

    kind = setting.kind
    if kind in ("str", "path"):
        if setting.choices and text not in setting.choices:
            raise bad("one of " + ", ".join(setting.choices))
        return text
    if kind == "bool":
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise bad("1/true/yes or 0/false/no")
    if kind in ("int", "float"):
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            raise bad("an integer" if kind == "int" else "a number") from None
    items = [item.strip() for item in text.split(",") if item.strip()]
    if kind in ("list", "paths"):
        return items
    from ..image.check import RULES

    severities: dict[str, str] = {}
    for item in items:
        rule, sep, sev = item.partition("=")
        if not sep or sev not in ("error", "warning", "note") or rule.strip() not in RULES:
            raise bad("RULE=error|warning|note, comma-separated, of the rules LP101…")
        severities[rule.strip()] = sev
    return severities


def load(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    from ..config import load_config

    explicit = getattr(args, "config_file", None) or environ.get("LOCKPIN_CONFIG") or None
    return load_config(explicit)


def apply_config(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> Config:
    """Fill ``args`` from the environment and the config (see the module docstring);
    the config, amended by the environment, is also left on ``args.lockpin_config``
    for commands that read more of it (``check-all``)."""
    import dataclasses

    from ..config import SETTINGS

    env = os.environ if environ is None else environ
    config = load(args, env)
    overrides = {s.dotted: _from_env(s, env[s.env]) for s in SETTINGS if s.env in env}
    # what check-all reads: the config as the environment amends it
    args.lockpin_config = dataclasses.replace(config, values={**config.values, **overrides})
    command = command_path(args)
    given = _given(args.argv)
    for setting in SETTINGS:
        if command not in setting.commands:
            continue
        value: object = None
        if env.get(setting.env) is not None:
            value = _from_env(setting, env[setting.env])
        elif setting.dotted in config.values:
            value = config.values[setting.dotted]
        if value is None:
            continue
        if setting.merge and isinstance(value, list):
            current = getattr(args, setting.dest) or []
            value = list(dict.fromkeys([*current, *value]))
        elif setting.dest in given:
            continue
        setattr(args, setting.dest, value)
    return config
