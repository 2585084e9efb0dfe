"""lockpin.python.pages and lockpin.python.models.parse_filename: pure tables, no I/O."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from lockpin.errors import IndexResponseError, LockpinError
from lockpin.python.models import DistFile, parse_filename
from lockpin.python.pages import LazyFiles, parse_html_page, parse_json_page, parse_page

if TYPE_CHECKING:
    from collections.abc import Sequence

PAGE = "https://idx.example/simple/demo/"
H1 = "a" * 64
H2 = "b" * 64


def json_page(*files: dict[str, Any], api: str = "1.1") -> bytes:
    return json.dumps({"meta": {"api-version": api}, "name": "demo", "files": list(files)}).encode()


def html_page(*anchors: str, head: str = "") -> bytes:
    body = "\n".join(anchors)
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


def only(page_files: Sequence[DistFile]) -> DistFile:
    assert len(page_files) == 1
    return page_files[0]


# -- PEP 691 JSON --------------------------------------------------------------------------------

JSON_FILE_CASES = [
    pytest.param(
        {
            "filename": "demo-1.0-py3-none-any.whl",
            "url": "https://files.example/demo-1.0-py3-none-any.whl",
            "hashes": {"sha256": H1},
        },
        {
            "url": "https://files.example/demo-1.0-py3-none-any.whl",
            "hashes": {"sha256": H1},
            "requires_python": None,
            "yanked": False,
            "yanked_reason": None,
            "size": None,
            "upload_time": None,
            "core_metadata": None,
        },
        id="minimal",
    ),
    pytest.param(
        {
            "filename": "demo-1.0.tar.gz",
            "url": "../../files/demo-1.0.tar.gz",
            "hashes": {},
        },
        {"url": "https://idx.example/files/demo-1.0.tar.gz", "hashes": {}},
        id="relative-url-resolved-against-page",
    ),
    pytest.param(
        {
            "filename": "demo-1.0.tar.gz",
            "url": "/files/demo-1.0.tar.gz",
            "hashes": {"SHA256": H1.upper(), "md5": "C" * 32},
        },
        {
            "url": "https://idx.example/files/demo-1.0.tar.gz",
            "hashes": {"sha256": H1, "md5": "c" * 32},
        },
        id="hash-names-and-digests-lowercased",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "hashes": {}, "yanked": True},
        {"yanked": True, "yanked_reason": None},
        id="yanked-true",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "hashes": {}, "yanked": "broken build"},
        {"yanked": True, "yanked_reason": "broken build"},
        id="yanked-with-reason",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "hashes": {}, "yanked": False},
        {"yanked": False, "yanked_reason": None},
        id="yanked-false",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "requires-python": ">=3.8, <4"},
        {"requires_python": ">=3.8, <4", "hashes": {}},
        id="requires-python-and-missing-hashes-key",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "hashes": {}, "requires-python": "  "},
        {"requires_python": None},
        id="blank-requires-python-is-none",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "hashes": {}, "requires-python": None},
        {"requires_python": None},
        id="null-requires-python",
    ),
    pytest.param(
        {
            "filename": "demo-1.0.tar.gz",
            "url": "x",
            "hashes": {},
            "size": 1234,
            "upload-time": "2024-06-01T12:30:00.000000Z",
        },
        {
            "size": 1234,
            "upload_time": dt.datetime(2024, 6, 1, 12, 30, tzinfo=dt.timezone.utc),
        },
        id="pep700-size-and-upload-time",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "size": "12", "upload-time": "yesterday"},
        {"size": None, "upload_time": None},
        id="malformed-pep700-fields-ignored",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "upload-time": "2024-06-01T12:30:00"},
        {"upload_time": dt.datetime(2024, 6, 1, 12, 30, tzinfo=dt.timezone.utc)},
        id="naive-upload-time-is-utc",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "core-metadata": {"SHA256": H2.upper()}},
        {"core_metadata": {"sha256": H2}},
        id="core-metadata-hash",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "core-metadata": True},
        {"core_metadata": True},
        id="core-metadata-true",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "core-metadata": False},
        {"core_metadata": False},
        id="core-metadata-false",
    ),
    pytest.param(
        {"filename": "demo-1.0.tar.gz", "url": "x", "dist-info-metadata": {"sha256": H2}},
        {"core_metadata": {"sha256": H2}},
        id="legacy-dist-info-metadata-key",
    ),
    pytest.param(
        {
            "filename": "demo-1.0.tar.gz",
            "url": "x",
            "core-metadata": {"sha256": H1},
            "dist-info-metadata": {"sha256": H2},
        },
        {"core_metadata": {"sha256": H1}},
        id="core-metadata-wins-over-legacy-key",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), JSON_FILE_CASES)
def test_json_file_fields(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    page = parse_json_page(json_page(raw), url=PAGE, name="Demo")
    f = only(page.files)
    assert f.filename == raw["filename"]
    for attribute, value in expected.items():
        assert getattr(f, attribute) == value, attribute


FIELDS = ("filename", "url", "hashes", "requires_python", "yanked", "yanked_reason", "size",
          "upload_time", "core_metadata")  # fmt: skip


@pytest.mark.parametrize(("raw", "expected"), JSON_FILE_CASES)
def test_checked_entries_read_as_the_cache_reads_them(
    raw: dict[str, Any], expected: dict[str, Any]
) -> None:
    # A fresh page's files skip the second check; the cache's copy of the same page
    # (checked again when read) must give the very same values.
    from lockpin.python.packed import PackedFiles, pack_page

    fresh = parse_json_page(json_page(raw), url=PAGE, name="Demo").files
    assert isinstance(fresh, LazyFiles)
    packed = pack_page(fresh)
    for checked in (False, True):
        again = [f for _v, fs in PackedFiles(packed, PAGE, checked=checked).releases() for f in fs]
        f, g = only(fresh), only(again)
        assert [getattr(f, k) for k in FIELDS] == [getattr(g, k) for k in FIELDS]
    for attribute, value in expected.items():
        assert getattr(only(again), attribute) == value, attribute


def test_json_page_name_is_normalized_and_order_kept() -> None:
    files = [
        {"filename": f"de_mo_thing-{v}.tar.gz", "url": f"/f/de_mo_thing-{v}.tar.gz", "hashes": {}}
        for v in ("2.0", "1.0", "1.5")
    ]
    page = parse_json_page(json_page(*files), url=PAGE, name="De_mo.Thing")
    assert page.name == "de-mo-thing"
    assert page.url == PAGE
    assert [f.filename for f in page.files] == [
        "de_mo_thing-2.0.tar.gz",
        "de_mo_thing-1.0.tar.gz",
        "de_mo_thing-1.5.tar.gz",
    ]


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param("not-a-dict", id="string"),
        pytest.param({"url": "x"}, id="no-filename"),
        pytest.param({"filename": "demo-1.0.tar.gz"}, id="no-url"),
        pytest.param({"filename": 3, "url": "x"}, id="filename-not-string"),
    ],
)
def test_json_page_skips_malformed_entries(entry: object) -> None:
    good = {"filename": "demo-1.0.tar.gz", "url": "x", "hashes": {}}
    content = json.dumps({"meta": {"api-version": "1.0"}, "files": [entry, good]}).encode()
    page = parse_json_page(content, url=PAGE, name="demo")
    assert [f.filename for f in page.files] == ["demo-1.0.tar.gz"]


def test_json_page_without_meta_defaults_to_api_1() -> None:
    content = json.dumps({"files": [{"filename": "demo-1.0.tar.gz", "url": "x"}]}).encode()
    assert len(parse_json_page(content, url=PAGE, name="demo").files) == 1


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b'{"meta": {"api-version": "1.1"}, "fi', "not valid JSON", id="truncated"),
        pytest.param(b"\xff\xfe{}", "not valid JSON", id="not-utf8"),
        pytest.param(b"[1, 2]", "no 'files' list", id="array"),
        pytest.param(b'{"meta": {}, "files": {}}', "no 'files' list", id="files-not-list"),
        pytest.param(b'{"meta": {"api-version": "2.0"}, "files": []}', "version 2", id="api-v2"),
    ],
)
def test_invalid_json_pages_raise_index_error(content: bytes, fragment: str) -> None:
    url = "https://user:hunter2@idx.example/simple/demo/"
    with pytest.raises(IndexResponseError) as info:
        parse_json_page(content, url=url, name="demo")
    message = str(info.value)
    assert fragment in message
    assert "idx.example/simple/demo/" in message
    assert "hunter2" not in message
    assert info.value.url == "https://user:****@idx.example/simple/demo/"
    assert isinstance(info.value, LockpinError)


# -- PEP 503 HTML --------------------------------------------------------------------------------

HTML_CASES = [
    pytest.param(
        '<a href="demo-1.0.tar.gz">demo-1.0.tar.gz</a>',
        {
            "filename": "demo-1.0.tar.gz",
            "url": "https://idx.example/simple/demo/demo-1.0.tar.gz",
            "hashes": {},
            "requires_python": None,
            "yanked": False,
            "yanked_reason": None,
            "size": None,
            "upload_time": None,
            "core_metadata": None,
        },
        id="bare-relative-href",
    ),
    pytest.param(
        f'<a href="../../files/demo-1.0.tar.gz#sha256={H1.upper()}">x</a>',
        {
            "url": "https://idx.example/files/demo-1.0.tar.gz",
            "hashes": {"sha256": H1},
        },
        id="hash-fragment-split-off-and-lowercased",
    ),
    pytest.param(
        '<a href="https://cdn.example/demo-1.0.tar.gz#md5=0123456789abcdef0123456789abcdef">x</a>',
        {
            "url": "https://cdn.example/demo-1.0.tar.gz",
            "hashes": {"md5": "0123456789abcdef0123456789abcdef"},
        },
        id="absolute-href-md5-only",
    ),
    pytest.param(
        '<a href="demo-1.0.tar.gz#egg=demo">x</a>',
        {"hashes": {}, "url": "https://idx.example/simple/demo/demo-1.0.tar.gz"},
        id="non-hash-fragment-ignored",
    ),
    pytest.param(
        '<a href="demo-1.0.tar.gz" data-requires-python="&gt;=3.8,&lt;4.0">x</a>',
        {"requires_python": ">=3.8,<4.0"},
        id="requires-python-entities-unescaped",
    ),
    pytest.param(
        '<a href="demo-1.0.tar.gz" data-requires-python="&#62;=3.9">x</a>',
        {"requires_python": ">=3.9"},
        id="requires-python-numeric-entity",
    ),
    pytest.param(
        '<a href="demo-1.0.tar.gz" data-requires-python="">x</a>',
        {"requires_python": None},
        id="empty-requires-python",
    ),
    pytest.param(
        '<a href="demo-1.0.tar.gz" data-yanked>x</a>',
        {"yanked": True, "yanked_reason": None},
        id="yanked-no-value",
    ),
    pytest.param(
        '<a href="demo-1.0.tar.gz" data-yanked="">x</a>',
        {"yanked": True, "yanked_reason": None},
        id="yanked-empty-value",
    ),
    pytest.param(
        '<a href="demo-1.0.tar.gz" data-yanked="broken &amp; bad">x</a>',
        {"yanked": True, "yanked_reason": "broken & bad"},
        id="yanked-reason-unescaped",
    ),
    pytest.param(
        f'<a href="demo-1.0-py3-none-any.whl" data-core-metadata="sha256={H2}">x</a>',
        {"core_metadata": {"sha256": H2}},
        id="core-metadata-hash",
    ),
    pytest.param(
        '<a href="demo-1.0-py3-none-any.whl" data-core-metadata="true">x</a>',
        {"core_metadata": True},
        id="core-metadata-true",
    ),
    pytest.param(
        '<a href="demo-1.0-py3-none-any.whl" data-core-metadata>x</a>',
        {"core_metadata": True},
        id="core-metadata-bare-attribute",
    ),
    pytest.param(
        f'<a href="demo-1.0-py3-none-any.whl" data-dist-info-metadata="sha256={H2}">x</a>',
        {"core_metadata": {"sha256": H2}},
        id="legacy-dist-info-metadata",
    ),
    pytest.param(
        '<a href="demo-1.0%2Blocal.tar.gz">x</a>',
        {
            "filename": "demo-1.0+local.tar.gz",
            "url": "https://idx.example/simple/demo/demo-1.0%2Blocal.tar.gz",
        },
        id="filename-percent-decoded",
    ),
    pytest.param(
        "<a HREF='demo-1.0.tar.gz' DATA-YANKED='old'>x</a>",
        {"filename": "demo-1.0.tar.gz", "yanked": True, "yanked_reason": "old"},
        id="attribute-names-case-insensitive",
    ),
]


@pytest.mark.parametrize(("anchor", "expected"), HTML_CASES)
def test_html_anchor_fields(anchor: str, expected: dict[str, Any]) -> None:
    page = parse_html_page(html_page(anchor), url=PAGE, name="demo")
    f = only(page.files)
    for attribute, value in expected.items():
        assert getattr(f, attribute) == value, attribute


def test_html_anchors_without_href_are_skipped_and_order_kept() -> None:
    content = html_page(
        '<a name="top">top</a>',
        '<a href="demo-2.0.tar.gz">2</a>',
        '<a href="">empty</a>',
        '<a href="demo-1.0.tar.gz">1</a>',
    )
    page = parse_html_page(content, url=PAGE, name="Demo")
    assert page.name == "demo"
    assert [f.filename for f in page.files] == ["demo-2.0.tar.gz", "demo-1.0.tar.gz"]


@pytest.mark.parametrize(
    ("base", "href", "url"),
    [
        pytest.param(
            "https://mirror.example/pkgs/",
            "demo-1.0.tar.gz",
            "https://mirror.example/pkgs/demo-1.0.tar.gz",
            id="absolute-base",
        ),
        pytest.param(
            "/other/place/",
            "demo-1.0.tar.gz",
            "https://idx.example/other/place/demo-1.0.tar.gz",
            id="root-relative-base",
        ),
        pytest.param(
            "../",
            "files/demo-1.0.tar.gz",
            "https://idx.example/simple/files/demo-1.0.tar.gz",
            id="relative-base",
        ),
        pytest.param(
            "https://mirror.example/pkgs/",
            "https://cdn.example/demo-1.0.tar.gz",
            "https://cdn.example/demo-1.0.tar.gz",
            id="absolute-href-ignores-base",
        ),
    ],
)
def test_html_base_href(base: str, href: str, url: str) -> None:
    content = html_page(f'<a href="{href}">x</a>', head=f'<base href="{base}">')
    assert only(parse_html_page(content, url=PAGE, name="demo").files).url == url


def test_html_only_the_first_base_counts() -> None:
    content = html_page(
        '<a href="demo-1.0.tar.gz">x</a>',
        head='<base href="https://one.example/"><base href="https://two.example/">',
    )
    assert only(parse_html_page(content, url=PAGE, name="demo").files).url == (
        "https://one.example/demo-1.0.tar.gz"
    )


def test_empty_html_page_has_no_files() -> None:
    assert len(parse_html_page(b"", url=PAGE, name="demo").files) == 0
    assert len(parse_html_page(html_page(), url=PAGE, name="demo").files) == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"<a href='demo-1.0.tar.gz'>\xff\xfe<<", "not UTF-8", id="not-utf8"),
        pytest.param(b"Service Unavailable", "not HTML", id="plain-text"),
        pytest.param(b"{not json either", "not HTML", id="garbage"),
    ],
)
def test_invalid_html_pages_raise_index_error(content: bytes, fragment: str) -> None:
    url = "https://tok3n@idx.example/simple/demo/"
    with pytest.raises(IndexResponseError) as info:
        parse_html_page(content, url=url, name="demo")
    message = str(info.value)
    assert fragment in message
    assert "tok3n" not in message
    assert "idx.example/simple/demo/" in message


# -- dispatch ------------------------------------------------------------------------------------

ONE_FILE_JSON = json_page({"filename": "demo-1.0.tar.gz", "url": "j.tar.gz", "hashes": {}})
ONE_FILE_HTML = html_page('<a href="h/demo-1.0.tar.gz">demo-1.0.tar.gz</a>')


@pytest.mark.parametrize(
    ("content", "content_type", "url_tail"),
    [
        pytest.param(ONE_FILE_JSON, "application/vnd.pypi.simple.v1+json", "j.tar.gz", id="json"),
        pytest.param(ONE_FILE_JSON, "Application/JSON; charset=utf-8", "j.tar.gz", id="json-ci"),
        pytest.param(ONE_FILE_HTML, "text/html; charset=utf-8", "h/demo-1.0.tar.gz", id="html"),
        pytest.param(
            ONE_FILE_HTML, "application/vnd.pypi.simple.v1+html", "h/demo-1.0.tar.gz", id="v1html"
        ),
        pytest.param(b"  \n" + ONE_FILE_JSON, "", "j.tar.gz", id="sniffed-json"),
        pytest.param(ONE_FILE_HTML, "", "h/demo-1.0.tar.gz", id="sniffed-html"),
    ],
)
def test_parse_page_dispatches_on_content_type(
    content: bytes, content_type: str, url_tail: str
) -> None:
    page = parse_page(content, url=PAGE, content_type=content_type, name="demo")
    assert only(page.files).url == PAGE + url_tail


def test_json_body_served_as_html_is_not_silently_accepted() -> None:
    with pytest.raises(IndexResponseError):
        parse_page(ONE_FILE_JSON, url=PAGE, content_type="text/html", name="demo")


# -- parse_filename ------------------------------------------------------------------------------

FILENAME_CASES = [
    pytest.param("demo-1.0-py3-none-any.whl", ("demo", "1.0", "wheel"), id="wheel"),
    pytest.param(
        "foo_bar_baz-0.1-py3-none-any.whl", ("foo-bar-baz", "0.1", "wheel"), id="wheel-normalized"
    ),
    pytest.param(
        "platwheel-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        ("platwheel", "1.0", "wheel"),
        id="platform-wheel",
    ),
    pytest.param("demo-1.0-1-py3-none-any.whl", ("demo", "1.0", "wheel"), id="wheel-build-tag"),
    pytest.param("demo-2.0b1-py3-none-any.whl", ("demo", "2.0b1", "wheel"), id="wheel-pre"),
    pytest.param("demo-1.0.tar.gz", ("demo", "1.0", "sdist"), id="sdist"),
    pytest.param("demo-1.0.zip", ("demo", "1.0", "sdist"), id="sdist-zip"),
    pytest.param("foo_bar_baz-0.1.tar.gz", ("foo-bar-baz", "0.1", "sdist"), id="sdist-normalized"),
    pytest.param("Foo.Bar-1.0.tar.gz", ("foo-bar", "1.0", "sdist"), id="legacy-sdist-dots"),
    pytest.param("Foo-Bar-2.1.tar.gz", ("foo-bar", "2.1", "sdist"), id="legacy-sdist-dash"),
    pytest.param("demo-1.0.tar.bz2", ("demo", "1.0", "sdist"), id="legacy-bz2"),
    pytest.param("demo-1.0.tgz", ("demo", "1.0", "sdist"), id="legacy-tgz"),
    pytest.param("demo-1.0.win32.exe", None, id="exe"),
    pytest.param("demo-1.0-py2.7.egg", None, id="egg"),
    pytest.param("demo-1.0.rpm", None, id="rpm"),
    pytest.param("demo.tar.gz", None, id="sdist-without-version"),
    pytest.param("demo-notaversion!.tar.gz", None, id="sdist-bad-version"),
    pytest.param("demo-1.0-py3-none.whl", None, id="wheel-too-few-parts"),
    pytest.param("README", None, id="not-a-dist"),
]


@pytest.mark.parametrize(("filename", "expected"), FILENAME_CASES)
def test_parse_filename(filename: str, expected: tuple[str, str, str] | None) -> None:
    parsed = parse_filename(filename)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        name, version, kind = parsed
        assert (name, version, kind) == (expected[0], Version(expected[1]), expected[2])


@given(
    name=st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}(?:[._-][A-Za-z0-9]{1,8}){0,2}", fullmatch=True),
    release=st.lists(st.integers(0, 999), min_size=1, max_size=4),
)
def test_parse_filename_round_trips_generated_wheels_and_sdists(
    name: str, release: list[int]
) -> None:
    import re

    from packaging.utils import canonicalize_name

    version = ".".join(map(str, release))
    dist = re.sub(r"[-_.]+", "_", name).lower()
    for filename, kind in (
        (f"{dist}-{version}-py3-none-any.whl", "wheel"),
        (f"{dist}-{version}.tar.gz", "sdist"),
    ):
        assert parse_filename(filename) == (canonicalize_name(name), Version(version), kind)


# -- what a page may put into a lock: digests, filenames, URLs -----------------------------------

H1_LINE = f"{H1}\nevil==6.6.6 --hash=sha256:{H2}\n#"


@pytest.mark.parametrize(
    ("hashes", "expected", "warned"),
    [
        pytest.param({"sha256": H1}, {"sha256": H1}, False, id="valid"),
        pytest.param({"sha256": H1_LINE}, {}, True, id="line-injection"),
        pytest.param({"sha256": H1 + "\n"}, {}, True, id="trailing-newline"),
        pytest.param({"sha256": "abc"}, {}, True, id="short"),
        pytest.param({"sha256": "z" * 64}, {}, True, id="not-hex"),
        pytest.param({"sha256": 5}, {}, True, id="not-a-string"),
        pytest.param({"sha256": "ab --extra-index-url=https://x"}, {}, True, id="option"),
        pytest.param(
            {"sha256": H1, "md5": "c" * 32, "blake2b": "d" * 128, "sha3_256": H2},
            {"sha256": H1, "md5": "c" * 32, "blake2b": "d" * 128, "sha3_256": H2},
            False,
            id="several-algorithms",
        ),
        pytest.param({"sha256": H1, "md5": "c" * 31}, {"sha256": H1}, True, id="one-bad"),
        pytest.param({"sha256": H1, "SHA256": H2}, {}, True, id="conflicting-spellings"),
        pytest.param({"sha256": H1, "SHA256": H1.upper()}, {"sha256": H1}, False, id="same"),
        pytest.param({"whirlpool": "x", "sha256": H1}, {"sha256": H1}, False, id="unknown-algo"),
        pytest.param([H1], {}, True, id="hashes-not-an-object"),
    ],
)
def test_json_digests_are_validated(
    hashes: object, expected: dict[str, str], warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    raw = {"filename": "demo-1.0.tar.gz", "url": "x", "hashes": hashes}
    with caplog.at_level("WARNING", logger="lockpin.python.pages"):
        f = only(parse_json_page(json_page(raw), url=PAGE, name="demo").files)
    assert f.hashes == expected
    assert len(caplog.records) == (1 if warned else 0)
    if warned:
        assert PAGE in caplog.records[0].getMessage()
        assert "demo-1.0.tar.gz" in caplog.records[0].getMessage()


def test_one_warning_per_page_however_many_bad_digests(caplog: pytest.LogCaptureFixture) -> None:
    files = [
        {"filename": f"demo-1.{i}.tar.gz", "url": "x", "hashes": {"sha256": "abc"}}
        for i in range(10)
    ]
    with caplog.at_level("WARNING", logger="lockpin.python.pages"):
        page = parse_json_page(json_page(*files), url=PAGE, name="demo")
    assert [f.sha256 for f in page.files] == [None] * 10
    (record,) = caplog.records
    assert "and 7 more" in record.getMessage()


@pytest.mark.parametrize(
    ("core_metadata", "expected"),
    [
        pytest.param({"sha256": H2}, {"sha256": H2}, id="valid"),
        pytest.param({"sha256": H1_LINE}, True, id="invalid-digest-dropped"),
        pytest.param({"whirlpool": "x"}, True, id="unknown-algorithm"),
        pytest.param("yes", None, id="string-ignored"),
        pytest.param(5, None, id="int-ignored"),
    ],
)
def test_json_core_metadata_digests_are_validated(core_metadata: object, expected: object) -> None:
    raw = {"filename": "demo-1.0-py3-none-any.whl", "url": "x", "core-metadata": core_metadata}
    f = only(parse_json_page(json_page(raw), url=PAGE, name="demo").files)
    assert f.core_metadata == expected


@pytest.mark.parametrize(
    ("anchor", "hashes", "core_metadata"),
    [
        pytest.param(f'<a href="demo-1.0.tar.gz#sha256={H1}">x</a>', {"sha256": H1}, None, id="ok"),
        pytest.param(
            f'<a href="demo-1.0.tar.gz#egg=demo&amp;sha256={H1}">x</a>',
            {"sha256": H1},
            None,
            id="after-egg",
        ),
        pytest.param('<a href="demo-1.0.tar.gz#sha256=abc">x</a>', {}, None, id="short"),
        pytest.param(
            f'<a href="demo-1.0.tar.gz#sha256={H1}&amp;sha256={H2}">x</a>',
            {},
            None,
            id="two-values",
        ),
        pytest.param(
            f'<a href="demo-1.0.tar.gz#sha256={H1}&#10;evil==6.6.6">x</a>', {}, None, id="newline"
        ),
        pytest.param(
            f'<a href="demo-1.0.tar.gz#sha256={H1}%0Aevil">x</a>', {}, None, id="encoded-newline"
        ),
        pytest.param(
            f'<a href="demo-1.0-py3-none-any.whl" data-core-metadata="sha256={"z" * 64}">x</a>',
            {},
            True,
            id="metadata-digest",
        ),
        pytest.param(
            '<a href="demo-1.0-py3-none-any.whl" data-core-metadata="whirlpool=x">x</a>',
            {},
            True,
            id="metadata-unknown-algorithm",
        ),
    ],
)
def test_html_digests_are_validated(
    anchor: str, hashes: dict[str, str], core_metadata: object
) -> None:
    f = only(parse_html_page(html_page(anchor), url=PAGE, name="demo").files)
    assert f.hashes == hashes
    assert f.core_metadata == core_metadata


@pytest.mark.parametrize(
    "filename",
    [
        pytest.param("../demo-1.0.tar.gz", id="path"),
        pytest.param("demo-1.0.tar.gz\n", id="newline"),
        pytest.param("demo 1.0.tar.gz", id="space"),
        pytest.param("dir\\demo-1.0.tar.gz", id="backslash"),
        pytest.param("other-1.0.tar.gz", id="other-project"),
        pytest.param("demo-1.0.exe", id="not-a-distribution"),
        pytest.param("demo-notaversion!.tar.gz", id="bad-version"),
    ],
)
def test_json_files_with_unusable_names_are_skipped(filename: str) -> None:
    raw = {"filename": filename, "url": "https://files.example/f", "hashes": {"sha256": H1}}
    assert len(parse_json_page(json_page(raw), url=PAGE, name="demo").files) == 0


LOCAL_PAGE = "file:///srv/index/simple/demo/"


@pytest.mark.parametrize(
    ("page", "href", "url"),
    [
        pytest.param(PAGE, "file:///etc/demo-1.0.tar.gz", None, id="remote-to-file"),
        pytest.param(PAGE, "File:/etc/demo-1.0.tar.gz", None, id="remote-to-file-mixed-case"),
        pytest.param(PAGE, "ftp://ftp.example/demo-1.0.tar.gz", None, id="remote-to-ftp"),
        pytest.param(PAGE, "javascript:demo-1.0.tar.gz", None, id="javascript"),
        pytest.param(PAGE, "https://files.example/\ndemo-1.0.tar.gz", None, id="newline"),
        pytest.param(PAGE, "https://files.example/ demo-1.0.tar.gz", None, id="space"),
        pytest.param(PAGE, "https://[::1/demo-1.0.tar.gz", None, id="unparsable"),
        pytest.param(
            PAGE,
            "//cdn.example/demo-1.0.tar.gz",
            "https://cdn.example/demo-1.0.tar.gz",
            id="scheme-relative",
        ),
        pytest.param(
            LOCAL_PAGE,
            "file:///srv/files/demo-1.0.tar.gz",
            "file:///srv/files/demo-1.0.tar.gz",
            id="local-to-file",
        ),
        pytest.param(
            LOCAL_PAGE,
            "../../files/demo-1.0.tar.gz",
            "file:///srv/index/files/demo-1.0.tar.gz",
            id="local-relative",
        ),
        pytest.param(
            LOCAL_PAGE,
            "https://files.example/demo-1.0.tar.gz",
            "https://files.example/demo-1.0.tar.gz",
            id="local-to-https",
        ),
    ],
)
def test_file_urls_only_from_local_pages(page: str, href: str, url: str | None) -> None:
    raw = {"filename": "demo-1.0.tar.gz", "url": href, "hashes": {}}
    json_files = parse_json_page(json_page(raw), url=page, name="demo").files
    html_files = parse_html_page(html_page(f'<a href="{href}">x</a>'), url=page, name="demo").files
    for files in (json_files, html_files):
        if url is None:
            assert len(files) == 0
        else:
            assert only(files).url == url


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b'{"meta": [], "files": []}', "'meta' is not an object", id="meta-list"),
        pytest.param(b'{"meta": "x", "files": []}', "'meta' is not an object", id="meta-str"),
        pytest.param(b'{"meta": {"api-version": [1]}, "files": []}', "api-version", id="api"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="deep"),
        pytest.param(
            b'{"files": [' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"]}",
            "nested too deeply",
            id="deep2",
        ),
    ],
)
def test_malformed_json_structure_is_an_index_error(content: bytes, fragment: str) -> None:
    with pytest.raises(IndexResponseError, match=fragment) as info:
        parse_json_page(content, url=PAGE, name="demo")
    assert PAGE in str(info.value)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"<html><![foo[ x ]]></html>", id="marked-section"),
        pytest.param(b'<html><head><base href="http://[::1"></head></html>', id="base-unparsable"),
        pytest.param(b'<html><head><base href="javascript:x"></head></html>', id="base-scheme"),
    ],
)
def test_malformed_html_is_an_index_error(content: bytes) -> None:
    with pytest.raises(IndexResponseError) as info:
        parse_html_page(content, url=PAGE, name="demo")
    assert PAGE in str(info.value)


def test_yank_reason_and_requires_python_are_plain_text() -> None:
    raw = {
        "filename": "demo-1.0.tar.gz",
        "url": "x",
        "yanked": "bad\x1b[2J\u202ereason\n" + "x" * 1000,
        "requires-python": ">=3.8\n",
    }
    f = only(parse_json_page(json_page(raw), url=PAGE, name="demo").files)
    assert f.yanked
    assert f.yanked_reason is not None
    assert f.yanked_reason.startswith("bad [2J reason")
    assert f.yanked_reason.isprintable()
    assert len(f.yanked_reason) <= 501
    assert f.requires_python == ">=3.8"
