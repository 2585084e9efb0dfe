"""``lockpin apt compile|export|verify`` in-process (``lockpin.cli.main``) and as
real processes, against the real signed fixture archive on 127.0.0.1
(:mod:`fixtures.apt_archive`): what is written and when (``--check``,
``--dry-run``, failed runs never touching an existing lock), exit codes, and
how refusals and errors read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.apt_archive import (
    FIXED_DATE,
    AptArchiveServer,
    DebCache,
    GpgKey,
    ServedArchive,
    break_signature,
    build_archive,
    replace_suite,
    standard_suites,
)
from lockpin.apt.lock import AptLock
from support import dir_state, run_cli, run_subprocess

if TYPE_CHECKING:
    from collections.abc import Callable

    from support import CliRun

# Every test runs in its own tmp_path with no lockpin configuration (conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


# -- the archive (fixtures.apt_plugin: apt_key, apt_debs, apt_archive, make_apt_archive) ---------


@pytest.fixture
def archive(apt_archive: ServedArchive) -> ServedArchive:
    """The session's standard archive: never break it."""
    return apt_archive


@pytest.fixture
def private_archive(make_apt_archive: Callable[..., ServedArchive]) -> ServedArchive:
    """A standard archive of this test's own: safe to break."""
    return make_apt_archive()


def archive_options(served: ServedArchive) -> list[str]:
    return [
        "--release",
        "bookworm",
        "--mirror",
        served.mirror,
        "--security-mirror",
        served.security_mirror,
        "--keyring",
        str(served.key.keyring),
        "--retries",
        "0",
    ]


@pytest.fixture
def apt_compile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Callable[..., CliRun]:
    """``apt_compile(served, *args, lines=("mailer",))``: ``lockpin apt compile
    apt.in`` of ``lines`` against ``served``, in-process."""

    def run(served: ServedArchive, *args: str, lines: tuple[str, ...] = ("mailer",)) -> CliRun:
        src = tmp_path / "apt.in"
        text = "".join(f"{line}\n" for line in lines)
        if not src.exists() or src.read_text() != text:  # keep its mtime otherwise
            src.write_text(text)
        return run_cli(capsys, "apt", "compile", "apt.in", *archive_options(served), *args)

    return run


def assert_clean_error(result: CliRun, code: int, *words: str) -> None:
    """One ``lockpin: error:`` paragraph on stderr naming ``words``; no traceback."""
    assert result.code == code, result.both
    assert result.out == ""
    assert result.err.startswith("lockpin: error: "), result.err
    assert "Traceback" not in result.err
    for word in words:
        assert word in result.err, result.err


# -- help ----------------------------------------------------------------------------------------


def test_compile_help_reads_well(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli(capsys, "apt", "compile", "--help")
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: lockpin apt compile")
    for option in ("--release", "--platform", "--arch", "--mirror", "--snapshot", "--keyring",
                   "--insecure-skip-verify", "--base-status", "--check", "--dry-run",
                   "--offline", "--refresh"):  # fmt: skip
        assert option in text
    # Worked examples and what the exit codes mean.
    assert "lockpin apt compile apt.in --release bookworm --platform linux/amd64" in text
    assert "exit status" in text


def test_apt_alone_prints_its_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "apt")
    assert result.code == 2
    assert result.err.startswith("usage: lockpin apt")
    for command in ("compile", "export", "verify"):
        assert command in result.err


@pytest.mark.parametrize("command", ["export", "verify"])
def test_lock_argument_is_described(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit):
        run_cli(capsys, "apt", command, "--help")
    assert "an apt.lock (default: apt.lock)" in " ".join(capsys.readouterr().out.split())


# -- compile: what is written --------------------------------------------------------------------


def test_compile_writes_the_lock_next_to_the_input(
    archive: ServedArchive, apt_compile: Callable[..., CliRun], tmp_path: Path
) -> None:
    result = apt_compile(archive, "--arch", "amd64", "--platform", "linux/arm64")
    assert result.code == 0, result.err
    assert result.out == ""
    assert "4 package pin(s) (2 for linux/amd64, 2 for linux/arm64) -> apt.lock" in result.err
    lock = AptLock.from_toml((tmp_path / "apt.lock").read_text(), filename="apt.lock")
    assert lock.platforms == ("linux/amd64", "linux/arm64")
    assert {p.name for p in lock.packages} == {"mailer", "mta-light"}
    # The header records the command as typed, without run-only options.
    assert lock.command.startswith("lockpin apt compile apt.in --release bookworm")
    assert "--arch amd64 --platform linux/arm64" in lock.command
    assert "--retries" not in lock.command


def test_a_rerun_keeps_the_file_as_it_is(
    archive: ServedArchive, apt_compile: Callable[..., CliRun], tmp_path: Path
) -> None:
    assert apt_compile(archive, "--arch", "amd64").code == 0
    before = dir_state(tmp_path)
    again = apt_compile(archive, "--arch", "amd64", "--refresh")
    assert again.code == 0
    assert "apt.lock is up to date (2 package(s))" in again.err
    assert dir_state(tmp_path) == before


def test_check(archive: ServedArchive, apt_compile: Callable[..., CliRun], tmp_path: Path) -> None:
    assert apt_compile(archive, "--arch", "amd64").code == 0
    before = dir_state(tmp_path)
    # A header-only difference (another -o spelling, another option order) is no drift.
    same = apt_compile(archive, "--platform=linux/amd64", "--output-file=apt.lock", "--check")
    assert same.code == 0, same.both
    assert "apt.lock is up to date" in same.err
    assert same.out == ""
    # Another package list is drift: exit 1, the diff on stdout, nothing written.
    drift = apt_compile(archive, "--arch", "amd64", "--check", lines=("mailer", "greeter"))
    assert drift.code == 1
    assert '+name = "greeter"' in drift.out
    assert drift.out.startswith("--- apt.lock (current)\n+++ apt.lock (would write)\n")
    assert "out of date" in drift.err
    assert (tmp_path / "apt.in").read_text() == "mailer\ngreeter\n"
    del before["apt.in"]
    after = dir_state(tmp_path)
    del after["apt.in"]
    assert after == before


def test_check_without_a_lock_is_drift_and_writes_nothing(
    archive: ServedArchive, apt_compile: Callable[..., CliRun], tmp_path: Path
) -> None:
    result = apt_compile(archive, "--arch", "amd64", "--check")
    assert result.code == 1
    assert '+name = "mailer"' in result.out
    assert not (tmp_path / "apt.lock").exists()


def test_dry_run_prints_and_writes_nothing(
    archive: ServedArchive, apt_compile: Callable[..., CliRun], tmp_path: Path
) -> None:
    result = apt_compile(archive, "--arch", "amd64", "--dry-run")
    assert result.code == 0
    lock = AptLock.from_toml(result.out, filename="-")
    assert {p.name for p in lock.packages} == {"mailer", "mta-light"}
    assert not (tmp_path / "apt.lock").exists()
    stdout = apt_compile(archive, "--arch", "amd64", "-o", "-")
    # The same lock; only the command in its header differs (-o - is kept there).
    assert stdout.out.replace(" -o -", "") == result.out
    assert not (tmp_path / "apt.lock").exists()


def test_a_failed_run_never_touches_the_existing_lock(
    private_archive: ServedArchive, apt_compile: Callable[..., CliRun], tmp_path: Path
) -> None:
    assert apt_compile(private_archive, "--arch", "amd64").code == 0
    before = dir_state(tmp_path)
    # The archive goes bad between runs.
    inrelease = private_archive.built.dists("bookworm") + "InRelease"
    data = (private_archive.built.root / inrelease.lstrip("/")).read_bytes()
    private_archive.server.swap(inrelease, break_signature(data))
    result = apt_compile(private_archive, "--arch", "amd64", "--refresh", lines=("greeter",))
    assert_clean_error(result, 2, private_archive.url + inrelease, "does not verify")
    del before["apt.in"]
    after = dir_state(tmp_path)
    del after["apt.in"]
    assert after == before  # same bytes, same mtime, no temp file left
    # A resolution failure neither.
    private_archive.server.clear_faults()
    failed = apt_compile(private_archive, "--arch", "amd64", lines=("mta-light", "mta-heavy"))
    assert_clean_error(failed, 1, "mta-heavy")
    after = dir_state(tmp_path)
    del after["apt.in"]
    assert after == before


def test_an_output_in_a_missing_directory_fails_before_any_request(
    archive: ServedArchive, apt_compile: Callable[..., CliRun], tmp_path: Path
) -> None:
    before = len(archive.server.requests)
    result = apt_compile(archive, "--arch", "amd64", "-o", "missing-dir/apt.lock")
    assert_clean_error(result, 2, "missing-dir/apt.lock", "does not exist")
    assert len(archive.server.requests) == before
    assert not (tmp_path / "missing-dir").exists()


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        pytest.param(["--platform", "linux/s390"], 2, ["linux/s390"], id="bad-platform"),
        pytest.param([], 2, ["--platform linux/amd64", "--arch amd64"], id="no-platform"),
        pytest.param(
            ["--arch", "amd64", "--snapshot", "yesterday"], 2, ["'yesterday'"], id="bad-snapshot"
        ),
        pytest.param(
            ["--arch", "amd64", "--keyring", "nowhere.gpg"],
            2,
            ["nowhere.gpg"],
            id="missing-keyring",
        ),
    ],
)
def test_bad_options_fail_before_any_request(
    archive: ServedArchive,
    apt_compile: Callable[..., CliRun],
    args: list[str],
    code: int,
    words: list[str],
) -> None:
    before = len(archive.server.requests)
    assert_clean_error(apt_compile(archive, *args), code, *words)
    assert len(archive.server.requests) == before


def test_a_missing_input_file(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "apt", "compile", "nothere.in", "--release", "bookworm")
    assert_clean_error(result, 2, "nothere.in: no such file")


# -- compile: refusals and resolution errors -----------------------------------------------------


def test_resolution_errors_read_well_and_write_nothing(
    archive: ServedArchive, apt_compile: Callable[..., CliRun], tmp_path: Path
) -> None:
    cases = [
        (("mailr",), 2, ["mailr", "did you mean mailer"]),
        (("opensslish=3.0.12-1",), 2, ["3.0.11-1~deb12u2 (bookworm)",
                                       "3.0.13-1~deb12u1 (bookworm-security)"]),
        (("mta-light", "mta-heavy"), 1, ["mta-light", "mta-heavy", "apt-get would refuse"]),
        (("fetcher", "libfetch4=7.88.1-10"), 1, ["libfetch4 (= 7.88.1-10+deb12u5)"]),
    ]  # fmt: skip
    for lines, code, words in cases:
        result = apt_compile(archive, "--arch", "amd64", lines=lines)
        assert_clean_error(result, code, *words)
        assert not (tmp_path / "apt.lock").exists()


def test_a_key_not_in_the_keyring(
    archive: ServedArchive, apt_compile: Callable[..., CliRun], apt_other_key: GpgKey
) -> None:
    result = apt_compile(archive, "--arch", "amd64", "--keyring", str(apt_other_key.keyring))
    assert_clean_error(result, 2, archive.mirror + "dists/bookworm", "--keyring", "InRelease")


def test_an_expired_release_and_a_snapshot(
    apt_compile: Callable[..., CliRun],
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    apt_key: GpgKey,
    apt_debs: DebCache,
) -> None:
    stamp = "20240601T000000Z"
    expired = standard_suites(valid_until=FIXED_DATE)
    root = tmp_path_factory.mktemp("cli-expired")
    # The same expired suites twice: on a mirror, and as a snapshot service has them.
    built = build_archive(root, expired, key=apt_key, debs=apt_debs)
    snapshot = [replace_suite(s, archive=f"archive/{s.archive}/{stamp}") for s in expired]
    build_archive(root, snapshot, key=apt_key, debs=apt_debs)
    with AptArchiveServer(root) as server:
        served = ServedArchive(built, server, apt_key)
        refused = apt_compile(served, "--arch", "amd64")
        assert_clean_error(refused, 2, "Valid-Until", "--snapshot", served.url)
        accepted = run_cli(
            capsys, "apt", "compile", "apt.in", "--release", "bookworm", "--arch", "amd64",
            "--keyring", str(apt_key.keyring), "--snapshot", stamp, "--snapshot-url", served.url,
        )  # fmt: skip
    assert accepted.code == 0, accepted.err
    lock = AptLock.from_toml(Path("apt.lock").read_text(), filename="apt.lock")
    assert lock.snapshot == stamp
    assert "--snapshot 20240601T000000Z" in lock.command


def test_insecure_skip_verify_warns_loudly(
    apt_compile: Callable[..., CliRun],
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    apt_key: GpgKey,
    apt_debs: DebCache,
    tmp_path: Path,
) -> None:
    unsigned = [replace_suite(s, inrelease=False, release_gpg=False) for s in standard_suites()]
    root = tmp_path_factory.mktemp("cli-unsigned")
    built = build_archive(root, unsigned, key=apt_key, debs=apt_debs)
    with AptArchiveServer(root) as server:
        served = ServedArchive(built, server, apt_key)
        refused = apt_compile(served, "--arch", "amd64")
        assert_clean_error(refused, 2, "--insecure-skip-verify", "Release.gpg")
        result = apt_compile(served, "--arch", "amd64", "--insecure-skip-verify")
        # the lock remembers: verify takes the unsigned mirror with the same warning,
        # and accepts the option itself too
        lock = str(tmp_path / "apt.lock")
        verified = run_cli(capsys, "apt", "verify", lock, "--retries", "0")
        explicit = run_cli(capsys, "apt", "verify", lock, "--insecure-skip-verify")
    assert result.code == 0
    warnings = [line for line in result.err.splitlines() if "warning" in line]
    assert warnings
    assert all(line.startswith("lockpin: warning: ") for line in warnings)
    assert any("NOT checked" in line for line in warnings)
    assert "insecure-skip-verify = true" in (tmp_path / "apt.lock").read_text()
    for run in (verified, explicit):
        assert run.code == 0, run.err
        assert "lockpin: warning: --insecure-skip-verify: InRelease signatures were NOT" in run.err
        assert "still downloadable" in run.err
    exported = run_cli(capsys, "apt", "export", lock)
    assert exported.code == 0
    assert "deb [arch=amd64 trusted=yes] " in exported.out


def test_offline(
    archive: ServedArchive, apt_compile: Callable[..., CliRun], tmp_path: Path
) -> None:
    cold = apt_compile(archive, "--arch", "amd64", "--offline", "--dry-run")
    assert_clean_error(cold, 2, "--offline", "InRelease", "Run once without --offline")
    assert apt_compile(archive, "--arch", "amd64").code == 0
    before = len(archive.server.requests)
    warm = apt_compile(archive, "--arch", "amd64", "--offline", "--refresh")
    assert warm.code == 0, warm.err
    assert len(archive.server.requests) == before


# -- verify --------------------------------------------------------------------------------------


def test_verify(
    private_archive: ServedArchive,
    apt_compile: Callable[..., CliRun],
    capsys: pytest.CaptureFixture[str],
    apt_debs: DebCache,
) -> None:
    assert apt_compile(private_archive, "--arch", "amd64", lines=("greeter",)).code == 0
    keyring = ["--keyring", str(private_archive.key.keyring)]
    ok = run_cli(capsys, "apt", "verify", *keyring)
    assert ok.code == 0, ok.err
    assert "apt.lock: 1 pin(s) still downloadable with their sha256." in ok.err
    downloaded = run_cli(capsys, "apt", "verify", "apt.lock", "--download", *keyring)
    assert downloaded.code == 0
    assert "1 .deb(s) downloaded and checked" in downloaded.err
    # The archive drops the version (index and pool).
    suites = standard_suites()
    packages = {a: list(p) for a, p in suites[0].packages.items()}
    packages["amd64"] = [p for p in packages["amd64"] if p["name"] != "greeter"]
    packages["amd64"].append({"name": "greeter", "version": "2.11-1"})
    suites[0] = replace_suite(suites[0], packages=packages)
    build_archive(private_archive.built.root, suites, key=private_archive.key, debs=apt_debs)
    (private_archive.built.root / "debian/pool/main/g/greeter/greeter_2.10-3_amd64.deb").unlink()
    dropped = run_cli(capsys, "apt", "verify", *keyring, "--refresh")
    assert dropped.code == 1
    assert dropped.out.startswith("greeter=2.10-3 (linux/amd64): no longer listed")
    assert "2.11-1 (bookworm)" in dropped.out
    assert "1 of 1 pin(s) can no longer be installed as locked" in dropped.err
    assert "lockpin apt compile" in dropped.err
    assert "-P NAME" in dropped.err
    assert "Traceback" not in dropped.both


def test_verify_of_a_file_that_is_not_a_lock(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "apt.lock").write_text("lock-version = 1\n")
    assert_clean_error(run_cli(capsys, "apt", "verify"), 2, "apt.lock")


# -- export --------------------------------------------------------------------------------------


def test_export_formats(
    archive: ServedArchive,
    apt_compile: Callable[..., CliRun],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert apt_compile(archive, "--arch", "amd64", lines=("mailer", "greeter")).code == 0
    lock = AptLock.from_toml((tmp_path / "apt.lock").read_text(), filename="apt.lock")

    apt_get = run_cli(capsys, "apt", "export", "--format", "apt-get")
    assert apt_get.code == 0
    assert apt_get.out.split() == ["greeter=2.10-3", "mailer=8.1.2-0.1", "mta-light=4.96-15"]

    sums = run_cli(capsys, "apt", "export", "apt.lock", "--format", "sha256sums")
    assert sums.code == 0
    expected = {f"{p.sha256}  {p.deb_name}" for p in lock.packages}
    assert set(sums.out.splitlines()) == expected

    script = run_cli(capsys, "apt", "export", "--format", "script", "-o", "install.sh")
    assert script.code == 0
    assert script.out == ""
    text = (tmp_path / "install.sh").read_text()
    assert text.startswith("#!/bin/sh")
    assert os.stat(tmp_path / "install.sh").st_mode & 0o111
    for package in lock.packages:
        assert package.sha256 in text
    assert run_cli(capsys, "apt", "export").out == text  # script is the default, on stdout

    # a keyring of the user's own: recorded by name and sha256; the script can name the
    # image's copy of it with signed-by=
    assert lock.keyring_name == archive.key.keyring.name
    signed = run_cli(capsys, "apt", "export", "--keyring-in-image", "/usr/share/keyrings/m.gpg")
    assert signed.code == 0, signed.err
    assert "deb [arch=amd64 signed-by=/usr/share/keyrings/m.gpg] " in signed.out
    wrong = run_cli(capsys, "apt", "export", "--format", "apt-get", "--keyring-in-image", "/k.gpg")
    assert_clean_error(wrong, 2, "--keyring-in-image is for --format script")
    relative = run_cli(capsys, "apt", "export", "--keyring-in-image", "k.gpg")
    assert_clean_error(relative, 2, "'k.gpg' must be an absolute path")


def test_export_of_a_multi_platform_lock(
    archive: ServedArchive,
    apt_compile: Callable[..., CliRun],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert apt_compile(archive, "--arch", "amd64", "--arch", "arm64", lines=("greeter",)).code == 0
    needs = run_cli(capsys, "apt", "export", "--format", "apt-get")
    assert_clean_error(needs, 2, "--platform", "linux/amd64", "linux/arm64")
    arm = run_cli(capsys, "apt", "export", "--format", "apt-get", "--platform", "linux/arm64")
    assert arm.out.split() == ["greeter=2.10-2"]
    missing = run_cli(capsys, "apt", "export", "--format", "sha256sums", "--platform", "linux/386")
    assert_clean_error(missing, 2, "linux/386", "linux/amd64", "linux/arm64")
    # The script covers every platform of the lock and picks one at run time.
    script = run_cli(capsys, "apt", "export")
    assert script.code == 0
    assert "dpkg --print-architecture" in script.out
    assert "greeter_2.10-2_arm64.deb" in script.out
    assert "greeter_2.10-3_amd64.deb" in script.out


def test_export_of_a_missing_lock(capsys: pytest.CaptureFixture[str]) -> None:
    assert_clean_error(run_cli(capsys, "apt", "export", "--format", "apt-get"), 2, "apt.lock")


# -- real processes ------------------------------------------------------------------------------


def test_a_real_process_compiles_and_exports(archive: ServedArchive, tmp_path: Path) -> None:
    (tmp_path / "apt.in").write_text("fetcher\n")
    env = dict(os.environ)
    result = run_subprocess(
        "apt", "compile", *archive_options(archive), "--arch", "amd64", cwd=tmp_path, env=env
    )
    assert result.code == 0, result.err
    assert "3 package pin(s) (3 for linux/amd64) -> apt.lock" in result.err
    exported = run_subprocess("apt", "export", "--format", "sha256sums", cwd=tmp_path, env=env)
    assert exported.code == 0
    deb = (
        archive.built.root / "debian-security/pool/main/f/fetch/fetcher_7.88.1-10+deb12u5_amd64.deb"
    )
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()
    assert f"{digest}  fetcher_7.88.1-10+deb12u5_amd64.deb" in exported.out.splitlines()


def test_a_real_process_refuses_without_a_traceback(
    private_archive: ServedArchive, tmp_path: Path
) -> None:
    (tmp_path / "apt.in").write_text("mailer\n")
    for path in private_archive.built.packages_paths("bookworm", "amd64"):
        data = (private_archive.built.root / path.lstrip("/")).read_bytes()
        private_archive.server.swap(path, data + b"\0")
    result = run_subprocess(
        "apt", "compile", *archive_options(private_archive), "--arch", "amd64", cwd=tmp_path,
        env=dict(os.environ),
    )  # fmt: skip
    assert_clean_error(result, 2, private_archive.url + "/debian/dists/bookworm/main/binary-amd64/",
                       "lockpin refuses it")  # fmt: skip
    assert not (tmp_path / "apt.lock").exists()
