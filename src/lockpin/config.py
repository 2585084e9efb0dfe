"""``[tool.lockpin]`` in ``pyproject.toml``: the defaults a team fixes once.

One table, :data:`SETTINGS`, names every key: the table it lives in (``[tool.lockpin]``
or a command's sub-table such as ``[tool.lockpin.apt]``), its type, the commands and
the option it sets a default for, and its ``LOCKPIN_*`` environment variable. The CLI
applies it (flag > environment > config > built-in default, see
``lockpin/cli/_config.py``) and ``docs/configuration.md`` is checked against it.

Besides those defaults the config names what ``lockpin check-all`` checks:
``[[tool.lockpin.locks]]`` (Python locks), ``[[tool.lockpin.apt-locks]]``, the
Dockerfiles of ``[tool.lockpin.dockerfile] files``, and which kinds of check run
(``[tool.lockpin.check-all] checks``).

The core, :func:`parse_config`, takes the parsed TOML document and returns a frozen
:class:`Config` or raises :class:`~lockpin.errors.InputError` naming the file, the dotted
key and what was expected; :func:`find_config` and :func:`load_config` are the small
loader around it.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from .errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "CHECK_KINDS",
    "SETTINGS",
    "AptLockSpec",
    "Config",
    "LockSpec",
    "Setting",
    "find_config",
    "load_config",
    "parse_config",
]

Kind = Literal["str", "path", "bool", "int", "float", "list", "paths", "severities"]
Severity = Literal["error", "warning", "note"]

#: what ``[tool.lockpin.check-all] checks`` may name, in the order they run
CHECK_KINDS: Final = ("compile", "verify", "apt", "dockerfile-pin", "dockerfile-check")


@dataclass(frozen=True)
class Setting:
    """One config key: ``key`` in ``[tool.lockpin]`` (``table`` empty) or in
    ``[tool.lockpin.<table>]``; the option ``flag`` (argparse ``dest``) of each of
    ``commands`` it sets the default of; ``env`` its environment variable.
    ``merge``: a list whose flag values are added to (not replacing) the config's."""

    table: str
    key: str
    kind: Kind
    dest: str
    flag: str
    commands: tuple[str, ...]
    env: str
    meaning: str
    default: str = "-"
    choices: tuple[str, ...] = ()
    merge: bool = False

    @property
    def dotted(self) -> str:
        return f"{self.table}.{self.key}" if self.table else self.key


_PY = ("compile", "hash", "verify")
_IDX = (*_PY, "check-all")
_NET = (*_IDX, "apt compile", "apt verify", "dockerfile pin", "image resolve")


def _s(
    table: str,
    key: str,
    kind: Kind,
    commands: tuple[str, ...],
    meaning: str,
    *,
    default: str = "-",
    choices: tuple[str, ...] = (),
    merge: bool = False,
    env: str | None = None,
    flag: str | None = None,
    dest: str | None = None,
) -> Setting:
    prefix = f"{table}_" if table and table not in ("compile",) else ""
    return Setting(
        table=table,
        key=key,
        kind=kind,
        dest=dest or (flag or key).lstrip("-").replace("-", "_"),
        flag=flag or f"--{key}",
        commands=commands,
        env=env or "LOCKPIN_" + (prefix + key.replace("-", "_")).upper(),
        meaning=meaning,
        default=default,
        choices=choices,
        merge=merge,
    )


SETTINGS: Final[tuple[Setting, ...]] = (
    # -- [tool.lockpin]: every command that has the option
    _s(
        "",
        "python-version",
        "str",
        ("compile",),
        "target interpreter version X.Y[.Z]",
        default="the running interpreter",
    ),
    _s(
        "",
        "platforms",
        "list",
        ("compile", "apt compile", "dockerfile pin"),
        "target platforms (linux/amd64, or a pip tag for compile)",
        flag="--platform",
        default="none (compile: the running interpreter's)",
    ),
    _s(
        "",
        "index-url",
        "str",
        _IDX,
        "base URL of the primary simple index",
        default="https://pypi.org/simple, or the input's -i line",
    ),
    _s("", "extra-index-url", "list", _IDX, "more indexes, after index-url", default="[]"),
    _s(
        "",
        "find-links",
        "paths",
        _IDX,
        "local directories or pages of distribution links",
        default="[]",
    ),
    _s("", "no-index", "bool", _IDX, "use only find-links", default="false"),
    _s(
        "",
        "index-strategy",
        "str",
        _IDX,
        "which index supplies a project's files",
        default="first-index",
        choices=("first-index", "unsafe-best-match"),
    ),
    _s(
        "",
        "allow-insecure-host",
        "list",
        (*_IDX, "apt compile", "apt verify"),
        "hosts (HOST or HOST:PORT) allowed over plain http",
        default="[]",
        merge=True,
    ),
    _s(
        "",
        "insecure-registry",
        "list",
        ("compile", "apt compile", "dockerfile pin", "image resolve", "check-all"),
        "registries spoken to over plain http",
        default="[]",
        merge=True,
    ),
    _s("", "cache-dir", "path", _NET, "cache location", default="the user cache dir"),
    _s("", "offline", "bool", _NET, "use only the cache", default="false"),
    _s("", "timeout", "float", _NET, "network timeout per request, seconds", default="30"),
    _s("", "retries", "int", _NET, "retries on connection errors and 5xx", default="3"),
    _s(
        "",
        "deadline",
        "float",
        _NET,
        "total time for a command's network work, seconds",
        default="none",
    ),
    _s(
        "",
        "max-age",
        "int",
        _NET,
        "freshness of an index page without cache headers, s",
        default="600",
    ),
    # -- [tool.lockpin.compile]
    _s(
        "compile",
        "src",
        "paths",
        ("compile",),
        "the inputs to lock",
        flag="SRC",
        dest="src_files",
        default='["requirements.in"]',
        env="LOCKPIN_COMPILE_SRC",
    ),
    _s(
        "compile",
        "output-file",
        "path",
        ("compile",),
        "the lockfile to write",
        default="requirements.txt next to the first input",
        env="LOCKPIN_COMPILE_OUTPUT_FILE",
    ),
    _s(
        "compile",
        "format",
        "str",
        ("compile",),
        "lock format",
        default="requirements",
        choices=("requirements", "pylock"),
        env="LOCKPIN_COMPILE_FORMAT",
    ),
    _s(
        "compile",
        "exclude-newer",
        "str",
        ("compile",),
        "ignore files uploaded after this RFC 3339 time or date",
        default="none",
    ),
    _s(
        "compile",
        "pre",
        "bool",
        ("compile",),
        "allow pre-releases",
        default="false",
        env="LOCKPIN_COMPILE_PRE",
    ),
    _s(
        "compile",
        "only-binary",
        "list",
        ("compile",),
        "refuse sdists for these packages",
        default="[]",
        env="LOCKPIN_COMPILE_ONLY_BINARY",
    ),
    _s(
        "compile",
        "no-binary",
        "list",
        ("compile",),
        "refuse wheels for these packages",
        default="[]",
        env="LOCKPIN_COMPILE_NO_BINARY",
    ),
    _s(
        "compile",
        "target-hashes-only",
        "bool",
        ("compile",),
        "hash only the files installable on the targets",
        default="false",
        env="LOCKPIN_COMPILE_TARGET_HASHES_ONLY",
    ),
    _s(
        "compile",
        "build-python",
        "path",
        ("compile",),
        "interpreter that builds sdists to read their metadata",
        default="a CPython of the target's X.Y (pyenv, uv, PATH), else the running one",
        env="LOCKPIN_BUILD_PYTHON",
    ),
    # -- [tool.lockpin.apt]
    _s(
        "apt",
        "src",
        "path",
        ("apt compile",),
        "the package list",
        flag="SRC",
        dest="src_file",
        default="apt.in",
    ),
    _s(
        "apt",
        "output-file",
        "path",
        ("apt compile",),
        "the lock to write",
        default="apt.lock next to the input",
    ),
    _s(
        "apt",
        "release",
        "str",
        ("apt compile",),
        "release codename (bookworm, noble)",
        default="from --base",
    ),
    _s("apt", "distro", "str", ("apt compile",), "debian or ubuntu", default="from the release"),
    _s("apt", "suite", "list", ("apt compile",), "suites to read", default="the release's"),
    _s("apt", "component", "list", ("apt compile",), "archive components", default="main"),
    _s("apt", "mirror", "str", ("apt compile",), "archive mirror URL", default="the distro's"),
    _s(
        "apt",
        "security-mirror",
        "str",
        ("apt compile",),
        "security archive URL",
        default="the distro's",
    ),
    _s(
        "apt",
        "snapshot",
        "str",
        ("apt compile",),
        "snapshot timestamp YYYYMMDDTHHMMSSZ",
        default="none",
    ),
    _s(
        "apt",
        "snapshot-url",
        "str",
        ("apt compile",),
        "snapshot service URL",
        default="the distro's",
    ),
    _s(
        "apt",
        "keyring",
        "path",
        ("apt compile", "apt verify"),
        "archive keyring",
        default="the distro's",
    ),
    _s(
        "apt",
        "with-recommends",
        "bool",
        ("apt compile",),
        "install Recommends too",
        default="false",
    ),
    # -- [tool.lockpin.dockerfile]
    _s(
        "dockerfile",
        "ignore",
        "list",
        ("dockerfile check",),
        "rule ids never reported (added to --ignore)",
        default="[]",
        merge=True,
    ),
    _s(
        "dockerfile",
        "severity",
        "severities",
        ("dockerfile check",),
        "rule id -> error, warning or note",
        default="{}",
        flag="-",
        dest="severity",
    ),
    _s(
        "dockerfile",
        "context",
        "path",
        ("dockerfile check",),
        "build context",
        default="the Dockerfile's directory",
    ),
)

#: tables that are not option defaults but inputs of ``check-all``
_INPUT_KEYS: Final = {
    "dockerfile": ("files",),
    "check-all": ("checks",),
}
_LOCK_KEYS: Final = ("src", "output", "format", "python-version", "platforms", "verify")
_APT_LOCK_KEYS: Final = ("src", "output", "release", "platforms")

_BY_TABLE: dict[str, dict[str, Setting]] = {}
for _setting in SETTINGS:
    _BY_TABLE.setdefault(_setting.table, {})[_setting.key] = _setting


@dataclass(frozen=True)
class LockSpec:
    """One ``[[tool.lockpin.locks]]`` entry: a Python lock ``check-all`` keeps current."""

    src: tuple[str, ...]
    output: str
    format: str = "requirements"
    python_version: str | None = None
    platforms: tuple[str, ...] | None = None
    verify: bool = True


@dataclass(frozen=True)
class AptLockSpec:
    """One ``[[tool.lockpin.apt-locks]]`` entry."""

    src: str
    output: str
    release: str | None = None
    platforms: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Config:
    """A parsed ``[tool.lockpin]``: ``values`` by dotted key (``"apt.release"``), with
    paths already relative to the process's directory; ``path`` the file (``None``:
    no config)."""

    path: str | None = None
    values: Mapping[str, object] = field(default_factory=dict)
    locks: tuple[LockSpec, ...] = ()
    apt_locks: tuple[AptLockSpec, ...] = ()
    dockerfiles: tuple[str, ...] = ()
    checks: tuple[str, ...] = CHECK_KINDS

    def get(self, dotted: str) -> object:
        return self.values.get(dotted)

    @property
    def ignore(self) -> tuple[str, ...]:
        value = self.values.get("dockerfile.ignore", ())
        return tuple(value) if isinstance(value, (list, tuple)) else ()

    @property
    def severities(self) -> dict[str, Severity]:
        value = self.values.get("dockerfile.severity", {})
        return dict(value) if isinstance(value, dict) else {}


# -- the pure core ------------------------------------------------------------------------------


class _Where:
    def __init__(self, source: str, base_dir: str, text: str | None) -> None:
        self.source = source
        self.base_dir = base_dir
        self.lines = text.splitlines() if text is not None else []

    def fail(self, dotted: str, message: str) -> InputError:
        from .net.redact import redact_text

        line = self.line(dotted)
        at = f"{self.source}:{line}" if line else self.source
        key = f"[tool.lockpin] {dotted}" if dotted else "[tool.lockpin]"
        # the values quoted may be index URLs with credentials in them
        return InputError(f"{at}: {key}: {redact_text(message)}")

    def line(self, dotted: str) -> int | None:
        """The line of ``dotted`` in the text: the deepest table header naming a
        prefix of it, then its key below that header (``None`` when not plain)."""
        parts = [
            (m[1], int(m[2]) if m[2] else 0)
            for m in re.finditer(r"([^.\[]+)(?:\[(\d+)\])?", dotted)
        ]
        for depth in range(len(parts), -1, -1):
            name = ".".join(["tool.lockpin", *(p for p, _ in parts[:depth])])
            header = self._header(name, parts[depth - 1][1] if depth else 0)
            if header is None:
                continue
            if depth == len(parts):
                return header + 1
            key = re.compile(rf"^\s*[\"']?{re.escape(parts[depth][0])}[\"']?\s*=")
            for number in range(header + 1, len(self.lines)):
                if self.lines[number].lstrip().startswith("["):
                    break
                if key.match(self.lines[number]):
                    return number + 1
            return header + 1
        return None

    def _header(self, name: str, index: int = 0) -> int | None:
        pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(name)}\s*\]\]?\s*(#.*)?$")
        seen = 0
        for number, text in enumerate(self.lines):
            if pattern.match(text):
                if seen == index:
                    return number
                seen += 1
        return None

    def path(self, value: str) -> str:
        if os.path.isabs(value) or "://" in value:
            return value
        return os.path.normpath(os.path.join(self.base_dir, value))


_TYPE_NAMES: Final[dict[str, str]] = {
    "str": "a string",
    "path": "a string (a path)",
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "list": "a list of strings",
    "paths": "a list of strings (paths)",
    "severities": 'a table of rule id = "error" | "warning" | "note"',
}


def _unknown(where: _Where, table: str, key: str, known: Sequence[str]) -> InputError:
    dotted = f"{table}.{key}" if table else key
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return where.fail(
        dotted,
        f"unknown key; {hint}known keys{' of [tool.lockpin.' + table + ']' if table else ''}: "
        f"{', '.join(sorted(known))} (see docs/configuration.md)",
    )


def convert(
    where: _Where, dotted: str, kind: Kind, value: object, choices: tuple[str, ...] = ()
) -> object:
    """``value`` checked against ``kind`` (paths resolved)."""
    expected = _TYPE_NAMES[kind]
    quote = (
        f' (quote it: "{value}")'
        if kind in ("str", "path")
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        else ""
    )
    bad = where.fail(dotted, f"expected {expected}, got {type(value).__name__} {value!r}{quote}")
    if kind in ("str", "path"):
        if not isinstance(value, str):
            raise bad
        if choices and value not in choices:
            raise where.fail(dotted, f"expected one of {', '.join(choices)}, got {value!r}")
        return where.path(value) if kind == "path" else value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if kind in ("list", "paths"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad
        if dotted == "dockerfile.ignore":
            for rule in value:
                _known_rule(where, dotted, rule)
        return [where.path(v) for v in value] if kind == "paths" else list(value)
    if not isinstance(value, dict):
        raise bad
    out: dict[str, str] = {}
    for rule, sev in value.items():
        _known_rule(where, f"{dotted}.{rule}", str(rule))
        if sev not in ("error", "warning", "note"):
            raise where.fail(
                f"{dotted}.{rule}", f'expected "error", "warning" or "note", got {sev!r}'
            )
        out[str(rule)] = sev
    return out


def _known_rule(where: _Where, dotted: str, rule: str) -> None:
    from .image.check import RULES

    if rule not in RULES:
        close = difflib.get_close_matches(rule, list(RULES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise where.fail(
            dotted, f"unknown rule {rule!r}; {hint}the rules are in docs/dockerfile.md"
        )


def _table(where: _Where, dotted: str, value: object) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise where.fail(dotted, f"expected a table, got {type(value).__name__}")
    return value


def _default_output(src: str, fmt: str) -> str:
    """Where ``lockpin compile SRC`` writes (as the CLI does)."""
    if src.endswith(".in") and fmt != "pylock":
        return src[:-3] + ".txt"
    return os.path.join(
        os.path.dirname(src), "pylock.toml" if fmt == "pylock" else "requirements.txt"
    )


def _locks(where: _Where, value: object, default_format: str) -> tuple[LockSpec, ...]:
    if not isinstance(value, list):
        raise where.fail("locks", "expected an array of tables ([[tool.lockpin.locks]])")
    specs: list[LockSpec] = []
    for i, entry in enumerate(value):
        dotted = f"locks[{i}]"
        table = _table(where, dotted, entry)
        for key in table:
            if key not in _LOCK_KEYS:
                raise _unknown(where, dotted, key, _LOCK_KEYS)
        if "src" not in table:
            raise where.fail(f"{dotted}.src", "missing: name the input(s) to lock")
        src = convert(where, f"{dotted}.src", "paths", table["src"])
        assert isinstance(src, list)
        fmt = convert(
            where,
            f"{dotted}.format",
            "str",
            table.get("format", default_format),
            ("requirements", "pylock"),
        )
        default_out = _default_output(src[0], str(fmt))
        output = (
            convert(where, f"{dotted}.output", "path", table["output"])
            if "output" in table
            else default_out
        )
        pv = table.get("python-version")
        plats = table.get("platforms")
        specs.append(
            LockSpec(
                src=tuple(src),
                output=str(output),
                format=str(fmt),
                python_version=None
                if pv is None
                else str(convert(where, f"{dotted}.python-version", "str", pv)),
                platforms=None
                if plats is None
                else tuple(_strs(convert(where, f"{dotted}.platforms", "list", plats))),
                verify=bool(convert(where, f"{dotted}.verify", "bool", table.get("verify", True))),
            )
        )
    return tuple(specs)


def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _apt_locks(where: _Where, value: object) -> tuple[AptLockSpec, ...]:
    if not isinstance(value, list):
        raise where.fail("apt-locks", "expected an array of tables ([[tool.lockpin.apt-locks]])")
    specs: list[AptLockSpec] = []
    for i, entry in enumerate(value):
        dotted = f"apt-locks[{i}]"
        table = _table(where, dotted, entry)
        for key in table:
            if key not in _APT_LOCK_KEYS:
                raise _unknown(where, dotted, key, _APT_LOCK_KEYS)
        src = str(convert(where, f"{dotted}.src", "path", table.get("src", "apt.in")))
        output = (
            str(convert(where, f"{dotted}.output", "path", table["output"]))
            if "output" in table
            else os.path.join(os.path.dirname(src), "apt.lock")
        )
        rel = table.get("release")
        plats = table.get("platforms")
        specs.append(
            AptLockSpec(
                src=src,
                output=output,
                release=None
                if rel is None
                else str(convert(where, f"{dotted}.release", "str", rel)),
                platforms=None
                if plats is None
                else tuple(_strs(convert(where, f"{dotted}.platforms", "list", plats))),
            )
        )
    return tuple(specs)


def parse_config(
    document: Mapping[str, object], *, source: str, base_dir: str, text: str | None = None
) -> Config:
    """The ``[tool.lockpin]`` of a parsed ``pyproject.toml`` (``source`` names it in
    errors, with the line found in ``text`` when given; relative paths are joined to
    ``base_dir``)."""
    where = _Where(source, base_dir, text)
    tool = document.get("tool", {})
    raw = tool.get("lockpin") if isinstance(tool, dict) else None
    if raw is None:
        return Config(path=source)
    top = _table(where, "", raw)
    values: dict[str, object] = {}
    locks: tuple[LockSpec, ...] = ()
    raw_locks: object = None
    apt_locks: tuple[AptLockSpec, ...] = ()
    dockerfiles: tuple[str, ...] = ()
    checks: tuple[str, ...] = CHECK_KINDS
    tables = sorted(set(_BY_TABLE) - {""} | set(_INPUT_KEYS))
    known_top = [*_BY_TABLE[""], *tables, "locks", "apt-locks"]
    for key, value in top.items():
        if key == "locks":
            raw_locks = value
        elif key == "apt-locks":
            apt_locks = _apt_locks(where, value)
        elif key in tables:
            sub = _table(where, key, value)
            settings = _BY_TABLE.get(key, {})
            inputs = _INPUT_KEYS.get(key, ())
            for subkey, subvalue in sub.items():
                dotted = f"{key}.{subkey}"
                if subkey in settings:
                    s = settings[subkey]
                    values[dotted] = convert(where, dotted, s.kind, subvalue, s.choices)
                elif subkey == "files":
                    dockerfiles = tuple(_strs(convert(where, dotted, "paths", subvalue)))
                elif subkey == "checks":
                    names = _strs(convert(where, dotted, "list", subvalue))
                    for name in names:
                        if name not in CHECK_KINDS:
                            close = difflib.get_close_matches(name, CHECK_KINDS, n=1)
                            hint = f"did you mean {close[0]!r}? " if close else ""
                            raise where.fail(
                                dotted,
                                f"unknown check {name!r}; {hint}known: {', '.join(CHECK_KINDS)}",
                            )
                    checks = tuple(k for k in CHECK_KINDS if k in names)
                else:
                    raise _unknown(where, key, subkey, [*settings, *inputs])
        elif key in _BY_TABLE[""]:
            s = _BY_TABLE[""][key]
            values[key] = convert(where, key, s.kind, value, s.choices)
        else:
            raise _unknown(where, "", key, known_top)
    default_format = str(values.get("compile.format", "requirements"))
    if raw_locks is not None:
        locks = _locks(where, raw_locks, default_format)
    elif "compile.src" in values:
        # no [[tool.lockpin.locks]]: the one lock of [tool.lockpin.compile] src
        src = tuple(_strs(values["compile.src"]))
        if src:
            output = values.get("compile.output-file")
            locks = (
                LockSpec(
                    src=src,
                    output=output
                    if isinstance(output, str)
                    else _default_output(src[0], default_format),
                    format=default_format,
                ),
            )
    return Config(
        path=source,
        values=values,
        locks=locks,
        apt_locks=apt_locks,
        dockerfiles=dockerfiles,
        checks=checks,
    )


# -- the loader ---------------------------------------------------------------------------------


def find_config(start: str | os.PathLike[str] = ".") -> str | None:
    """The nearest ``pyproject.toml`` from ``start`` upwards, stopping at a directory
    holding ``.git`` (a repository's root) or the filesystem root."""
    directory = os.path.abspath(start)
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if os.path.exists(os.path.join(directory, ".git")) or parent == directory:
            return None
        directory = parent


def load_config(path: str | os.PathLike[str] | None = None, *, start: str = ".") -> Config:
    """The config of ``path`` (explicit: it must exist), else of :func:`find_config`;
    an empty :class:`Config` when there is none. Paths in it come out relative to the
    current directory when below it, absolute otherwise."""
    from . import _toml

    explicit = path is not None
    name = os.fspath(path) if path is not None else find_config(start)
    if name is None:
        return Config()
    try:
        with open(name, "rb") as f:
            text = f.read().decode("utf-8")
    except FileNotFoundError:
        if explicit:
            raise InputError(
                f"{name}: no such config file; name an existing pyproject.toml "
                "(--config / LOCKPIN_CONFIG)"
            ) from None
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read {_display(name)}: {exc}; name a UTF-8 pyproject.toml "
            "(--config / LOCKPIN_CONFIG)"
        ) from None
    try:
        document = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise InputError(f"{_display(name)}: invalid TOML: {exc}. Fix the file.") from None
    base = os.path.dirname(os.path.abspath(name))
    rel = os.path.relpath(base)
    return parse_config(
        document,
        source=_display(name),
        base_dir=base if rel.startswith("..") else rel,
        text=text,
    )


def _display(name: str) -> str:
    rel = os.path.relpath(name)
    return name if rel.startswith("..") else rel
