"""``read_base`` / ``read_bases`` over the real test registry, as base images really
are: layers far larger than what lockpin keeps (streamed, never held whole; a cut
or altered layer refused with nothing of it cached), and several platforms read at
once over one client (one challenge, a layer they share downloaded once)."""

from __future__ import annotations

import tracemalloc
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest

from fixtures import oci
from fixtures.http_server import Response
from fixtures.registry import RegistryProxy, push
from lockpin.errors import IntegrityError
from lockpin.image.base import read_base, read_bases
from lockpin.net.config import HttpConfig

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.registry_plugin import OciRegistry

BIG = 32 << 20
OS_RELEASE = b"ID=debian\nVERSION_ID=12\nVERSION_CODENAME=bookworm\n"


@pytest.fixture(scope="module")
def images(oci_registry: OciRegistry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``lockpin-stream/big:1`` (one 32 MiB uncompressed layer under a small one) and
    ``lockpin-stream/shared:1`` (amd64 + arm64 sharing their first layer)."""
    w = oci.LayoutWriter(tmp_path_factory.mktemp("stream-layout"))
    big_tar = oci.tar_bytes([oci.File("opt/big.bin", bytes(BIG))])
    big = w.image(layers=[[oci.File("etc/os-release", OS_RELEASE)], big_tar], gzip_it=False)
    w.tag("big", big)
    common = [oci.File("etc/os-release", OS_RELEASE)]
    amd = w.image(layers=[common, [oci.File("etc/arch", b"amd64")]])
    arm = w.image(
        layers=[common, [oci.File("etc/arch", b"arm64")]], architecture="arm64", variant="v8"
    )
    w.tag("shared", w.index([amd, arm]))
    w.save()
    for tag in ("big", "shared"):
        push(w.root, tag, oci_registry.open.host, f"lockpin-stream/{tag}:1")
    manifests = {
        p: w.read(d) for p, d in (("linux/amd64", amd), ("linux/arm64", arm), ("big", big))
    }
    return {"manifests": manifests}


@pytest.fixture
def proxy(oci_registry: OciRegistry) -> Iterator[RegistryProxy]:
    with RegistryProxy(oci_registry.open.url) as server:
        yield server


def _ref(proxy: RegistryProxy, name: str) -> str:
    return f"{proxy.url.removeprefix('http://')}/{name}"


def _blob_files(cache: Path) -> list[Path]:
    return [p for p in (cache / "v1" / "oci-blobs").rglob("*") if p.is_file()]


@pytest.mark.usefixtures("images")
def test_a_large_layer_is_streamed_not_held(oci_registry: OciRegistry, tmp_path: Path) -> None:
    ref = oci_registry.ref("lockpin-stream/big:1")
    cache = tmp_path / "cache"
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = read_base(ref, platform="linux/amd64", http=HttpConfig(cache_dir=cache))
        _, cold_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        again = read_base(ref, platform="linux/amd64", http=HttpConfig(cache_dir=cache))
        _, warm_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert base == again
    assert base.codename == "bookworm"
    # Held whole, the 32 MiB layer alone would be the peak (twice, with a copy).
    assert cold_peak < BIG // 4, cold_peak
    assert warm_peak < BIG // 4, warm_peak  # the cached blob is streamed back too
    assert max(p.stat().st_size for p in _blob_files(cache)) > BIG  # and it was cached


def test_a_cut_layer_is_refused_and_nothing_of_it_is_cached(
    proxy: RegistryProxy, oci_registry: OciRegistry, images: dict[str, Any], tmp_path: Path
) -> None:
    import json

    layer = json.loads(images["manifests"]["big"])["layers"][1]
    path = f"/v2/lockpin-stream/big/blobs/{layer['digest']}"

    def cut(method: str, got: str, headers: dict[str, str]) -> Response:
        with urllib.request.urlopen(oci_registry.open.url + path, timeout=30) as resp:  # loopback
            body = resp.read(BIG // 2)

        def raw(w: Any) -> None:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % layer["size"])
            w.write(body)

        return Response(200, raw=raw)

    proxy.override(path, cut)
    cache = tmp_path / "cache"
    with pytest.raises(IntegrityError) as info:
        read_base(
            _ref(proxy, "lockpin-stream/big:1"),
            platform="linux/amd64",
            http=HttpConfig(cache_dir=cache, retries=0),
        )
    err = info.value
    assert layer["digest"] in str(err)
    assert proxy.url.removeprefix("http://") in err.url
    assert err.expected == f"{layer['size']} bytes"
    assert err.actual.endswith(" bytes")
    assert 0 < int(err.actual.split()[0]) <= BIG // 2
    # the small layer and the config were cached; nothing of the cut one, no temp file
    names = {p.name for p in _blob_files(cache)}
    assert layer["digest"].split(":")[1] not in names
    assert not any(n.startswith(".tmp-") for n in names)


def test_an_altered_layer_is_refused_naming_both_digests(
    proxy: RegistryProxy, images: dict[str, Any], tmp_path: Path
) -> None:
    import json

    layer = json.loads(images["manifests"]["linux/amd64"])["layers"][1]

    def rewrite(path: str, answer: Response) -> Response:
        if path.endswith(layer["digest"]):
            answer.body = answer.body[:-9] + b"\0" * 9  # the gzip trailer
        return answer

    proxy.rewrite = rewrite
    with pytest.raises(IntegrityError) as info:
        read_base(
            _ref(proxy, "lockpin-stream/shared:1"),
            platform="linux/amd64",
            http=HttpConfig(cache_dir=tmp_path / "cache", retries=0),
        )
    assert info.value.expected == layer["digest"]
    assert info.value.actual.startswith("sha256:")
    assert info.value.actual != layer["digest"]
    assert info.value.actual in str(info.value)
    assert f"/blobs/{layer['digest']}" in info.value.url
    assert layer["digest"].split(":")[1] not in {p.name for p in _blob_files(tmp_path / "cache")}


def test_several_platforms_share_one_client_and_their_common_layer(
    proxy: RegistryProxy, images: dict[str, Any], tmp_path: Path
) -> None:
    import json

    ref = _ref(proxy, "lockpin-stream/shared:1")
    bases = read_bases(
        ref,
        platforms=("linux/arm64", "linux/amd64"),
        http=HttpConfig(cache_dir=tmp_path / "cache", retries=0),
    )
    assert [b.platform for b in bases] == ["linux/arm64/v8", "linux/amd64"]
    assert bases[0].digest == bases[1].digest  # one index, resolved once
    paths = [r.path for r in proxy.requests if r.method == "GET"]
    assert paths.count("/v2/") == 1
    assert paths.count("/v2/lockpin-stream/shared/manifests/1") == 1
    shared = json.loads(images["manifests"]["linux/amd64"])["layers"][0]["digest"]
    assert json.loads(images["manifests"]["linux/arm64"])["layers"][0]["digest"] == shared
    assert paths.count(f"/v2/lockpin-stream/shared/blobs/{shared}") == 1
    # the same as one at a time
    one = read_base(ref, platform="linux/arm64", http=HttpConfig(cache_dir=None))
    assert one == bases[0]
