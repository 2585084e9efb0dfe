"""Debian relation fields fuzzed with hypothesis.

Properties: on mutations of real ``Depends``/``Build-Depends``/``Provides`` fields
and on arbitrary text, :func:`parse_relations` and :func:`parse_provides` return
values or raise :class:`RelationError` (short message, never another exception);
what parses is stable under ``parse -> format_relations -> parse`` and its
formatted text is a fixed point; every version kept is valid.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_strategies import FUZZ, attempt, mutated, note
from lockpin.apt.relation import (
    RelationError,
    format_relations,
    parse_provides,
    parse_relation,
    parse_relations,
)
from lockpin.apt.version import parse_version

SEEDS = (
    "libc6 (>= 2.36), libgcc-s1 (>= 3.0), zlib1g (>= 1:1.2.0)",
    "python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1) | foo:any",
    "debhelper-compat (= 13), python3-all:native <!nocheck>, libfoo-dev [amd64 !i386] <cross>",
    "awk | mawk (<< 1.3.4), perl:any (>> 5.10) [linux-any],\n gcc-12 (<= 12.2.0-14)",
    "default-mta | mail-transport-agent, , a (< 1), b (> 2:0~rc1-1)",
    "python3-profiler, python3-supported-min (= 3.11), python3-supported-max (= 3.11)",
)

_ALPHABET = st.sampled_from("ab1+.-:|,() <>=![]~\n\t")


def _check(text: str) -> None:
    rels = attempt(lambda: parse_relations(text), RelationError)
    if isinstance(rels, Exception):
        note("refused")
        assert len(str(rels)) < 500
    else:
        note("parsed")
        for group in rels:
            assert group  # empty groups are skipped, never kept
            for rel in group:
                assert (rel.op is None) == (rel.version is None)
                if rel.version is not None:
                    parse_version(rel.version)
                assert parse_relation(str(rel)) == rel
        written = format_relations(rels)
        assert parse_relations(written) == rels
        assert format_relations(parse_relations(written)) == written
    provided = attempt(lambda: parse_provides(text), RelationError)
    if isinstance(provided, Exception):
        assert len(str(provided)) < 500
    else:
        for rel in provided:
            assert rel.op in (None, "=")
            assert parse_provides(str(rel)) == (rel,)


@settings(FUZZ, max_examples=500)
@given(mutated(SEEDS, max_mutations=4))
def test_mutated_fields_parse_stably_or_raise_relation_error(text: str) -> None:
    _check(text)


@settings(FUZZ, max_examples=300)
@given(st.text(_ALPHABET, max_size=60))
def test_relation_punctuation_parses_stably_or_raises_relation_error(text: str) -> None:
    _check(text)


@settings(FUZZ, max_examples=200)
@given(st.text(max_size=60))
def test_any_unicode_parses_stably_or_raises_relation_error(text: str) -> None:
    _check(text)
