"""Hostile layer tars fuzzed with hypothesis (generalising the hand cases of
tests/image/test_hostile_layers.py).

lockpin never extracts a layer: :class:`LayerStack` keeps the few files it reads,
in memory, by canonical path. What must hold for any stack of layers whose members
have ``../`` and absolute names, symbolic and hard links pointing out of the root
(absolute, climbing, chained, looping), devices and FIFOs, duplicate names,
whiteouts, empty names:

* reading gives a view or :class:`LayerError`, never another exception;
* every kept path is canonical (absolute, no ``.``/``..``/empty component, at most
  :data:`MAX_PATH_DEPTH` deep) and every lookup through the view's links resolves
  to such a path or to nothing: nothing names a place outside the image root;
* the bytes read for any path are bytes some member of the layers carried: no
  byte of the host is ever read, however a link points;
* with links left out, the view is what a plain model of the OCI changeset rules
  says (last writer wins, whiteouts and a later non-directory hide what earlier
  layers had);
* the file system is untouched: a bait tree beside the work directory keeps its
  bytes, and reading the same hostile image from the real registry through the
  blob cache writes only digest-named blob files inside the cache directory.

Raw tar bytes are fuzzed too (mutated headers, with and without a fixed-up
checksum): a view or :class:`LayerError`, never a crash or a hang.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_strategies import FUZZ, attempt, note
from lockpin.errors import LayerError
from lockpin.image.layers import MAX_PATH_DEPTH, ImageFiles, LayerStack, normalize_path

if TYPE_CHECKING:
    from fixtures.registry_plugin import OciRegistry

# -- building tars --------------------------------------------------------------------------------

#: (name, kind, value): kind f (file: value bytes), d (dir), l (symlink: value
#: target), h (hard link: value target), c (char device), b (block device), p (FIFO)
Member = tuple[str, str, Any]

_COMPONENT = st.sampled_from(
    ["..", ".", "", "etc", "os-release", "a", "b", "usr", "lib", ".wh.a", ".wh..wh..opq", "x" * 300]
)
_NAME = st.one_of(
    st.lists(_COMPONENT, min_size=1, max_size=6).map("/".join),
    st.lists(_COMPONENT, min_size=1, max_size=6).map(lambda c: "/" + "/".join(c)),
    st.sampled_from(["etc/os-release", "../../etc/passwd", "/etc/shadow", "./", "/", ""]),
)
_TARGET = st.one_of(
    _NAME,
    st.sampled_from(
        [
            "/etc/passwd",
            "/proc/self/environ",
            "../../../../../../etc/hostname",
            "../" * 70 + "etc",
            ".",
            "..",
            "a",
            "/a/../../..",
        ]
    ),
    st.just(os.path.abspath(__file__)),
)


@st.composite
def members(draw: st.DrawFn) -> Member:
    name = draw(_NAME)
    kind = draw(st.sampled_from("ffffddllhcbp"))
    if kind == "f":
        # distinct content per member, so a read can be traced to the member it came from
        value: Any = b"member-" + draw(st.binary(max_size=8)).hex().encode()
    elif kind in "lh":
        value = draw(_TARGET)
    else:
        value = None
    return name, kind, value


def tar(layer: list[Member], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """The members as written, names and targets unchecked."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as out:
        for name, kind, value in layer:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if kind == "f":
                info.size = len(value)
                out.addfile(info, io.BytesIO(value))
                continue
            info.type = {
                "d": tarfile.DIRTYPE,
                "l": tarfile.SYMTYPE,
                "h": tarfile.LNKTYPE,
                "c": tarfile.CHRTYPE,
                "b": tarfile.BLKTYPE,
                "p": tarfile.FIFOTYPE,
            }[kind]
            if kind in "lh":
                info.linkname = value
            out.addfile(info)
    return buf.getvalue()


def keep_all(path: str) -> str:
    return "data"


def read_layers(blobs: list[bytes]) -> ImageFiles:
    stack = LayerStack(want=keep_all, source="fuzz")  # type: ignore[arg-type]
    for i, blob in enumerate(blobs):
        reader = stack.open_layer(digest=f"sha256:{i:064x}", diff_id=None)
        for start in range(0, len(blob), 700):  # chunks that cut headers apart
            reader.feed(blob[start : start + 700])
        reader.close()
    return stack.files()


def _canonical(path: str) -> bool:
    return (
        path.startswith("/")
        and normalize_path(path) == path
        and path.count("/") <= MAX_PATH_DEPTH + 1
    )


def check_view(files: ImageFiles, layers: list[list[Member]]) -> None:
    carried = {value for layer in layers for _, kind, value in layer if kind == "f"}
    paths = files.paths()
    probes = set(paths) | {"/etc/os-release", "/etc/passwd", "/etc/shadow", "/", "/a/b"}
    for layer in layers:
        for name, kind, value in layer:
            probes.add(normalize_path(name))
            if kind in "lh":
                probes.add(normalize_path(value))
                probes.add(posixpath.join(normalize_path(name), "os-release"))
    for path in paths:
        assert _canonical(path), path
    for probe in probes:
        real = files.realpath(probe)
        assert real is None or _canonical(real), (probe, real)
        data = files.read(probe)
        assert data is None or data in carried, (probe, data)
        files.exists(probe)
        files.is_file(probe)
        files.listdir(probe)
        target = files.link_target(probe)
        assert target is None or isinstance(target, str)


def snapshot(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry below ``root``: its kind and (for files and links) content."""
    found: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path).encode())
            elif path.is_file():
                found[rel] = ("file", path.read_bytes())
            else:
                found[rel] = ("dir" if path.is_dir() else "other", b"")
    return found


@pytest.fixture(scope="module")
def bait(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree a member could aim at (``../../bait/...``): it must keep its bytes."""
    root = tmp_path_factory.mktemp("bait")
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_bytes(b"ID=host\n")
    (root / "secret").write_bytes(b"host secret\n")
    return root


# -- properties ----------------------------------------------------------------------------------


@settings(FUZZ, max_examples=400)
@given(st.lists(st.lists(members(), max_size=8), min_size=1, max_size=3))
def test_hostile_members_never_name_a_path_outside_the_root(
    bait: Path, layers: list[list[Member]]
) -> None:
    before = snapshot(bait)
    cwd = os.getcwd()
    files = attempt(lambda: read_layers([tar(layer) for layer in layers]), LayerError)
    if isinstance(files, Exception):
        note("layer refused")
        assert "whiteout" in str(files), files  # the only refusal these tars can earn
    else:
        note("read")
        check_view(files, layers)
    assert os.getcwd() == cwd
    assert snapshot(bait) == before


def model(layers: list[list[Member]]) -> dict[str, bytes | None]:
    """The OCI changeset rules for layers without links: path -> bytes (None for
    a device or FIFO), directories left out."""
    view: dict[str, tuple[bytes | None, int]] = {}
    for index, layer in enumerate(layers):
        for name, kind, value in layer:
            path = normalize_path(name)
            if path == "/":
                continue
            parent, base = posixpath.split(path)
            below = [p for p, (_, i) in view.items() if i < index]
            if base == ".wh..wh..opq":
                for p in below:
                    if p.startswith(parent.rstrip("/") + "/"):
                        del view[p]
                continue
            if base.startswith(".wh."):
                hidden = posixpath.join(parent, base[4:])
                for p in below:
                    if p == hidden or p.startswith(hidden + "/"):
                        del view[p]
                continue
            if kind == "d":
                view.pop(path, None)
                continue
            for p in below:
                if p.startswith(path + "/"):
                    del view[p]
            view[path] = (value if kind == "f" else None, index)
    return {p: data for p, (data, _) in view.items()}


_PLAIN_NAME = st.lists(
    st.sampled_from(["..", ".", "", "a", "b", "c", ".wh.a", ".wh.b", ".wh..wh..opq"]),
    min_size=1,
    max_size=4,
).map("/".join)


@st.composite
def plain_members(draw: st.DrawFn) -> Member:
    name = draw(_PLAIN_NAME)
    if posixpath.basename(normalize_path(name)) in (".wh.", ".wh..", ".wh..."):
        name = "a"
    kind = draw(st.sampled_from("fffdp"))
    value = b"member-" + draw(st.binary(max_size=4)).hex().encode() if kind == "f" else None
    return name, kind, value


@settings(FUZZ, max_examples=400)
@given(st.lists(st.lists(plain_members(), max_size=8), min_size=1, max_size=3))
def test_without_links_the_view_is_the_changeset_model(layers: list[list[Member]]) -> None:
    files = read_layers([tar(layer) for layer in layers])
    expected = model(layers)
    assert set(files.paths()) == set(expected)
    for path, data in expected.items():
        assert files.read(path) == data, path


@settings(FUZZ, max_examples=300)
@given(
    st.lists(members(), min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    st.booleans(),
    st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]),
)
def test_mutated_tar_bytes_are_read_or_a_layer_error(
    layer: list[Member], flips: list[tuple[int, int]], fix_checksum: bool, fmt: int
) -> None:
    try:
        raw = bytearray(tar(layer, fmt=fmt))
    except ValueError:  # a name USTAR cannot hold
        note("not writable in this format")
        return
    touched: set[int] = set()
    for spot, byte in flips:
        at = spot % len(raw)
        raw[at] = byte
        touched.add(at - at % 512)
    if fix_checksum:  # get past the checksum, into the fields behind it
        for start in touched:
            block = raw[start : start + 512]
            if len(block) == 512 and any(block):
                block[148:156] = b" " * 8
                block[148:156] = b"%06o\0 " % sum(block)
                raw[start : start + 512] = block
    files = attempt(lambda: read_layers([bytes(raw)]), LayerError)
    if isinstance(files, Exception):
        note("layer refused")
        assert str(files).startswith("fuzz: layer sha256:")
    else:
        note("read")
        for path in files.paths():
            assert _canonical(path), path


@settings(FUZZ, max_examples=200)
@given(st.binary(max_size=3000), st.sampled_from([b"", b"\x1f\x8b\x08\x00", b"\x28\xb5\x2f\xfd"]))
def test_arbitrary_bytes_are_a_layer_error_or_an_empty_view(blob: bytes, magic: bytes) -> None:
    try:
        files = read_layers([magic + blob])
    except LayerError:
        note("layer refused")
    else:
        note("read")
        for path in files.paths():
            assert _canonical(path), path


# -- through the real registry and the blob cache ----------------------------------------------

ESCAPES: list[Member] = [
    ("etc/os-release", "f", b"ID=debian\nVERSION_ID=12\nVERSION_CODENAME=bookworm\n"),
    ("../../../../bait-out", "f", b"climbed"),
    ("/abs-out", "f", b"absolute"),
    ("etc/up", "l", "../../../../../../"),
    ("etc/up/escaped", "f", b"through a link"),
    ("abs", "l", "/"),
    ("abs/tmp/escaped", "f", b"through an absolute link"),
    ("var/lib/dpkg/status", "l", "/proc/self/status"),
    ("etc/apt/sources.list", "h", "../../../../etc/passwd"),
    ("dev/null-ish", "c", None),
    ("etc/os-release", "f", b"ID=debian\nVERSION_ID=12\nVERSION_CODENAME=bookworm\n"),
]


@pytest.mark.slow
def test_a_hostile_image_from_the_registry_writes_only_blob_files(
    oci_registry: OciRegistry, tmp_path: Path, bait: Path
) -> None:
    from fixtures.oci import OCI_LAYER, LayoutWriter
    from fixtures.registry import push
    from lockpin.image.base import read_base
    from lockpin.net.config import HttpConfig

    layout = tmp_path / "layout"
    w = LayoutWriter(layout)
    raw = tar(ESCAPES)
    layer = w.blob(raw, OCI_LAYER)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
    }
    c = w.blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest_type = "application/vnd.oci.image.manifest.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": manifest_type, "config": c, "layers": [layer]}
    w.tag("t", w.blob(json.dumps(manifest).encode(), manifest_type))
    w.save()
    push(layout, "t", oci_registry.open.host, "fuzz/escapes:1")

    work = tmp_path / "work"
    cache = work / "cache"
    work.mkdir()
    before_bait = snapshot(bait)
    before_work = snapshot(work)
    cwd = os.getcwd()
    os.chdir(work)
    try:
        base = read_base(
            oci_registry.ref("fuzz/escapes:1"),
            platform="linux/amd64",
            http=HttpConfig(cache_dir=cache),
        )
    finally:
        os.chdir(cwd)
    assert base.os_release is not None
    assert base.os_release.codename == "bookworm"
    assert snapshot(bait) == before_bait
    after = snapshot(work)
    new = {rel: kind for rel, (kind, _) in after.items() if rel not in before_work}
    assert all(rel.startswith("cache") for rel in new), new
    assert "other" not in new.values(), new
    assert "link" not in new.values(), new
    blobs = [rel for rel, kind in new.items() if kind == "file" and "oci-blobs" in rel]
    assert blobs, new
    for rel in blobs:  # each blob file is named by the sha256 of its bytes
        assert hashlib.sha256(after[rel][1]).hexdigest() == Path(rel).name, rel
    for _, (_, data) in after.items():
        assert data not in (b"climbed", b"absolute", b"through a link")


# -- bounded time ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_link_chains_before_every_member_are_stopped() -> None:
    """A link added before every member clears the resolution memo, and each member
    below a chain of 39 links with 4 KB targets walks 64k path components: a 1 GB
    layer of that took hours. The walk has a budget (20M components per image; a
    real image of 150k files walks ~1M), and the layer is refused past it."""
    pad = "x/../" * 800
    layer: list[Member] = [("x", "d", None)]
    layer += [(f"l{i}", "l", pad + f"l{i + 1}") for i in range(39)]
    layer.append(("l39", "d", None))
    for j in range(3000):
        layer.append((f"n{j}", "l", "a"))
        layer.append((f"l0/f{j}", "f", b""))
    with pytest.raises(LayerError, match="symbolic links took over 20000000 steps"):
        read_layers([tar(layer)])
