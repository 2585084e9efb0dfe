"""Check a Dockerfile for inputs that move between builds. Pure.

:func:`check` takes a parsed :class:`~lockpin.image.dockerfile.Dockerfile` and a
:class:`Context` (what the build context holds; read only when present) and
returns :class:`Finding` s. Rules (stable ids):

* ``LP101`` (error) — ``FROM`` without a digest (a tag, ``:latest`` or none),
  also when the image comes from an ``ARG`` default or a build arg.
* ``LP102`` (warning) — no platform named anywhere (no ``FROM --platform=`` and
  no ``# lockpin: platform=`` line): name it on the build command
  (``docker build --platform linux/amd64``) or in the file.
* ``LP201`` (error) — ``pip install`` of packages rather than a hashed lockfile,
  or ``-r FILE`` whose file (in the context) has no ``--hash``.
* ``LP202`` (warning) — ``pip install -r`` without ``--require-hashes`` or
  ``--no-deps``.
* ``LP203`` (error) — ``uv pip install`` / ``uv sync`` without a lock
  (``--locked``/``--frozen`` and ``uv.lock`` in the context).
* ``LP204`` (error) — ``poetry install`` without ``poetry.lock`` in the context.
* ``LP301`` (error) — ``apt-get install``/``apt install`` of a package without
  ``=version``.
* ``LP302`` (error) — ``apk add`` of a package without ``=version``.
* ``LP401`` (error) — ``ADD <url>`` without ``--checksum``.
* ``LP402`` (error) — ``ADD`` of a git repository without a commit.
* ``LP403`` (error) — ``curl``/``wget`` piped into a shell, or a download with
  no checksum check (``sha256sum``/``sha512sum -c``…) in the same ``RUN``.

Suppress with ``# lockpin: ignore=LP101,LP102`` on the line before an
instruction, or file-wide with ``# lockpin: ignore-file=LP102`` in the comment
block at the top. Shell commands are split with :mod:`shlex` at ``&&``, ``||``,
``;`` and ``|``; what does not split is checked word by word, never raised.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from .dockerfile import Dockerfile, Instruction, from_images

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["RULES", "Context", "DirectoryContext", "Finding", "check", "check_dockerfile"]

Severity = Literal["error", "warning", "note"]

RULES: dict[str, tuple[Severity, str]] = {
    "LP101": ("error", "FROM without a digest"),
    "LP102": ("warning", "no platform named"),
    "LP201": ("error", "pip install without a hashed lockfile"),
    "LP202": ("warning", "pip install -r without --require-hashes/--no-deps"),
    "LP203": ("error", "uv without a lock"),
    "LP204": ("error", "poetry install without poetry.lock"),
    "LP301": ("error", "apt package without =version"),
    "LP302": ("error", "apk package without =version"),
    "LP401": ("error", "ADD <url> without --checksum"),
    "LP402": ("error", "ADD of a git repository without a commit"),
    "LP403": ("error", "download without a checksum check"),
}


class Context(Protocol):
    """The build context: ``read(path)`` the bytes of a file relative to it, or
    ``None`` when it is not there."""

    def read(self, path: str) -> bytes | None: ...


class DirectoryContext:
    """A :class:`Context` over a build-context directory: a file is read only
    when it is a regular file inside ``root`` (after resolving links), under the
    input size cap; anything else, or unreadable, counts as absent."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def read(self, path: str) -> bytes | None:
        from .._io import read_input_bytes

        full = os.path.realpath(os.path.join(self.root, path))
        if os.path.commonpath([full, self.root]) != self.root or not os.path.isfile(full):
            return None
        try:
            return read_input_bytes(full, what="build context file")
        except Exception:  # unreadable: treated as absent
            return None


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    file: str
    line: int
    severity: Severity
    message: str
    fix: str

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }


_IGNORE = re.compile(r"^#?\s*lockpin:\s*ignore(-file)?=([A-Za-z0-9_, ]+)")
_PLATFORM = re.compile(r"^#?\s*lockpin:\s*platform=\S+")
_SEPARATORS = {"&&", "||", ";", "|", "&"}
_SHELLS = {"sh", "bash", "dash", "zsh", "ash"}
_CHECKSUM = re.compile(r"\b(sha(1|224|256|384|512)sum|md5sum|b2sum)\b|--checksum|gpg\b")


def _split(script: str) -> list[list[str]]:
    """The simple commands of ``script``, each a list of words; never raises."""
    lexer = shlex.shlex(
        script.replace("\\\n", " ").replace("\n", " ; "), posix=True, punctuation_chars=";&|"
    )
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:
        tokens = script.split()
    commands: list[list[str]] = [[]]
    for tok in tokens:
        if tok in _SEPARATORS or set(tok) <= set(";&|"):
            commands.append([tok])  # keep the separator as a marker
            commands.append([])
        else:
            commands[-1].append(tok)
    return [c for c in commands if c]


def _strip(cmd: list[str]) -> list[str]:
    """Drop env prefixes, ``sudo``, ``exec``; ``python -m pip`` -> ``pip``."""
    i = 0
    while i < len(cmd):
        w = cmd[i]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w) or w in {"sudo", "exec", "env", "-E"}:
            i += 1
            continue
        break
    rest = cmd[i:]
    py = len(rest) >= 3 and re.fullmatch(r"python[0-9.]*", rest[0].rsplit("/", 1)[-1])
    if py and rest[1] == "-m":
        return [rest[2], *rest[3:]]
    if rest:
        rest = [rest[0].rsplit("/", 1)[-1], *rest[1:]]
    return rest


def _packages(args: list[str]) -> list[str]:
    return [a for a in args if a and not a.startswith("-")]


def _scripts(ins: Instruction) -> list[str]:
    if ins.json:
        return [" ".join(shlex.quote(a) for a in ins.arguments)]
    texts = [ins.rest]
    texts.extend(h.content for h in ins.heredocs)
    return texts


class _Checker:
    def __init__(self, df: Dockerfile, ctx: Context, build_args: Mapping[str, str]) -> None:
        self.df = df
        self.ctx = ctx
        self.build_args = build_args
        self.findings: list[Finding] = []
        self.line = 0

    def add(self, rule: str, message: str, fix: str) -> None:
        sev = RULES[rule][0]
        self.findings.append(Finding(rule, self.df.filename, self.line, sev, message, fix))

    def run_command(self, cmd: list[str]) -> None:
        c = _strip(cmd)
        if not c:
            return
        name, args = c[0], c[1:]
        if re.fullmatch(r"pip[0-9.]*", name) and args[:1] == ["install"]:
            self.pip(args[1:])
        elif name == "uv" and args[:2] == ["pip", "install"]:
            self.uv(args[2:], sync=False)
        elif name == "uv" and args[:1] == ["sync"]:
            self.uv(args[1:], sync=True)
        elif name == "poetry" and args[:1] == ["install"]:
            if self.ctx.read("poetry.lock") is None:
                self.add(
                    "LP204",
                    "poetry install without poetry.lock in the build context",
                    "commit poetry.lock and COPY it before poetry install",
                )
        elif name in {"apt-get", "apt"} and "install" in args:
            bad = [p for p in _packages(args[args.index("install") + 1 :]) if "=" not in p]
            bad = [p for p in bad if not p.startswith(("./", "/")) and not p.endswith(".deb")]
            if bad:
                self.add(
                    "LP301",
                    f"{name} install without =version: {', '.join(bad)}",
                    "lock with `lockpin apt compile` and install with its script",
                )
        elif name == "apk" and "add" in args:
            bad = [p for p in _packages(args[args.index("add") + 1 :]) if "=" not in p]
            if bad:
                self.add(
                    "LP302",
                    f"apk add without =version: {', '.join(bad)}",
                    "pin every package as name=version",
                )

    def pip(self, args: list[str]) -> None:
        reqs: list[str] = []
        pkgs: list[str] = []
        i = 0
        while i < len(args):
            a = args[i]
            if a in {"-r", "--requirement", "-c", "--constraint"} and i + 1 < len(args):
                if a in {"-r", "--requirement"}:
                    reqs.append(args[i + 1])
                i += 2
                continue
            if a.startswith("--requirement="):
                reqs.append(a.split("=", 1)[1])
            elif a.startswith("-r") and len(a) > 2:
                reqs.append(a[2:])
            elif a in {
                "-i",
                "--index-url",
                "--extra-index-url",
                "-f",
                "--find-links",
                "--target",
                "-t",
                "--prefix",
                "--root",
                "--platform",
            }:
                i += 2
                continue
            elif not a.startswith("-"):
                pkgs.append(a)
            i += 1
        if pkgs:
            self.add(
                "LP201",
                f"pip install of packages, not a hashed lockfile: {', '.join(pkgs)}",
                "lock them with `lockpin compile` and pip install --no-deps "
                "--require-hashes -r the lock",
            )
        hashed = False
        for r in reqs:
            data = self.ctx.read(r.lstrip("/")) if not r.startswith("/") else None
            if data is None:
                data = self.ctx.read(r.rsplit("/", 1)[-1]) if r.startswith("/") else None
            if data is not None:
                if b"--hash" in data:
                    hashed = True
                else:
                    self.add(
                        "LP201",
                        f"{r} has no --hash lines",
                        f"run `lockpin hash {r}` or `lockpin compile`",
                    )
        if reqs:
            missing = [f for f in ("--no-deps",) if f not in args]
            if "--require-hashes" not in args and not hashed:
                missing.insert(0, "--require-hashes")
            if missing:
                self.add(
                    "LP202",
                    f"pip install -r without {' and '.join(missing)}",
                    "pip install --no-deps --require-hashes -r LOCK",
                )

    def uv(self, args: list[str], *, sync: bool) -> None:
        locked = "--locked" in args or "--frozen" in args
        if sync:
            if not locked or self.ctx.read("uv.lock") is None:
                self.add(
                    "LP203",
                    "uv sync without --locked/--frozen and uv.lock",
                    "commit uv.lock and run uv sync --locked",
                )
        elif _packages(args) or not any(a.startswith("--require-hashes") for a in args):
            self.add(
                "LP203",
                "uv pip install without a hashed lock",
                "uv pip install --require-hashes --no-deps -r LOCK",
            )

    def run(self, ins: Instruction) -> None:
        for script in _scripts(ins):
            commands = _split(script)
            self.downloads(commands, script)
            for cmd in commands:
                if cmd and cmd[0] not in _SEPARATORS and not set(cmd[0]) <= set(";&|"):
                    self.run_command(cmd)

    def downloads(self, commands: list[list[str]], script: str) -> None:
        for i, cmd in enumerate(commands):
            c = _strip(cmd)
            if not c or c[0] not in {"curl", "wget"}:
                continue
            if (
                i + 2 < len(commands)
                and commands[i + 1] == ["|"]
                and _strip(commands[i + 2])[:1]
                and _strip(commands[i + 2])[0] in _SHELLS
            ):
                self.add(
                    "LP403",
                    f"{c[0]} piped into a shell",
                    "download to a file, check its sha256sum -c, then run it",
                )
                return
            if not _CHECKSUM.search(script):
                self.add(
                    "LP403",
                    f"{c[0]} download without a checksum check in the same RUN",
                    "check it: echo 'SHA256  FILE' | sha256sum -c -",
                )
                return

    def add_instr(self, ins: Instruction) -> None:
        src = [a for a in ins.arguments[:-1] if not a.startswith("--")] if not ins.heredocs else []
        for a in src:
            is_git = a.startswith("git@") or a.endswith(".git") or ".git#" in a
            if is_git:
                if not re.search(r"#[0-9a-f]{40}\b", a) and "--checksum" not in ins.logical:
                    self.add(
                        "LP402",
                        f"ADD {a} without a commit",
                        "name the commit: ADD REPO.git#<40-hex commit>",
                    )
            elif re.match(r"https?://", a) and ins.flag("checksum") is None:
                self.add(
                    "LP401", f"ADD {a} without --checksum", "ADD --checksum=sha256:<hex> URL DEST"
                )


def check(
    dockerfile: Dockerfile,
    context: Context,
    *,
    build_args: Mapping[str, str] | None = None,
    ignore: Iterable[str] = (),
    severities: Mapping[str, Severity] | None = None,
) -> list[Finding]:
    """Every finding of the rules in :data:`RULES` (see the module docstring)."""
    c = _Checker(dockerfile, context, build_args or {})
    platform = False
    for img in from_images(dockerfile, build_args):
        ins = img.stage.from_instruction
        c.line = ins.line
        if ins.from_ and ins.from_.platform:
            platform = True
        if img.kind == "image" and "@sha256:" not in img.text:
            written = ins.from_.image.text if ins.from_ else img.text
            via = "" if img.text == written else f" (from {written})"
            c.add("LP101", f"FROM {img.text} has no digest{via}", "run `lockpin dockerfile pin`")
    for ins in dockerfile.instructions:
        for target in (ins, ins.trigger):
            if target is None:
                continue
            c.line = ins.line
            if target.keyword == "RUN":
                c.run(target)
            elif target.keyword == "ADD":
                c.add_instr(target)
    if not platform and not any(_PLATFORM.search(cm.text) for cm in dockerfile.comments):
        c.line = 1
        c.add(
            "LP102",
            "no platform named: the build takes the builder's own",
            "build with `docker build --platform linux/amd64 .` and add "
            "`# lockpin: platform=linux/amd64`, or FROM --platform=",
        )
    # suppressions
    file_wide = set(ignore)
    by_line: dict[int, set[str]] = {}
    for cm in dockerfile.comments:
        m = _IGNORE.search(cm.text)
        if m:
            ids = {x.strip() for x in m.group(2).split(",") if x.strip()}
            if m.group(1):
                file_wide |= ids
            else:
                by_line.setdefault(cm.line + 1, set()).update(ids)
    starts = {i.line for i in dockerfile.instructions}
    # a comment block above an instruction applies to it
    for line in sorted(by_line):
        nxt = min((s for s in starts if s >= line), default=None)
        if nxt is not None and nxt != line:
            by_line.setdefault(nxt, set()).update(by_line[line])
    result = []
    for found in c.findings:
        if found.rule in file_wide or found.rule in by_line.get(found.line, set()):
            continue
        f = found
        if severities and f.rule in severities:
            f = Finding(f.rule, f.file, f.line, severities[f.rule], f.message, f.fix)
        result.append(f)
    return result


def check_dockerfile(
    text: str,
    context: Context,
    *,
    filename: str = "Dockerfile",
    build_args: Mapping[str, str] | None = None,
    ignore: Iterable[str] = (),
    severities: Mapping[str, Severity] | None = None,
) -> list[Finding]:
    """:func:`check` of the Dockerfile ``text`` (a
    :class:`~lockpin.errors.DockerfileError` when it does not parse)."""
    from .dockerfile import parse

    return check(
        parse(text, filename=filename),
        context,
        build_args=build_args,
        ignore=ignore,
        severities=severities,
    )
