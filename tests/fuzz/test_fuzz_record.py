"""The release log (``releases.jsonl``, :mod:`lockpin.image.record`) fuzzed with
hypothesis.

Properties: any :class:`Record` (text fields of any unicode, also line and
paragraph separators, quotes, newlines) written with :func:`append_record` reads
back equal with :func:`read_log`, one canonical line each; a log holding any
line (arbitrary JSON, an edited good record, arbitrary bytes) either reads, or
raises :class:`InputError` naming ``FILE:LINE`` of the first bad line, never
another exception; reading never changes the file, and a refused append leaves
every byte of the good records before the bad line in place.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz_strategies import FUZZ, attempt, json_values, mutated, note
from lockpin.errors import InputError, LockpinError
from lockpin.image.record import LockFile, Record, Unpinned, append_record, read_log

if TYPE_CHECKING:
    from pathlib import Path

_TEXT = st.text(
    st.characters(codec="utf-8") | st.sampled_from(["\n", "\r", "\u2028", '"', "\\", "\x00"]),
    max_size=12,
)
_DIGEST = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h)


@st.composite
def records(draw: st.DrawFn, version: str | None = None) -> Record:
    return Record(
        version=version if version is not None else draw(_TEXT.filter(bool)),
        time=draw(_TEXT),
        image_names=tuple(draw(st.lists(_TEXT, max_size=3))),
        digest=draw(_DIGEST),
        platforms=tuple(draw(st.lists(_TEXT, max_size=3))),
        bases=tuple(draw(st.lists(_TEXT, max_size=3))),
        dockerfile=draw(_TEXT),
        dockerfile_sha256=draw(_DIGEST),
        locks=tuple(
            LockFile(
                path=draw(_TEXT),
                kind=draw(st.sampled_from(["requirements", "apt", ""])),
                sha256=draw(_DIGEST),
                pins=draw(st.dictionaries(_TEXT, _TEXT, max_size=3)),
            )
            for _ in range(draw(st.integers(0, 2)))
        ),
        lockpin_version=draw(_TEXT),
        allow_unpinned=draw(st.booleans()),
        unpinned=tuple(
            Unpinned(rule=draw(_TEXT), line=draw(st.integers(0, 10**6)), message=draw(_TEXT))
            for _ in range(draw(st.integers(0, 2)))
        ),
    )


def _log(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "releases.jsonl"
    path.unlink(missing_ok=True)
    return path


@settings(FUZZ, max_examples=200)
@given(st.lists(records(), min_size=1, max_size=4, unique_by=lambda r: r.version))
def test_any_record_round_trips_through_the_log(tmp_path_factory: Any, recs: list[Record]) -> None:
    path = _log(tmp_path_factory.mktemp("log"))
    for rec in recs:
        append_record(path, rec)
    data = path.read_bytes()
    assert data.count(b"\n") == len(recs)  # one line each: newlines in values are escaped
    assert read_log(path) == tuple(recs)
    assert [json.loads(line) for line in data.splitlines()] == [r.to_dict() for r in recs]


@settings(FUZZ, max_examples=100)
@given(records(), st.sampled_from(["version", "dockerfile", "time", "image_names"]))
def test_text_that_is_not_utf8_is_refused_and_the_log_kept(
    tmp_path_factory: Any, rec: Record, field: str
) -> None:
    """A file name with undecodable bytes reaches Python as lone surrogates
    (``\\udcff``): the UTF-8 log refuses the record, naming it, and keeps its bytes."""
    path = _log(tmp_path_factory.mktemp("log"))
    append_record(path, GOOD[0])
    before = path.read_bytes()
    value: Any = ("a\udcffb",) if field == "image_names" else "a\udcffb/Dockerfile"
    bad = dataclasses.replace(rec, **{field: value})
    with pytest.raises(InputError, match="not UTF-8") as caught:
        append_record(path, bad)
    assert caught.value.location == str(path)
    assert path.read_bytes() == before


GOOD = [
    Record(
        version=v,
        time="2026-01-01T00:00:00Z",
        image_names=("registry.test/app:" + v,),
        digest="sha256:" + "ab" * 32,
        platforms=("linux/amd64",),
        bases=("python:3.12@sha256:" + "cd" * 32,),
        dockerfile="Dockerfile",
        dockerfile_sha256="sha256:" + "ef" * 32,
        locks=(LockFile("requirements.txt", "requirements", "sha256:" + "01" * 32, {"a": "1"}),),
        lockpin_version="1.0",
        unpinned=(Unpinned("DL3006", 3, "m"),),
    )
    for v in ("1.0.0", "1.1.0", "2.0.0")
]
GOOD_LINES = [r.to_line() for r in GOOD]


@st.composite
def edited_lines(draw: st.DrawFn) -> bytes:
    """A good record with one value replaced (by any JSON) or removed, at any depth."""
    obj: Any = copy.deepcopy(GOOD[0].to_dict())
    node = obj
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if isinstance(node[key], (dict, list)) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        if isinstance(node, dict) and draw(st.booleans()):
            del node[key]
        else:
            node[key] = draw(json_values(max_leaves=6))
        break
    return json.dumps(obj, ensure_ascii=draw(st.booleans())).encode()


BAD_LINES = st.one_of(
    json_values().map(lambda v: json.dumps(v).encode()),
    edited_lines(),
    mutated(tuple(line.rstrip("\n") for line in GOOD_LINES), max_mutations=3).map(
        lambda t: t.replace("\n", " ").encode("utf-8", "surrogatepass")
    ),
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b" ")),
    st.sampled_from(
        [
            b"1e999",
            GOOD_LINES[0].rstrip("\n").replace('"line":3', '"line":1e999').encode(),
            GOOD_LINES[0].rstrip("\n").replace('"line":3', '"line":NaN').encode(),
            GOOD_LINES[0].rstrip("\n").replace('"line":3', '"line":"9' + "9" * 5000 + '"').encode(),
        ]
    ),
)


@settings(FUZZ, max_examples=400)
@given(st.integers(0, 3), BAD_LINES, st.booleans())
def test_a_bad_line_is_named_and_the_good_lines_before_it_kept(
    tmp_path_factory: Any, good_before: int, bad: bytes, final_newline: bool
) -> None:
    _check_bad_line(tmp_path_factory.mktemp("log"), good_before, bad, final_newline)


@pytest.mark.parametrize(
    "bad",
    [b"[" * 100_000, b'{"a":' * 100_000, b'{"version": "x", "image": ' + b"[" * 5000],
    ids=["array-bomb", "object-bomb", "nested-value"],
)
def test_a_json_nesting_bomb_is_a_named_bad_line(tmp_path: Path, bad: bytes) -> None:
    _check_bad_line(tmp_path, 2, bad, True)


def _check_bad_line(tmp: Path, good_before: int, bad: bytes, final_newline: bool) -> None:
    path = _log(tmp)
    head = "".join(GOOD_LINES[:good_before]).encode()
    data = head + bad + (b"\n" if final_newline else b"")
    path.write_bytes(data)
    got = attempt(lambda: read_log(path), InputError)  # the documented error
    if isinstance(got, InputError):
        note("line refused")
        assert got.location == f"{path}:{good_before + 1}"
        assert "fix or remove this line" in str(got)
    else:
        assert isinstance(got, tuple)
        note("line read")
        assert got[:good_before] == tuple(GOOD[:good_before])
    assert path.read_bytes() == data  # reading never writes
    try:
        append_record(path, GOOD[2])
    except InputError:
        note("append refused")
        assert path.read_bytes() == data  # nothing lost, nothing added
    except LockpinError:
        note("append refused (duplicate)")
        assert path.read_bytes() == data
    else:
        note("appended")
        assert path.read_bytes().startswith(data)
        assert read_log(path)[-1] == GOOD[2]
