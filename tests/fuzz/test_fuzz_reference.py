"""Image references fuzzed with hypothesis.

Properties: on arbitrary text and on mutations of real references,
:func:`parse_reference` returns an :class:`ImageReference` or raises
:class:`InputError` with a short message, never another exception and never
echoing credentials; whatever parses round-trips (``parse(str(ref)) == ref`` and
``parse(ref.familiar) == ref``), its canonical text is a fixed point, and
``with_digest``/``with_tag`` give references that parse back to themselves.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_strategies import FUZZ, attempt, mutated, note
from lockpin.errors import InputError
from lockpin.image.reference import ImageReference, parse_reference

DIGEST = "sha256:" + hashlib.sha256(b"x").hexdigest()
SEEDS = (
    "python",
    "python:3.12-slim",
    f"python:3.12-slim@{DIGEST}",
    f"ghcr.io/astral-sh/uv@{DIGEST}",
    "localhost:5000/team/app:v1.2.3",
    "docker.io/library/debian:bookworm",
    "index.docker.io/user/app",
    "[::1]:5000/a/b__c.d-e:tag_1",
    "registry.example.com/a/b/c/d:latest",
    "Registry.Example.com:443/x",
)
_SECRET = "s3cr3t-Pa55"
_ALPHABET = st.sampled_from("aZ0.-_:/@[]" + "sha256" + "\t ")


def _check(text: str) -> None:
    ref = attempt(lambda: parse_reference(text), InputError)
    if isinstance(ref, Exception):
        note("refused")
        assert len(str(ref)) < 700, len(str(ref))
        if _SECRET in text and "@" in text:
            assert _SECRET not in str(ref)
        return
    note("parsed")
    assert isinstance(ref, ImageReference)
    canonical = str(ref)
    assert parse_reference(canonical) == ref
    assert str(parse_reference(canonical)) == canonical
    assert parse_reference(ref.familiar) == ref
    assert ref.identifier in (ref.tag, ref.digest)
    pinned = ref.with_digest(DIGEST)
    assert parse_reference(str(pinned)) == pinned
    assert parse_reference(str(pinned.with_tag("t"))) == pinned.with_tag("t")


@settings(FUZZ, max_examples=500)
@given(mutated(SEEDS, max_mutations=4))
def test_mutated_references_round_trip_or_raise_input_error(text: str) -> None:
    _check(text)


@settings(FUZZ, max_examples=300)
@given(st.text(_ALPHABET, max_size=40))
def test_reference_punctuation_round_trips_or_raises_input_error(text: str) -> None:
    _check(text)


@settings(FUZZ, max_examples=200)
@given(st.text(max_size=60))
def test_any_unicode_round_trips_or_raises_input_error(text: str) -> None:
    _check(text)


@pytest.mark.parametrize("scheme", ["https://", "", "oci://"])
@pytest.mark.parametrize("seed", SEEDS)
def test_credentials_in_a_reference_are_never_echoed(seed: str, scheme: str) -> None:
    text = f"{scheme}user:{_SECRET}@{seed if '/' in seed else 'r.io/' + seed}"
    with pytest.raises(InputError) as caught:
        parse_reference(text)
    assert _SECRET not in str(caught.value)


def test_a_huge_reference_gives_a_short_error() -> None:
    for text in ("A" * 10**6, "a:" + "b" * 10**6, "a@sha256:" + "0" * 10**6, "x/" * 10**5 + "Y"):
        with pytest.raises(InputError) as caught:
            parse_reference(text)
        assert len(str(caught.value)) < 700
