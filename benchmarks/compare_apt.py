#!/usr/bin/env python3
"""Time `lockpin apt compile` against apt's own pair, `apt-get update` + `apt-get -s install`.

    python benchmarks/compare_apt.py [--sets handful,medium,build] [--runs 3]
        [--release bookworm] [--platforms linux/amd64[,linux/arm64]] [--python PY] [--no-write]

Both sides read the same sources (RELEASE, RELEASE-updates, RELEASE-security, main, from
deb.debian.org, signed by the Debian archive keyring) and plan against the same installed
base, side by side in one run:

- lockpin cold: an empty --cache-dir; lockpin warm: the cache filled by one untimed run;
  lockpin revalidate: warm with --max-age 0 (every InRelease asked again, as apt does);
- apt cold: a private apt root with empty lists; apt warm (and revalidate): lists left by
  one untimed update (the update then only revalidates InRelease).

apt runs in a private configuration (APT_CONFIG, its own Dir::Etc, lists, cache and dpkg
status): the machine's apt state is never read or written. The base is the dpkg status of
a minbase root when $LOCKPIN_TEST_DEBIAN_ROOT or /var/tmp/lockpin-roots/RELEASE has one
(lockpin then gets --base-status); otherwise lockpin's default base (the release's
Essential + Priority: required closure), which is written out as a dpkg status for apt.

Standard library only, except the step that lists lockpin's default base (run with its Python).
Writes benchmarks/results/apt.json and the apt section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib
from compare import BIN, ROOT, WORK, ensure_venv, log, machine, measure
from report_apt import markdown, splice, summarize

BENCH = Path(__file__).resolve().parent
SETS = BENCH / "sets" / "apt"
APT_WORK = WORK / "apt"
RESULTS = BENCH / "results" / "apt.json"
DOC = ROOT / "docs" / "benchmarks.md"
DEFAULT_SETS = ("handful", "medium", "build")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
ROOTS = Path("/var/tmp/lockpin-roots")
#: lockpin's tools and apt's, in the order of the table
TOOLS = ("lockpin", "apt")
#: warm, and warm with every InRelease revalidated (lockpin --max-age 0; apt always does)
MODES = ("cold", "warm", "revalidate")


def requested(name: str) -> list[str]:
    """The package names of sets/apt/NAME.in (comments and blank lines dropped)."""
    text = (SETS / f"{name}.in").read_text()
    lines = (line.split("#", 1)[0].strip() for line in text.split("\n"))
    return [line for line in lines if line]


def debian_arch(platform: str) -> str:
    return {"linux/amd64": "amd64", "linux/arm64": "arm64", "linux/arm64/v8": "arm64",
            "linux/386": "i386", "linux/arm/v7": "armhf", "linux/ppc64le": "ppc64el",
            "linux/s390x": "s390x"}.get(platform, platform.rsplit("/", 1)[-1])  # fmt: skip


# -- apt's side ---------------------------------------------------------------------------


class AptRoot:
    """A private apt root for one architecture: its own etc/apt, lists, cache and status."""

    def __init__(self, directory: Path, release: str, arch: str, status: Path) -> None:
        self.directory = directory
        etc = directory / "etc" / "apt"
        for sub in ("apt.conf.d", "preferences.d", "sources.list.d", "trusted.gpg.d"):
            (etc / sub).mkdir(parents=True, exist_ok=True)
        state = directory / "var" / "lib" / "apt"
        (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        cache = directory / "var" / "cache" / "apt"
        (cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        (directory / "var" / "log" / "apt").mkdir(parents=True, exist_ok=True)
        (directory / "var" / "lib" / "dpkg").mkdir(parents=True, exist_ok=True)
        self.status = directory / "var" / "lib" / "dpkg" / "status"
        shutil.copyfile(status, self.status)
        signed = f"[signed-by={KEYRING}]"
        (etc / "sources.list").write_text(
            f"deb {signed} {MIRROR} {release} {release}-updates main\n"
            f"deb {signed} {SECURITY} {release}-security main\n"
        )
        settings = {
            "Dir": f"{directory}/",
            "Dir::Etc": f"{etc}/",
            "Dir::Etc::sourcelist": "sources.list",
            "Dir::Etc::sourceparts": "sources.list.d",
            "Dir::Etc::parts": "apt.conf.d",
            "Dir::Etc::preferences": "preferences",
            "Dir::Etc::preferencesparts": "preferences.d",
            "Dir::Etc::trusted": "trusted.gpg",
            "Dir::Etc::trustedparts": "trusted.gpg.d",
            "Dir::State": f"{state}/",
            "Dir::State::lists": "lists/",
            "Dir::State::extended_states": "extended_states",
            "Dir::State::status": str(self.status),
            "Dir::Cache": f"{cache}/",
            "Dir::Log": f"{directory}/var/log/apt/",
            "APT::Architecture": arch,
            # as Debian's container images: no Translation-* files (lockpin reads none)
            "Acquire::Languages": "none",
            # apt as root drops to _apt for downloads, which cannot write here
            "APT::Sandbox::User": "root",
            "Debug::NoLocking": "true",
            "APT::Install-Recommends": "false",
            "quiet": "1",
        }
        lines = [f'{key} "{value}";' for key, value in settings.items()]
        lines.append(f'APT::Architectures {{ "{arch}"; }};')
        self.config = etc / "apt.conf"
        self.config.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("APT_")}
        env.update(APT_CONFIG=str(self.config), LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
        return env

    def update_cmd(self) -> list[str]:
        return ["apt-get", "update", "--error-on=any"]

    def install_cmd(self, names: list[str]) -> list[str]:
        return ["apt-get", "-s", "install", "--no-install-recommends", *names]


def apt_plan(output: str) -> dict[str, str]:
    """name -> version of the `Inst` lines of an `apt-get -s install` log."""
    inst = re.compile(r"^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) ", re.MULTILINE)
    return {m[1].split(":", 1)[0]: m[2] for m in inst.finditer(output)}


def lock_plan(out: Path, platform: str) -> dict[str, str] | None:
    try:
        data = tomllib.loads(out.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return {p["name"]: p["version"] for p in data.get("packages", []) if p["platform"] == platform}


# -- the base -----------------------------------------------------------------------------

#: Run with lockpin's Python: argv = cache-dir release arch. Prints lockpin's default base
#: for that release and architecture, "name version architecture" a line, from the warm cache.
BASE_SCRIPT = r"""
import sys
from pathlib import Path
from lockpin.apt.compile import load
from lockpin.apt.distro import sources_for
from lockpin.apt.resolve import base_from_archive
from lockpin.net.config import HttpConfig

cache, release, arch = sys.argv[1:]
archive = load(sources_for(release=release), [arch],
               http=HttpConfig(cache_dir=Path(cache), offline=True))
for p in base_from_archive(archive.universe(arch)):
    print(p.name, p.version, p.architecture)
"""
#: fields of an index stanza that a dpkg status entry does not have
ARCHIVE_ONLY = ("filename", "size", "md5sum", "sha1", "sha256", "sha512", "description-md5")


def status_from_lists(lists: Path, wanted: set[tuple[str, str, str]]) -> str:
    """A dpkg status of the ``wanted`` (name, version, arch), from the very index stanzas
    apt fetched: apt then merges each with its archive version (same fields, same hash),
    so it sees them installed, not as other builds of the same version to reinstall."""
    found: dict[tuple[str, str, str], str] = {}
    for path in sorted(lists.glob("*_Packages")):
        for stanza in path.read_text(errors="replace").split("\n\n"):
            head = dict(re.findall(r"(?m)^(Package|Version|Architecture): *(\S+)", stanza))
            key = (head.get("Package", ""), head.get("Version", ""), head.get("Architecture", ""))
            if key in wanted and key not in found:
                lines, keep = [], True
                for line in stanza.strip("\n").split("\n"):
                    if not line[:1].isspace():
                        keep = line.split(":", 1)[0].lower() not in ARCHIVE_ONLY
                    if keep:
                        lines.append(line)
                lines.insert(1, "Status: install ok installed")
                found[key] = "\n".join(lines) + "\n"
    if missing := wanted - set(found):
        raise SystemExit(f"base packages not in apt's lists: {sorted(missing)}")
    return "\n".join(found[k] for k in sorted(found))


def minbase_status(release: str) -> Path | None:
    for root in (os.environ.get("LOCKPIN_TEST_DEBIAN_ROOT"), ROOTS / release):
        if root and (Path(root) / "var/lib/dpkg/status").is_file():
            return Path(root) / "var/lib/dpkg/status"
    return None


# -- the run plan -------------------------------------------------------------------------


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.arches = [debian_arch(p) for p in args.platforms]
        self.records: list[dict] = []
        self.checks: list[dict] = []
        root = args.base == "auto" and self.arches == ["amd64"]
        self.base = minbase_status(args.release) if root else None
        self.statuses: dict[str, Path] = {}

    def lockpin_env(self, cache: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKPIN_")}
        env["XDG_CACHE_HOME"] = str(cache / "xdg")
        return env

    def lockpin_cmd(self, name: str, mode: str, cache: Path, out: Path) -> list[str]:
        cmd = [self.args.python, "-m", "lockpin", "apt", "compile", str(SETS / f"{name}.in"),
               "--release", self.args.release, "--cache-dir", str(cache),
               "-o", str(out), "-q"]  # fmt: skip
        for platform in self.args.platforms:
            cmd += ["--platform", platform]
        if self.base is not None:
            cmd += ["--base-status", str(self.base)]
        if mode == "revalidate":  # the InRelease pages are stale: ask the mirror again
            cmd += ["--max-age", "0"]
        return cmd

    def report(self, rec: dict, label: str) -> None:
        secs = f"{rec['seconds']:7.2f} s" if "seconds" in rec else "      - "
        log(f"[{rec['set']:>8}] {label}: {secs}  {rec['status']}")

    def lockpin(self, name: str, mode: str, run: int) -> dict:
        leaf = f"cold-{run}" if mode == "cold" else "warm"
        cache = APT_WORK / "cache" / name / leaf
        out = APT_WORK / "out" / mode / f"{name}.lock"
        if mode == "cold" or run < 0:  # cold, or the fill of the warm cache
            shutil.rmtree(cache, ignore_errors=True)
        out.unlink(missing_ok=True)  # a lock left in place would be re-used, not re-resolved
        out.parent.mkdir(parents=True, exist_ok=True)
        logfile = APT_WORK / "logs" / f"{name}-lockpin-{mode}-{run}.log"
        cmd = self.lockpin_cmd(name, mode, cache, out)
        rec = measure(cmd, self.lockpin_env(cache), logfile, self.args.timeout)
        plans = {p: lock_plan(out, p) for p in self.args.platforms}
        if rec["ok"] and any(plan is None for plan in plans.values()):
            rec.update(ok=False, status="failed", error="no readable lock written")
        rec.update(set=name, tool="lockpin", mode=mode, run=run)
        rec["pins"] = sum(len(p or {}) for p in plans.values())
        rec["plans"] = plans
        if mode == "cold":
            shutil.rmtree(cache, ignore_errors=True)
        self.report(rec, f"{mode:<5} lockpin " + ("fill " if run < 0 else f"run {run + 1}"))
        return rec

    def apt_root(self, name: str, mode: str, run: int, arch: str) -> AptRoot:
        leaf = f"cold-{run}" if mode == "cold" else "warm"
        directory = APT_WORK / "root" / name / leaf / arch
        if mode == "cold" or run < 0:
            shutil.rmtree(directory, ignore_errors=True)
        return AptRoot(directory, self.args.release, arch, self.statuses[arch])

    def apt(self, name: str, mode: str, run: int) -> dict:
        """The pair per architecture (apt plans for one native architecture at a time)."""
        rec: dict = {"set": name, "tool": "apt", "mode": mode, "run": run, "ok": True,
                     "status": "ok", "seconds": 0.0, "update_seconds": 0.0,
                     "install_seconds": 0.0, "max_rss_kib": 0, "plans": {}}  # fmt: skip
        for platform, arch in zip(self.args.platforms, self.arches, strict=True):
            root = self.apt_root(name, mode, run, arch)
            base = APT_WORK / "logs" / f"{name}-apt-{arch}-{mode}-{run}"
            up = measure(root.update_cmd(), root.env(), Path(f"{base}-update.log"),
                         self.args.timeout)  # fmt: skip
            inst = {"ok": False, "status": "skipped", "seconds": 0.0, "max_rss_kib": 0}
            if up["ok"]:
                inst = measure(root.install_cmd(requested(name)), root.env(),
                               Path(f"{base}-install.log"), self.args.timeout)  # fmt: skip
            for part in (up, inst):
                if not part["ok"]:
                    rec.update(ok=False, status=part["status"], error=part.get("error", ""))
            rec["update_seconds"] += up.get("seconds", 0.0)
            rec["install_seconds"] += inst.get("seconds", 0.0)
            rec["seconds"] += up.get("seconds", 0.0) + inst.get("seconds", 0.0)
            rec["max_rss_kib"] = max(rec["max_rss_kib"], up.get("max_rss_kib", 0),
                                     inst.get("max_rss_kib", 0))  # fmt: skip
            if inst["ok"]:
                rec["plans"][platform] = apt_plan(Path(f"{base}-install.log").read_text())
            if mode == "cold":
                shutil.rmtree(root.directory, ignore_errors=True)
        rec["seconds"] = round(rec["seconds"], 4)
        rec["pins"] = sum(len(p) for p in rec["plans"].values())
        self.report(rec, f"{mode:<5} apt     " + ("fill " if run < 0 else f"run {run + 1}"))
        return rec

    def prepare_base(self) -> None:
        """The dpkg status apt plans against, per architecture (see the module docstring)."""
        if self.base is not None:
            log(f"base: the minbase root's status {self.base}")
            self.statuses = dict.fromkeys(self.arches, self.base)
            return
        cache = APT_WORK / "cache" / "base"
        shutil.rmtree(cache, ignore_errors=True)
        probe = APT_WORK / "out" / "base.lock"
        env = self.lockpin_env(cache)
        empty = APT_WORK / "status-empty"
        empty.write_text("")
        for platform, arch in zip(self.args.platforms, self.arches, strict=True):
            subprocess.run([self.args.python, "-m", "lockpin", "apt", "compile",
                            str(SETS / f"{self.args.sets[0]}.in"), "--release",
                            self.args.release, "--platform", platform, "--cache-dir", str(cache),
                            "-o", str(probe), "-q"], env=env, check=True)  # fmt: skip
            listed = subprocess.run([self.args.python, "-c", BASE_SCRIPT, str(cache),
                                     self.args.release, arch], env=env, check=True,
                                    capture_output=True, text=True).stdout  # fmt: skip
            wanted = {(n, v, a) for n, v, a in (line.split() for line in listed.splitlines())}
            root = AptRoot(APT_WORK / "root" / "base" / arch, self.args.release, arch, empty)
            subprocess.run(root.update_cmd(), env=root.env(), check=True, capture_output=True)
            status = APT_WORK / f"status-{self.args.release}-{arch}"
            status.write_text(status_from_lists(root.directory / "var/lib/apt/lists", wanted))
            log(f"base ({arch}): lockpin's default base, {len(wanted)} packages")
            self.statuses[arch] = status
            shutil.rmtree(root.directory, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)

    def go(self) -> None:
        self.prepare_base()
        for name in self.args.sets:
            for mode in self.args.modes:
                if mode != "cold":  # one untimed fill per side
                    self.lockpin(name, mode, -1)
                    self.apt(name, mode, -1)
                for run in range(self.args.runs):
                    order = TOOLS if run % 2 == 0 else TOOLS[::-1]  # alternate who goes first
                    for tool in order:
                        rec = self.lockpin(name, mode, run) if tool == "lockpin" else self.apt(
                            name, mode, run)  # fmt: skip
                        self.records.append(rec)
            self.check(name)

    def check(self, name: str) -> None:
        """Do both sides plan the same packages at the same versions (their last runs)?"""
        last = {r["tool"]: r for r in self.records if r["set"] == name and r["ok"]}
        if set(last) != set(TOOLS):
            return
        for platform in self.args.platforms:
            ours = last["lockpin"]["plans"].get(platform) or {}
            theirs = last["apt"]["plans"].get(platform) or {}
            diff = sorted(
                f"{n}: lockpin {ours.get(n, '-')}, apt {theirs.get(n, '-')}"
                for n in set(ours) | set(theirs)
                if ours.get(n) != theirs.get(n)
            )
            self.checks.append({"set": name, "platform": platform, "lockpin": len(ours),
                                "apt": len(theirs), "same": not diff,
                                "differences": diff})  # fmt: skip
            if diff:
                log(f"[{name:>8}] lockpin and apt differ on {platform}: " + "; ".join(diff))


def versions(python: str) -> dict[str, str]:
    code = "import importlib.metadata as m; print(m.version('lockpin'))"
    ours = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    theirs = subprocess.run(["apt-get", "--version"], capture_output=True, text=True, check=False)
    return {"lockpin": ours.stdout.strip() or "unknown",
            "apt": [*theirs.stdout.split("\n", 1)[0].split(), "?", "?"][1]}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    csv = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    p.add_argument("--sets", type=csv, default=list(DEFAULT_SETS), help="names in sets/apt/")
    p.add_argument("--runs", type=int, default=3, help="timed runs per cell (median)")
    p.add_argument("--modes", type=csv, default=list(MODES), help=",".join(MODES))
    p.add_argument("--release", default="bookworm", help="a Debian release")
    p.add_argument("--platforms", type=csv, default=["linux/amd64"], help="comma-separated")
    p.add_argument(
        "--base",
        choices=("auto", "default"),
        default="auto",
        help="auto: a minbase root's status when there is one; default: lockpin's",
    )
    p.add_argument("--python", help="the Python with lockpin (default: benchmarks/.venv's)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    p.add_argument("--no-write", action="store_true", help="print the Markdown only")
    args = p.parse_args()
    if bad := set(args.modes) - set(MODES):
        p.error(f"unknown modes {sorted(bad)}; choose from {','.join(MODES)}")
    for name in args.sets:
        if not (SETS / f"{name}.in").is_file():
            p.error(f"no benchmarks/sets/apt/{name}.in")
    if shutil.which("apt-get") is None or not Path(KEYRING).is_file():
        p.error(f"needs apt-get and {KEYRING} (apt-get install debian-archive-keyring)")
    if args.python is None:
        ensure_venv()
        args.python = str(BIN / "python")
    APT_WORK.mkdir(parents=True, exist_ok=True)
    runner = Runner(args)
    runner.go()
    settings = {k: v for k, v in vars(args).items() if k != "no_write"}
    res = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "settings": settings, "machine": machine(args.python), "versions": versions(args.python),
        "mirror": MIRROR, "security_mirror": SECURITY,
        "base": f"minbase root status {runner.base}" if runner.base else "lockpin's default",
        "cells": summarize(runner.records), "checks": runner.checks,
        "records": [{k: v for k, v in r.items() if k != "plans"} for r in runner.records],
    }  # fmt: skip
    text = markdown(res)
    if args.no_write:
        print(text)
        return 0
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    DOC.write_text(splice(DOC.read_text() if DOC.is_file() else "", text))
    log(f"wrote the apt section of {DOC.relative_to(ROOT)} and {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
