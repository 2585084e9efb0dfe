"""lockpin.image.auth: WWW-Authenticate parsing, Docker's config.json lookups (auths keys,
credHelpers, credsStore, $DOCKER_CONFIG), secrets kept out of reprs and errors."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import TYPE_CHECKING

import pytest

from fixtures.http_server import LoopbackServer, Response
from lockpin.errors import InputError, RegistryAuthError
from lockpin.image.auth import (
    Authenticator,
    Challenge,
    DockerConfigCredentials,
    RegistryCredentials,
    parse_challenges,
)
from lockpin.net.http import Http, HttpConfig

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


# -- tokens, against a loopback token endpoint ---------------------------------------------------


class _Realm(LoopbackServer):
    """``/token`` answers ``self.body``; the request log shows what was asked."""

    body = b'{"token": "t1", "expires_in": 100}'

    def _route(self, path: str, query: str, headers: dict[str, str]) -> Response:
        return Response(200, self.body, {"Content-Type": "application/json"})


def _authorize(
    realm: _Realm,
    *,
    clock: list[float] | None = None,
    creds: RegistryCredentials | None = None,
    times: int = 1,
    realm_url: str | None = None,
) -> list[str]:
    now = clock or [0.0]

    class Store:
        def get(self, registry: str) -> RegistryCredentials | None:
            return creds

        def describe(self, registry: str) -> str:
            return "the test store"

    async def go() -> list[str]:
        async with Http(HttpConfig(retries=0, use_netrc=False)) as http:
            auth = Authenticator(http, Store(), clock=lambda: now[0])
            challenge = Challenge(
                "bearer", {"realm": realm_url or f"{realm.url}/token", "service": "svc"}
            )
            values = []
            for _ in range(times):
                values.append(
                    await auth.authorize(
                        challenge, registry="r", scope="repository:a:pull", reference="r/a:1"
                    )
                )
                now[0] += 60
            return values

    return asyncio.run(go())


def test_tokens_are_cached_until_they_expire() -> None:
    with _Realm() as realm:
        assert _authorize(realm, times=3) == ["Bearer t1"] * 3
        # 0 s and 60 s use the first token; at 120 s (expires_in 100) a new one is asked
        assert len(realm.requests) == 2
        assert "scope=repository%3Aa%3Apull" in realm.requests[0].path
        assert "service=svc" in realm.requests[0].path
        assert "authorization" not in realm.requests[0].headers


def test_credentials_go_to_the_realm_as_basic_auth() -> None:
    with _Realm() as realm:
        _authorize(realm, creds=RegistryCredentials("u", "p"))
        assert realm.requests[0].headers["authorization"] == "Basic " + _b64("u:p")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"token": ""}', "no usable token"),
        (b'{"token": "a b"}', "no usable token"),
        (b'{"access_token": 5}', "no usable token"),
    ],
)
def test_bad_token_answers(body: bytes, reason: str) -> None:
    with _Realm() as realm:
        realm.body = body
        with pytest.raises(RegistryAuthError, match=reason):
            _authorize(realm)


def test_an_unusable_realm() -> None:
    with _Realm() as realm:
        with pytest.raises(RegistryAuthError, match="unusable token service"):
            _authorize(realm, realm_url="file:///etc/passwd")
        assert realm.requests == []


class _OAuthRealm(_Realm):
    """Also takes POSTs: ``post_status`` (200: an RFC 6749 answer); keeps the forms."""

    post_status = 200

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[dict[str, list[str]], str]] = []

    def _route_post(self, path: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        from urllib.parse import parse_qs

        self.forms.append((parse_qs(body.decode()), headers.get("content-type", "")))
        if self.post_status != 200:
            return Response(self.post_status, b'{"error":"nope"}')
        return Response(
            200, b'{"access_token": "oauth1", "expires_in": 100, "refresh_token": "r2"}'
        )


def test_an_identity_token_is_posted_as_an_oauth2_refresh_token() -> None:
    with _OAuthRealm() as realm:
        creds = RegistryCredentials("00000000-guid", identity_token="refresh-SECRET", source="cfg")
        assert _authorize(realm, creds=creds, times=2) == ["Bearer oauth1"] * 2
        [(form, content_type)] = realm.forms  # cached: one POST for both
        assert content_type == "application/x-www-form-urlencoded"
        assert form == {
            "grant_type": ["refresh_token"],
            "refresh_token": ["refresh-SECRET"],
            "service": ["svc"],
            "scope": ["repository:a:pull"],
            "client_id": ["lockpin"],
        }
        assert [r.method for r in realm.requests] == ["POST"]
        assert "refresh-SECRET" not in realm.requests[0].path


@pytest.mark.parametrize("status", [400, 401, 404, 405])
def test_a_realm_without_oauth2_gets_the_identity_token_by_get(status: int) -> None:
    with _OAuthRealm() as realm:
        realm.post_status = status
        creds = RegistryCredentials("user", identity_token="refresh-SECRET", source="cfg")
        assert _authorize(realm, creds=creds) == ["Bearer t1"]
        assert [r.method for r in realm.requests] == ["POST", "GET"]
        assert realm.requests[1].headers["authorization"] == "Basic " + _b64("user:refresh-SECRET")


def test_a_refused_identity_token_is_not_shown() -> None:
    with _OAuthRealm() as realm:
        realm.post_status = 403
        creds = RegistryCredentials(identity_token="refresh-SECRET", source="cfg")
        with pytest.raises(RegistryAuthError) as info:
            _authorize(realm, creds=creds)
        assert "HTTP 403" in str(info.value)
        assert "the credentials" in str(info.value)
        assert "refresh-SECRET" not in repr(info.value.__dict__) + str(info.value)
        assert [r.method for r in realm.requests] == ["POST"]  # a refusal is final
