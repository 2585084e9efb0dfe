"""The packed index of a Packages text (lockpin.apt.packed), checked against the
deb822 parser as the oracle."""

from __future__ import annotations

import pytest

from lockpin.apt.deb822 import parse_stanza, stanza_spans
from lockpin.apt.packed import (
    FORMAT_VERSION,
    PackagesIndex,
    PackedError,
    index_packages,
    pack_index,
    sha256_hex,
    stanza_offsets,
    unpack_index,
)

TEXT = b"""\
Package: alpha
Version: 1.0
Provides: virt-a, virt-b (= 2.0),
 folded-provide
Priority: required
Description: first
 .
 more text mentioning Package: nothing

Package: alpha
Version: 2.0
Essential: yes

Package: beta
Version: 1
Provides: virt-a

Version: 3
package:   gamma
PROVIDES: virt-c:any
priority: Required

Package: delta
Priority: optional
Essential: no
"""


def _oracle(text: bytes) -> dict[str, list[tuple[int, int]]]:
    decoded = text.decode("latin-1")  # one character per byte: offsets stay byte offsets
    out: dict[str, list[tuple[int, int]]] = {}
    for start, end in stanza_spans(decoded):
        fields = parse_stanza(decoded[start:end])
        out.setdefault(fields["package"], []).append((start, end))
    return out


def _spans(offsets: tuple[int, ...]) -> list[tuple[int, int]]:
    return list(PackagesIndex.spans(offsets))


def test_index_packages() -> None:
    index = index_packages(TEXT)
    oracle = _oracle(TEXT)
    assert {name: _spans(o) for name, o in index.names.items()} == oracle
    assert set(index.provides) == {"virt-a", "virt-b", "folded-provide", "virt-c"}
    assert [TEXT[s:e].split(b"\n")[0] for s, e in _spans(index.provides["virt-a"])] == [
        b"Package: alpha",
        b"Package: beta",
    ]
    assert _spans(index.provides["folded-provide"]) == oracle["alpha"][:1]
    assert _spans(index.provides["virt-c"]) == oracle["gamma"]
    assert index.required == ("alpha", "gamma")


def test_stanza_offsets_match_deb822() -> None:
    texts = [
        TEXT,
        b"\n\n" + TEXT + b"\n\n\n",
        TEXT.replace(b"\n\nPackage: beta", b"\n \t\n\nPackage: beta"),
        b"Package: x",
        b"",
        b"\n\n",
    ]
    for text in texts:
        assert stanza_offsets(text) == list(stanza_spans(text.decode("latin-1"))), text


def test_whitespace_only_separator() -> None:
    text = b"Package: a\nVersion: 1\n  \nPackage: b\nVersion: 2\n"
    index = index_packages(text)
    assert sorted(index.names) == ["a", "b"]
    assert {n: _spans(o) for n, o in index.names.items()} == _oracle(text)


def test_many_stanzas_against_the_oracle() -> None:
    stanzas = []
    for i in range(300):
        lines = [f"Package: p{i % 97}", f"Version: {i}"]
        if i % 3 == 0:
            lines.append(f"Provides: v{i % 7}, w{i % 5} (= {i})")
        if i % 11 == 0:
            lines.insert(0, "Priority: required")  # Package not first
        if i % 13 == 0:
            lines.append("Description: x\n Package: not-a-field\n .")
        stanzas.append("\n".join(lines) + "\n")
    text = "\n".join(stanzas).encode()
    index = index_packages(text)
    assert {n: _spans(o) for n, o in index.names.items()} == _oracle(text)
    decoded = text.decode()
    for name, offsets in index.provides.items():
        for start, end in _spans(offsets):
            assert name in parse_stanza(decoded[start:end])["provides"]
    expected_required = sorted({f"p{i % 97}" for i in range(0, 300, 11)})
    assert list(index.required) == expected_required


def test_pack_round_trip() -> None:
    index = index_packages(TEXT)
    digest = sha256_hex(TEXT)
    blob = pack_index(index, sha256=digest, size=len(TEXT))
    assert blob[:4] == b"LPAI"
    assert int.from_bytes(blob[4:6], "big") == FORMAT_VERSION
    assert unpack_index(blob, sha256=digest, size=len(TEXT)) == index


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda b: b"XXXX" + b[4:], "version"),
        (lambda b: b[:4] + (FORMAT_VERSION + 1).to_bytes(2, "big") + b[6:], "version"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "corrupt"),
        (lambda b: b[:-10], "corrupt"),
        (lambda b: b[:40], "corrupt"),
        (lambda b: b"", "version"),
    ],
)
def test_unpack_refuses_damage(damage: object, match: str) -> None:
    digest = sha256_hex(TEXT)
    blob = pack_index(index_packages(TEXT), sha256=digest, size=len(TEXT))
    with pytest.raises(PackedError, match=match):
        unpack_index(damage(blob), sha256=digest, size=len(TEXT))  # type: ignore[operator]


def test_unpack_refuses_an_index_of_other_text() -> None:
    digest = sha256_hex(TEXT)
    blob = pack_index(index_packages(TEXT), sha256=digest, size=len(TEXT))
    with pytest.raises(PackedError, match="other text"):
        unpack_index(blob, sha256=sha256_hex(b"other"), size=len(TEXT))
    with pytest.raises(PackedError, match="other text"):
        unpack_index(blob, sha256=digest, size=len(TEXT) + 1)
