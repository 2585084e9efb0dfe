"""Registry authentication: ``WWW-Authenticate`` challenges, credentials from Docker's
config, and bearer tokens.

API (stable):

* :func:`parse_challenges` ``(header) -> tuple[Challenge, ...]`` (pure):
  ``Bearer realm="…",service="…",scope="…"`` and ``Basic realm="…"``.
* :class:`RegistryCredentials` ``(username, password, identity_token)`` — its
  ``repr`` shows no secret; :meth:`RegistryCredentials.basic_header`.
* :class:`CredentialStore` (Protocol): ``get(registry) -> RegistryCredentials |
  None`` and ``describe(registry) -> str`` (where credentials for it come from,
  for error messages: never the secret itself).
* :class:`DockerConfigCredentials` — Docker's ``config.json``
  (``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``): ``credHelpers``
  (per registry) and ``credsStore`` (default) through the
  ``docker-credential-<name> get`` protocol (the server on stdin, JSON
  ``{"Username", "Secret"}`` on stdout; user ``<token>`` means an identity
  token), then ``auths`` (base64 ``auth`` = ``user:password``, or ``username`` and
  ``password``, and ``identitytoken``). Docker Hub's entry is the one Docker writes,
  ``https://index.docker.io/v1/``; other keys may carry a scheme or a path.
* :class:`NoCredentials` — a store that has none (anonymous only).
* :class:`Authenticator` — over :class:`~lockpin.net.http.Http`: turns a
  challenge into an ``Authorization`` header (anonymous or basic-authenticated
  token request to the realm, tokens cached in memory per realm, service and
  scope until they expire; concurrent requests for one scope share one token
  request), raising :class:`~lockpin.errors.RegistryAuthError` when the realm
  refuses.

An ``identitytoken`` (an OAuth2 refresh token: what ``docker login`` stores for
Azure and other registries) goes to the realm as the distribution spec's OAuth2
flow has it: ``POST`` ``grant_type=refresh_token&refresh_token=…&service=…&
scope=…&client_id=lockpin``; when the realm answers 400, 401, 404 or 405 (it has
no OAuth2 endpoint), lockpin falls back as Docker's clients do, to the ``GET``
token request with the identity token as the password of a basic login. A new
refresh token in the answer is ignored: lockpin never writes credentials.

Secrets never reach a log, an error message, a cache key or a file: the token
cache is in memory only, the ``POST`` body is neither logged nor cached, and
errors say where credentials came from, not what they are.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode, urlsplit

from ..errors import InputError, NetworkError, RegistryAuthError, UnsafeURLError
from ..net.redact import redact_url

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..net.http import Http, Response

__all__ = [
    "Authenticator",
    "Challenge",
    "CredentialStore",
    "DockerConfigCredentials",
    "NoCredentials",
    "RegistryCredentials",
    "parse_challenges",
]

log = logging.getLogger(__name__)

#: the key Docker writes Docker Hub's credentials under, and sends credential helpers
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
#: a token lives this long when the realm does not say (the distribution spec's default)
_DEFAULT_TOKEN_SECONDS = 60
_MAX_TOKEN_RESPONSE = 1 << 20
#: the ``client_id`` of OAuth2 token requests
CLIENT_ID = "lockpin"
#: answers to the OAuth2 ``POST`` after which Docker's clients retry with ``GET``
_NO_OAUTH = frozenset({400, 401, 404, 405})


# -- challenges (pure) --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header; ``scheme`` lower-cased."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenges(header: str) -> tuple[Challenge, ...]:
    """The challenges of a ``WWW-Authenticate`` value (RFC 9110 11.6.1): a scheme,
    then ``name=value`` or ``name="quoted value"`` parameters, commas between."""
    challenges: list[Challenge] = []
    scheme = ""
    params: dict[str, str] = {}
    i, n = 0, len(header)

    def flush() -> None:
        if scheme:
            challenges.append(Challenge(scheme.lower(), dict(params)))

    while i < n:
        while i < n and header[i] in " \t,":
            i += 1
        start = i
        while i < n and header[i] not in " \t,=":
            i += 1
        token = header[start:i]
        if not token:
            break
        j = i
        while j < n and header[j] in " \t":
            j += 1
        if j < n and header[j] == "=" and scheme:
            # a parameter of the current challenge
            i = j + 1
            while i < n and header[i] in " \t":
                i += 1
            if i < n and header[i] == '"':
                i += 1
                value: list[str] = []
                while i < n and header[i] != '"':
                    if header[i] == "\\" and i + 1 < n:
                        i += 1
                    value.append(header[i])
                    i += 1
                i += 1  # the closing quote
                params[token.lower()] = "".join(value)
            else:
                start = i
                while i < n and header[i] not in " \t,":
                    i += 1
                params[token.lower()] = header[start:i]
        else:
            flush()
            scheme, params = token, {}
            i = j
    flush()
    return tuple(challenges)


# -- credentials --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryCredentials:
    """A user name and password (or an identity token) for one registry."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    #: where they were found, for messages (``/home/u/.docker/config.json (auths)``)
    source: str = ""

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


class CredentialStore(Protocol):
    def get(self, registry: str) -> RegistryCredentials | None:
        """Credentials for ``registry`` (``docker.io``, ``host:port``), or ``None``."""
        ...

    def describe(self, registry: str) -> str:
        """Where credentials for ``registry`` come from (no secret), for errors."""
        ...


class NoCredentials:
    """Anonymous access only."""

    def get(self, registry: str) -> RegistryCredentials | None:
        return None

    def describe(self, registry: str) -> str:
        return "no credentials were configured"


def _host_of_key(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``index.docker.io``; ``host:5000`` as is."""
    text = key.strip()
    text = urlsplit(text).netloc if "://" in text else text.split("/", 1)[0]
    return text.lower()


def _same_registry(key: str, registry: str) -> bool:
    host = _host_of_key(key)
    registry = registry.lower()
    if registry in _HUB_HOSTS:
        return host in _HUB_HOSTS
    return host == registry


def _run_helper(program: str, server: str) -> tuple[int, bytes]:
    """Run ``program get`` with ``server`` on stdin: ``(returncode, stdout)``. Its
    stderr is not kept (helpers may print the account there)."""
    try:
        done = subprocess.run(
            [program, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except FileNotFoundError:
        raise InputError(
            f"{program} is not installed, but Docker's config names it as the credential "
            "helper; install it, or remove credsStore/credHelpers from the config."
        ) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{program} get failed: {type(exc).__name__}") from None
    return done.returncode, done.stdout


class DockerConfigCredentials:
    """Credentials from Docker's ``config.json`` and its credential helpers (module
    docstring). ``config_dir`` defaults to ``$DOCKER_CONFIG``, else ``~/.docker``;
    ``run_helper`` is the seam for tests (default: run the program)."""

    def __init__(
        self,
        *,
        config_dir: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        run_helper: Callable[[str, str], tuple[int, bytes]] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        if config_dir is None:
            given = env.get("DOCKER_CONFIG")
            config_dir = Path(given).expanduser() if given else Path.home() / ".docker"
        self.path = Path(config_dir) / "config.json"
        self._run = run_helper or _run_helper
        self._config: dict[str, object] | None = None
        self._found: dict[str, RegistryCredentials | None] = {}

    def _load(self) -> dict[str, object]:
        if self._config is None:
            try:
                data = json.loads(self.path.read_bytes())
            except FileNotFoundError:
                data = {}
            except (OSError, ValueError, RecursionError) as exc:
                raise InputError(
                    f"{self.path}: cannot read Docker's config ({type(exc).__name__}); fix or "
                    "remove it, or point $DOCKER_CONFIG at another directory."
                ) from None
            if not isinstance(data, dict):
                raise InputError(f"{self.path}: Docker's config is not a JSON object.")
            self._config = data
        return self._config

    def describe(self, registry: str) -> str:
        found = self._found.get(registry)
        if found is not None:
            return f"the credentials for {registry} came from {found.source}"
        return (
            f"no credentials for {registry} in {self.path} (set $DOCKER_CONFIG to use "
            "another directory; `docker login` or `skopeo login` writes them)"
        )

    def get(self, registry: str) -> RegistryCredentials | None:
        if registry not in self._found:
            self._found[registry] = self._lookup(registry)
        return self._found[registry]

    def _lookup(self, registry: str) -> RegistryCredentials | None:
        config = self._load()
        helpers = config.get("credHelpers")
        if isinstance(helpers, dict):
            for key, name in helpers.items():
                if isinstance(key, str) and isinstance(name, str) and _same_registry(key, registry):
                    return self._from_helper(name, registry, where="credHelpers")
        store = config.get("credsStore")
        if isinstance(store, str) and store:
            found = self._from_helper(store, registry, where="credsStore")
            if found is not None:
                return found
        auths = config.get("auths")
        if isinstance(auths, dict):
            for key, entry in auths.items():
                if isinstance(key, str) and _same_registry(key, registry):
                    found = self._from_entry(key, entry)
                    if found is not None:
                        return found
        return None

    def _from_entry(self, key: str, entry: object) -> RegistryCredentials | None:
        where = f"{self.path} (auths.{key})"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: the entry is not a JSON object.")
        username = entry.get("username") or ""
        password = entry.get("password") or ""
        token = entry.get("identitytoken") or ""
        encoded = entry.get("auth") or ""
        if not (
            isinstance(username, str)
            and isinstance(password, str)
            and isinstance(token, str)
            and isinstance(encoded, str)
        ):
            raise InputError(f"{where}: auth, username, password and identitytoken are strings.")
        if encoded:
            try:
                decoded = base64.b64decode(encoded, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise InputError(f"{where}: 'auth' is not base64 of USER:PASSWORD.") from None
            user, sep, secret = decoded.partition(":")
            if not sep:
                raise InputError(f"{where}: 'auth' is not base64 of USER:PASSWORD.")
            username, password = user, secret
        if not (username or password or token):
            return None
        return RegistryCredentials(username, password, token, source=where)

    def _from_helper(self, name: str, registry: str, *, where: str) -> RegistryCredentials | None:
        program = f"docker-credential-{name}"
        server = DOCKER_HUB_AUTH_KEY if registry.lower() in _HUB_HOSTS else registry
        code, out = self._run(program, server)
        source = f"{program} ({where} in {self.path})"
        if code != 0:
            # "credentials not found in native keychain": not an error, just none
            log.debug("%s has no credentials for %s", program, registry)
            return None
        try:
            data = json.loads(out)
        except (ValueError, RecursionError):
            raise InputError(f"{program} get answered something that is not JSON.") from None
        if not isinstance(data, dict):
            raise InputError(f"{program} get answered something that is not a JSON object.")
        user, secret = data.get("Username"), data.get("Secret")
        if not isinstance(user, str) or not isinstance(secret, str):
            raise InputError(f"{program} get answered no Username/Secret strings.")
        if user == "<token>":
            return RegistryCredentials(identity_token=secret, source=source)
        return RegistryCredentials(user, secret, source=source)


# -- tokens -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    expires: float


class Authenticator:
    """Answers registry challenges for one run (module docstring)."""

    def __init__(
        self,
        http: Http,
        credentials: CredentialStore,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.credentials = credentials
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    def cached(self, challenge: Challenge, scope: str) -> str | None:
        """A still valid ``Authorization`` value for ``challenge`` and ``scope``."""
        key = (challenge.realm, challenge.params.get("service", ""), scope)
        token = self._tokens.get(key)
        if token is not None and token.expires > self._clock():
            return f"Bearer {token.value}"
        return None

    async def authorize(
        self, challenge: Challenge, *, registry: str, scope: str, reference: str
    ) -> str:
        """The ``Authorization`` header value that answers ``challenge``."""
        creds = self.credentials.get(registry)
        if challenge.scheme == "basic":
            if creds is None or not (creds.username or creds.password):
                raise RegistryAuthError(
                    f"{registry} asks for a user name and password to read {reference}, and "
                    f"{self.credentials.describe(registry)}.",
                    reference=reference,
                    url=registry,
                    status=401,
                )
            return creds.basic_header()
        if challenge.scheme != "bearer":
            raise RegistryAuthError(
                f"{registry} asks for {challenge.scheme!r} authentication, which lockpin "
                "does not speak (it speaks Bearer tokens and Basic).",
                reference=reference,
                url=registry,
                status=401,
            )
        cached = self.cached(challenge, scope)
        if cached is not None:
            return cached
        # Concurrent requests for one scope (several platforms of one image) wait
        # for the first one's token rather than each asking the realm.
        key = (challenge.realm, challenge.params.get("service", ""), scope)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self.cached(challenge, scope)
            if cached is not None:
                return cached
            return await self._fetch_token(
                challenge, creds, registry=registry, scope=scope, reference=reference
            )

    async def _fetch_token(
        self,
        challenge: Challenge,
        creds: RegistryCredentials | None,
        *,
        registry: str,
        scope: str,
        reference: str,
    ) -> str:
        realm = challenge.realm
        if urlsplit(realm).scheme not in {"http", "https"}:
            raise RegistryAuthError(
                f"{registry} names an unusable token service {redact_url(realm)!r}.",
                reference=reference,
                url=redact_url(realm),
                status=401,
            )
        query: list[tuple[str, str]] = []
        service = challenge.params.get("service", "")
        if service:
            query.append(("service", service))
        if scope:
            query.append(("scope", scope))
        url = realm + ("&" if "?" in realm else "?") + urlencode(query) if query else realm
        headers = {"Accept": "application/json"}
        resp: Response | None = None
        try:
            if creds is not None and creds.identity_token:
                resp = await self._oauth(realm, creds, service=service, scope=scope)
                if resp is None:
                    # The realm speaks no OAuth2: present the identity token the way
                    # Docker's clients then do, as the password of a basic login.
                    creds = RegistryCredentials(
                        creds.username, creds.identity_token, source=creds.source
                    )
            if creds is not None and (creds.username or creds.password):
                headers["Authorization"] = creds.basic_header()
            if resp is None:
                resp = await self.http.get(
                    url,
                    headers=headers,
                    ok_statuses=frozenset({200}),
                    max_bytes=_MAX_TOKEN_RESPONSE,
                    what="a token response",
                )
        except UnsafeURLError:
            raise RegistryAuthError(
                f"{registry} sends lockpin for a token to {redact_url(realm)}, plain http to "
                "a host that is not loopback: lockpin sends no credentials there and trusts "
                f"no token from there. Ask for an https token service, or pass "
                f"--insecure-registry {urlsplit(realm).hostname} if you trust the network path.",
                reference=reference,
                url=redact_url(realm),
                status=401,
            ) from None
        except NetworkError as exc:
            raise RegistryAuthError(
                f"cannot get a token for {reference} from {redact_url(realm)}: {exc}",
                reference=reference,
                url=redact_url(realm),
                status=exc.status,
            ) from None
        if resp.status != 200:
            who = "anonymous access" if creds is None else "the credentials"
            raise RegistryAuthError(
                f"the token service {redact_url(realm)} refused {who} to {reference} (HTTP "
                f"{resp.status}); {self.credentials.describe(registry)}.",
                reference=reference,
                url=redact_url(realm),
                status=resp.status,
            )
        token, lifetime = _parse_token(resp.content, realm=realm, reference=reference)
        key = (realm, service, scope)
        # Renew a little early: a token must not expire between cache and use.
        self._tokens[key] = _Token(token, self._clock() + max(0.0, lifetime - 5))
        return f"Bearer {token}"

    async def _oauth(
        self, realm: str, creds: RegistryCredentials, *, service: str, scope: str
    ) -> Response | None:
        """The distribution spec's OAuth2 flow: ``POST`` the refresh token (Docker's
        ``identitytoken``) to the realm. ``None`` when the realm does not take it
        there (400, 401, 404, 405: registries without OAuth2 answer so), for the
        caller to fall back to ``GET``; the response otherwise (200, or a refusal)."""
        form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token}
        if service:
            form["service"] = service
        if scope:
            form["scope"] = scope
        form["client_id"] = CLIENT_ID
        resp = await self.http.post(
            realm,
            form=form,
            headers={"Accept": "application/json"},
            max_bytes=_MAX_TOKEN_RESPONSE,
        )
        if resp.status in _NO_OAUTH:
            log.debug(
                "%s answered HTTP %d to the OAuth2 token request; trying GET",
                redact_url(realm),
                resp.status,
            )
            return None
        return resp


def _parse_token(body: bytes, *, realm: str, reference: str) -> tuple[str, float]:
    def bad(why: str) -> RegistryAuthError:
        return RegistryAuthError(
            f"the token service {redact_url(realm)} answered {why}.",
            reference=reference,
            url=redact_url(realm),
        )

    if len(body) > _MAX_TOKEN_RESPONSE:
        raise bad("more than 1 MiB")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: a nesting bomb
        raise bad("something that is not JSON") from None
    if not isinstance(data, dict):
        raise bad("something that is not a JSON object")
    token = data.get("token") or data.get("access_token")
    # RFC 6750's b64token is printable ASCII: anything else (spaces, control
    # characters, a CR LF smuggling a header, non-ASCII) cannot go in a header.
    if not isinstance(token, str) or not token or not all("!" <= c <= "~" for c in token):
        raise bad("no usable token")
    lifetime = data.get("expires_in", _DEFAULT_TOKEN_SECONDS)
    if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
        lifetime = _DEFAULT_TOKEN_SECONDS
    return token, float(min(lifetime, 24 * 3600))
