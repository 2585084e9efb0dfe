"""Secrets never leak (issue 13): a distinctive secret is planted in every source of
credentials lockpin reads, each command that uses the source is run (at ``-q``, by
default and at ``-vv``, and failing: a wrong password, a 404, a 500, a closed port),
and every output is searched for every secret planted: stdout, stderr, the log
records (captured at DEBUG whatever the verbosity, so stricter than ``-vv``), the
files written (lock, Dockerfile, release log, export script) and every file of the
cache directory (lockpin caches no credential, by design: nothing there may hold one).

Sources: an index URL's userinfo (``-i``, ``--extra-index-url``, an input file's
``-i`` line, ``[tool.lockpin] index-url``, ``$LOCKPIN_INDEX_URL``), ``$NETRC``, an
apt mirror's userinfo (``--mirror``, ``--security-mirror``, ``$LOCKPIN_APT_MIRROR``),
``$DOCKER_CONFIG/config.json`` (``auths``: base64 ``auth``, ``identitytoken``), a
credential helper on ``PATH``, the bearer tokens the test token server issues, a
lock or Dockerfile quoting a URL with credentials (``record add``, ``dockerfile
check``). A secret that a run did not actually use proves nothing, so each success
is one the server grants only with the planted credentials (or its request log
shows them).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from support import closed_port, run_cli, run_subprocess

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from fixtures.apt_archive import ServedArchive
    from fixtures.index_server import IndexServer
    from fixtures.registry_plugin import OciRegistry
    from support import CliRun

pytestmark = pytest.mark.usefixtures("isolated")

VERBOSITIES = ("-q", "", "-vv")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Vault:
    """The secrets one test planted, and the search of every output for all of them."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.forms: dict[str, str] = {}  # searched text -> what it is
        self.searched = 0
        self.inputs: set[Path] = set()

    def plant(self, name: str, *, user: str = "user", value: str | None = None) -> str:
        """A new secret (or ``value``); its basic-auth header form is searched too."""
        secret = value or f"{name}-PLANTED-{uuid.uuid4().hex[:10]}"
        self.forms[secret] = name
        self.forms[_b64(f"{user}:{secret}")] = f"{name} (basic auth)"
        return secret

    def check(self, *texts: str, where: str) -> None:
        for text in texts:
            self.searched += 1
            for form, name in self.forms.items():
                assert form not in text, f"{name} leaked into {where}"

    def write_input(self, path: Path | str, text: str) -> Path:
        """Write an input that holds a secret (the user's own file): the only files
        :meth:`check_files` does not search."""
        path = Path(path)
        path.write_text(text)
        self.inputs.add(path.resolve())
        return path

    def check_files(self) -> None:
        """Every file under the test's directory (the cache, every output, the
        Docker config dir) but the inputs the secrets were planted in."""
        for path in sorted(self.tmp_path.rglob("*")):
            if not path.is_file() or path.is_symlink() or path.resolve() in self.inputs:
                continue
            data = path.read_bytes()
            self.searched += 1
            for form, name in self.forms.items():
                assert form.encode() not in data, f"{name} was written to {path}"

    def run(
        self,
        capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
        *argv: str,
        verbosity: str = "",
    ) -> CliRun:
        """``lockpin *argv`` in-process, its output and log records searched."""
        args = [*argv, verbosity] if verbosity else list(argv)
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            result = run_cli(capsys, *args)
        self.check(result.out, result.err, caplog.text, where=" ".join(args))
        assert "Traceback" not in result.err
        return result

    def run_all(
        self, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, *argv: str
    ) -> list[CliRun]:
        return [self.run(capsys, caplog, *argv, verbosity=v) for v in VERBOSITIES]


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Vault:
    # No machine netrc, no machine Docker config: only what a test plants.
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    docker = tmp_path / "docker-config"
    docker.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    return Vault(tmp_path)


def _with_userinfo(url: str, user: str, secret: str) -> str:
    return url.replace("://", f"://{user}:{secret}@", 1)


def _all_ok(results: Iterable[CliRun]) -> None:
    for result in results:
        assert result.code == 0, result.both


def _write_netrc(vault: Vault, monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    netrc = vault.write_input(
        vault.tmp_path / "netrc", f"machine 127.0.0.1\n  login user\n  password {secret}\n"
    )
    monkeypatch.setenv("NETRC", str(netrc))


# -- Python indexes: compile, hash, verify ------------------------------------------------------

PY_SOURCES = [
    "index-url",
    "token-only-url",
    "encoded-password",
    "extra-index-url",
    "find-links",
    "input-file",
    "config",
    "env",
    "env-extra",
    "netrc",
]


@pytest.mark.parametrize("source", PY_SOURCES)
def test_python_commands_keep_index_credentials_secret(
    source: str,
    vault: Vault,
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    secret = vault.plant(source)
    user = "user"
    if source == "token-only-url":  # https://TOKEN@host/: the user name is the secret
        user, secret = secret, ""
        vault.forms[_b64(f"{user}:")] = "token (basic auth)"
    elif source == "encoded-password":  # percent-encoded in the URL, sent decoded
        secret = vault.plant(source, value=f"p@ss/w:rd#{secret}")
        vault.forms[quote(secret, safe="")] = f"{source} (percent-encoded)"
    server = make_index(auth=(user, secret))  # nothing is served without the secret
    if source == "token-only-url":
        url = server.simple_url.replace("://", f"://{user}@", 1)
    else:
        url = _with_userinfo(server.simple_url, user, quote(secret, safe=""))
    index: list[str] = []
    lines = ""
    if source in ("index-url", "token-only-url", "encoded-password"):
        index = ["-i", url]
    elif source == "extra-index-url":
        empty = make_index(standard=False)  # the primary has nothing: the extra serves all
        index = ["-i", empty.simple_url, "--extra-index-url", url]
    elif source == "find-links":
        index = ["--no-index", "-f", _with_userinfo(server.links_url, "user", secret)]
    elif source == "input-file":
        lines = f"--index-url {url}\n"
    elif source == "config":
        vault.write_input(
            "pyproject.toml",
            f'[tool.lockpin]\nindex-url = "{url}"\n\n'
            '[[tool.lockpin.locks]]\nsrc = "requirements.in"\n',
        )
    elif source == "env":
        monkeypatch.setenv("LOCKPIN_INDEX_URL", url)
    elif source == "env-extra":
        monkeypatch.setenv("LOCKPIN_EXTRA_INDEX_URL", url)
        index = ["-i", make_index(standard=False).simple_url]
    else:
        _write_netrc(vault, monkeypatch, secret)
        index = ["-i", server.simple_url]
    vault.write_input("requirements.in", f"{lines}beta\n")
    vault.write_input("pins.txt", f"{lines}alpha==1.0\nbeta==1.0\n")

    _all_ok(vault.run_all(capsys, caplog, "compile", "requirements.in", *index))
    lock = Path("requirements.txt").read_text()
    assert "beta==1.0" in lock
    _all_ok(vault.run_all(capsys, caplog, "hash", "pins.txt", "-o", "hashed.txt", *index))
    hashed = Path("hashed.txt").read_text()
    assert "--hash=sha256:" in hashed
    if source == "input-file":
        # hash rewrites the user's own file, option lines kept as written (docs/hash-verify.md):
        # the credential the user put there stays there, and nowhere else.
        assert secret in hashed
        vault.inputs.add(Path("hashed.txt").resolve())
    _all_ok(vault.run_all(capsys, caplog, "verify", "hashed.txt", *index))
    if source != "input-file":  # the lock's -i line says user:****: nothing to log in with
        _all_ok(vault.run_all(capsys, caplog, "verify", "requirements.txt", *index))
    if source == "config":
        _all_ok(vault.run_all(capsys, caplog, "check-all", "-v"))
    # the credentials were sent (the server refuses everything else)
    expected = f"Basic {_b64(f'{user}:{secret}')}"
    assert any(r.headers.get("authorization") == expected for r in server.requests)
    vault.check_files()


def _failing_index_runs(
    server: IndexServer, vault: Vault
) -> list[tuple[str, list[str], tuple[str, ...]]]:
    """(what, index options, words the error must hold) of each failing case."""
    right = vault.plant("right-password")
    server.auth = ("user", right)  # a 404 and a 500 come only after the right password
    wrong = vault.plant("wrong-password")
    unreachable = vault.plant("closed-port")
    port = closed_port()
    closed = f"http://127.0.0.1:{port}/simple/"
    return [
        ("401", ["-i", _with_userinfo(server.simple_url, "user", wrong)], ("401", "user:****@")),
        (
            "404",
            ["-i", _with_userinfo(server.url + "/nowhere/simple/", "user", right)],
            ("user:****@",),
        ),
        ("500", ["-i", _with_userinfo(server.simple_url, "user", right)], ("500",)),
        ("closed", ["-i", _with_userinfo(closed, "user", unreachable)], (f"127.0.0.1:{port}",)),
    ]


def test_python_errors_keep_index_credentials_secret(
    vault: Vault,
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = make_index()
    Path("requirements.in").write_text("beta\n")
    Path("pins.txt").write_text(
        "alpha==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"  # verify needs a hashed lock
    )
    for what, index, words in _failing_index_runs(server, vault):
        if what == "500":
            server.fail("/simple/", 500, times=None)
        for argv in (["compile", "requirements.in"], ["hash", "pins.txt", "-o", "out.txt"],
                     ["verify", "pins.txt"]):  # fmt: skip
            for verbosity in ("", "-vv"):
                result = vault.run(
                    capsys, caplog, *argv, *index, "--retries", "0", verbosity=verbosity
                )
                assert result.code == 2, (what, result.both)
                assert result.err.startswith("lockpin: error: "), result.err
                for word in words:
                    assert word in result.err, (what, argv, result.err)
        server.clear_faults()
    vault.check_files()


def test_a_real_process_at_vvv_keeps_index_credentials_secret(
    vault: Vault,
    make_index: Callable[..., IndexServer],
    tmp_path: Path,
) -> None:
    """stderr of a real process (the CLI's own logging set-up, httpx's debug lines at -vvv)."""
    secret = vault.plant("subprocess")
    netrc_secret = vault.plant("subprocess-netrc")
    server = make_index(auth=("user", secret))
    other = make_index(auth=("user", netrc_secret))
    netrc = vault.write_input(
        tmp_path / "netrc", f"machine 127.0.0.1 login user password {netrc_secret}\n"
    )
    Path("requirements.in").write_text("beta\n")
    env = {**os.environ, "NETRC": str(netrc)}
    index = _with_userinfo(server.simple_url, "user", secret)
    ok = run_subprocess("compile", "requirements.in", "-vvv", "-i", index, cwd=tmp_path, env=env)
    assert ok.code == 0, ok.err
    assert "HTTP Request: GET" in ok.err  # -vvv shows httpx's lines: the headers are not there
    by_netrc = run_subprocess(
        "compile", "requirements.in", "-o", "netrc.txt", "-vvv", "-i", other.simple_url,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert by_netrc.code == 0, by_netrc.err
    wrong = vault.plant("subprocess-wrong")
    refused = run_subprocess(
        "compile", "requirements.in", "-vvv", "--retries", "0", "-o", "x.txt", "--refresh",
        "-i", _with_userinfo(server.simple_url, "user", wrong), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert refused.code == 2, refused.both
    assert "Traceback" not in refused.err
    for result in (ok, by_netrc, refused):
        vault.check(result.out, result.err, where="a real lockpin process")
    vault.check_files()


def test_proxy_credentials_stay_secret(vault: Vault, tmp_path: Path) -> None:
    """``HTTPS_PROXY=http://user:secret@…`` (httpx reads it for lockpin): a proxy that
    cannot be reached, at -vvv in a real process (httpcore's connection lines)."""
    secret = vault.plant("proxy")
    proxy = f"http://user:{secret}@127.0.0.1:{closed_port()}"
    env = {**os.environ, "HTTPS_PROXY": proxy, "ALL_PROXY": proxy}
    result = run_subprocess(
        "image", "resolve", "registry.example/app:1", "-vvv", "--retries", "0",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.code == 2, result.both
    assert "connect_tcp" in result.err  # it did go to the proxy (httpcore's debug line)
    vault.check(result.out, result.err, where="image resolve through a proxy")
    vault.check_files()


# -- apt mirrors: apt compile, apt verify, apt export -------------------------------------------

APT_SOURCES = ["mirror-url", "env", "netrc"]


def _apt_options(archive: ServedArchive, mirror: str, security: str) -> list[str]:
    return [
        "--release", "bookworm", "--platform", "linux/amd64", "--mirror", mirror,
        "--security-mirror", security, "--keyring", str(archive.key.keyring), "--retries", "0",
    ]  # fmt: skip


@pytest.mark.parametrize("source", APT_SOURCES)
def test_apt_commands_keep_mirror_credentials_secret(
    source: str,
    vault: Vault,
    apt_archive: ServedArchive,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    secret = vault.plant(f"apt-{source}")
    security_secret = vault.plant(f"apt-{source}-security")
    mirror, security = apt_archive.mirror, apt_archive.security_mirror
    if source == "mirror-url":
        mirror = _with_userinfo(mirror, "user", secret)
        security = _with_userinfo(security, "user", security_secret)
    elif source == "env":
        monkeypatch.setenv("LOCKPIN_APT_MIRROR", _with_userinfo(mirror, "user", secret))
        monkeypatch.setenv(
            "LOCKPIN_APT_SECURITY_MIRROR", _with_userinfo(security, "user", security_secret)
        )
    else:
        _write_netrc(vault, monkeypatch, secret)
    options = _apt_options(apt_archive, mirror, security)
    if source == "env":
        options = options[:4] + options[8:]  # no --mirror/--security-mirror: from the env
    Path("apt.in").write_text("mailer\n")
    _all_ok(vault.run_all(capsys, caplog, "apt", "compile", "apt.in", *options))
    lock = Path("apt.lock").read_text()
    assert 'name = "mailer"' in lock
    keyring = ["--keyring", str(apt_archive.key.keyring), "--retries", "0"]
    _all_ok(vault.run_all(capsys, caplog, "apt", "verify", "apt.lock", *keyring))
    _all_ok(vault.run_all(capsys, caplog, "apt", "export", "apt.lock", "-o", "install.sh"))
    _all_ok(vault.run_all(capsys, caplog, "apt", "export", "apt.lock", "--format", "apt-get"))
    expected = f"Basic {_b64(f'user:{secret}')}"
    assert any(r.headers.get("authorization") == expected for r in apt_archive.server.requests)
    vault.check_files()


def test_apt_errors_keep_mirror_credentials_secret(
    vault: Vault,
    make_apt_archive: Callable[..., ServedArchive],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    archive = make_apt_archive()
    Path("apt.in").write_text("mailer\n")
    closed = f"http://127.0.0.1:{closed_port()}/debian/"
    cases: list[tuple[str, str, tuple[str, ...]]] = [
        ("404", archive.url + "/nodebian/", ("404", "/nodebian/dists/bookworm/InRelease")),
        ("500", archive.mirror, ("500",)),
        ("closed", closed, (closed.removeprefix("http://"),)),
    ]
    for what, base, words in cases:
        secret = vault.plant(f"apt-{what}")
        if what == "500":
            archive.server.fail("/debian/dists/", 500, times=None)
        mirror = _with_userinfo(base, "user", secret)
        for verbosity in ("", "-vv"):
            result = vault.run(
                capsys, caplog, "apt", "compile", "apt.in", "--dry-run",
                *_apt_options(archive, mirror, archive.security_mirror), verbosity=verbosity,
            )  # fmt: skip
            assert result.code == 2, (what, result.both)
            for word in words:
                assert word in result.err, (what, result.err)
        archive.server.clear_faults()
    # a real process at -vv
    secret = vault.plant("apt-subprocess")
    options = _apt_options(
        archive, _with_userinfo(archive.mirror, "user", secret), archive.security_mirror
    )
    proc = run_subprocess("apt", "compile", "apt.in", "-vv", *options, cwd=tmp_path)
    assert proc.code == 0, proc.err
    vault.check(proc.out, proc.err, where="apt compile -vv (a real process)")
    vault.check_files()


# -- registries: image resolve, dockerfile pin, compile --base ----------------------------------


@pytest.fixture
def issued_tokens(oci_registry: OciRegistry, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every bearer token the test token server issues during the test."""
    server = oci_registry.token_server
    tokens: list[str] = []
    sign = server._sign

    def recording(claims: dict[str, Any]) -> str:
        token = sign(claims)
        tokens.append(token)
        return token

    monkeypatch.setattr(server, "_sign", recording)
    return tokens


def _helper(vault: Vault, bin_dir: Path, name: str, user: str, secret: str) -> None:
    """A ``docker-credential-NAME`` program that answers ``get`` with ``user``/``secret``."""
    bin_dir.mkdir(exist_ok=True)
    helper = bin_dir / f"docker-credential-{name}"
    vault.write_input(
        helper,
        '#!/bin/sh\n[ "$1" = get ] || exit 3\ncat >/dev/null\n'
        f'printf \'{{"ServerURL":"x","Username":"{user}","Secret":"{secret}"}}\'\n',
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)


REGISTRY_SOURCES = ["auths-basic", "auths-token", "identitytoken", "credential-helper"]


@pytest.mark.parametrize("source", REGISTRY_SOURCES)
def test_image_commands_keep_registry_credentials_secret(
    source: str,
    vault: Vault,
    oci_registry: OciRegistry,
    issued_tokens: list[str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from fixtures.registry import IDENTITY_TOKEN, PASSWORD, USER

    # The test registries accept only their own credentials: plant those.
    vault.plant("registry password", user=USER, value=PASSWORD)
    vault.plant("identity token", value=IDENTITY_TOKEN)
    vault.plant("rotated refresh token", value=IDENTITY_TOKEN + "-rotated")
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    registry = oci_registry.basic if source == "auths-basic" else oci_registry.token
    host = registry.host
    if source in ("auths-basic", "auths-token"):
        vault.write_input(
            config, json.dumps({"auths": {host: {"auth": _b64(f"{USER}:{PASSWORD}")}}})
        )
    elif source == "identitytoken":
        placeholder = _b64("00000000-0000-0000-0000-000000000000:")
        vault.write_input(
            config,
            json.dumps({"auths": {host: {"auth": placeholder, "identitytoken": IDENTITY_TOKEN}}}),
        )
    else:
        _helper(vault, tmp_path / "bin", "lockpinsecret", USER, PASSWORD)
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
        vault.write_input(config, json.dumps({"credHelpers": {host: "lockpinsecret"}}))
    # private/* needs a login at the token registry; the basic one needs it for all
    ref = oci_registry.ref("private/multi:1", registry=registry)
    digest = oci_registry.digests["private/multi:1"]
    for result in vault.run_all(capsys, caplog, "image", "resolve", ref, "--retries", "0"):
        assert result.code == 0, result.both
        assert digest in result.out
    for verbosity in VERBOSITIES:
        Path("Dockerfile").write_text(f"FROM {ref} AS app\nRUN true\n")
        pinned = vault.run(
            capsys, caplog, "dockerfile", "pin", "--retries", "0", verbosity=verbosity
        )
        assert pinned.code == 0, pinned.both
        assert f"{ref}@{digest}" in Path("Dockerfile").read_text()
    checked = vault.run_all(capsys, caplog, "dockerfile", "pin", "--update", "--check")
    _all_ok(checked)
    if source != "auths-basic":
        assert issued_tokens, "the token registry issued no token: the test proves nothing"
    for token in issued_tokens:
        vault.plant("bearer token", value=token)
        vault.plant("bearer token signature", value=token.rsplit(".", 1)[1])
    vault.check(
        *(r.both for r in vault.run_all(capsys, caplog, "image", "resolve", ref)),
        where="image resolve with the tokens known",
    )
    vault.check_files()


@pytest.fixture(scope="module")
def private_base(oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A sample Python base image (fixtures.oci.sample_layout) pushed as
    ``secrets/python:1``: the token registry serves it only to a login."""
    from fixtures.oci import sample_layout
    from fixtures.registry import push

    layout = sample_layout(tmp_path_factory.mktemp("secrets-layout"))
    push(layout, "python", oci_registry.open.host, "secrets/python:1")
    return oci_registry.ref("secrets/python:1", registry=oci_registry.token)


def test_layers_and_blob_cache_keep_registry_credentials_secret(
    vault: Vault,
    oci_registry: OciRegistry,
    private_base: str,
    issued_tokens: list[str],
    index_server: IndexServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``compile --base``: layers downloaded with a bearer token, into the blob cache."""
    from fixtures.registry import PASSWORD, USER

    vault.plant("registry password", user=USER, value=PASSWORD)
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    vault.write_input(
        config,
        json.dumps({"auths": {oci_registry.token.host: {"auth": _b64(f"{USER}:{PASSWORD}")}}}),
    )
    Path("requirements.in").write_text("newpy\n")
    base = ["--base", private_base, "--platform", "linux/amd64", "-i", index_server.simple_url]
    _all_ok(vault.run_all(capsys, caplog, "compile", "requirements.in", *base))
    assert "CPython 3.12.7" in Path("requirements.txt").read_text()
    assert issued_tokens
    for token in issued_tokens:
        vault.plant("bearer token", value=token)
    blobs = [p for p in (Path("cache")).rglob("*") if p.is_file()]
    assert blobs  # the layers are cached: the search below covers them
    vault.check_files()


def test_registry_errors_keep_credentials_secret(
    vault: Vault,
    oci_registry: OciRegistry,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Refused passwords (config file, helper), an unknown tag and a closed port, at
    -vv; the error says where the credentials came from, never what they are."""
    from fixtures.registry import PASSWORD, USER

    vault.plant("registry password", user=USER, value=PASSWORD)
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    wrong_file = vault.plant("wrong-in-config", user=USER)
    wrong_helper = vault.plant("wrong-from-helper", user=USER)
    _helper(vault, tmp_path / "bin", "lockpinwrong", USER, wrong_helper)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    closed = f"127.0.0.1:{closed_port()}"
    cases: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
        (
            "basic-wrong",
            {"auths": {oci_registry.basic.host: {"auth": _b64(f"{USER}:{wrong_file}")}}},
            oci_registry.ref("public/multi:1", registry=oci_registry.basic),
            (str(config),),
        ),
        (
            "token-wrong",
            {"auths": {oci_registry.token.host: {"auth": _b64(f"{USER}:{wrong_file}")}}},
            oci_registry.ref("private/multi:1", registry=oci_registry.token),
            (str(config),),
        ),
        (
            "helper-wrong",
            {"credHelpers": {oci_registry.token.host: "lockpinwrong"}},
            oci_registry.ref("private/multi:1", registry=oci_registry.token),
            ("docker-credential-lockpinwrong",),
        ),
        (
            "unknown-tag",
            {"auths": {oci_registry.basic.host: {"auth": _b64(f"{USER}:{PASSWORD}")}}},
            oci_registry.ref("public/multi:404", registry=oci_registry.basic),
            ("unknown image or tag",),
        ),
        (
            "closed-port",
            {"auths": {closed: {"auth": _b64(f"{USER}:{wrong_file}")}}},
            f"{closed}/x/y:1",
            (closed,),
        ),
    ]
    for what, content, ref, words in cases:
        vault.write_input(config, json.dumps(content))
        Path("Dockerfile").write_text(f"FROM {ref}\n")
        for argv in (["image", "resolve", ref], ["dockerfile", "pin"]):
            for verbosity in ("", "-vv"):
                result = vault.run(capsys, caplog, *argv, "--retries", "0", verbosity=verbosity)
                assert result.code == 2, (what, result.both)
                for word in words:
                    assert word in result.err, (what, result.err)
        assert Path("Dockerfile").read_text() == f"FROM {ref}\n"  # nothing written
    vault.check_files()


# -- URLs with credentials quoted by inputs: dockerfile check, record add|show|diff -------------


def test_findings_and_release_records_keep_quoted_credentials_secret(
    vault: Vault,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Dockerfile ``ADD https://user:token@…`` and a lock's ``--index-url`` with a
    password: findings (text, JSON, SARIF) and the release log quote them redacted.
    (Found by this test: LP401/LP402 messages quoted the ADD URL as written.)"""
    add_secret = vault.plant("dockerfile-add")
    git_secret = vault.plant("dockerfile-git")
    lock_secret = vault.plant("lock-index-url")
    digest = "sha256:" + "0" * 64
    vault.write_input(
        "Dockerfile",
        f"FROM python:3.12-slim@{digest}\n"
        f"ADD https://user:{add_secret}@files.example/app.tar.gz /app.tar.gz\n"
        f"ADD https://user:{git_secret}@git.example/o/r.git /src\n"
        "COPY requirements.txt /r.txt\n"
        "RUN pip install --no-deps --require-hashes -r /r.txt\n",
    )
    vault.write_input(
        "requirements.txt",
        f"--index-url https://user:{lock_secret}@idx.example/simple\n\n"
        "alpha==1.0 \\\n    --hash=sha256:" + "a" * 64 + "\n",
    )
    for fmt in ("text", "json", "sarif"):
        result = vault.run(capsys, caplog, "dockerfile", "check", "--format", fmt)
        assert result.code == 1, result.both  # the ADDs are errors
        assert "user:****@files.example" in result.out
    meta = Path("meta.json")
    for version, image_digest in (("1.0", "b" * 64), ("1.1", "c" * 64)):
        meta.write_text(
            json.dumps(
                {"containerimage.digest": f"sha256:{image_digest}", "image.name": "r.example/a:1"}
            )
        )
        add = ["record", "add", "--version", version, "--metadata-file", "meta.json"]
        refused = vault.run(capsys, caplog, *add, verbosity="-vv")
        assert refused.code == 2, refused.both  # LP401: refused without --allow-unpinned
        assert "user:****@files.example" in refused.err
        added = vault.run(
            capsys, caplog, *add, "--allow-unpinned", "--lock", "requirements.txt", verbosity="-vv"
        )
        assert added.code == 0, added.both
    assert "user:****@files.example" in Path("releases.jsonl").read_text()
    snippet = vault.run(
        capsys, caplog, "dockerfile", "snippet", "--requirements", "requirements.txt"
    )
    assert snippet.code == 0, snippet.both
    assert "--require-hashes" in snippet.out
    for argv in (["record", "show", "1.1"], ["record", "show", "1.0", "--format", "json"],
                 ["record", "diff", "1.0", "1.1"]):  # fmt: skip
        _all_ok(vault.run_all(capsys, caplog, *argv))
    vault.check_files()


def test_every_planted_secret_was_searched_for(vault: Vault) -> None:
    """The vault's own check: a planted secret in text or a file is found."""
    secret = vault.plant("self-test")
    with pytest.raises(AssertionError, match="self-test leaked"):
        vault.check(f"GET https://user:{secret}@x/", where="a message")
    Path("out.txt").write_text(_b64(f"user:{secret}"))
    with pytest.raises(AssertionError, match=r"self-test \(basic auth\) was written"):
        vault.check_files()
