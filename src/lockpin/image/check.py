"""Check a Dockerfile for inputs that move between builds. Pure.

:func:`check` takes a parsed :class:`~lockpin.image.dockerfile.Dockerfile` and a
:class:`Context` (what the build context holds; read only when present) and
returns :class:`Finding` s. Rules (stable ids):

* ``LP101`` (error) — ``FROM`` without a digest (a tag, ``:latest`` or none),
  also when the image comes from an ``ARG`` default or a build arg; a malformed
  digest (``@sha256:abc``); a base from a build arg with no value (it can be
  anything). A digest is ``sha256:``/``sha384:``/``sha512:`` and its whole hex;
  ``FROM scratch`` and ``FROM <stage>`` (also through ``ARG`` values) are never flagged.
* ``LP102`` (warning) — no platform named anywhere (no ``FROM --platform=`` and
  no ``# lockpin: platform=`` line): name it on the build command
  (``docker build --platform linux/amd64``) or in the file.
* ``LP201`` (error) — ``pip install`` (``pip3``, ``pip3.12``, ``python -m pip``)
  of packages rather than a hashed lockfile (pinned or not; ``--upgrade pip``
  too), of a local project (``.``, ``-e .``) unless with ``--no-deps`` after a
  hashed lock in the same stage, or ``-r FILE`` whose file has no ``--hash``.
  ``FILE`` is read from the build context through the ``COPY``/``ADD`` of the
  stage that placed it in the image (``-r /app/requirements.txt`` after ``COPY
  requirements.txt /app/``; relative paths against ``WORKDIR``), else by its
  relative path or, as a fallback the message names, by its basename; a file
  not in the context is not judged.
* ``LP202`` (warning) — ``pip install -r`` without ``--require-hashes`` (when the
  file is not seen hashed) or ``--no-deps``.
* ``LP203`` (error) — ``uv pip install`` of packages or of an unhashed ``-r``
  (analysed as ``pip install``), ``uv sync`` without ``--locked``/``--frozen``
  or without ``uv.lock`` in the context.
* ``LP204`` (error) — ``poetry install``/``poetry sync`` without ``poetry.lock``
  in the context.
* ``LP205`` (error) — ``pipenv install`` of packages, or without ``--deploy``
  (``pipenv sync`` installs the lock and passes).
* ``LP206`` (error) — ``pipx install``/``inject``/``run``: the package and its
  dependencies are resolved at build time.
* ``LP207`` (error) — ``conda``/``mamba``/``micromamba`` ``install``/``create`` of
  package specs (the solver picks them); an explicit ``--file`` lock passes.
* ``LP301`` (error) — ``apt-get install``/``apt install`` of a package without an
  exact ``=version`` (``pkg=1.2*`` is not exact); option values (``-o X=Y``,
  ``-t bookworm-backports``, ``-c``, ``-a``, ``--snapshot``) are not packages,
  local ``.deb`` files and paths are not index packages and are not judged (the
  bytes come from the context or a download, which LP403 checks).
* ``LP302`` (error) — ``apk add`` of a package without an exact ``=version``
  (``--virtual``/``-t NAME`` names a virtual package, ``-X``/``--repository``,
  ``-p``/``--root`` take values: none is a package).
* ``LP401`` (error) — ``ADD <url>`` without ``--checksum``.
* ``LP402`` (error) — ``ADD`` of a git repository without a commit.
* ``LP403`` (error) — ``curl``/``wget`` piped into a shell or an interpreter
  (``sh``, ``bash``, ``python``, ``sudo sh``…: always, checksum or not) or into
  another command, or a download whose file no later command of the same ``RUN``
  checks: ``sha256sum -c`` (and kin) naming it or fed by an ``echo`` naming it,
  ``sha256sum -c SUMSFILE``, ``gpg --verify``/``gpgv``/``cosign verify-blob``/
  ``minisign -V`` naming it.
* ``LP501`` (error) — ``npm install``/``npm i`` (use ``npm ci``), ``yarn add``,
  ``pnpm add``.
* ``LP502`` (error) — ``gem install`` without ``-v``/``NAME:VERSION``.
* ``LP503`` (error) — ``go install PKG@latest`` (or a branch): not a release or a
  commit.

The apt install script of ``lockpin apt export --format script`` is accepted as
pinned, inline in a ``RUN`` heredoc or run by name (``sh /tmp/apt-install.sh``,
``./apt-install.sh``); any other script run by name whose file the context holds
(found through the ``COPY`` that placed it) is checked as if its commands were in
the ``RUN``.

Suppress with ``# lockpin: ignore=LP101,LP102`` on the line before an
instruction, or file-wide with ``# lockpin: ignore-file=LP102`` in the comment
block at the top. Shell commands are split with :mod:`shlex` at ``&&``, ``||``,
``;`` and ``|``; what does not split is checked word by word, never raised.
"""

from __future__ import annotations

import os
import posixpath
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
    "LP205": ("error", "pipenv install without --deploy"),
    "LP206": ("error", "pipx install resolves at build time"),
    "LP207": ("error", "conda/mamba install of packages"),
    "LP301": ("error", "apt package without =version"),
    "LP302": ("error", "apk package without =version"),
    "LP401": ("error", "ADD <url> without --checksum"),
    "LP402": ("error", "ADD of a git repository without a commit"),
    "LP403": ("error", "download without a checksum check"),
    "LP501": ("error", "npm install / yarn add instead of the lockfile"),
    "LP502": ("error", "gem install without a version"),
    "LP503": ("error", "go install of a moving version"),
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
_SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh", "fish"}
# what a download must not be piped into: a shell or any other interpreter
_INTERPRETERS = re.compile(r"(sh|bash|dash|zsh|ash|ksh|fish|python[0-9.]*|perl|ruby|node|php)")
_SUMS = re.compile(r"(sha(1|224|256|384|512)sum|shasum|md5sum|b2sum)")
_EMBEDDED_SUM = re.compile(
    r"\$\((\s*)(sha(1|224|256|384|512)sum|shasum|b2sum|openssl\s+(dgst|sha\d+))\b"
)
# the first line of the script `lockpin apt export --format script` writes
_APT_SCRIPT_MARK = "# Generated by lockpin from an apt.lock"
_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$")
# options that take a value (the next word), per tool: the value is not a package
_APT_VALUE_OPTS = {
    "-o",
    "--option",
    "-c",
    "--config-file",
    "-t",
    "--target-release",
    "--default-release",
    "-a",
    "--host-architecture",
    "-S",
    "--snapshot",
}
_APK_VALUE_OPTS = {
    "-X",
    "--repository",
    "-p",
    "--root",
    "--repositories-file",
    "--keys-dir",
    "--arch",
    "--cache-dir",
    "--cache-max-age",
    "--timeout",
}
_APK_VIRTUAL_OPTS = {"-t", "--virtual"}
_PIP_VALUE_OPTS = {
    "-c",
    "--constraint",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--only-binary",
    "--no-binary",
    "--upgrade-strategy",
    "--progress-bar",
    "--cache-dir",
    "--src",
    "--trusted-host",
    "--log",
    "--proxy",
    "--timeout",
    "--retries",
    "-C",
    "--config-settings",
    "--global-option",
    "--report",
    "--python",
    "-p",
    "--index-strategy",
    "--resolution",
    "--exclude-newer",
}


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


def _is_sep(cmd: list[str]) -> bool:
    return bool(cmd) and (cmd[0] in _SEPARATORS or set(cmd[0]) <= set(";&|"))


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


def _operands(args: list[str], value_opts: set[str]) -> list[str]:
    """The words of ``args`` that are not options nor an option's value; a command
    substitution ``$(…)`` (split over several words) counts as one word."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in value_opts:
            i += 2
            continue
        if "$(" in a or "`" in a:
            depth = a.count("(") - a.count(")")
            while depth > 0 and i + 1 < len(args):
                i += 1
                depth += args[i].count("(") - args[i].count(")")
            out.append("$(…)")
        elif a and not a.startswith("-"):
            out.append(a)
        i += 1
    return out


def _is_local(word: str) -> bool:
    return word.startswith(("./", "/", "../", "~")) or word.endswith((".deb", ".apk"))


def _exact(pkg: str, *, apk: bool = False) -> bool:
    """``name=version`` with one version, not a glob (``1.2*``) or, for apk, a range
    or fuzzy match (``~``, ``<``, ``>``, ``=~``); apt versions may hold ``~ + :``."""
    name, eq, version = pkg.partition("=")
    if not (name and eq and version) or re.search(r"[*?\[\]]", version):
        return False
    return not (apk and (re.search(r"[<>~]", name) or re.search(r"[<>~=]", version)))


def _describe(bad: list[str]) -> str:
    text = ", ".join(bad)
    if any(b.startswith("$") for b in bad):
        text += " (a variable or a command's output: lockpin cannot see the packages)"
    return text


def _scripts(ins: Instruction) -> list[str]:
    if ins.json:
        return [" ".join(shlex.quote(a) for a in ins.arguments)]
    texts = [ins.rest]
    texts.extend(h.content for h in ins.heredocs)
    return texts


def _download_target(cmd: list[str]) -> tuple[str | None, bool]:
    """The file a ``curl``/``wget`` command writes (``None``: standard output or
    unknown) and whether it writes standard output."""
    tool, args = cmd[0], cmd[1:]
    for i, a in enumerate(args[:-1]):
        if a in {">", ">>"}:
            return args[i + 1], False
    urls = [a for a in args if re.match(r"[a-z]+://", a)]
    remote = urls[-1].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] if urls else None
    out_opts = {"-o", "--output"} if tool == "curl" else {"-O", "--output-document"}
    for i, a in enumerate(args):
        if a in out_opts or (
            re.fullmatch(r"-[A-Za-z]+", a) and a[-1] == ("o" if tool == "curl" else "O")
        ):
            value = args[i + 1] if i + 1 < len(args) else "-"
            return (None, True) if value == "-" else (value, False)
        for opt in out_opts:
            if opt.startswith("--") and a.startswith(opt + "="):
                value = a.split("=", 1)[1]
                return (None, True) if value == "-" else (value, False)
    if tool == "curl":
        if any(a in {"-O", "--remote-name"} or re.fullmatch(r"-[A-Za-z]*O", a) for a in args):
            return remote, False
        return None, True
    return remote, False  # wget writes the remote name by default


def _mentions(words: list[str], target: str) -> bool:
    base = target.rsplit("/", 1)[-1]
    return any(target in w or (base and base in w) for w in words)


@dataclass(frozen=True, slots=True)
class _Copy:
    sources: tuple[str, ...]
    dest: str  # absolute, in the image


class _Checker:
    def __init__(self, df: Dockerfile, ctx: Context, build_args: Mapping[str, str]) -> None:
        self.df = df
        self.ctx = ctx
        self.build_args = build_args
        self.findings: list[Finding] = []
        self.line = 0
        self.workdir = "/"
        self.copies: list[_Copy] = []
        self.hashed_lock = False  # a hashed lock installed by pip earlier in this stage
        self.depth = 0  # scripts run by name, read from the context

    def add(self, rule: str, message: str, fix: str) -> None:
        from ..net.redact import redact_text

        sev = RULES[rule][0]
        # Messages quote the Dockerfile (ADD https://user:token@host/...): findings are
        # printed, uploaded as SARIF and kept in release records, so never a credential.
        message, fix = redact_text(message), redact_text(fix)
        self.findings.append(Finding(rule, self.df.filename, self.line, sev, message, fix))

    # -- stage state: WORKDIR and what COPY/ADD placed where ------------------

    def new_stage(self) -> None:
        self.workdir = "/"
        self.copies = []
        self.hashed_lock = False

    def image_path(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.workdir, path))

    def set_workdir(self, ins: Instruction) -> None:
        if ins.arguments:
            self.workdir = self.image_path(ins.arguments[0])

    def record_copy(self, ins: Instruction) -> None:
        if ins.flag("from") is not None or ins.heredocs or len(ins.arguments) < 2:
            return
        *sources, dest = ins.arguments
        if any(re.match(r"[a-z]+://|git@", s) for s in sources):
            return
        absolute = self.image_path(dest) + ("/" if dest.endswith("/") else "")
        self.copies.append(_Copy(tuple(sources), absolute))

    def context_candidates(self, path: str) -> list[str]:
        """Build-context paths the image path ``path`` may have been copied from by the
        ``COPY``/``ADD`` instructions of this stage so far, latest first."""
        target = self.image_path(path)
        found: list[str] = []
        for cp in reversed(self.copies):
            dest = cp.dest.rstrip("/") or "/"
            as_dir = cp.dest.endswith("/") or len(cp.sources) > 1
            for src in cp.sources:
                src_clean = posixpath.normpath(src.lstrip("/")) if src else "."
                if not as_dir and target == dest:
                    found.append(src_clean)  # COPY file dest-file
                if target == posixpath.join(dest, posixpath.basename(src_clean)):
                    found.append(src_clean)  # COPY file dest-dir/
                if target.startswith(dest.rstrip("/") + "/"):
                    rel = target[len(dest.rstrip("/")) + 1 :]
                    found.append(posixpath.normpath(posixpath.join(src_clean, rel)))  # a dir
        return [f for f in found if not f.startswith("..")]

    def read_placed(self, path: str) -> tuple[bytes | None, str]:
        """The bytes of the file the image holds at ``path`` (as a RUN step sees
        it), read from the build context through the ``COPY``s that placed it,
        else by its relative path or basename; and a note saying how it was found."""
        for cand in self.context_candidates(path):
            data = self.ctx.read(cand)
            if data is not None:
                return data, ""
        if not path.startswith("/"):
            data = self.ctx.read(posixpath.normpath(path))
            if data is not None:
                return data, ""
        base = path.rsplit("/", 1)[-1]
        data = self.ctx.read(base)
        if data is not None:
            return data, f" (no COPY places {path}: read {base} from the context by its name)"
        return None, ""

    # -- RUN -----------------------------------------------------------------

    def run(self, ins: Instruction) -> None:
        for script in _scripts(ins):
            if script.lstrip().startswith("#!") and _APT_SCRIPT_MARK in script[:200]:
                continue  # lockpin's apt install script, inline in a heredoc
            self.script(script)

    def script(self, script: str) -> None:
        commands = _split(script)
        self.downloads(commands)
        for cmd in commands:
            if not _is_sep(cmd):
                self.run_command(cmd)

    def run_command(self, cmd: list[str]) -> None:
        c = _strip(cmd)
        if not c:
            return
        name, args = c[0], c[1:]
        if re.fullmatch(r"pip[0-9.]*", name) and args[:1] == ["install"]:
            self.pip(args[1:], tool="pip")
        elif name == "uv" and args[:2] == ["pip", "install"]:
            self.pip(args[2:], tool="uv pip")
        elif name == "uv" and args[:1] == ["sync"]:
            self.uv_sync(args[1:])
        elif name == "poetry" and args[:1] in (["install"], ["sync"]):
            if self.ctx.read("poetry.lock") is None:
                self.add(
                    "LP204",
                    f"poetry {args[0]} without poetry.lock in the build context",
                    f"commit poetry.lock and COPY it before poetry {args[0]}",
                )
        elif name == "pipenv" and args[:1] == ["install"]:
            self.pipenv(args[1:])
        elif name == "pipx" and args[:1] in (["install"], ["inject"], ["run"]):
            self.add(
                "LP206",
                f"pipx {args[0]} {' '.join(_operands(args[1:], set()))}: pipx resolves "
                "the package and its dependencies at build time",
                "install a hashed lock into a venv: python -m venv /opt/tool && "
                "/opt/tool/bin/pip install --no-deps --require-hashes -r LOCK",
            )
        elif name in {"conda", "mamba", "micromamba"} and args[:1] in (["install"], ["create"]):
            specs = _operands(args[1:], {"-n", "--name", "-p", "--prefix", "-c", "--channel"})
            if specs and "--file" not in args and "-f" not in args:
                self.add(
                    "LP207",
                    f"{name} {args[0]} of packages: the solver picks them and their "
                    f"dependencies at build time: {', '.join(specs)}",
                    "lock with conda-lock (or `conda list --explicit --md5`) and install "
                    "the explicit lock: conda create --file LOCK",
                )
        elif name in {"apt-get", "apt"} and "install" in args:
            self.apt(name, args)
        elif name == "apk" and "add" in args:
            self.apk(args)
        elif name in {"npm", "yarn", "pnpm"}:
            self.node(name, args)
        elif name == "gem" and args[:1] == ["install"]:
            ops = _operands(args[1:], {"-v", "--version", "-i", "--install-dir", "-s"})
            versioned = any(a in {"-v", "--version"} or a.startswith("--version=") for a in args)
            bad = [g for g in ops if ":" not in g] if not versioned else []
            if bad:
                self.add(
                    "LP502",
                    f"gem install without a version: {', '.join(bad)}",
                    "use bundler with a committed Gemfile.lock (bundle install --frozen), "
                    "or gem install NAME -v VERSION",
                )
        elif name == "go" and args[:1] == ["install"]:
            bad = [
                a
                for a in _operands(args[1:], set())
                if "@" in a
                and not re.fullmatch(
                    r"v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?|[0-9a-f]{12,40}", a.split("@")[-1]
                )
            ]
            if bad:
                self.add(
                    "LP503",
                    f"go install of a moving version: {', '.join(bad)}",
                    "name a release (@vX.Y.Z) or a commit: go.sum and the checksum "
                    "database then fix the bytes",
                )
        elif name in _SHELLS and args and self.depth < 2:
            self.run_script_file(args)
        elif re.fullmatch(r"\.?/.*\.sh", cmd[0]) and self.depth < 2:
            self.run_script_file([cmd[0]])

    def run_script_file(self, args: list[str]) -> None:
        """``sh FILE`` / ``./FILE.sh``: read FILE from the context when a COPY put it
        there (or it lies there by name) and check its commands too."""
        ops = [a for a in args if not a.startswith("-")]
        if not ops or "-c" in args or not re.fullmatch(r"[\w./-]+", ops[0]):
            return
        data, _ = self.read_placed(ops[0])
        if data is None:
            return
        text = data.decode("utf-8", "replace")
        if _APT_SCRIPT_MARK in text[:200]:
            return  # lockpin's apt install script: installs exactly the lock, checked
        self.depth += 1
        try:
            self.script(text)
        finally:
            self.depth -= 1

    def apt(self, name: str, args: list[str]) -> None:
        ops = _operands(args[args.index("install") + 1 :], _APT_VALUE_OPTS)
        bad = [p for p in ops if not _is_local(p) and not _exact(p)]
        if bad:
            globs = [p for p in bad if "=" in p]
            what = "without an exact =version" if globs else "without =version"
            self.add(
                "LP301",
                f"{name} install {what}: {_describe(bad)}",
                "lock with `lockpin apt compile` and install with its script",
            )

    def apk(self, args: list[str]) -> None:
        rest = args[args.index("add") + 1 :]
        ops = _operands(rest, _APK_VALUE_OPTS | _APK_VIRTUAL_OPTS)
        bad = [p for p in ops if not _is_local(p) and not _exact(p, apk=True)]
        if bad:
            self.add(
                "LP302",
                f"apk add without an exact =version: {_describe(bad)}",
                "pin every package as name=version",
            )

    def node(self, name: str, args: list[str]) -> None:
        sub = args[:1]
        if name == "npm" and sub and sub[0] in {"install", "i", "add", "update", "up"}:
            pkgs = _operands(args[1:], {"--prefix", "--registry", "-w", "--workspace"})
            what = (
                f" of packages: {', '.join(pkgs)}" if pkgs else " (may rewrite package-lock.json)"
            )
            self.add(
                "LP501",
                f"npm {sub[0]}{what}",
                "commit package-lock.json and run npm ci",
            )
        elif name in {"yarn", "pnpm"} and sub and sub[0] in {"add", "global"}:
            self.add(
                "LP501",
                f"{name} {' '.join(args)}: not from the lockfile",
                f"commit the lockfile and run {name} install --frozen-lockfile",
            )

    def pipenv(self, args: list[str]) -> None:
        pkgs = _operands(args, {"--python", "--pypi-mirror", "-r", "--requirements"})
        if pkgs or not ({"--deploy", "--ignore-pipfile"} & set(args)):
            self.add(
                "LP205",
                "pipenv install "
                + (f"of packages: {', '.join(pkgs)}" if pkgs else "without --deploy"),
                "commit Pipfile.lock and run pipenv sync (or pipenv install --deploy)",
            )

    def pip(self, args: list[str], *, tool: str) -> None:
        rule = "LP201" if tool == "pip" else "LP203"
        reqs: list[str] = []
        pkgs: list[str] = []
        i = 0
        while i < len(args):
            a = args[i]
            if a in {"-r", "--requirement"} and i + 1 < len(args):
                reqs.append(args[i + 1])
                i += 2
                continue
            if a in {"-e", "--editable"} and i + 1 < len(args):
                pkgs.append(args[i + 1])
                i += 2
                continue
            if a.startswith("--requirement="):
                reqs.append(a.split("=", 1)[1])
            elif a.startswith("-r") and len(a) > 2:
                reqs.append(a[2:])
            elif a in _PIP_VALUE_OPTS:
                i += 2
                continue
            elif not a.startswith("-"):
                pkgs.append(a)
            i += 1
        no_deps = "--no-deps" in args
        local = [p for p in pkgs if p in {".", ".."} or p.startswith(("./", "../", "/"))]
        if local and no_deps and self.hashed_lock and len(local) == len(pkgs):
            pkgs = []  # the project itself after its hashed lock: nothing else comes in
        if pkgs:
            upgrade = {"pip", "setuptools", "wheel"} & set(pkgs) and (
                "-U" in args or "--upgrade" in args
            )
            note = ""
            if local:
                note = (
                    " (a local project resolves its dependencies at build time: install "
                    "a hashed lock first, then the project with --no-deps)"
                )
            elif upgrade:
                note = " (--upgrade takes whatever is newest at build time)"
            self.add(
                rule,
                f"{tool} install of packages, not a hashed lockfile: {', '.join(pkgs)}{note}",
                "lock them with `lockpin compile` and pip install --no-deps "
                "--require-hashes -r the lock",
            )
        hashed = False
        for r in reqs:
            if "$" in r:
                continue
            data, how = self.read_placed(r)
            if data is None:
                continue
            if b"--hash" in data:
                hashed = True
            else:
                self.add(
                    rule,
                    f"{r} has no --hash lines{how}",
                    f"run `lockpin hash {r}` or `lockpin compile`",
                )
        if reqs:
            missing = [] if no_deps else ["--no-deps"]
            if "--require-hashes" not in args and not hashed:
                missing.insert(0, "--require-hashes")
            if missing:
                self.add(
                    "LP202" if tool == "pip" else "LP203",
                    f"{tool} install -r without {' and '.join(missing)}",
                    f"{tool} install --no-deps --require-hashes -r LOCK",
                )
            elif hashed or "--require-hashes" in args:
                self.hashed_lock = True

    def uv_sync(self, args: list[str]) -> None:
        locked = "--locked" in args or "--frozen" in args
        present = self.ctx.read("uv.lock") is not None
        if not locked or not present:
            why = "uv sync" if locked else "uv sync without --locked/--frozen"
            if not present:
                why += ": uv.lock is not in the build context"
            self.add("LP203", why, "commit uv.lock and run uv sync --locked")

    def downloads(self, commands: list[list[str]]) -> None:
        for i, cmd in enumerate(commands):
            c = _strip(cmd)
            if not c or c[0] not in {"curl", "wget"} or _is_sep(cmd):
                continue
            piped = i + 2 < len(commands) and commands[i + 1] == ["|"]
            nxt = _strip(commands[i + 2]) if piped else []
            if nxt and _INTERPRETERS.fullmatch(nxt[0]):
                self.add(
                    "LP403",
                    f"{c[0]} piped into {nxt[0]}: what runs is whatever the server sends",
                    "download to a file, check its sha256sum -c, then run it",
                )
                continue
            target, stdout = _download_target(c)
            if stdout and piped:
                if nxt and _SUMS.fullmatch(nxt[0]):
                    continue  # the download is the checksum input
                self.add(
                    "LP403",
                    f"{c[0]} piped into {nxt[0] if nxt else 'a command'} without a checksum check",
                    "download to a file, check it: echo 'SHA256  FILE' | sha256sum -c -",
                )
                continue
            if not self.verified(commands, i, target):
                named = f" of {target}" if target else ""
                self.add(
                    "LP403",
                    f"{c[0]} download{named} without a checksum check of it in the same RUN",
                    "check it: echo 'SHA256  FILE' | sha256sum -c -",
                )

    @staticmethod
    def verified(commands: list[list[str]], index: int, target: str | None) -> bool:
        """Whether a command after ``commands[index]`` checks the downloaded file: a
        ``sha256sum -c`` (and kin) naming it or fed by an ``echo``/``printf`` naming
        it, or a ``gpg --verify``/``gpgv``/``cosign verify-blob``/``minisign -V``
        naming it. With an unknown target, any such check after it counts."""
        for j in range(index + 1, len(commands)):
            c = _strip(commands[j])
            if not c or _is_sep(commands[j]):
                continue
            words = c[1:]
            feed: list[str] = []
            if j >= 2 and commands[j - 1] == ["|"]:
                feed = commands[j - 2]
            is_sum = _SUMS.fullmatch(c[0]) is not None and any(
                w in {"-c", "--check"} or re.fullmatch(r"-[a-z]*c[a-z]*", w) for w in words
            )
            is_sig = (
                (c[0] in {"gpg", "gpg2"} and bool({"--verify", "--decrypt", "-d"} & set(words)))
                or c[0] == "gpgv"
                or (c[0] == "cosign" and words[:1] == ["verify-blob"])
                or (c[0] == "minisign" and "-V" in words)
            )
            if not (is_sum or is_sig):
                # a digest compared in a test: [ "$(sha256sum FILE)" = "…" ], openssl dgst
                text = " ".join(commands[j])
                if _EMBEDDED_SUM.search(text) and (target is None or _mentions([text], target)):
                    return True
                continue
            if target is None or _mentions(words + feed, target):
                return True
            sums_file = [w for w in words if not w.startswith("-")]
            if is_sum and sums_file and sums_file[0] != "-":
                return True  # a checksum file (SHA256SUMS) lists the download
        return False

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
        written = ins.from_.image.text if ins.from_ else img.text
        via = "" if img.text == written else f" (from {written})"
        if img.kind == "unresolved":
            names = ", ".join(sorted(img.unset))
            c.add(
                "LP101",
                f"FROM {written}: the image comes from the build arg {names}, which has no "
                "value here: it can be anything",
                f"give {names} a pinned default (ARG {names}=IMAGE@sha256:…) or check with "
                "the build args the build uses",
            )
        elif img.kind == "image" and not _DIGEST.search(img.text):
            at = img.text.rpartition("@")[2] if "@" in img.text else ""
            if at:
                c.add(
                    "LP101",
                    f"FROM {img.text}: {at} is not a whole digest{via} (sha256: and 64 hex "
                    "digits, or sha512: and 128)",
                    "run `lockpin dockerfile pin`",
                )
            else:
                c.add(
                    "LP101", f"FROM {img.text} has no digest{via}", "run `lockpin dockerfile pin`"
                )
    for ins in dockerfile.instructions:
        if ins.keyword == "FROM":
            c.new_stage()
        for target in (ins, ins.trigger):
            if target is None:
                continue
            c.line = ins.line
            if target.keyword == "RUN":
                c.run(target)
            elif target.keyword == "ADD":
                c.add_instr(target)
                c.record_copy(target)
            elif target.keyword == "COPY":
                c.record_copy(target)
            elif target.keyword == "WORKDIR":
                c.set_workdir(target)
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
    result.sort(key=lambda f: f.line)  # file order; stable within a line
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
