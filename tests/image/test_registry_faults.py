"""``lockpin image resolve`` and ``lockpin dockerfile pin`` against the real
``docker-registry`` (:mod:`fixtures.registry_plugin`) through the fault proxy
(:mod:`fixtures.fault_proxy`): what holds.

* Transient faults (503 twice, resets, cut bodies, 429 with ``Retry-After: 1``, a
  stall past the timeout, seeded chaos) on an index and its platform manifests, a
  single-platform manifest and its config blob: the same digests, the same JSON
  and the same pinned Dockerfile, byte for byte. Blobs bigger than one 64 KiB read
  (``faults/big``, pushed here) cut after the consumer had bytes: fetched again,
  the same resolve and the same base read; cut more often than the retries:
  refused, nothing cached.
* Persistent faults (503, reset, cut, 429, forever): exit 2, one paragraph naming
  the URL and the number of attempts, no traceback, the Dockerfile untouched.
* Integrity faults: a manifest whose body does not hash to its
  ``Docker-Content-Digest``, to the digest asked for, or to the digest its index
  lists; a config blob whose bytes do not match its digest (refused, and nothing
  of it stays in the blob cache).

A wrong ``Content-Type`` on a manifest: a generic one (``application/json``,
``text/plain``, ``application/octet-stream``) is *handled* (the body's own,
digest-checked ``mediaType`` decides, as the existing registry tests show); any
other (``text/html``: a captive portal, a misconfigured proxy) is *refused*, naming
the type, because the header is the registry's word on what the bytes are.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import TYPE_CHECKING, Any

import pytest

import lockpin
from fixtures import oci
from fixtures.fault_proxy import CLI_TIMEOUT, STALL, TIMEOUT, FaultProxy
from fixtures.registry import push
from lockpin.errors import IntegrityError, LockpinError, ManifestError, RegistryError
from lockpin.image.auth import NoCredentials
from lockpin.image.pin import RegistryResolver
from lockpin.image.resolve import resolve_images
from lockpin.net.config import HttpConfig
from support import dir_state, run_cli

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.registry_plugin import OciRegistry
    from support import CliRun

pytestmark = pytest.mark.usefixtures("docker_config")

MULTI = "public/multi:1"
PYTHON = "library/pythonish:3.12"
PLATFORMS = ("linux/amd64", "linux/arm64")
INDEX = "/v2/public/multi/manifests/"
SINGLE = "/v2/library/pythonish/manifests/"
BLOBS = "/v2/library/pythonish/blobs/"
TARGETS = {"index-and-children": INDEX, "single-manifest": SINGLE, "config-blob": BLOBS}


@pytest.fixture(scope="module")
def module_proxy(oci_registry: OciRegistry) -> Iterator[FaultProxy]:
    with FaultProxy(oci_registry.open.url) as proxy:
        yield proxy


@pytest.fixture
def proxy(module_proxy: FaultProxy) -> Iterator[FaultProxy]:
    with module_proxy.fresh() as fresh:
        yield fresh


def config(cache: Path | None, *, retries: int = 3) -> HttpConfig:
    return HttpConfig(
        cache_dir=cache, retries=retries, backoff=0.0, timeout=TIMEOUT, use_netrc=False
    )


def resolve_json(proxy: FaultProxy, cache: Path | None, *, retries: int = 3) -> bytes:
    """Both images resolved at once through ``proxy``, as the CLI's JSON would say."""
    results = resolve_images(
        [(f"{proxy.host}/{MULTI}", PLATFORMS), (f"{proxy.host}/{PYTHON}", ())],
        http=config(cache, retries=retries),
        credentials=NoCredentials(),
    )
    for result in results:
        if isinstance(result, LockpinError):
            raise result
    return json.dumps([r.to_dict() for r in results], indent=2).encode()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def baseline(module_proxy: FaultProxy, oci_registry: OciRegistry) -> bytes:
    module_proxy.clear()
    data = resolve_json(module_proxy, None)
    module_proxy.clear_log()
    # the oracle agrees (skopeo inspect --raw | sha256sum)
    multi, python = json.loads(data)
    assert multi["digest"] == oci_registry.digests[MULTI]
    assert python["digest"] == oci_registry.digests[PYTHON]
    per = oci_registry.platforms[MULTI]
    assert [m["digest"] for m in multi["manifests"]] == [
        per["linux/amd64"],
        per["linux/arm64/v8"],
    ]
    return data


@pytest.fixture(scope="module")
def big_image(oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``faults/big:1``, pushed for this module: a config and a layer both larger than
    one 64 KiB read, so that a cut lands after the consumer has had bytes (smaller
    bodies are cut before their first chunk is handed out, and simply retried)."""
    w = oci.LayoutWriter(tmp_path_factory.mktemp("big-layout"))
    noise = random.Random(13).randbytes(300_000)  # incompressible: the layer stays big
    layer: list[oci.Entry] = [
        oci.Dir("etc"),
        oci.File("etc/os-release", oci.OS_RELEASE),
        oci.Dir("var"),
        oci.Dir("var/lib"),
        oci.Dir("var/lib/dpkg"),
        oci.File("var/lib/dpkg/status", oci.dpkg_status(("base-files", "12.4+deb12u5"))),
        oci.Dir("usr"),
        oci.File("usr/noise", noise),
    ]
    image = w.image(
        layers=[layer],
        env=["PATH=/usr/bin:/bin", "PYTHON_VERSION=3.12.7"],
        labels={"padding": noise[:60_000].hex()},  # a 120 kB config
    )
    w.tag("big", image)
    w.save()
    push(w.root, "big", oci_registry.open.host, "faults/big")
    return "faults/big:big"


def blob_files(cache: Path) -> list[Path]:
    root = cache / "v1" / "oci-blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- transient faults: the same bytes ------------------------------------------------------------

TRANSIENT_FAULTS: dict[str, dict[str, Any]] = {
    "503x2": {"kind": "status", "status": 503, "times": 2},
    "reset": {"kind": "reset", "times": 2},
    "cut": {"kind": "cut", "times": 2},
    "cut-early": {"kind": "cut", "keep": 1, "times": 1},
    "429-retry-after-1": {"kind": "status", "status": 429, "retry_after": 1},
    "stall": {"kind": "stall", "seconds": STALL},
}


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("fault", list(TRANSIENT_FAULTS))
def test_transient_faults_give_the_same_digests(
    proxy: FaultProxy, baseline: bytes, tmp_path: Path, fault: str, target: str
) -> None:
    options = dict(TRANSIENT_FAULTS[fault])
    kind = options.pop("kind")
    proxy.inject(kind, prefix=TARGETS[target], **options)
    assert resolve_json(proxy, tmp_path / "cache") == baseline
    paths = [path for _, path in proxy.injected]
    assert paths, proxy.requests
    assert all(p.startswith(TARGETS[target]) for p in paths)


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_seeded_chaos_gives_the_same_digests(
    proxy: FaultProxy, baseline: bytes, tmp_path: Path, seed: int
) -> None:
    # at most 3 faults in a row per request, 5 retries: every fetch gets through
    proxy.chaos(rate=0.5, seed=seed, max_in_a_row=3)
    assert resolve_json(proxy, tmp_path / "cache", retries=5) == baseline
    assert proxy.injected


def test_dockerfile_pin_through_faults_writes_the_same_file(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    text = f"FROM {proxy.host}/{MULTI} AS build\nRUN true\nFROM {proxy.host}/{PYTHON}\n"
    clean, faulty = tmp_path / "clean" / "Dockerfile", tmp_path / "faulty" / "Dockerfile"
    for path in (clean, faulty):
        path.parent.mkdir()
        path.write_text(text)

    def pin(path: Path) -> None:
        resolver = RegistryResolver(http=config(None), credentials=NoCredentials())
        lockpin.pin_dockerfile(path, resolver=resolver, platforms=PLATFORMS, write=True)

    pin(clean)
    assert clean.read_text() != text
    proxy.inject("status", prefix=INDEX, status=503, times=2)
    proxy.inject("reset", prefix=SINGLE, times=1)
    proxy.inject("cut", prefix=BLOBS, times=1)
    proxy.inject("status", prefix="/v2/", status=429, retry_after=0, times=1)
    pin(faulty)
    assert faulty.read_bytes() == clean.read_bytes()
    assert len(proxy.injected) == 5


def test_a_big_config_cut_part_way_is_fetched_again(
    proxy: FaultProxy, big_image: str, tmp_path: Path
) -> None:
    ref = f"{proxy.host}/{big_image}"
    clean = lockpin.resolve_image(ref, http=config(None), credentials=NoCredentials())
    proxy.clear_log()
    proxy.inject("cut", prefix="/v2/faults/big/blobs/", keep=100_000, times=2)
    again = lockpin.resolve_image(ref, http=config(tmp_path / "cache"), credentials=NoCredentials())
    assert again == clean
    assert len(proxy.injected) == 2
    [kept] = blob_files(tmp_path / "cache")  # the config, whole and checked
    assert f"sha256:{kept.name}" != clean.digest


def test_a_big_layer_cut_part_way_reads_the_same_base(
    proxy: FaultProxy, big_image: str, tmp_path: Path
) -> None:
    ref = f"{proxy.host}/{big_image}"
    clean = lockpin.read_base(ref, platform="linux/amd64", http=config(None))
    assert clean.dpkg_status is not None
    assert "base-files" in clean.dpkg_status
    proxy.clear_log()
    # three cuts on the config and layer: after 70 kB, then after 200 kB (or one byte
    # before the end of the 120 kB config)
    proxy.inject("cut", prefix="/v2/faults/big/blobs/", keep=70_000, times=1)
    proxy.inject("cut", prefix="/v2/faults/big/blobs/", keep=200_000, times=2)
    again = lockpin.read_base(ref, platform="linux/amd64", http=config(tmp_path / "cache"))
    assert again == clean
    assert len(proxy.injected) == 3
    assert len(blob_files(tmp_path / "cache")) == 2  # config and layer, each checked


def test_a_big_blob_cut_more_often_than_the_retries_is_refused_and_not_cached(
    proxy: FaultProxy, big_image: str, tmp_path: Path
) -> None:
    ref = f"{proxy.host}/{big_image}"
    proxy.inject("cut", prefix="/v2/faults/big/blobs/", keep=100_000, times=None)
    cache = tmp_path / "cache"
    with pytest.raises(IntegrityError) as info:
        lockpin.resolve_image(ref, http=config(cache, retries=2), credentials=NoCredentials())
    assert len(proxy.injected) == 3  # the first attempt and two restarts
    [(_, path)] = set(proxy.injected)
    message = str(info.value)
    assert proxy.url + path in message
    assert "broke off after 65536 of 120239 bytes" in message
    assert (info.value.expected, info.value.actual) == ("120239 bytes", "65536 bytes")
    assert blob_files(cache) == []  # nothing of it, not even a temporary file


# -- persistent faults: a clean refusal ---------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    return run_cli(capsys, *args, "--retries", "1", "--timeout", str(CLI_TIMEOUT))


def assert_one_paragraph(result: CliRun, *needles: str) -> None:
    assert result.code == 2, result.both
    assert result.out == ""
    assert result.err.startswith("lockpin: error: "), result.err
    assert "Traceback" not in result.err
    assert result.err.strip().count("\n") == 0, result.err
    for needle in needles:
        assert needle in result.err, result.err


PERSISTENT: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "503-manifest": ("status", {"status": 503}, SINGLE, "HTTP 503"),
    "reset-manifest": ("reset", {}, SINGLE, "Error"),
    "cut-manifest": ("cut", {}, SINGLE, "received"),
    "503-ping": ("status", {"status": 503}, "/v2/", "HTTP 503"),
    "429-manifest": ("status", {"status": 429, "retry_after": 0}, SINGLE, "429"),
}


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize("case", list(PERSISTENT))
def test_persistent_faults_name_the_url_and_the_attempts(
    proxy: FaultProxy, capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    kind, options, prefix, why = PERSISTENT[case]
    proxy.inject(kind, prefix=prefix, times=None, **options)
    ref = f"{proxy.host}/{PYTHON}"
    url = proxy.url + prefix
    result = cli(capsys, "image", "resolve", ref)
    assert_one_paragraph(result, url, "after 2 attempt(s)", why)
    # dockerfile pin: the same words, the line, and the file as it was
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"# base\nFROM {ref}\n")
    before = dir_state(tmp_path)
    pinned = cli(capsys, "dockerfile", "pin")
    assert_one_paragraph(pinned, "Dockerfile:2: cannot pin", url, "after 2 attempt(s)", why)
    assert dir_state(tmp_path) == before


# -- integrity faults: refused, both digests named ---------------------------------------------


def _flip(body: bytes) -> bytes:
    # JSON stays JSON (one more space after the first colon); the digest changes.
    return body.replace(b":", b": ", 1)


def test_a_manifest_that_does_not_hash_to_its_header_is_refused(
    proxy: FaultProxy, oci_registry: OciRegistry, tmp_path: Path
) -> None:
    proxy.inject("tamper", prefix=INDEX, edit=_flip, times=None)
    with pytest.raises(IntegrityError) as info:
        resolve_json(proxy, tmp_path / "cache")
    declared = oci_registry.digests[MULTI]
    assert info.value.expected == declared
    message = str(info.value)
    assert declared in message
    assert info.value.actual in message
    assert info.value.actual.startswith("sha256:")
    assert info.value.actual != declared
    assert proxy.url + INDEX + "1" in message


def test_a_manifest_that_does_not_hash_to_the_digest_asked_for_is_refused(
    proxy: FaultProxy, oci_registry: OciRegistry, tmp_path: Path
) -> None:
    digest = oci_registry.digests[PYTHON]
    proxy.inject(
        "tamper", prefix=SINGLE, edit=_flip, headers={"Docker-Content-Digest": None}, times=None
    )
    ref = f"{proxy.host}/library/pythonish@{digest}"
    with pytest.raises(IntegrityError) as info:
        lockpin.resolve_image(ref, http=config(tmp_path / "cache"), credentials=NoCredentials())
    assert info.value.expected == digest
    assert digest in str(info.value)
    assert info.value.actual in str(info.value)
    assert "asked for" in str(info.value)


def test_a_platform_manifest_that_is_not_what_its_index_lists_is_refused(
    proxy: FaultProxy, oci_registry: OciRegistry, tmp_path: Path
) -> None:
    child = oci_registry.platforms[MULTI]["linux/arm64/v8"]
    proxy.inject("tamper", prefix=INDEX + child, edit=_flip, times=None)
    with pytest.raises(IntegrityError) as info:
        resolve_json(proxy, tmp_path / "cache")
    assert info.value.expected == child
    assert child in str(info.value)
    assert info.value.actual in str(info.value)


def test_a_config_blob_that_does_not_match_its_digest_is_refused_and_not_cached(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    flipped: list[str] = []

    def edit(body: bytes) -> bytes:
        flipped.append(hashlib.sha256(body).hexdigest())
        return body[:-1] + bytes([body[-1] ^ 1])

    proxy.inject("tamper", prefix=BLOBS, edit=edit, times=None)
    with pytest.raises(IntegrityError) as info:
        resolve_json(proxy, cache)
    [(_, path)] = proxy.injected  # refused at once: not retried into success
    asked = path.rsplit("/", 1)[1]
    assert asked == f"sha256:{flipped[0]}"
    assert info.value.actual != asked
    assert info.value.expected == asked
    assert asked in str(info.value)
    assert info.value.actual in str(info.value)
    assert blob_files(cache) == []  # nothing of it, not even a temporary file
    # the same cache works once the registry is honest again, and keeps the blob
    proxy.clear()
    resolve_json(proxy, cache)
    [kept] = blob_files(cache)
    assert kept.name == flipped[0]


def test_a_blob_cut_short_leaves_nothing_in_the_cache(proxy: FaultProxy, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proxy.inject("cut", prefix=BLOBS, times=None)
    with pytest.raises(LockpinError) as info:
        resolve_json(proxy, cache, retries=1)
    assert proxy.url + BLOBS in str(info.value)
    assert blob_files(cache) == []


# -- Content-Type ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["application/json", "text/plain", "application/octet-stream"])
def test_a_generic_content_type_is_handled(
    proxy: FaultProxy, baseline: bytes, tmp_path: Path, value: str
) -> None:
    proxy.inject("content_type", prefix="/v2/", value=value, times=None)
    assert resolve_json(proxy, tmp_path / "cache") == baseline


def test_an_html_content_type_is_refused_naming_it(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.inject("content_type", prefix=SINGLE, value="text/html; charset=utf-8", times=None)
    with pytest.raises((ManifestError, RegistryError)) as info:
        resolve_json(proxy, tmp_path / "cache")
    message = str(info.value)
    assert "the registry says the manifest is 'text/html'" in message
    assert "application/vnd.docker.distribution.manifest.v2+json" in message
    assert "lockpin refuses" in message
