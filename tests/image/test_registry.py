"""lockpin.image.registry against the real docker-registry (fixtures.registry_plugin):
manifests and blobs with digests checked against skopeo's, the cache, bearer tokens
from the local token service, basic auth, Docker's config and credential helpers, and
a tampering proxy whose altered digests and bodies are refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import stat
from typing import TYPE_CHECKING, Any

import pytest

from fixtures.registry import PASSWORD, USER, RegistryProxy
from lockpin.errors import (
    IntegrityError,
    NoSuchImageError,
    RegistryAuthError,
    RegistryError,
    UnsafeURLError,
)
from lockpin.image.auth import DockerConfigCredentials, NoCredentials
from lockpin.image.digest import digest_of
from lockpin.image.manifest import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    ImageIndex,
    ImageManifest,
    parse_manifest,
)
from lockpin.image.reference import parse_reference
from lockpin.image.registry import Registry
from lockpin.net.http import Http, HttpConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from fixtures.http_server import Response
    from fixtures.registry_plugin import OciRegistry
    from lockpin.image.auth import CredentialStore

FAST = HttpConfig(backoff=0.01, retries=1, timeout=10.0)


def run(
    body: Callable[[Registry], Awaitable[Any]],
    *,
    credentials: CredentialStore | None = None,
    config: HttpConfig = FAST,
    insecure: tuple[str, ...] = (),
) -> Any:
    async def go() -> Any:
        async with Http(config) as http:
            registry = Registry(
                http, credentials=credentials or NoCredentials(), insecure_registries=insecure
            )
            return await body(registry)

    return asyncio.run(go())


def test_index_manifest_digest_matches_skopeo(oci_registry: OciRegistry) -> None:
    ref = parse_reference(oci_registry.ref("public/multi:1"))
    got = run(lambda r: r.manifest(ref))
    assert got.digest == oci_registry.digests["public/multi:1"]
    assert got.digest == digest_of(got.body)
    assert got.media_type == OCI_INDEX
    index = parse_manifest(got.body, got.media_type, source="t")
    assert isinstance(index, ImageIndex)
    assert {str(p) for p in index.platforms()} == {"linux/amd64", "linux/arm64/v8"}
    assert len(index.manifests) == 3  # the attestation is there, and skipped


def test_docker_v2_manifest_and_config_blob(oci_registry: OciRegistry) -> None:
    ref = parse_reference(oci_registry.ref("library/pythonish:3.12"))

    async def body(r: Registry) -> tuple[Any, bytes]:
        got = await r.manifest(ref)
        parsed = parse_manifest(got.body, got.media_type, source="t")
        assert isinstance(parsed, ImageManifest)
        return got, await r.blob(ref, parsed.config)

    got, config = run(body)
    assert got.media_type == DOCKER_MANIFEST
    assert got.digest == oci_registry.digests["library/pythonish:3.12"]
    assert "PYTHON_VERSION=3.12.7" in json.loads(config)["config"]["Env"]


def test_by_digest_and_blobs_are_cached(oci_registry: OciRegistry, tmp_path: Path) -> None:
    digest = oci_registry.digests["library/debianish:bookworm"]
    ref = parse_reference(oci_registry.ref("library/debianish")).with_digest(digest)
    config = HttpConfig(backoff=0.01, retries=1, cache_dir=tmp_path / "cache")

    async def fetch_all(r: Registry) -> tuple[int, list[bytes]]:
        got = await r.manifest(ref)
        parsed = parse_manifest(got.body, got.media_type, source="t")
        assert isinstance(parsed, ImageManifest)
        blobs = [await r.blob(ref, d) for d in (parsed.config, *parsed.layers)]
        return r.http.requests, blobs

    first_requests, first = run(fetch_all, config=config)
    assert first_requests >= 4
    second_requests, second = run(fetch_all, config=config)
    assert second == first
    # Only the /v2/ ping: manifest and blobs come from the cache, checked again.
    assert second_requests <= 1


def test_a_tampered_cache_entry_is_not_used(oci_registry: OciRegistry, tmp_path: Path) -> None:
    digest = oci_registry.digests["library/debianish:bookworm"]
    ref = parse_reference(oci_registry.ref("library/debianish")).with_digest(digest)
    config = HttpConfig(backoff=0.01, retries=1, cache_dir=tmp_path / "cache")
    good = run(lambda r: r.manifest(ref), config=config)
    # Corrupt every cached file's body (keeping its header line and size).
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            head, _, data = path.read_bytes().partition(b"\n")
            path.write_bytes(head + b"\n" + bytes(reversed(data)))
    again = run(lambda r: r.manifest(ref), config=config)
    assert again.body == good.body


def test_blob_stream_checks_the_digest(oci_registry: OciRegistry) -> None:
    ref = parse_reference(oci_registry.ref("library/debianish:bookworm"))

    async def body(r: Registry) -> tuple[bytes, bytes]:
        got = await r.manifest(ref)
        parsed = parse_manifest(got.body, got.media_type, source="t")
        assert isinstance(parsed, ImageManifest)
        layer = parsed.layers[1]
        chunks = [c async for c in r.blob_stream(ref, layer.digest, size=layer.size)]
        with pytest.raises(IntegrityError, match="declares 1"):
            async for _ in r.blob_stream(ref, layer.digest, size=1):
                pass
        return b"".join(chunks), await r.blob(ref, layer)

    streamed, whole = run(body)
    assert streamed == whole


def test_unknown_tag_and_repository(oci_registry: OciRegistry) -> None:
    for name in ("public/multi:nope", "nobody/nothing:1"):
        ref = parse_reference(oci_registry.ref(name))
        with pytest.raises(NoSuchImageError, match="unknown image or tag") as info:
            run(lambda r, ref=ref: r.manifest(ref))  # type: ignore[misc]
        assert str(ref) in str(info.value)
        assert info.value.status == 404


def test_head_manifest(oci_registry: OciRegistry) -> None:
    ref = parse_reference(oci_registry.ref("public/multi:1"))
    digest, media_type = run(lambda r: r.head_manifest(ref))
    assert digest == oci_registry.digests["public/multi:1"]
    assert media_type == OCI_INDEX


# -- auth -------------------------------------------------------------------------------------


def _auths_config(directory: Path, host: str, *, password: str = PASSWORD, **extra: Any) -> Path:
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    data = {"auths": {host: {"auth": auth}}, **extra}
    (directory / "config.json").write_text(json.dumps(data))
    return directory


def test_anonymous_bearer_token(oci_registry: OciRegistry) -> None:
    ref = parse_reference(oci_registry.ref("public/multi:1", registry=oci_registry.token))
    before = oci_registry.token_server.issued

    async def body(r: Registry) -> str:
        first = await r.manifest(ref)
        await r.manifest(ref)  # the token is cached per scope
        return str(first.digest)

    assert run(body) == oci_registry.digests["public/multi:1"]
    assert oci_registry.token_server.issued == before + 1


def test_private_repository_needs_credentials(oci_registry: OciRegistry, tmp_path: Path) -> None:
    ref = parse_reference(oci_registry.ref("private/multi:1", registry=oci_registry.token))
    creds = DockerConfigCredentials(config_dir=tmp_path)
    with pytest.raises(RegistryAuthError) as info:
        run(lambda r: r.manifest(ref), credentials=creds)
    message = str(info.value)
    assert "private/multi" in message
    assert str(tmp_path / "config.json") in message
    assert "docker login" in message


def test_credentials_from_docker_config(oci_registry: OciRegistry, tmp_path: Path) -> None:
    ref = parse_reference(oci_registry.ref("private/multi:1", registry=oci_registry.token))
    creds = DockerConfigCredentials(
        config_dir=_auths_config(tmp_path, f"http://{oci_registry.token.host}/v2/")
    )
    got = run(lambda r: r.manifest(ref), credentials=creds)
    assert got.digest == oci_registry.digests["private/multi:1"]


def test_wrong_credentials_are_refused_without_showing_them(
    oci_registry: OciRegistry, tmp_path: Path
) -> None:
    ref = parse_reference(oci_registry.ref("private/multi:1", registry=oci_registry.token))
    secret = "wrong-Secret-123"
    creds = DockerConfigCredentials(
        config_dir=_auths_config(tmp_path, oci_registry.token.host, password=secret)
    )
    with pytest.raises(RegistryAuthError, match="refused the credentials") as info:
        run(lambda r: r.manifest(ref), credentials=creds)
    assert secret not in str(info.value)
    assert base64.b64encode(f"{USER}:{secret}".encode()).decode() not in str(info.value)
    assert "auths." in str(info.value)  # says where they came from


def test_basic_auth_registry(oci_registry: OciRegistry, tmp_path: Path) -> None:
    ref = parse_reference(oci_registry.ref("public/multi:1", registry=oci_registry.basic))
    with pytest.raises(RegistryAuthError, match="user name and password"):
        run(lambda r: r.manifest(ref))
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {oci_registry.basic.host: {"username": USER, "password": PASSWORD}}})
    )
    creds = DockerConfigCredentials(config_dir=tmp_path)
    got = run(lambda r: r.manifest(ref), credentials=creds)
    assert got.digest == oci_registry.digests["public/multi:1"]


def test_credential_helper_protocol(oci_registry: OciRegistry, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "seen"
    helper = bin_dir / "docker-credential-lockpintest"
    helper.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 3\ncat > {seen}\n'
        f'printf \'{{"ServerURL":"x","Username":"{USER}","Secret":"{PASSWORD}"}}\'\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "config.json").write_text(
        json.dumps({"credHelpers": {oci_registry.basic.host: "lockpintest"}})
    )
    ref = parse_reference(oci_registry.ref("public/multi:1", registry=oci_registry.basic))
    old_path = os.environ["PATH"]
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{old_path}"
    try:
        creds = DockerConfigCredentials(config_dir=tmp_path)
        got = run(lambda r: r.manifest(ref), credentials=creds)
    finally:
        os.environ["PATH"] = old_path
    assert got.digest == oci_registry.digests["public/multi:1"]
    assert seen.read_text() == oci_registry.basic.host


# -- hostile answers --------------------------------------------------------------------------


@pytest.fixture
def proxy(oci_registry: OciRegistry) -> Any:
    with RegistryProxy(oci_registry.open.url) as server:
        yield server


def _proxied(proxy: RegistryProxy, name: str) -> Any:
    return parse_reference(f"{proxy.url.removeprefix('http://')}/{name}")


def test_a_digest_header_that_does_not_match_the_body_is_refused(proxy: RegistryProxy) -> None:
    fake = digest_of(b"something else")

    def rewrite(path: str, answer: Response) -> Response:
        if "/manifests/" in path:
            answer.headers["Docker-Content-Digest"] = fake
        return answer

    proxy.rewrite = rewrite
    with pytest.raises(IntegrityError) as info:
        run(lambda r: r.manifest(_proxied(proxy, "public/multi:1")))
    assert info.value.expected == fake
    assert fake in str(info.value)
    assert info.value.actual in str(info.value)


def test_a_body_that_does_not_match_the_digest_asked_for_is_refused(
    proxy: RegistryProxy, oci_registry: OciRegistry
) -> None:
    def rewrite(path: str, answer: Response) -> Response:
        if "/manifests/" in path:
            answer.body = answer.body.replace(b'"schemaVersion":2', b'"schemaVersion": 2')
            answer.headers.pop("Docker-Content-Digest", None)
        return answer

    proxy.rewrite = rewrite
    digest = oci_registry.digests["public/multi:1"]
    ref = _proxied(proxy, "public/multi").with_digest(digest)
    with pytest.raises(IntegrityError, match="lockpin refuses") as info:
        run(lambda r: r.manifest(ref))
    assert info.value.expected == digest


def test_a_tampered_blob_is_refused(proxy: RegistryProxy) -> None:
    def rewrite(path: str, answer: Response) -> Response:
        if "/blobs/" in path:
            answer.body = bytes(reversed(answer.body))
        return answer

    ref = _proxied(proxy, "library/pythonish:3.12")

    async def body(r: Registry) -> bytes:
        got = await r.manifest(ref)
        parsed = parse_manifest(got.body, got.media_type, source="t")
        assert isinstance(parsed, ImageManifest)
        proxy.rewrite = rewrite
        return await r.blob(ref, parsed.config)

    with pytest.raises(IntegrityError, match="not the sha256:"):
        run(body)


def test_rate_limited(proxy: RegistryProxy) -> None:
    proxy.fail("/v2/public/", 429, times=None, retry_after=0)
    with pytest.raises(RegistryError, match="rate limiting") as info:
        run(lambda r: r.manifest(_proxied(proxy, "public/multi:1")))
    assert info.value.status == 429


def test_a_rate_limit_that_ends_is_retried(proxy: RegistryProxy, oci_registry: OciRegistry) -> None:
    proxy.fail("/v2/public/", 429, times=1, retry_after=0)
    got = run(lambda r: r.manifest(_proxied(proxy, "public/multi:1")))
    assert got.digest == oci_registry.digests["public/multi:1"]


def test_plain_http_only_for_loopback_or_insecure_registries() -> None:
    ref = parse_reference("registry.example:5000/a/b:1")

    async def scheme(r: Registry) -> str:
        return r.scheme(ref)

    assert run(scheme) == "https"
    assert run(scheme, insecure=("registry.example:5000",)) == "http"
    assert run(scheme, insecure=("registry.example",)) == "http"
    assert run(lambda r: asyncio.sleep(0, r.scheme(parse_reference("localhost:5000/a")))) == "http"
    # Named insecure but not allowed by the Http layer: refused before any byte.
    with pytest.raises(UnsafeURLError):
        run(lambda r: r.manifest(ref), insecure=("registry.example:5000",))


def test_a_generic_content_type_falls_back_to_the_body(
    proxy: RegistryProxy, oci_registry: OciRegistry
) -> None:
    def rewrite(path: str, answer: Response) -> Response:
        if "/manifests/" in path:
            answer.headers["Content-Type"] = "application/json"
        return answer

    proxy.rewrite = rewrite
    got = run(lambda r: r.manifest(_proxied(proxy, "public/multi:1")))
    assert got.media_type == OCI_INDEX
    assert got.digest == oci_registry.digests["public/multi:1"]


def test_head_behind_a_token(oci_registry: OciRegistry) -> None:
    ref = parse_reference(oci_registry.ref("public/multi:1", registry=oci_registry.token))
    digest, media_type = run(lambda r: r.head_manifest(ref))
    assert digest == oci_registry.digests["public/multi:1"]
    assert media_type == OCI_INDEX


# -- streamed blobs: checked as they pass, cached only once checked ----------------------------


def _layer(r: Registry, ref: Any) -> Any:
    async def go() -> Any:
        got = await r.manifest(ref)
        parsed = parse_manifest(got.body, got.media_type, source="t")
        assert isinstance(parsed, ImageManifest)
        return max(parsed.layers, key=lambda d: d.size)

    return go()


def _cached_files(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "v1" / "oci-blobs").rglob("*") if p.is_file())


def _blob_gets(proxy: RegistryProxy) -> list[str]:
    return [r.path for r in proxy.requests if r.method == "GET" and "/blobs/" in r.path]


def _upstream(oci_registry: OciRegistry, path: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(oci_registry.open.url + path, timeout=30) as resp:  # loopback
        data: bytes = resp.read()
        return data


@pytest.fixture(scope="module")
def big_image(oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``lockpin-big/one:1``: one uncompressed layer of 1 MiB, larger than a chunk."""
    from fixtures import oci
    from fixtures.registry import push

    w = oci.LayoutWriter(tmp_path_factory.mktemp("big-layout"))
    data = hashlib.sha256(b"lockpin").digest() * (1 << 15)
    w.tag("one", w.image(layers=[[oci.File("big.bin", data)]], gzip_it=False))
    w.save()
    push(w.root, "one", oci_registry.open.host, "lockpin-big/one:1")
    return "lockpin-big/one:1"


def test_a_cut_blob_stream_is_refused_and_nothing_is_cached(
    proxy: RegistryProxy, oci_registry: OciRegistry, tmp_path: Path, big_image: str
) -> None:
    from fixtures.http_server import Response as Answer

    ref = _proxied(proxy, big_image)
    cache = tmp_path / "cache"

    def cut(method: str, path: str, headers: dict[str, str]) -> Answer:
        body = _upstream(oci_registry, path)

        def raw(w: Any) -> None:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            w.write(body[: len(body) // 2])

        return Answer(200, raw=raw)

    async def body(r: Registry) -> list[bytes]:
        layer = await _layer(r, ref)
        proxy.override(f"/v2/lockpin-big/one/blobs/{layer.digest}", cut)
        seen: list[bytes] = []

        async def read() -> None:
            async for chunk in r.blob_stream(ref, layer.digest, size=layer.size):
                seen.append(chunk)

        with pytest.raises(IntegrityError) as info:
            await read()
        err = info.value
        assert layer.digest in str(err)
        assert proxy.url.removeprefix("http://") in err.url
        assert err.expected == f"{layer.size} bytes"
        received, _, unit = err.actual.partition(" ")
        assert unit == "bytes"
        assert 0 < int(received) <= layer.size // 2
        assert "broke off" in str(err)
        return seen

    seen = run(body, config=HttpConfig(backoff=0.01, retries=1, cache_dir=cache))
    assert seen  # bytes passed, then the whole stream was refused
    assert _cached_files(cache) == []  # no blob, no temporary file


def test_a_tampered_stream_is_refused_and_not_cached(proxy: RegistryProxy, tmp_path: Path) -> None:
    ref = _proxied(proxy, "library/debianish:bookworm")
    cache = tmp_path / "cache"

    def rewrite(path: str, answer: Response) -> Response:
        if "/blobs/" in path:
            answer.body = answer.body[:-1] + bytes([answer.body[-1] ^ 1])
        return answer

    async def body(r: Registry) -> None:
        layer = await _layer(r, ref)
        proxy.rewrite = rewrite
        with pytest.raises(IntegrityError) as info:
            async for _ in r.blob_stream(ref, layer.digest, size=layer.size):
                pass
        assert info.value.expected == layer.digest
        assert info.value.actual.startswith("sha256:")
        assert info.value.actual != layer.digest
        assert "/blobs/" in info.value.url

    run(body, config=HttpConfig(backoff=0.01, retries=1, cache_dir=cache))
    assert _cached_files(cache) == []


def test_streamed_blobs_are_cached_and_checked_again_on_read(
    proxy: RegistryProxy, tmp_path: Path
) -> None:
    ref = _proxied(proxy, "library/debianish:bookworm")
    cache = tmp_path / "cache"
    config = HttpConfig(backoff=0.01, retries=1, cache_dir=cache)

    async def read(r: Registry) -> bytes:
        layer = await _layer(r, ref)
        return b"".join([c async for c in r.blob_stream(ref, layer.digest, size=layer.size)])

    first = run(read, config=config)
    assert len(_blob_gets(proxy)) == 1
    [cached] = _cached_files(cache)
    assert cached.read_bytes() == first
    assert run(read, config=config) == first
    assert len(_blob_gets(proxy)) == 1  # from the cache
    mid = len(first) // 2
    cached.write_bytes(first[:mid] + bytes([first[mid] ^ 1]) + first[mid + 1 :])  # same size
    assert run(read, config=config) == first
    assert len(_blob_gets(proxy)) == 2  # refused on read, fetched again
    assert cached.read_bytes() == first


def test_concurrent_readers_of_one_blob_download_it_once(
    proxy: RegistryProxy, tmp_path: Path
) -> None:
    ref = _proxied(proxy, "library/debianish:bookworm")

    async def body(r: Registry) -> list[bytes]:
        layer = await _layer(r, ref)

        async def read() -> bytes:
            return b"".join([c async for c in r.blob_stream(ref, layer.digest, size=layer.size)])

        return list(await asyncio.gather(read(), read(), read()))

    got = run(body, config=HttpConfig(backoff=0.01, retries=1, cache_dir=tmp_path / "cache"))
    assert got[0] == got[1] == got[2]
    assert len(_blob_gets(proxy)) == 1
