"""A registry that lies (fixtures.hostile_registry): digests, sizes, media types,
redirects, tokens, challenges and rate limits that a real registry never sends, each
refused (or, for redirects, followed safely) by lockpin.image.registry / resolve."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any

import pytest

from fixtures.hostile_registry import OCI_INDEX, OCI_MANIFEST, HeaderLog, HostileRegistry
from fixtures.http_server import Response
from lockpin.errors import (
    IntegrityError,
    ManifestError,
    RegistryAuthError,
    RegistryError,
    UnsafeURLError,
)
from lockpin.image.auth import NoCredentials, RegistryCredentials
from lockpin.image.digest import digest_of
from lockpin.image.reference import parse_reference
from lockpin.image.registry import Registry
from lockpin.image.resolve import resolve_image
from lockpin.net.http import Http, HttpConfig

if TYPE_CHECKING:
    from collections.abc import Iterator

FAST = HttpConfig(backoff=0.01, retries=1, timeout=10.0)
SECRET = "pw-0f7e3c-never-shown"


class Creds:
    """Basic credentials for every registry (their password must go nowhere else)."""

    def get(self, registry: str) -> RegistryCredentials | None:
        return RegistryCredentials("u", SECRET, source="the test")

    def describe(self, registry: str) -> str:
        return "credentials came from the test"


@pytest.fixture
def reg() -> Iterator[HostileRegistry]:
    with HostileRegistry() as server:
        yield server


@pytest.fixture
def other() -> Iterator[HeaderLog]:
    """A second loopback host (another origin: another port)."""
    with HeaderLog() as server:
        yield server


def resolve(reg: HostileRegistry, tag: str, **kw: Any) -> Any:
    kw.setdefault("credentials", NoCredentials())
    return resolve_image(reg.ref(f"a/b:{tag}"), http=kw.pop("http", FAST), **kw)


def index_of(digest: str, size: int) -> bytes:
    entry = {
        "mediaType": OCI_MANIFEST,
        "digest": digest,
        "size": size,
        "platform": {"os": "linux", "architecture": "amd64"},
    }
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}).encode()


# -- digests ------------------------------------------------------------------------------------


def test_a_missing_digest_header_is_computed_from_the_body(reg: HostileRegistry) -> None:
    digest, body = reg.image("a/b", "1")
    reg.manifest("a/b", "nohdr", body, headers={"Docker-Content-Digest": ""})
    assert resolve(reg, "nohdr").digest == digest == digest_of(body)


def test_a_digest_header_that_lies_is_refused(reg: HostileRegistry) -> None:
    digest, body = reg.image("a/b", "1")
    reg.manifest("a/b", "lie", body, headers={"Docker-Content-Digest": "sha256:" + "0" * 64})
    with pytest.raises(IntegrityError, match="not the sha256:0000") as info:
        resolve(reg, "lie")
    assert info.value.actual == digest


def test_a_sha512_header_is_checked_too(reg: HostileRegistry) -> None:
    _, body = reg.image("a/b", "1")
    good = "sha512:" + hashlib.sha512(body).hexdigest()
    reg.manifest("a/b", "512", body, headers={"Docker-Content-Digest": good})
    assert resolve(reg, "512").digest == good  # verified, so usable
    bad = "sha512:" + hashlib.sha512(body + b" ").hexdigest()
    reg.manifest("a/b", "512bad", body, headers={"Docker-Content-Digest": bad})
    with pytest.raises(IntegrityError):
        resolve(reg, "512bad")


def test_a_digest_header_of_an_unknown_algorithm_is_refused(reg: HostileRegistry) -> None:
    _, body = reg.image("a/b", "1")
    md5 = "md5:" + hashlib.md5(body).hexdigest()
    reg.manifest("a/b", "md5", body, headers={"Docker-Content-Digest": md5})
    with pytest.raises(IntegrityError, match="invalid Docker-Content-Digest"):
        resolve(reg, "md5")


def test_an_index_child_with_another_digest_than_listed_is_refused(reg: HostileRegistry) -> None:
    digest, body = reg.image("a/b", "1")
    reg.manifest("a/b", "idx", index_of(digest, len(body)), OCI_INDEX)
    other = body.replace(b'"schemaVersion":2', b'"schemaVersion": 2')
    # the registry serves other bytes under the child's digest, and vouches for them
    reg.manifests[("a/b", digest)] = Response(
        200, other, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}
    )
    with pytest.raises(IntegrityError) as info:
        resolve(reg, "idx", platforms=["linux/amd64"])
    assert info.value.expected == digest
    assert info.value.actual == digest_of(other)


def test_an_index_whose_size_lies_is_refused(reg: HostileRegistry) -> None:
    digest, body = reg.image("a/b", "1")
    reg.manifest("a/b", "idx", index_of(digest, len(body) + 7), OCI_INDEX)
    with pytest.raises(ManifestError, match=f"as {len(body) + 7} bytes, but it is {len(body)}"):
        resolve(reg, "idx", platforms=["linux/amd64"])
    # the honest index resolves: the refusal was the size
    reg.manifest("a/b", "idx", index_of(digest, len(body)), OCI_INDEX)
    assert resolve(reg, "idx", platforms=["linux/amd64"]).manifests[0].digest == digest


def test_a_config_blob_whose_size_lies_is_refused(reg: HostileRegistry) -> None:
    _, body = reg.image("a/b", "1")
    config = json.loads(body)["config"]
    blob = reg.blobs[("a/b", config["digest"])]
    assert isinstance(blob, Response)
    reg.blobs[("a/b", config["digest"])] = Response(200, blob.body + b"\n", blob.headers)
    with pytest.raises(IntegrityError, match="bytes but the manifest"):
        resolve(reg, "1")


# -- sizes and media types ----------------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False])
def test_a_huge_manifest_is_refused_at_the_manifest_cap(
    reg: HostileRegistry, declared: bool
) -> None:
    """A 2 GB manifest: refused from its Content-Length, or after 4 MiB of a body
    that does not say its length (chunked) — never read to the 64 MiB page cap."""
    sent: list[int] = []

    def endless(wfile: Any) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: " + OCI_MANIFEST + "\r\n"
        if declared:
            wfile.write((head + f"Content-Length: {2 << 30}\r\n\r\n").encode())
            wfile.write(b"{" * 65536)
            sent.append(65536)
            return
        wfile.write((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
        piece = b"[" * 65536
        try:
            for _ in range(1024):  # 64 MiB at most
                wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent.append(len(piece))
        except OSError:
            return  # lockpin hung up: good

    reg.override("/v2/a/b/manifests/", lambda m, p, h: Response(200, raw=endless))
    with pytest.raises(RegistryError, match="4 MiB limit for a manifest"):
        resolve(reg, "big")
    assert sum(sent) < 16 << 20


def test_a_content_type_that_disagrees_with_the_body_is_refused(reg: HostileRegistry) -> None:
    _, body = reg.image("a/b", "1")
    reg.manifest("a/b", "ct", body, OCI_INDEX)
    with pytest.raises(ManifestError, match="ambiguous"):
        resolve(reg, "ct")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/json",
    ],
)
def test_schema_1_manifests_are_refused_with_advice(
    reg: HostileRegistry, content_type: str
) -> None:
    body = json.dumps({"schemaVersion": 1, "name": "a/b", "tag": "s1", "fsLayers": []}).encode()
    reg.manifest("a/b", "s1", body, content_type)
    with pytest.raises(ManifestError, match=r"old schema 1 manifest.*push the image again"):
        resolve(reg, "s1")


# -- redirects ----------------------------------------------------------------------------------


def _redirect_config(reg: HostileRegistry, location: str) -> bytes:
    _, body = reg.image("a/b", "1")
    digest = json.loads(body)["config"]["digest"]
    served = reg.blobs[("a/b", digest)]
    assert isinstance(served, Response)
    data = served.body
    reg.blobs[("a/b", digest)] = Response(307, b"", {"Location": location})
    return data


def test_a_blob_redirected_to_another_host_is_fetched_without_the_credentials(
    reg: HostileRegistry, other: HeaderLog
) -> None:
    reg.challenge = 'Basic realm="test"'
    other.serve["/storage/config"] = Response(
        200, _redirect_config(reg, f"{other.url}/storage/config")
    )
    assert resolve(reg, "1", credentials=Creds()).manifests[0].platform == "linux/amd64"
    # the registry got the credentials, the other host only the request
    assert any("authorization" in r.headers for r in reg.requests)
    [request] = other.requests
    assert request.path == "/storage/config"
    assert "authorization" not in request.headers
    assert SECRET not in repr(request.headers)


def test_a_bearer_token_does_not_follow_a_redirect_either(
    reg: HostileRegistry, other: HeaderLog
) -> None:
    other.serve["/token"] = Response(200, json.dumps({"token": "tok-" + SECRET}).encode())
    reg.challenge = f'Bearer realm="{other.url}/token",service="s"'
    other.serve["/storage/config"] = Response(
        200, _redirect_config(reg, f"{other.url}/storage/config")
    )
    resolve(reg, "1")
    blob_requests = [r for r in other.requests if r.path == "/storage/config"]
    assert blob_requests
    assert all("authorization" not in r.headers for r in blob_requests)


def test_a_redirected_blob_is_digest_checked(reg: HostileRegistry, other: HeaderLog) -> None:
    data = _redirect_config(reg, f"{other.url}/storage/config")
    other.serve["/storage/config"] = Response(200, data.replace(b"amd64", b"arm64"))
    with pytest.raises(IntegrityError, match="refuses"):
        resolve(reg, "1")


def test_a_redirect_to_a_file_url_is_refused(reg: HostileRegistry) -> None:
    _redirect_config(reg, "file:///etc/passwd")
    with pytest.raises(RegistryError, match=r"redirected to file:.*refused"):
        resolve(reg, "1")


def test_a_redirect_to_a_remote_plain_http_host_is_refused(reg: HostileRegistry) -> None:
    _redirect_config(reg, "http://blobs.example.invalid/config")
    with pytest.raises(UnsafeURLError, match=r"blobs.example.invalid"):
        resolve(reg, "1")


# -- tokens and challenges ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (json.dumps({"token": "x" * (2 << 20)}).encode(), "1 MiB limit for a token response"),
        (b"{not json", "not JSON"),
        (json.dumps({"token": "abc\u00e9"}).encode(), "no usable token"),
        (json.dumps({"token": "abc\x01d"}).encode(), "no usable token"),
        (json.dumps({"token": "abc\r\nX-Injected: 1"}).encode(), "no usable token"),
        (json.dumps({"token": ""}).encode(), "no usable token"),
        (json.dumps(["token"]).encode(), "not a JSON object"),
    ],
)
def test_hostile_token_answers_are_refused(
    reg: HostileRegistry, other: HeaderLog, answer: bytes, why: str
) -> None:
    reg.image("a/b", "1")
    other.serve["/token"] = Response(200, answer, {"Content-Type": "application/json"})
    reg.challenge = f'Bearer realm="{other.url}/token",service="s"'
    with pytest.raises(RegistryAuthError, match=why):
        resolve(reg, "1")
    # nothing the token service sent reached the registry as a header
    assert not any("x-injected" in r.headers for r in reg.requests)


def test_a_negative_expires_in_gives_the_default_lifetime(
    reg: HostileRegistry, other: HeaderLog
) -> None:
    digest, _ = reg.image("a/b", "1")
    other.serve["/token"] = Response(200, json.dumps({"token": "t", "expires_in": -5}).encode())
    reg.challenge = f'Bearer realm="{other.url}/token",service="s"'
    assert resolve(reg, "1").digest == digest
    # one token served the manifest and the config: it was not taken as expired
    assert [r.path.split("?")[0] for r in other.requests] == ["/token"]


def test_a_realm_on_a_remote_plain_http_host_gets_no_credentials(reg: HostileRegistry) -> None:
    reg.image("a/b", "1")
    reg.challenge = 'Bearer realm="http://auth.example.invalid/token",service="s"'
    with pytest.raises(
        RegistryAuthError, match=r"--insecure-registry auth.example.invalid"
    ) as info:
        resolve(reg, "1", credentials=Creds())
    assert SECRET not in str(info.value)


def test_a_realm_that_is_not_http_is_refused(reg: HostileRegistry) -> None:
    reg.challenge = 'Bearer realm="file:///etc/passwd",service="s"'
    with pytest.raises(RegistryAuthError, match="unusable token service"):
        resolve(reg, "1")


def test_a_401_loop_is_bounded(reg: HostileRegistry, other: HeaderLog) -> None:
    reg.image("a/b", "1")
    other.serve["/token"] = Response(200, json.dumps({"token": "t"}).encode())
    challenge = f'Bearer realm="{other.url}/token",service="s",scope="repository:a/b:pull"'
    reg.override(
        "/v2/a/",
        lambda m, p, h: Response(401, b"{}", {"WWW-Authenticate": challenge}),
    )
    with pytest.raises(RegistryAuthError, match="HTTP 401"):
        resolve(reg, "1")
    manifest_requests = [r for r in reg.requests if "/manifests/" in r.path]
    assert len(manifest_requests) == 2  # the request, and once with a fresh token
    assert len(other.requests) <= 2


def test_429_honours_retry_after_and_is_bounded(reg: HostileRegistry) -> None:
    reg.image("a/b", "1")
    reg.fail("/v2/a/b/manifests/", 429, times=None, retry_after=100_000)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> object:
        config = HttpConfig(backoff=0.01, retries=2, timeout=10.0, max_retry_after=3.0)
        async with Http(config, sleep=sleep) as http:
            registry = Registry(http, credentials=NoCredentials())
            return await registry.manifest(parse_reference(reg.ref("a/b:1")))

    with pytest.raises(RegistryError, match="rate limiting") as info:
        asyncio.run(go())
    assert info.value.status == 429
    assert waits == [3.0, 3.0]  # asked for 100000 s, waited the cap, twice
    assert len([r for r in reg.requests if "/manifests/" in r.path]) == 3


# -- JSON nesting bombs (Python's decoder raises RecursionError, not ValueError) ----------------

BOMB = b"[" * 200_000


def test_a_nesting_bomb_as_a_generic_manifest_is_a_manifest_error(reg: HostileRegistry) -> None:
    reg.manifest("a/b", "bomb", BOMB, "application/json")
    with pytest.raises(ManifestError, match=r"not valid JSON|unknown manifest media type"):
        resolve(reg, "bomb")


def test_a_nesting_bomb_as_an_error_body_is_still_a_clean_404(reg: HostileRegistry) -> None:
    reg.override("/v2/a/b/manifests/", lambda m, p, h: Response(404, BOMB))
    with pytest.raises(RegistryError, match="unknown image or tag"):
        resolve(reg, "1")


def test_a_nesting_bomb_as_a_token_answer(reg: HostileRegistry, other: HeaderLog) -> None:
    other.serve["/token"] = Response(200, BOMB)
    reg.challenge = f'Bearer realm="{other.url}/token",service="s"'
    with pytest.raises(RegistryAuthError, match="not JSON"):
        resolve(reg, "1")
