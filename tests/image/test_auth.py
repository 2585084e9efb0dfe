"""lockpin.image.auth: WWW-Authenticate parsing, Docker's config.json lookups (auths keys,
credHelpers, credsStore, $DOCKER_CONFIG), secrets kept out of reprs and errors."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

import pytest

from lockpin.errors import InputError
from lockpin.image.auth import (
    Challenge,
    DockerConfigCredentials,
    RegistryCredentials,
    parse_challenges,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/python:pull"',
            [
                (
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/python:pull",
                    },
                )
            ],
        ),
        ('Basic realm="Registry Realm"', [("basic", {"realm": "Registry Realm"})]),
        (
            'Bearer realm="https://r/t", service=svc, error="insufficient_scope"',
            [("bearer", {"realm": "https://r/t", "service": "svc", "error": "insufficient_scope"})],
        ),
        (
            'Basic realm="a", Bearer realm="b",scope="x:y:pull,push"',
            [("basic", {"realm": "a"}), ("bearer", {"realm": "b", "scope": "x:y:pull,push"})],
        ),
        ('Bearer realm="with \\"quote\\""', [("bearer", {"realm": 'with "quote"'})]),
        ("Negotiate", [("negotiate", {})]),
        ("", []),
        ('Bearer realm="unterminated', [("bearer", {"realm": "unterminated"})]),
    ],
)
def test_parse_challenges(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    assert parse_challenges(header) == tuple(Challenge(s, p) for s, p in expected)


def _write(tmp_path: Path, data: object) -> DockerConfigCredentials:
    (tmp_path / "config.json").write_text(json.dumps(data))
    return DockerConfigCredentials(config_dir=tmp_path)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("key", "registry"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("docker.io", "docker.io"),
        ("registry.example:5000", "registry.example:5000"),
        ("https://registry.example:5000/v2/", "registry.example:5000"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("GHCR.IO", "ghcr.io"),
    ],
)
def test_auths_keys(tmp_path: Path, key: str, registry: str) -> None:
    store = _write(tmp_path, {"auths": {key: {"auth": _b64("u:p:with:colons")}}})
    found = store.get(registry)
    assert found is not None
    assert (found.username, found.password) == ("u", "p:with:colons")
    assert store.get("other.example") is None


def test_username_password_and_identity_token(tmp_path: Path) -> None:
    store = _write(
        tmp_path,
        {
            "auths": {
                "a.example": {"username": "u", "password": "p"},
                "b.example": {"identitytoken": "tok"},
                "c.example": {},
            }
        },
    )
    a = store.get("a.example")
    b = store.get("b.example")
    assert a is not None
    assert (a.username, a.password) == ("u", "p")
    assert b is not None
    assert b.identity_token == "tok"
    assert store.get("c.example") is None


def test_docker_config_env(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"x.example": {"auth": _b64("a:b")}}})
    )
    store = DockerConfigCredentials(environ={"DOCKER_CONFIG": str(tmp_path)})
    assert store.path == tmp_path / "config.json"
    assert store.get("x.example") is not None


def test_helpers_order_and_protocol(tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []

    def run(program: str, server: str) -> tuple[int, bytes]:
        calls.append((program, server))
        if program == "docker-credential-store" and server == "none.example":
            return 1, b"credentials not found in native keychain"
        user = "<token>" if program == "docker-credential-tok" else "hu"
        return 0, json.dumps({"ServerURL": server, "Username": user, "Secret": "hs"}).encode()

    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "credHelpers": {"helped.example": "special", "docker.io": "tok"},
                "credsStore": "store",
                "auths": {"none.example": {"auth": _b64("file:pw")}},
            }
        )
    )
    store = DockerConfigCredentials(config_dir=tmp_path, run_helper=run)
    helped = store.get("helped.example")
    assert helped is not None
    assert (helped.username, helped.password) == ("hu", "hs")
    hub = store.get("docker.io")
    assert hub is not None
    assert hub.identity_token == "hs"
    # credsStore first; when it has nothing, the file's auths
    fallback = store.get("none.example")
    assert fallback is not None
    assert (fallback.username, fallback.password) == ("file", "pw")
    assert calls == [
        ("docker-credential-special", "helped.example"),
        ("docker-credential-tok", "https://index.docker.io/v1/"),
        ("docker-credential-store", "none.example"),
    ]
    assert "docker-credential-special" in store.describe("helped.example")


def test_missing_helper_program(tmp_path: Path) -> None:
    store = _write(tmp_path, {"credsStore": "lockpin-does-not-exist"})
    with pytest.raises(
        InputError, match="docker-credential-lockpin-does-not-exist is not installed"
    ):
        store.get("x.example")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "cannot read Docker's config"),
        ("[]", "not a JSON object"),
        (json.dumps({"auths": {"x.example": "s"}}), "not a JSON object"),
        (json.dumps({"auths": {"x.example": {"auth": "%%%"}}}), "not base64"),
        (json.dumps({"auths": {"x.example": {"auth": _b64("nocolon")}}}), "not base64"),
        (json.dumps({"auths": {"x.example": {"password": 5}}}), "are strings"),
    ],
)
def test_bad_config(tmp_path: Path, content: str, reason: str) -> None:
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(InputError, match=reason) as info:
        DockerConfigCredentials(config_dir=tmp_path).get("x.example")
    assert "nocolon" not in str(info.value)


def test_no_config_file_means_no_credentials(tmp_path: Path) -> None:
    store = DockerConfigCredentials(config_dir=tmp_path / "absent")
    assert store.get("docker.io") is None
    assert "no credentials for docker.io" in store.describe("docker.io")


def test_secrets_stay_out_of_repr() -> None:
    creds = RegistryCredentials("user", "pa55word", "id-token-xyz", source="s")
    assert "pa55word" not in repr(creds)
    assert "id-token-xyz" not in repr(creds)
    assert creds.basic_header() == "Basic " + _b64("user:pa55word")
