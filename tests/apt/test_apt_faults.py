"""``lockpin apt compile`` and ``apt verify`` through the fault proxy
(:mod:`fixtures.fault_proxy`) in front of the signed fixture archive: what holds.

* Transient faults (503 twice, a reset, a cut body, 429 with ``Retry-After: 1``, a
  stall past the timeout, a wrong ``Content-Type``, seeded chaos) on InRelease,
  a Packages index and the security mirror: the lock is byte-identical to the one
  made through the same proxy without faults; ``apt verify --download`` through
  faults on the pool still checks every ``.deb``.
* Persistent faults (503, reset, cut, forever): exit 2, one paragraph naming the
  URL and the number of attempts, no traceback, the existing apt.lock untouched.
* Integrity faults: a Packages file whose bytes (or size) differ from what
  InRelease lists, an InRelease altered after signing, signed by another key, or
  expired: refused, naming both values where there are two.

A wrong ``Content-Type`` is *handled*, not refused: apt ignores it too, and every
byte lockpin uses is checked against the signed InRelease whatever the header says.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

import lockpin
from fixtures.apt_archive import (
    FIXED_DATE,
    AptArchiveServer,
    ServedArchive,
    break_signature,
    build_archive,
    standard_suites,
)
from fixtures.fault_proxy import CLI_TIMEOUT, STALL, TIMEOUT, FaultProxy
from lockpin.errors import IntegrityError, LockpinError, NetworkError
from lockpin.net.config import HttpConfig
from support import dir_state, run_cli

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from fixtures.apt_archive import DebCache, GpgKey
    from lockpin.apt.compile import AptCompileResult
    from support import CliRun

LINES = ("mailer", "fetcher")  # bookworm and bookworm-security both matter
INRELEASE = "/debian/dists/bookworm/InRelease"
PACKAGES = "/debian/dists/bookworm/main/binary-amd64/"
SECURITY = "/debian-security/dists/bookworm-security/"
TARGETS = {"inrelease": INRELEASE, "packages": PACKAGES, "security": SECURITY}


@pytest.fixture(scope="module")
def archive(
    tmp_path_factory: pytest.TempPathFactory, apt_key: GpgKey, apt_debs: DebCache
) -> Iterator[ServedArchive]:
    """A standard archive of this module's own: its faults are the proxy's, so the
    archive itself stays as built."""
    root = tmp_path_factory.mktemp("apt-faults")
    built = build_archive(root, standard_suites(), key=apt_key, debs=apt_debs)
    with AptArchiveServer(root) as server:
        yield ServedArchive(built, server, apt_key)


@pytest.fixture(scope="module")
def module_proxy(archive: ServedArchive) -> Iterator[FaultProxy]:
    with FaultProxy(archive.url) as proxy:
        yield proxy


@pytest.fixture
def proxy(module_proxy: FaultProxy) -> Iterator[FaultProxy]:
    with module_proxy.fresh() as fresh:
        yield fresh


def compile_through(
    proxy: FaultProxy,
    archive: ServedArchive,
    cache: Path,
    *,
    retries: int = 3,
    keyring: Path | None = None,
) -> AptCompileResult:
    src = cache.parent / "apt.in"
    src.write_text("".join(f"{line}\n" for line in LINES))
    return lockpin.apt_compile(
        src,
        release="bookworm",
        platforms=("linux/amd64",),
        mirror=proxy.url + "/debian/",
        security_mirror=proxy.url + "/debian-security/",
        keyring=keyring or archive.key.keyring,
        http=HttpConfig(
            cache_dir=cache, retries=retries, backoff=0.0, timeout=TIMEOUT, use_netrc=False
        ),
    )


@pytest.fixture(scope="module")
def baseline(
    module_proxy: FaultProxy, archive: ServedArchive, tmp_path_factory: pytest.TempPathFactory
) -> bytes:
    """The lock made through the proxy with no fault (the proxy's URL is in it)."""
    module_proxy.clear()
    cache = tmp_path_factory.mktemp("apt-faults-baseline") / "cache"
    lock = compile_through(module_proxy, archive, cache).lock.to_toml().encode()
    module_proxy.clear_log()
    return lock


def faulted_paths(proxy: FaultProxy) -> list[str]:
    return [path for _, path in proxy.injected]


# -- transient faults: the same bytes ------------------------------------------------------------

TRANSIENT_FAULTS: dict[str, dict[str, object]] = {
    "503x2": {"kind": "status", "status": 503, "times": 2},
    "reset": {"kind": "reset", "times": 2},
    "cut": {"kind": "cut", "keep": 100, "times": 2},
    "429-retry-after-1": {"kind": "status", "status": 429, "retry_after": 1},
    "stall": {"kind": "stall", "seconds": STALL},
    "content-type": {"kind": "content_type", "value": "text/html", "times": None},
}


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("fault", list(TRANSIENT_FAULTS))
def test_transient_faults_give_the_same_lock_bytes(
    proxy: FaultProxy,
    archive: ServedArchive,
    baseline: bytes,
    tmp_path: Path,
    fault: str,
    target: str,
) -> None:
    options = dict(TRANSIENT_FAULTS[fault])
    kind = str(options.pop("kind"))
    proxy.inject(kind, prefix=TARGETS[target], **options)  # type: ignore[arg-type]
    result = compile_through(proxy, archive, tmp_path / "cache")
    assert result.lock.to_toml().encode() == baseline
    # the fault did happen, where it was meant to
    paths = faulted_paths(proxy)
    assert paths, proxy.requests
    assert all(p.startswith(TARGETS[target]) for p in paths)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_seeded_chaos_on_every_request_gives_the_same_lock_bytes(
    proxy: FaultProxy, archive: ServedArchive, baseline: bytes, tmp_path: Path, seed: int
) -> None:
    # At most 3 faults in a row per request and 5 retries: every fetch gets through.
    proxy.chaos(rate=0.5, seed=seed, max_in_a_row=3)
    result = compile_through(proxy, archive, tmp_path / "cache", retries=5)
    assert result.lock.to_toml().encode() == baseline
    assert proxy.injected


def test_verify_download_through_faults_on_the_pool(
    proxy: FaultProxy, archive: ServedArchive, baseline: bytes, tmp_path: Path
) -> None:
    lock = tmp_path / "apt.lock"
    lock.write_bytes(baseline)
    proxy.inject("status", prefix="/debian/pool/", status=503, times=2)
    proxy.inject("cut", prefix="/debian-security/pool/", times=1)
    proxy.inject("reset", prefix="/debian/pool/", times=1)
    result = lockpin.apt_verify(
        lock,
        download=True,
        keyring=archive.key.keyring,
        http=HttpConfig(
            cache_dir=tmp_path / "cache", retries=3, backoff=0.0, timeout=TIMEOUT, use_netrc=False
        ),
    )
    assert result.ok, result
    pool = [p for p in faulted_paths(proxy) if "/pool/" in p]
    assert len(pool) == 4
    # every pinned .deb was downloaded (and checked) in the end
    debs = {path for method, path in proxy.requests if path.endswith(".deb")}
    assert len(debs) == baseline.count(b"\n[[packages]]\n")


# -- persistent faults: a clean refusal, the old lock untouched -------------------------------


def cli_compile(capsys: pytest.CaptureFixture[str], proxy: FaultProxy, archive: ServedArchive,
                *args: str) -> CliRun:  # fmt: skip
    return run_cli(
        capsys, "apt", "compile", "apt.in", "--release", "bookworm", "--arch", "amd64",
        "--mirror", proxy.url + "/debian/", "--security-mirror", proxy.url + "/debian-security/",
        "--keyring", str(archive.key.keyring), "--timeout", str(CLI_TIMEOUT), *args,
    )  # fmt: skip


PERSISTENT = {
    "503-inrelease": ("status", INRELEASE, INRELEASE, "HTTP 503"),
    "reset-inrelease": ("reset", INRELEASE, INRELEASE, "Error"),
    "cut-inrelease": ("cut", INRELEASE, INRELEASE, "received"),
    "503-packages": ("status", PACKAGES, PACKAGES, "HTTP 503"),
    "reset-security": ("reset", SECURITY, SECURITY + "InRelease", "Error"),
    "429-packages": ("status429", PACKAGES, PACKAGES, "HTTP 429"),
}


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize("case", list(PERSISTENT))
def test_persistent_faults_name_the_url_and_attempts_and_keep_the_lock(
    proxy: FaultProxy,
    archive: ServedArchive,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: str,
) -> None:
    (tmp_path / "apt.in").write_text("mailer\nfetcher\n")
    first = cli_compile(capsys, proxy, archive)
    assert first.code == 0, first.err
    before = dir_state(tmp_path)
    kind, prefix, url_path, why = PERSISTENT[case]
    if kind == "status429":
        proxy.inject("status", prefix=prefix, status=429, retry_after=0, times=None)
    else:
        proxy.inject(kind, prefix=prefix, times=None)
    (tmp_path / "apt.in").write_text("mailer\nfetcher\ngreeter\n")
    # no cache: the first run's verified indexes would answer without a request
    result = cli_compile(capsys, proxy, archive, "--retries", "1", "--no-cache")
    assert result.code == 2, result.both
    assert result.out == ""
    assert result.err.startswith("lockpin: error: "), result.err
    assert "Traceback" not in result.err
    assert proxy.url + url_path in result.err
    assert "failed after 2 attempt(s)" in result.err
    assert why in result.err
    assert result.err.strip().count("\n") == 0, result.err  # one paragraph
    # what to do is said once, however many URLs (compressions, by-hash) were tried
    assert result.err.count("network or proxy settings") == 1, result.err
    # every attempt was a fault: 1 + 1 retry per URL tried
    assert len(proxy.injected) >= 2
    after = dir_state(tmp_path)
    del before["apt.in"], after["apt.in"]
    assert after == before  # same bytes, same mtime, no temp file


def test_persistent_faults_through_the_api_raise_network_error(
    proxy: FaultProxy, archive: ServedArchive, tmp_path: Path
) -> None:
    proxy.inject("status", prefix=INRELEASE, status=503, times=None)
    with pytest.raises(NetworkError) as info:
        compile_through(proxy, archive, tmp_path / "cache", retries=4)
    assert info.value.url == proxy.url + INRELEASE
    assert info.value.status == 503
    assert "failed after 5 attempt(s)" in str(info.value)
    assert faulted_paths(proxy) == [INRELEASE] * 5


# -- integrity faults: refused, both values named ------------------------------------------------


def _flip_last(body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 1])


def test_a_packages_file_that_is_not_what_inrelease_lists_is_refused(
    proxy: FaultProxy, archive: ServedArchive, tmp_path: Path
) -> None:
    proxy.inject("tamper", prefix=PACKAGES, edit=_flip_last, times=None)
    with pytest.raises(IntegrityError) as info:
        compile_through(proxy, archive, tmp_path / "cache")
    # the first file tried is the by-hash copy: its name is the sha256 InRelease lists
    [(_, path)] = proxy.injected
    listed = path.rsplit("/", 1)[1]
    served = (archive.built.root / path.lstrip("/")).read_bytes()
    actual = hashlib.sha256(_flip_last(served)).hexdigest()
    message = str(info.value)
    assert (info.value.expected, info.value.actual) == (listed, actual)
    assert listed in message
    assert actual in message
    assert proxy.url + path in message
    assert "lockpin refuses it" in message
    # never retried into success with another compression
    assert [p for _, p in proxy.requests if p.startswith(PACKAGES)] == [path]


def test_a_packages_file_of_another_size_is_refused(
    proxy: FaultProxy, archive: ServedArchive, tmp_path: Path
) -> None:
    proxy.inject("tamper", prefix=PACKAGES, edit=lambda b: b + b"\0", times=None)
    with pytest.raises(IntegrityError) as info:
        compile_through(proxy, archive, tmp_path / "cache")
    [(_, path)] = proxy.injected
    size = len((archive.built.root / path.lstrip("/")).read_bytes())
    assert (info.value.expected, info.value.actual) == (str(size), str(size + 1))
    assert f"is {size + 1} bytes but its index declares {size}" in str(info.value)


def test_an_inrelease_altered_after_signing_is_refused(
    proxy: FaultProxy, archive: ServedArchive, tmp_path: Path
) -> None:
    proxy.inject("tamper", prefix=INRELEASE, edit=break_signature, times=None)
    with pytest.raises(IntegrityError, match="does not verify") as info:
        compile_through(proxy, archive, tmp_path / "cache")
    assert proxy.url + INRELEASE in str(info.value)


def test_an_inrelease_signed_by_another_key_is_refused(
    make_apt_archive: Callable[..., ServedArchive],
    apt_key: GpgKey,
    apt_other_key: GpgKey,
    tmp_path: Path,
) -> None:
    other = make_apt_archive(key=apt_other_key)
    with FaultProxy(other.url) as proxy:
        with pytest.raises(IntegrityError) as info:
            compile_through(proxy, other, tmp_path / "cache", keyring=apt_key.keyring)
        message = str(info.value)
        assert proxy.url + INRELEASE in message
    assert "not in the keyring" in message
    assert "--keyring" in message
    assert info.value.exit_code == 2


def test_an_expired_inrelease_is_refused(
    make_apt_archive: Callable[..., ServedArchive], tmp_path: Path
) -> None:
    expired = make_apt_archive(standard_suites(valid_until=FIXED_DATE))
    with FaultProxy(expired.url) as proxy:
        with pytest.raises(LockpinError) as info:
            compile_through(proxy, expired, tmp_path / "cache")
        message = str(info.value)
        assert proxy.url + "/debian" in message
    assert "Valid-Until Sat, 01 Jun 2024 00:00:00 UTC, now " in message  # both moments
    assert "--snapshot" in message  # what to do
