"""``lockpin check-all``: every check a project's ``[tool.lockpin]`` names, in one run.

What runs comes from the config (:class:`~lockpin.config.Config`), in this order, each
kind only when ``[tool.lockpin.check-all] checks`` names it (default: every kind):

* ``compile``: each ``[[tool.lockpin.locks]]`` entry is resolved again and rendered as
  ``lockpin compile --check`` would; the lock's own recorded command line is kept in
  the header, so only a change of pins, hashes or inputs is drift;
* ``verify``: each of those locks (``verify = false`` skips one) against the index;
* ``apt``: each ``[[tool.lockpin.apt-locks]]`` entry (or the one ``[tool.lockpin.apt]
  src``) as ``lockpin apt compile --check``;
* ``dockerfile-pin``: each of ``[tool.lockpin.dockerfile] files`` as ``lockpin
  dockerfile pin --check``;
* ``dockerfile-check``: the same files through :func:`~lockpin.image.check.check`,
  with the table's ``ignore`` and ``severity``.

A check that fails does not stop the next: each ends in a :class:`CheckResult` whose
``status`` is ``ok``, ``drift`` (a lock or a Dockerfile would change) or ``fail`` (a
finding, a problem, or an error such as an unreachable index, kept as its message).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from .errors import LockpinError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .config import AptLockSpec, Config, LockSpec
    from .image.pin import Resolver
    from .net.config import HttpConfig
    from .progress import Reporter
    from .python.hashverify import IndexPrecedence
    from .python.index import IndexConfig
    from .python.target import Target

__all__ = ["CheckAllResult", "CheckResult", "check_all"]

log = logging.getLogger(__name__)

Status = Literal["ok", "drift", "fail"]
_T = TypeVar("_T")

#: the most diff lines kept in a result's details
_MAX_DIFF = 200


@dataclass(frozen=True)
class CheckResult:
    """One check: ``kind`` (see :data:`~lockpin.config.CHECK_KINDS`), ``name`` as the
    summary prints it (``compile requirements.in -> requirements.txt``), ``status``,
    ``summary`` (``3 errors``; may be empty) and the ``details`` lines of a failure."""

    kind: str
    name: str
    status: Status
    summary: str = ""
    details: tuple[str, ...] = ()

    def line(self) -> str:
        label = {"ok": "ok", "drift": "DRIFT", "fail": "FAIL"}[self.status]
        extra = f" ({self.summary})" if self.summary else ""
        return f"{label:<5} {self.name}{extra}"


@dataclass(frozen=True)
class CheckAllResult:
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(c.status == "ok" for c in self.checks)


@dataclass(frozen=True)
class _Run:
    """What every check reads besides its own item."""

    config: Config
    index: IndexConfig
    precedence: IndexPrecedence
    http: HttpConfig | None
    resolver: Resolver | None
    reporter: Reporter | None
    insecure_registries: tuple[str, ...]


def check_all(
    config: Config,
    *,
    index: IndexConfig | None = None,
    index_precedence: IndexPrecedence = "given",
    http: HttpConfig | None = None,
    resolver: Resolver | None = None,
    insecure_registries: Sequence[str] | None = None,
    reporter: Reporter | None = None,
) -> CheckAllResult:
    """Run every check ``config`` names (see the module docstring). ``index``
    (default: from the config's ``index-url`` and friends) and ``http`` reach the
    Python and apt checks; ``resolver`` (default: the registry over ``http``, with
    ``insecure_registries``, default the config's ``insecure-registry``) the
    ``dockerfile-pin`` ones."""
    if index is None:
        index, index_precedence = _index(config)
    if insecure_registries is None:
        insecure_registries = _list(config, "insecure-registry")
    ctx = _Run(
        config, index, index_precedence, http, resolver, reporter, tuple(insecure_registries)
    )
    runs: list[tuple[str, str, Callable[[], CheckResult]]] = []
    for spec in config.locks:
        name = f"compile {' '.join(spec.src)} -> {spec.output}"
        runs.append(("compile", name, _bind(_compile, ctx, spec)))
    runs.extend(
        ("verify", f"verify {spec.output}", _bind(_verify, ctx, spec))
        for spec in config.locks
        if spec.verify
    )
    for apt in _apt_specs(config):
        runs.append(("apt", f"apt compile {apt.src} -> {apt.output}", _bind(_apt, ctx, apt)))
    for path in config.dockerfiles:
        runs.append(("dockerfile-pin", f"dockerfile pin {path}", _bind(_pin, ctx, path)))
    for path in config.dockerfiles:
        runs.append(
            ("dockerfile-check", f"dockerfile check {path}", _bind(_dockerfile_check, ctx, path))
        )
    results: list[CheckResult] = []
    for kind, name, run in runs:
        if kind not in config.checks:
            continue
        try:
            result = run()
        except LockpinError as exc:
            result = CheckResult(kind, name, "fail", "error", tuple(str(exc).splitlines()))
        results.append(dataclasses.replace(result, kind=kind, name=name))
        log.info("%s", results[-1].line())
    return CheckAllResult(tuple(results))


def _bind(
    function: Callable[[_Run, _T], CheckResult], ctx: _Run, item: _T
) -> Callable[[], CheckResult]:
    return lambda: function(ctx, item)


# -- the config's values -------------------------------------------------------------------------


def _str(config: Config, key: str) -> str | None:
    value = config.get(key)
    return value if isinstance(value, str) else None


def _list(config: Config, key: str) -> list[str]:
    value = config.get(key)
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def _index(config: Config) -> tuple[IndexConfig, IndexPrecedence]:
    from .python.index import PYPI_SIMPLE, IndexConfig

    given = _str(config, "index-url")
    strategy = _str(config, "index-strategy") or "first-index"
    return (
        IndexConfig(
            index_url=given or PYPI_SIMPLE,
            extra_index_urls=tuple(_list(config, "extra-index-url")),
            find_links=tuple(_list(config, "find-links")),
            no_index=config.get("no-index") is True,
            index_strategy="unsafe-best-match"
            if strategy == "unsafe-best-match"
            else "first-index",
        ),
        "given" if given else "files",
    )


def _diff(path: str, current: str, wanted: str) -> tuple[str, ...]:
    lines = [
        line.rstrip("\n")
        for line in difflib.unified_diff(
            current.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            fromfile=f"{path} (current)",
            tofile=f"{path} (would write)",
        )
    ]
    if len(lines) > _MAX_DIFF:
        lines = [*lines[:_MAX_DIFF], f"... {len(lines) - _MAX_DIFF} more diff line(s)"]
    return tuple(lines)


def _read(path: str) -> str | None:
    from ._io import read_input_bytes

    if not os.path.exists(path):
        return None
    try:
        return read_input_bytes(path, what="lock").decode("utf-8", "replace")
    except OSError as exc:
        from .errors import InputError

        raise InputError(f"cannot read {path}: {exc.strerror}") from None


# -- the checks -----------------------------------------------------------------------------------


def _targets(config: Config, spec: LockSpec) -> list[Target]:
    from .python.target import parse_target

    version = spec.python_version or _str(config, "python-version")
    platforms = list(spec.platforms) if spec.platforms is not None else _list(config, "platforms")
    if not version and not platforms:
        return []
    if not platforms:
        return [parse_target(python_version=version, platform=None)]
    return [parse_target(python_version=version, platform=p) for p in platforms]


def _compile(ctx: _Run, spec: LockSpec) -> CheckResult:
    config = ctx.config
    import shlex

    from .python.compile import compile_lock, parse_exclude_newer
    from .python.lockcheck import parse_header

    current = _read(spec.output)
    exclude = _str(config, "compile.exclude-newer")
    lock = compile_lock(
        spec.src,
        targets=_targets(config, spec),
        index=ctx.index,
        index_precedence=ctx.precedence,
        pre=config.get("compile.pre") is True,
        exclude_newer=parse_exclude_newer(exclude) if exclude else None,
        only_binary=_list(config, "compile.only-binary"),
        no_binary=_list(config, "compile.no-binary"),
        existing=spec.output if current is not None else None,
        http=ctx.http,
        build_isolation_python=_str(config, "compile.build-python") or None,
        reporter=ctx.reporter,
    )
    command = ""
    if current is not None:
        recorded = parse_header(current).command
        command = shlex.join(recorded) if recorded else ""
    if not command:
        command = shlex.join(["lockpin", "compile", *spec.src, "-o", spec.output])
    lock = dataclasses.replace(lock, command=command)
    hashes_only = config.get("compile.target-hashes-only") is True
    if spec.format == "pylock":
        wanted = lock.to_pylock(target_hashes_only=hashes_only)
    else:
        wanted = lock.to_requirements_txt(target_hashes_only=hashes_only)
    if current is None:
        return CheckResult(
            "compile", "", "drift", "missing", (f"{spec.output} does not exist; run {command}",)
        )
    from .python.lock import same_lock_content

    if same_lock_content(current, wanted, pylock=spec.format == "pylock"):
        return CheckResult("compile", "", "ok", f"{len(lock.packages)} package(s)")
    return CheckResult(
        "compile", "", "drift", "", (*_diff(spec.output, current, wanted), f"update it: {command}")
    )


def _verify(ctx: _Run, spec: LockSpec) -> CheckResult:
    from .python.hashverify import verify

    if not os.path.exists(spec.output):
        return CheckResult("verify", "", "fail", "missing", (f"{spec.output} does not exist",))
    result = verify(
        spec.output,
        index=ctx.index,
        index_precedence=ctx.precedence,
        http=ctx.http,
        reporter=ctx.reporter,
    )
    if result.problems:
        return CheckResult(
            "verify",
            "",
            "fail",
            f"{len(result.problems)} problem(s)",
            tuple(str(p) for p in result.problems),
        )
    return CheckResult("verify", "", "ok", f"{len(result.releases)} release(s)")


def _apt_specs(config: Config) -> list[AptLockSpec]:
    from .config import AptLockSpec

    if config.apt_locks:
        return list(config.apt_locks)
    src = _str(config, "apt.src")
    if src is None:
        return []
    output = _str(config, "apt.output-file") or os.path.join(os.path.dirname(src), "apt.lock")
    return [AptLockSpec(src=src, output=output)]


def _apt(ctx: _Run, spec: AptLockSpec) -> CheckResult:
    config = ctx.config
    from .apt.compile import apt_compile

    current = _read(spec.output)
    platforms = list(spec.platforms) if spec.platforms is not None else _list(config, "platforms")
    result = apt_compile(
        spec.src,
        release=spec.release or _str(config, "apt.release"),
        platforms=platforms,
        distro=_str(config, "apt.distro"),
        components=_list(config, "apt.component"),
        suites=_list(config, "apt.suite"),
        mirror=_str(config, "apt.mirror"),
        security_mirror=_str(config, "apt.security-mirror"),
        snapshot=_str(config, "apt.snapshot"),
        snapshot_url=_str(config, "apt.snapshot-url"),
        keyring=_str(config, "apt.keyring"),
        with_recommends=config.get("apt.with-recommends") is True,
        existing=spec.output if current is not None else None,
        http=ctx.http,
        reporter=ctx.reporter,
    )
    if current is None:
        return CheckResult(
            "apt",
            "",
            "drift",
            "missing",
            (f"{spec.output} does not exist; run lockpin apt compile {spec.src} -o {spec.output}",),
        )
    if not result.changed:
        return CheckResult("apt", "", "ok", f"{len(result.lock.packages)} package(s)")
    lock = dataclasses.replace(
        result.lock, command=result.previous.command if result.previous else result.lock.command
    )
    return CheckResult(
        "apt",
        "",
        "drift",
        "",
        (
            *_diff(spec.output, current, lock.to_toml()),
            f"update it: lockpin apt compile {spec.src} -o {spec.output}",
        ),
    )


def _pin(ctx: _Run, path: str) -> CheckResult:
    config, resolver = ctx.config, ctx.resolver
    from .image.pin import RegistryResolver, pin_dockerfile

    if resolver is None:
        resolver = RegistryResolver(http=ctx.http, insecure_registries=ctx.insecure_registries)
    result = pin_dockerfile(path, resolver=resolver, platforms=tuple(_list(config, "platforms")))
    notes = tuple(str(u) for u in result.unpinned)
    if result.unchanged:
        return CheckResult("dockerfile-pin", "", "ok", "", notes)
    return CheckResult(
        "dockerfile-pin",
        "",
        "drift",
        f"{len(result.changes)} FROM to pin",
        (
            *_diff(path, result.original, result.text),
            *notes,
            f"pin them: lockpin dockerfile pin {path}",
        ),
    )


def _dockerfile_check(ctx: _Run, path: str) -> CheckResult:
    config = ctx.config
    from .image.check import DirectoryContext, check_dockerfile

    text = _read(path)
    if text is None:
        from .errors import InputError

        raise InputError(f"{path}: no such Dockerfile ([tool.lockpin.dockerfile] files)")
    context = _str(config, "dockerfile.context") or os.path.dirname(os.path.abspath(path))
    findings = check_dockerfile(
        text,
        DirectoryContext(context),
        filename=path,
        ignore=config.ignore,
        severities=config.severities,
    )
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = sum(1 for f in findings if f.severity == "warning")
    details = tuple(f"{f.file}:{f.line}: {f.severity} {f.rule} {f.message}" for f in findings)
    if errors:
        return CheckResult("dockerfile-check", "", "fail", f"{errors} error(s)", details)
    return CheckResult(
        "dockerfile-check", "", "ok", f"{warnings} warning(s)" if warnings else "", details
    )
