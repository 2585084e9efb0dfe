"""lockpin.image.blobs: blobs on disk by digest, written only once checked, checked
again on every read."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from lockpin.image.blobs import BlobStore

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

DATA = b"layer bytes " * 10_000
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_committed_blob_is_read_back_in_chunks(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    assert store.open(DIGEST) is None
    writer = store.writer(DIGEST)
    for i in range(0, len(DATA), 1000):
        writer.write(DATA[i : i + 1000])
    assert store.open(DIGEST) is None  # nothing visible before the commit
    writer.commit()
    assert _files(tmp_path) == [store.path(DIGEST)]
    fh = store.open(DIGEST, len(DATA))
    assert fh is not None
    chunks = list(store.chunks(fh))
    assert b"".join(chunks) == DATA
    assert fh.closed


def test_aborted_blob_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    writer = store.writer(DIGEST)
    writer.write(DATA[:100])
    writer.abort()
    writer.commit()  # too late: nothing to commit
    assert _files(tmp_path) == []
    assert store.open(DIGEST) is None


def test_a_tampered_file_is_deleted_and_missed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = BlobStore(tmp_path)
    writer = store.writer(DIGEST)
    writer.write(DATA)
    writer.commit()
    store.path(DIGEST).write_bytes(DATA[:-1] + b"!")
    with caplog.at_level(logging.WARNING):
        assert store.open(DIGEST, len(DATA)) is None
    assert "deleting it" in caplog.text
    assert not store.path(DIGEST).exists()


def test_another_size_is_a_miss_but_the_file_stays(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    writer = store.writer(DIGEST)
    writer.write(DATA)
    writer.commit()
    assert store.open(DIGEST, len(DATA) + 1) is None
    assert store.path(DIGEST).exists()  # the descriptor may be the wrong one
    fh = store.open(DIGEST)
    assert fh is not None
    fh.close()


def test_an_unwritable_cache_never_fails(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "v1").write_text("a file where the directory would go")
    store = BlobStore(tmp_path)
    with caplog.at_level(logging.WARNING):
        writer = store.writer(DIGEST)
        writer.write(DATA)
        writer.commit()
    assert "cannot write the blob cache" in caplog.text
    assert store.open(DIGEST) is None
