"""The image commands failing as a user sees them: every expected failure is exit 2
(1 for ``--check``), one ``lockpin: error:`` paragraph naming the reference, URL or
FILE:LINE, no traceback, nothing written. And secrets planted in Docker's config, a
credential helper and a registry's token, with every image command run at ``-vvv``,
appear in no output, log line or file lockpin wrote."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fixtures.hostile_registry import OCI_INDEX, HeaderLog, HostileRegistry
from fixtures.http_server import Response
from lockpin.cli import dockerfile as cli_dockerfile
from support import dir_state, run_cli, run_subprocess

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Sequence

    from fixtures.index_server import IndexServer
    from support import CliRun

pytestmark = pytest.mark.usefixtures("isolated", "docker_config")


@pytest.fixture
def reg() -> Iterator[HostileRegistry]:
    with HostileRegistry() as server:
        yield server


def one_error(result: CliRun, *needles: str, code: int = 2) -> None:
    assert result.code == code, result.both
    assert "Traceback" not in result.both
    assert result.err.startswith("lockpin: error: "), result.err
    assert result.err.count("lockpin: error:") == 1, result.err
    assert result.err.rstrip("\n").count("\n") == 0, result.err  # one paragraph
    for needle in needles:
        assert needle in result.err, result.err


def resolve(capsys: pytest.CaptureFixture[str], ref: str, *args: str) -> CliRun:
    return run_cli(capsys, "image", "resolve", ref, "--retries", "0", "-q", *args)


# -- image resolve against a lying registry ------------------------------------------------------


def test_a_digest_mismatch(capsys: pytest.CaptureFixture[str], reg: HostileRegistry) -> None:
    _, body = reg.image("a/b", "1")
    reg.manifest("a/b", "1", body, headers={"Docker-Content-Digest": "sha256:" + "1" * 64})
    one_error(resolve(capsys, reg.ref("a/b:1")), reg.url, "sha256:1111", "refuses")


def test_an_index_that_lies_about_a_size(
    capsys: pytest.CaptureFixture[str], reg: HostileRegistry
) -> None:
    digest, _ = reg.image("a/b", "1")
    entry = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 1,
        "platform": {"os": "linux", "architecture": "arm64"},
    }
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    reg.manifest("a/b", "i", index.encode(), OCI_INDEX)
    result = resolve(capsys, reg.ref("a/b:i"), "--platform", "linux/arm64")
    one_error(result, f"{reg.host}/a/b:i", "as 1 bytes, but it is")


def test_a_schema_1_manifest(capsys: pytest.CaptureFixture[str], reg: HostileRegistry) -> None:
    body = json.dumps({"schemaVersion": 1, "name": "a/b", "fsLayers": []}).encode()
    reg.manifest("a/b", "old", body, "application/vnd.docker.distribution.manifest.v1+prettyjws")
    one_error(resolve(capsys, reg.ref("a/b:old")), f"{reg.host}/a/b:old", "schema 1")


def test_a_huge_manifest(capsys: pytest.CaptureFixture[str], reg: HostileRegistry) -> None:
    reg.manifest("a/b", "big", b"{" + b" " * (5 << 20) + b"}")
    one_error(resolve(capsys, reg.ref("a/b:big")), "4 MiB limit for a manifest")


def test_rate_limited(capsys: pytest.CaptureFixture[str], reg: HostileRegistry) -> None:
    reg.image("a/b", "1")
    reg.fail("/v2/a/b/manifests/", 429, times=None, retry_after=0)
    one_error(resolve(capsys, reg.ref("a/b:1")), "HTTP 429", "rate limiting")


def test_credentials_in_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    result = resolve(capsys, "bob:hunter2pass@registry.example/x:1")
    one_error(result, "***@registry.example/x:1", "docker login")
    assert "hunter2pass" not in result.both


def test_a_remote_plain_http_token_service(
    capsys: pytest.CaptureFixture[str], reg: HostileRegistry
) -> None:
    reg.image("a/b", "1")
    reg.challenge = 'Bearer realm="http://auth.example.invalid/token",service="s"'
    one_error(resolve(capsys, reg.ref("a/b:1")), "--insecure-registry auth.example.invalid")


# -- dockerfile pin: the file ------------------------------------------------------------------


class Fake:
    def __init__(self) -> None:
        self.during: Any = None

    def resolve(self, reference: str, platforms: Sequence[str]) -> str:
        if self.during is not None:
            self.during()
        return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Fake:
    resolver = Fake()

    def make(args: argparse.Namespace) -> Fake:
        return resolver

    monkeypatch.setattr(cli_dockerfile, "make_resolver", make)
    return resolver


def pin(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    return run_cli(capsys, "dockerfile", "pin", *args)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"FROM python:3.12\nRUN <<EOF\necho\n", "Dockerfile:2: unterminated heredoc"),
        (b"FROM python:3.12\n# caf\xe9\n", "Dockerfile:2: bytes e9 are not UTF-8"),
        (b"FROM user:pw-secret-1@reg.example/x\n", "Dockerfile:1: invalid image reference '***@"),
        (b"FROM python:3.12\x00\n", "Dockerfile:1: invalid image reference"),
    ],
)
@pytest.mark.usefixtures("fake")
def test_a_bad_dockerfile(capsys: pytest.CaptureFixture[str], content: bytes, needle: str) -> None:
    Path("Dockerfile").write_bytes(content)
    before = dir_state(Path())
    result = pin(capsys)
    one_error(result, needle)
    assert "pw-secret-1" not in result.both
    assert dir_state(Path()) == before


@pytest.mark.usefixtures("fake")
def test_a_read_only_dockerfile(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path("Dockerfile")
    path.write_text("FROM python:3.12\n")
    path.chmod(0o444)
    before = dir_state(Path())
    one_error(pin(capsys), "Dockerfile: is read-only", "--dry-run")
    assert dir_state(Path()) == before
    # --check still works: it writes nothing
    assert pin(capsys, "--check").code == 1


def test_a_dockerfile_edited_meanwhile(capsys: pytest.CaptureFixture[str], fake: Fake) -> None:
    path = Path("Dockerfile")
    path.write_text("FROM python:3.12\n")
    fake.during = lambda: path.write_text("FROM python:3.12\nRUN mine\n")
    one_error(pin(capsys), "Dockerfile: changed on disk while lockpin worked")
    assert path.read_text() == "FROM python:3.12\nRUN mine\n"
    assert not [p for p in os.listdir() if p.startswith(".Dockerfile")]  # no temp file left


@pytest.mark.usefixtures("fake")
def test_a_dockerfile_that_is_a_directory_or_fifo(capsys: pytest.CaptureFixture[str]) -> None:
    Path("d").mkdir()
    one_error(pin(capsys, "d"), "d: is a directory")
    os.mkfifo("fifo")
    one_error(pin(capsys, "fifo"), "fifo: is a FIFO")
    assert stat.S_ISFIFO(os.stat("fifo").st_mode)


# -- secrets ------------------------------------------------------------------------------------

SECRETS = {
    "auths": "Sx-auths-password-4f1d",
    "helper": "Sx-helper-secret-8a2c",
    "token": "Sx-registry-token-77e0",
}


def _needles() -> list[bytes]:
    """Each secret, and the forms it travels in (base64 of user:secret)."""
    found: list[bytes] = []
    for secret in SECRETS.values():
        found.append(secret.encode())
        for user in ("alice", "helper-user"):
            found.append(base64.b64encode(f"{user}:{secret}".encode()))
    return found


def _tar(files: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as out:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _publish(reg: HostileRegistry) -> None:
    layer = _tar(
        {
            "etc/os-release": b"ID=debian\nVERSION_CODENAME=bookworm\n",
            "usr/lib/x86_64-linux-gnu/libc.so.6": b"GNU C Library (Debian GLIBC 2.36-9) "
            b"stable release version 2.36.\n",
        }
    )
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PYTHON_VERSION=3.12.1"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }
    reg.image("app/base", "1", layers=[layer], config=config)


def test_secrets_appear_nowhere(
    tmp_path: Path, docker_config: Path, index_server: IndexServer
) -> None:
    with HostileRegistry() as by_auths, HostileRegistry() as by_helper, HeaderLog() as tokens:
        for reg in (by_auths, by_helper):
            _publish(reg)
            reg.challenge = f'Bearer realm="{tokens.url}/token",service="test"'
        tokens.serve["/token"] = Response(
            200, json.dumps({"token": SECRETS["token"], "expires_in": 300}).encode()
        )
        # ~/.docker/config.json: auths for one registry, a helper for the other
        helper = tmp_path / "bin" / "docker-credential-lockpintest"
        helper.parent.mkdir()
        helper.write_text(
            "#!/bin/sh\ncat >/dev/null\n"
            f'echo \'{{"Username": "helper-user", "Secret": "{SECRETS["helper"]}"}}\'\n'
            "echo 'helper diagnostics on stderr' >&2\n"
        )
        helper.chmod(0o755)
        auth = base64.b64encode(f"alice:{SECRETS['auths']}".encode()).decode()
        (docker_config / "config.json").write_text(
            json.dumps(
                {
                    "auths": {by_auths.host: {"auth": auth}},
                    "credHelpers": {by_helper.host: "lockpintest"},
                }
            )
        )
        env = {
            **os.environ,
            "PATH": f"{helper.parent}{os.pathsep}{os.environ['PATH']}",
            "DOCKER_CONFIG": str(docker_config),
            "LOCKPIN_CACHE_DIR": str(tmp_path / "cache"),
        }
        work = tmp_path / "work"
        work.mkdir()
        (work / "Dockerfile").write_text(
            f"FROM {by_auths.ref('app/base:1')} AS a\nFROM {by_helper.ref('app/base:1')}\n"
        )
        (work / "requirements.in").write_text("newpy\n")
        (work / "apt.in").write_text("curl\n")
        runs = [
            ["image", "resolve", by_auths.ref("app/base:1"), "-vvv"],
            ["image", "resolve", by_helper.ref("app/base:1"), "--format", "json", "-vvv"],
            ["image", "resolve", by_helper.ref("app/base:missing"), "-vvv"],
            ["dockerfile", "pin", "--check", "-vvv"],
            ["dockerfile", "pin", "-vvv"],
            ["dockerfile", "pin", "--update", "-vvv"],
            [
                "compile",
                "requirements.in",
                "-o",
                "req.txt",
                "--base-from",
                "Dockerfile:a",
                "--platform",
                "linux/amd64",
                "-i",
                index_server.simple_url,
                "-vvv",
            ],
            [
                "compile",
                "requirements.in",
                "-o",
                "req2.txt",
                "--base",
                by_helper.ref("app/base:1"),
                "--platform",
                "linux/amd64",
                "-i",
                index_server.simple_url,
                "-vvv",
            ],
            [
                "apt",
                "compile",
                "apt.in",
                "-o",
                "apt.lock",
                "--base",
                by_auths.ref("app/base:1"),
                "--platform",
                "linux/amd64",
                "-vvv",
            ],
        ]
        results = [run_subprocess(*argv, cwd=work, env=env) for argv in runs]
        # the runs did what they should: the secrets were used, not skipped
        assert results[0].code == 0, results[0].err
        assert results[1].code == 0, results[1].err
        assert results[2].code == 2
        assert "unknown image or tag" in results[2].err
        assert results[3].code == 1
        assert results[4].code == 0, results[4].err
        assert results[6].code == 0, results[6].err
        assert results[7].code == 0, results[7].err
        assert "@sha256:" in (work / "Dockerfile").read_text()
        basic = {r.headers.get("authorization", "") for r in tokens.requests}
        assert f"Basic {auth}" in basic  # the auths entry went to the token service
        assert any(SECRETS["helper"] in base64.b64decode(b[6:]).decode() for b in basic if b)
        assert any(
            r.headers.get("authorization") == f"Bearer {SECRETS['token']}"
            for r in by_helper.requests
        )
        # ... and went nowhere else
        for argv, result in zip(runs, results, strict=True):
            assert "Traceback" not in result.both, (argv, result.both)
            for needle in _needles():
                assert needle.decode() not in result.both, (argv, needle)
        for path in tmp_path.rglob("*"):
            if path.is_file() and path != docker_config / "config.json" and path != helper:
                data = path.read_bytes()
                for needle in _needles():
                    assert needle not in data, (path, needle)
