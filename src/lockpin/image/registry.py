"""The OCI distribution client: manifests and blobs from a registry, every byte
checked against its digest.

API (stable):

* :class:`Registry` ``(http, *, credentials=None, insecure_registries=())`` —
  over the shared :class:`~lockpin.net.http.Http` (its retries, size caps,
  redaction, cache):

  - ``await manifest(ref, *, accept=MANIFEST_MEDIA_TYPES) ->``
    :class:`ManifestResponse` ``(body, media_type, digest, url)``: ``GET
    /v2/<name>/manifests/<tag or digest>``. The digest is ALWAYS computed from the
    body, and compared with the ``Docker-Content-Digest`` header and with the
    reference's digest when it has one: any mismatch is an
    :class:`~lockpin.errors.IntegrityError` naming both values. A manifest asked for
    by digest (or verified once) is cached by digest forever.
  - ``await head_manifest(ref, *, accept=...) -> (digest, media_type)``: ``HEAD``;
    the digest is the registry's word only (``Docker-Content-Digest``; ``None``
    when absent), to tell cheaply whether a tag moved — fetch the manifest to use it.
  - ``blob_stream(ref, digest, *, size=None, max_bytes=None) -> AsyncIterator[bytes]``:
    ``GET /v2/<name>/blobs/<digest>`` in chunks, never held whole; size and digest
    checked as the bytes pass (a mismatch is an
    :class:`~lockpin.errors.IntegrityError` at the end: the consumer discards what
    it read; a stream cut part-way is fetched again within the Http layer's
    retries, the bytes already handed out skipped). Cached by digest forever in a
    :class:`~lockpin.image.blobs.BlobStore`: written only after the check,
    re-checked on every read. Readers of one digest take turns (the second reads
    the first one's cached copy).
  - ``await blob(ref, descriptor, *, max_bytes=None) -> bytes``: the same, whole
    (configs).

(:class:`lockpin.image.base.RegistrySource` adapts it to the base reader's
``ImageSource``.)

* :class:`ManifestResponse`.

Authentication (:mod:`lockpin.image.auth`): the first request to a registry learns
its challenge from ``GET /v2/``; a bearer token per repository scope
(``repository:NAME:pull``) is fetched and cached in memory; credentials come from
the :class:`~lockpin.image.auth.CredentialStore` (default: Docker's config). One
``Registry`` may serve many concurrent tasks (all the images of a Dockerfile, all
the platforms of a base): the challenge is learnt once per registry, a token once
per scope, a blob downloaded once.

Plain http is spoken only to loopback registries (``localhost``, ``127.0.0.1``,
``[::1]``) and to those named in ``insecure_registries`` (``HOST`` or
``HOST:PORT``; the Http layer must allow them too, see
:func:`lockpin.image.resolve.registry_http_config`); everything else is https.

Errors: 404 -> :class:`~lockpin.errors.NoSuchImageError` ("unknown image or
tag"), 401/403 -> :class:`~lockpin.errors.RegistryAuthError` saying where
credentials come from, 429 (after the Http layer's ``Retry-After`` retries) and
other failures -> :class:`~lockpin.errors.RegistryError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import (
    IntegrityError,
    NetworkError,
    NoSuchImageError,
    RegistryAuthError,
    RegistryError,
)
from ..net.config import too_large
from ..net.policy import is_loopback
from ..net.redact import redact_url
from .auth import Authenticator, Challenge, DockerConfigCredentials, parse_challenges
from .blobs import BlobStore
from .digest import algorithm_of, check_digest, digest_of, hasher_for, is_digest
from .manifest import MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Sequence

    from ..net.http import Http, Response
    from .auth import CredentialStore
    from .manifest import Descriptor
    from .reference import ImageReference

__all__ = ["ManifestResponse", "Registry"]

log = logging.getLogger(__name__)

_MANIFEST_CACHE = "oci-manifest"
#: the part of an error body quoted in a message
_QUOTE = 200
_GENERIC_TYPES = frozenset({"", "application/json", "application/octet-stream", "text/plain"})


@dataclass(frozen=True, slots=True)
class ManifestResponse:
    """A manifest as served: its bytes, media type (the ``Content-Type``, or the
    body's ``mediaType`` when the registry sent a generic one) and the digest
    lockpin computed from the bytes."""

    body: bytes
    media_type: str
    digest: str
    url: str


class Registry:
    """See the module docstring."""

    def __init__(
        self,
        http: Http,
        *,
        credentials: CredentialStore | None = None,
        insecure_registries: Iterable[str] = (),
    ) -> None:
        self.http = http
        self.credentials = credentials or DockerConfigCredentials()
        self.insecure = frozenset(h.lower() for h in insecure_registries)
        self.auth = Authenticator(http, self.credentials)
        #: registry host -> its challenge (None: no auth needed), learnt once
        self._challenges: dict[str, Challenge | None] = {}
        self._challenge_locks: dict[str, asyncio.Lock] = {}
        self._blob_locks: dict[str, asyncio.Lock] = {}
        self._blobs: BlobStore | None = None

    # -- URLs ---------------------------------------------------------------------------------

    def scheme(self, ref: ImageReference) -> str:
        host = ref.api_host.lower()
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if is_loopback(hostname) or host in self.insecure or hostname in self.insecure:
            return "http"
        return "https"

    def _v2(self, ref: ImageReference) -> str:
        return f"{self.scheme(ref)}://{ref.api_host}/v2/"

    def manifest_url(self, ref: ImageReference) -> str:
        return f"{self._v2(ref)}{ref.repository}/manifests/{ref.identifier}"

    def blob_url(self, ref: ImageReference, digest: str) -> str:
        return f"{self._v2(ref)}{ref.repository}/blobs/{digest}"

    # -- manifests ----------------------------------------------------------------------------

    async def manifest(
        self, ref: ImageReference, *, accept: Sequence[str] = MANIFEST_MEDIA_TYPES
    ) -> ManifestResponse:
        cache = self.http.cache
        if ref.digest is not None and cache is not None and not self.http.config.refresh:
            cached = self._cached_manifest(ref, ref.digest)
            if cached is not None:
                return cached
        url = self.manifest_url(ref)
        resp = await self._get(ref, url, headers={"Accept": ", ".join(accept)})
        body = resp.content
        if len(body) > MAX_MANIFEST_BYTES:
            raise RegistryError(
                f"the manifest of {ref} is {len(body)} bytes, over the {MAX_MANIFEST_BYTES}-byte "
                "limit registries themselves keep; lockpin refuses it.",
                reference=str(ref),
                url=redact_url(url),
            )
        digest = self._verify_manifest(ref, url, resp)
        media_type = resp.content_type
        if media_type in _GENERIC_TYPES:
            # Some registries and proxies say application/json: the body decides.
            media_type = _body_media_type(body) or media_type
        if cache is not None:
            cache.put(_MANIFEST_CACHE, digest, body, {"media_type": media_type})
        return ManifestResponse(body=body, media_type=media_type, digest=digest, url=url)

    def _cached_manifest(self, ref: ImageReference, digest: str) -> ManifestResponse | None:
        cache = self.http.cache
        assert cache is not None
        entry = cache.get(_MANIFEST_CACHE, digest)
        if entry is None:
            return None
        if digest_of(entry.body, algorithm_of(digest)) != digest:
            log.warning("cached manifest %s does not match its digest; fetching it again", digest)
            return None
        media_type = str(entry.meta.get("media_type") or _body_media_type(entry.body))
        return ManifestResponse(entry.body, media_type, digest, self.manifest_url(ref))

    def _verify_manifest(self, ref: ImageReference, url: str, resp: Response) -> str:
        body = resp.content
        header = resp.headers.get("docker-content-digest", "").strip()
        algorithm = "sha256"
        if ref.digest is not None:
            algorithm = algorithm_of(ref.digest)
        computed = digest_of(body, algorithm)
        if ref.digest is not None and computed != ref.digest:
            raise _mismatch(ref, url, expected=ref.digest, actual=computed, what="asked for")
        if header:
            try:
                check_digest(header)
            except Exception:
                raise IntegrityError(
                    f"{redact_url(url)} sent an invalid Docker-Content-Digest header "
                    f"{header[:100]!r}; lockpin refuses the manifest of {ref}.",
                    url=redact_url(url),
                    expected="sha256:<64 hex>",
                    actual=header[:100],
                ) from None
            actual = digest_of(body, algorithm_of(header))
            if actual != header:
                raise _mismatch(ref, url, expected=header, actual=actual, what="declared")
        return computed if ref.digest is not None or not header else header

    async def head_manifest(
        self, ref: ImageReference, *, accept: Sequence[str] = MANIFEST_MEDIA_TYPES
    ) -> tuple[str | None, str]:
        url = self.manifest_url(ref)
        resp = await self._request(ref, url, {"Accept": ", ".join(accept)}, method="HEAD")
        header = resp.headers.get("docker-content-digest", "").strip()
        digest = header if header and is_digest(header) else None
        return digest, resp.content_type

    # -- blobs --------------------------------------------------------------------------------

    async def blob(
        self, ref: ImageReference, descriptor: Descriptor, *, max_bytes: int | None = None
    ) -> bytes:
        """The whole blob (a config; layers go through :meth:`blob_stream`), over
        the same checks and cache as :meth:`blob_stream`."""
        limit = self.http.config.max_download_bytes if max_bytes is None else max_bytes
        digest = check_digest(descriptor.digest)
        if descriptor.size > limit:
            url = self.blob_url(ref, digest)
            raise self._network_error(
                ref, url, too_large(url, limit, "a download", declared=descriptor.size)
            )
        body = bytearray()
        async for chunk in self.blob_stream(ref, digest, size=descriptor.size, max_bytes=limit):
            body += chunk
        return bytes(body)

    async def blob_stream(
        self,
        ref: ImageReference,
        digest: str,
        *,
        size: int | None = None,
        max_bytes: int | None = None,
    ) -> AsyncIterator[bytes]:
        """Blob ``digest`` in chunks, never held whole (layers of hundreds of MB).

        The size and digest are checked as the bytes pass: a mismatch, or a stream
        cut part-way more often than the Http layer retries (each restart skips the
        bytes already handed out: ``Http.stream(resume=True)``), raises
        :class:`~lockpin.errors.IntegrityError` (naming the URL and both values) after
        the last chunk, so a consumer must discard what it read unless the iteration
        ends normally. The blob is cached by digest
        (:class:`~lockpin.image.blobs.BlobStore`: written only once checked,
        re-checked on every read). Concurrent readers of one digest take turns, so
        the second one reads the first one's cached copy."""
        check_digest(digest)
        async with self._blob_lock(digest):
            store = self._blob_store()
            if store is not None:
                cached = await asyncio.to_thread(store.open, digest, size)
                if cached is not None:
                    for chunk in store.chunks(cached):
                        yield chunk
                    return
            async for chunk in self._fetch_blob(ref, digest, size=size, max_bytes=max_bytes):
                yield chunk

    def _blob_store(self) -> BlobStore | None:
        cache = self.http.cache
        if cache is None:
            return None
        if self._blobs is None:
            self._blobs = BlobStore(cache.root)
        return self._blobs

    def _blob_lock(self, digest: str) -> asyncio.Lock:
        lock = self._blob_locks.get(digest)
        if lock is None:
            lock = self._blob_locks[digest] = asyncio.Lock()
        return lock

    async def _fetch_blob(
        self, ref: ImageReference, digest: str, *, size: int | None, max_bytes: int | None
    ) -> AsyncIterator[bytes]:
        url = self.blob_url(ref, digest)
        headers = await self._auth_headers(ref)
        hasher = hasher_for(digest)
        total = 0
        store = self._blob_store()
        writer = store.writer(digest) if store is not None else None
        done = False
        # A body that breaks off part-way is fetched again, the bytes already seen
        # skipped (resume): the digest checked at the end covers every byte.
        chunks = self.http.stream(url, max_bytes=max_bytes, headers=headers, resume=True)
        try:
            try:
                async for chunk in chunks:
                    total += len(chunk)
                    if size is not None and total > size:
                        break
                    hasher.update(chunk)
                    if writer is not None:
                        writer.write(chunk)
                    yield chunk
            except NetworkError as exc:
                if total:
                    raise _cut(ref, url, digest, size=size, received=total, why=exc) from None
                raise self._blob_error(ref, url, digest, exc) from None
            except IntegrityError as exc:
                # the Http layer's own check (a body shorter than its Content-Length)
                raise _cut(ref, url, digest, size=size, received=total, why=exc) from None
            finally:
                # Leaving early (too many bytes, or the consumer stopped): close the
                # response now, not when the generator is collected.
                close = getattr(chunks, "aclose", None)
                if close is not None:
                    await close()
            if size is not None and total != size:
                length = f"more than {size}" if total > size else str(total)
                raise IntegrityError(
                    f"{redact_url(url)} is {length} bytes but the manifest of {ref} declares "
                    f"{size} for {digest}; lockpin refuses it (and discarded what it read).",
                    url=redact_url(url),
                    expected=str(size),
                    actual=length,
                )
            actual = f"{algorithm_of(digest)}:{hasher.hexdigest()}"
            if actual != digest:
                raise _mismatch(ref, url, expected=digest, actual=actual, what="asked for")
            if writer is not None:
                writer.commit()
            done = True
        finally:
            if writer is not None and not done:
                writer.abort()

    def _blob_error(
        self, ref: ImageReference, url: str, digest: str, exc: NetworkError
    ) -> RegistryError:
        if exc.status in {401, 403}:
            return self._auth_error(ref, url, exc.status)
        if exc.status == 404:
            return NoSuchImageError(
                f"{ref.name} has no blob {digest} (HTTP 404): the registry lost a layer "
                "or config of this image. Push the image again, or pick another tag.",
                reference=str(ref),
                url=redact_url(url),
                status=404,
            )
        return self._network_error(ref, url, exc)

    # -- requests and auth --------------------------------------------------------------------

    async def _challenge(self, ref: ImageReference) -> Challenge | None:
        """The registry's challenge, learnt once from ``GET /v2/``."""
        key = ref.api_host
        if key in self._challenges:
            return self._challenges[key]
        # Concurrent first requests (every image of a Dockerfile) ask once.
        lock = self._challenge_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._challenges:
                url = self._v2(ref)
                try:
                    resp = await self.http.get(url, ok_statuses=frozenset({200, 401}))
                except NetworkError as exc:
                    raise self._network_error(ref, url, exc) from None
                self._challenges[key] = _pick(resp) if resp.status == 401 else None
        return self._challenges[key]

    async def _auth_headers(self, ref: ImageReference) -> dict[str, str]:
        challenge = await self._challenge(ref)
        if challenge is None:
            return {}
        value = await self.auth.authorize(
            challenge, registry=ref.registry, scope=_scope(ref), reference=str(ref)
        )
        return {"Authorization": value}

    async def _get(self, ref: ImageReference, url: str, *, headers: dict[str, str]) -> Response:
        return await self._request(ref, url, headers, method="GET")

    async def _request(
        self, ref: ImageReference, url: str, headers: dict[str, str], *, method: str
    ) -> Response:
        auth = await self._auth_headers(ref)
        resp = await self._send(ref, url, {**headers, **auth}, method=method)
        if resp.status == 401:
            # A token without the scope this request needs (or one that expired):
            # answer the challenge this response carries, once.
            challenge = _pick(resp)
            if challenge is not None:
                self._challenges[ref.api_host] = challenge
                value = await self.auth.authorize(
                    challenge,
                    registry=ref.registry,
                    scope=challenge.params.get("scope") or _scope(ref),
                    reference=str(ref),
                )
                resp = await self._send(
                    ref, url, {**headers, "Authorization": value}, method=method
                )
        if resp.status == 200:
            return resp
        if resp.status in {401, 403}:
            raise self._auth_error(ref, url, resp.status, resp)
        if resp.status == 404:
            raise NoSuchImageError(
                f"unknown image or tag: {ref} (HTTP 404 from {redact_url(url)}{_why(resp)}). "
                "Check the name and tag (docker.io names official images library/NAME).",
                reference=str(ref),
                url=redact_url(url),
                status=404,
            )
        raise RegistryError(
            f"{redact_url(url)} answered HTTP {resp.status} for {ref}{_why(resp)}.",
            reference=str(ref),
            url=redact_url(url),
            status=resp.status,
        )

    async def _send(
        self, ref: ImageReference, url: str, headers: dict[str, str], *, method: str
    ) -> Response:
        try:
            if method == "HEAD":
                return await self.http.head(url, headers=headers)
            # Manifests are small (registries refuse over 4 MiB): a bigger body is
            # refused at that cap, never read up to a page's.
            return await self.http.get(
                url,
                headers=headers,
                ok_statuses=frozenset({200, 401, 403, 404}),
                max_bytes=MAX_MANIFEST_BYTES,
                what="a manifest",
            )
        except NetworkError as exc:
            raise self._network_error(ref, url, exc) from None

    def _auth_error(
        self, ref: ImageReference, url: str, status: int, resp: Response | None = None
    ) -> RegistryAuthError:
        verb = "refused access" if status == 403 else "asked for credentials"
        return RegistryAuthError(
            f"{ref.registry} {verb} to {ref} (HTTP {status} from {redact_url(url)}"
            f"{_why(resp) if resp is not None else ''}); "
            f"{self.credentials.describe(ref.registry)}. Log in with `docker login "
            f"{ref.registry}` (or `skopeo login`), or check the name: registries answer "
            "401 for images that do not exist, too.",
            reference=str(ref),
            url=redact_url(url),
            status=status,
        )

    def _network_error(self, ref: ImageReference, url: str, exc: NetworkError) -> RegistryError:
        if exc.status == 429:
            # A 429 reaches here only once the Http layer's retry budget is spent.
            attempts = self.http.config.retries + 1
            return RegistryError(
                f"{ref.registry} is rate limiting lockpin (HTTP 429 for {redact_url(url)} "
                f"after {attempts} attempt(s), still after waiting as its Retry-After asked). "
                "Wait and retry; on Docker Hub, logging in (`docker login`) raises the limit.",
                reference=str(ref),
                url=redact_url(url),
                status=429,
            )
        return RegistryError(f"{ref}: {exc}", reference=str(ref), url=exc.url, status=exc.status)


def _scope(ref: ImageReference) -> str:
    return f"repository:{ref.repository}:pull"


def _pick(resp: Response) -> Challenge | None:
    """The challenge to answer: Bearer before Basic; None when there is none."""
    challenges = parse_challenges(resp.headers.get("www-authenticate", ""))
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return challenges[0] if challenges else None


def _body_media_type(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # a nesting bomb is no JSON either
        return ""
    value = data.get("mediaType") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def _why(resp: Response) -> str:
    """The registry's own words from an error body (distribution's ``errors`` list)."""
    try:
        data = json.loads(resp.content[:65536])
        errors = data.get("errors") if isinstance(data, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else None
        if isinstance(first, dict):
            code, message = first.get("code"), first.get("message")
            text = ": ".join(str(x) for x in (code, message) if isinstance(x, str) and x)
            if text:
                return f"; the registry says {text[:_QUOTE]!r}"
    except (ValueError, RecursionError):
        pass
    return ""


def _cut(
    ref: ImageReference,
    url: str,
    digest: str,
    *,
    size: int | None,
    received: int,
    why: Exception,
) -> IntegrityError:
    of = f" of {size}" if size is not None else ""
    return IntegrityError(
        f"{redact_url(url)} broke off after {received}{of} bytes of blob {digest} of {ref} "
        f"({why}); lockpin discarded what it read. Retry; if it keeps happening, the "
        "registry or a proxy is cutting large downloads.",
        url=redact_url(url),
        expected=f"{size} bytes" if size is not None else "the whole blob",
        actual=f"{received} bytes",
    )


def _mismatch(
    ref: ImageReference, url: str, *, expected: str, actual: str, what: str
) -> IntegrityError:
    return IntegrityError(
        f"{redact_url(url)} served bytes for {ref} whose digest is {actual}, not the "
        f"{expected} {what}; lockpin refuses them. The registry or a proxy is serving "
        "altered data: report it, or use another registry.",
        url=redact_url(url),
        expected=expected,
        actual=actual,
    )
