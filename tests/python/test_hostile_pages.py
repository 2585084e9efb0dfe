"""What a hostile or broken index page may put into a lock (issue 7, items 1, 3 and 8).

End to end through the real local index server and lockpin's CLI or public API:
digests that are not hex of the right length are dropped (lockpin then hashes the
downloaded bytes itself), filenames and URLs are checked, a remote page cannot point
at local files, malformed JSON/HTML is an :class:`IndexResponseError` naming the page, and
the lock renderers refuse any value that could add a line. Hypothesis feeds random
values into every field of both page formats.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import marshal
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

import lockpin
from fixtures.dists import build_wheel
from fixtures.index_server import JSON_TYPE, FixtureResponse
from lockpin.errors import IndexResponseError, LockpinError
from lockpin.net.cache import DiskCache
from lockpin.net.http import HttpConfig
from lockpin.python.index import IndexConfig
from lockpin.python.lock import Lock, LockedFile, LockedPackage
from lockpin.python.models import ProjectPage, is_dist_filename, valid_digest
from lockpin.python.packed import PackedFiles, pack_page
from lockpin.python.pages import LazyFiles, parse_html_page, parse_json_page
from lockpin.python.reqfile import parse_requirements
from support import run_cli, run_subprocess, sha256_file

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures.index_server import IndexServer
    from lockpin.python.models import DistFile
    from support import CliRun, StandardSet

TARGET_ARGS = ["--python-version", "3.12", "--platform", "linux/amd64"]
AMD64 = lockpin.parse_target(python_version="3.12", platform="linux/amd64")
ALPHA_FILES = ("alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz")
HASH_LINE = re.compile(r"    --hash=sha256:[0-9a-f]{64}( \\)?")
URL_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\\]")


# Every test runs in its own tmp_path with no lockpin configuration (conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def evil(tmp_path: Path) -> Path:
    out = tmp_path / "evil-dists"
    out.mkdir()
    return build_wheel(out, "evil", "6.6.6")


@pytest.fixture
def hostile(make_index: Callable[..., IndexServer], evil: Path) -> IndexServer:
    """The standard set plus ``evil 6.6.6``, served honestly: the attacker's target."""
    server = make_index()
    server.add_file(evil)
    return server


@pytest.fixture
def real(standard_set: StandardSet) -> dict[str, str]:
    """sha256 of each alpha 1.0 file, from the bytes on disk."""
    return {name: sha256_file(standard_set.root / name) for name in ALPHA_FILES}


def page_url(server: IndexServer, project: str = "alpha") -> str:
    return f"{server.simple_url}{project}/"


def compile_cli(capsys: pytest.CaptureFixture[str], server: IndexServer, *reqs: str) -> CliRun:
    Path("requirements.in").write_text("".join(f"{r}\n" for r in reqs))
    result = run_cli(
        capsys,
        "compile",
        "requirements.in",
        "-o",
        "requirements.txt",
        "-i",
        server.simple_url,
        *TARGET_ARGS,
    )
    assert "Traceback" not in result.err
    return result


def lock_hashes(text: str) -> dict[str, set[str]]:
    parsed = parse_requirements("requirements.txt", reader=lambda _p: text)
    out: dict[str, set[str]] = {}
    for line in parsed.requirements:
        out.setdefault(str(line.name), set()).update(h.split(":", 1)[1] for h in line.hashes)
    return out


def assert_clean_lock(text: str, expected: dict[str, set[str]]) -> None:
    """No evil, every hash line well-formed, exactly the expected pins and hashes."""
    assert "evil" not in text.lower()
    assert "extra-index-url" not in text
    for line in text.splitlines():
        if "--hash" in line:
            assert HASH_LINE.fullmatch(line), line
    assert lock_hashes(text) == expected


def downloaded(server: IndexServer) -> set[str]:
    """Files fetched whole (no Range header): what lockpin hashed itself."""
    return {
        r.path.removeprefix("/files/")
        for r in server.requests
        if r.method == "GET" and r.path.startswith("/files/") and "range" not in r.headers
    }


# -- item 1: digests that would inject lines -----------------------------------------------------

PAYLOADS: dict[str, Callable[[str, str], str]] = {
    "newline-injection": lambda h, e: f"{h}\nevil==6.6.6 --hash=sha256:{e}\n#",
    "crlf-injection": lambda h, e: f"{h}\r\nevil==6.6.6 --hash=sha256:{e}",
    "line-separator": lambda h, e: f"{h}\u2028evil==6.6.6 --hash=sha256:{e}",
    "trailing-newline": lambda h, e: h + "\n",
    "short": lambda h, e: "abc",
    "not-hex": lambda h, e: "z" * 64,
    "option-injection": lambda h, e: "ab --extra-index-url=http://evil.example/simple/",
    "too-long": lambda h, e: h + "0",
}


def poison_json(
    payload: Callable[[str, str], str], evil_hash: str
) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        for entry in doc["files"]:
            entry["hashes"]["sha256"] = payload(entry["hashes"]["sha256"], evil_hash)
            if "core-metadata" in entry:
                bad = {"sha256": payload(entry["core-metadata"]["sha256"], evil_hash)}
                entry["core-metadata"] = entry["dist-info-metadata"] = bad

    return edit


def poison_html(payload: Callable[[str, str], str], evil_hash: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            return match.group(1) + html.escape(payload(match.group(2), evil_hash))

        return re.sub(r"((?:#|\")sha256=)([0-9a-f]{64})", swap, text)

    return edit


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_json_digest_payload_never_reaches_the_lock(
    kind: str,
    hostile: IndexServer,
    evil: Path,
    real: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hostile.edit_json_page("alpha", poison_json(PAYLOADS[kind], sha256_file(evil)))
    with caplog.at_level(logging.WARNING, logger="lockpin.python.pages"):
        result = compile_cli(capsys, hostile, "alpha==1.0")
    assert result.code == 0, result.err
    assert_clean_lock(Path("requirements.txt").read_text(), {"alpha": set(real.values())})
    # lockpin hashed the downloaded bytes itself
    assert downloaded(hostile) >= set(ALPHA_FILES)
    # one warning for the page, naming it and a file
    notes = [r.getMessage() for r in caplog.records if r.name == "lockpin.python.pages"]
    assert len(notes) == 1, notes
    assert page_url(hostile) in notes[0]
    assert "alpha-1.0" in notes[0]
    assert "\n" not in notes[0]


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_html_digest_payload_never_reaches_the_lock(
    kind: str,
    make_index: Callable[..., IndexServer],
    evil: Path,
    real: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = make_index(html_only=True)
    server.add_file(evil)
    server.edit_html_page("alpha", poison_html(PAYLOADS[kind], sha256_file(evil)))
    with caplog.at_level(logging.WARNING, logger="lockpin.python.pages"):
        result = compile_cli(capsys, server, "alpha==1.0")
    assert result.code == 0, result.err
    assert_clean_lock(Path("requirements.txt").read_text(), {"alpha": set(real.values())})
    notes = [r.getMessage() for r in caplog.records if r.name == "lockpin.python.pages"]
    if kind == "trailing-newline":
        # HTML strips the spaces around an attribute value: the digest is the real one
        assert notes == []
        return
    assert downloaded(server) >= set(ALPHA_FILES)
    assert len(notes) == 1, notes
    assert page_url(server) in notes[0]


def test_api_and_pylock_carry_only_computed_hashes(
    hostile: IndexServer, evil: Path, real: dict[str, str], tmp_path: Path
) -> None:
    hostile.edit_json_page("alpha", poison_json(PAYLOADS["newline-injection"], sha256_file(evil)))
    Path("requirements.in").write_text("alpha==1.0\n")
    lock = lockpin.compile(
        ["requirements.in"],
        targets=(AMD64,),
        index=IndexConfig(index_url=hostile.simple_url),
        http=HttpConfig(cache_dir=tmp_path / "api-cache"),
    )
    alpha = lock.get("alpha")
    assert alpha is not None
    assert {f.filename: f.sha256 for f in alpha.files} == real
    assert [p.name for p in lock.packages] == ["alpha"]
    pylock = lock.to_pylock()
    assert "evil" not in pylock
    assert sorted(re.findall(r'sha256 = "([^"]*)"', pylock)) == sorted(real.values())


def test_hash_command_writes_only_computed_hashes(
    hostile: IndexServer, evil: Path, real: dict[str, str], tmp_path: Path
) -> None:
    hostile.edit_json_page("alpha", poison_json(PAYLOADS["newline-injection"], sha256_file(evil)))
    req = tmp_path / "pins.txt"
    req.write_text("alpha==1.0\n")
    result = lockpin.hash_requirements(
        req,
        index=IndexConfig(index_url=hostile.simple_url),
        http=HttpConfig(cache_dir=None),
    )
    assert result.ok
    assert result.written == str(req)
    text = req.read_text()
    assert_clean_lock(text, {"alpha": set(real.values())})


@pytest.mark.parametrize("evil_served", [True, False], ids=["evil-on-index", "evil-unknown"])
def test_verify_fails_on_a_lock_with_an_injected_line(
    evil_served: bool,
    make_index: Callable[..., IndexServer],
    evil: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = make_index()
    if evil_served:
        server.add_file(evil)
    assert compile_cli(capsys, server, "alpha==1.0").code == 0
    lockfile = Path("requirements.txt")
    clean = lockfile.read_text()
    # what the unfixed lockpin wrote: a line of the attacker's choosing among the pins
    injected = clean.replace(
        "    # via -r requirements.in",
        f"    # via -r requirements.in\nevil==6.6.6 --hash=sha256:{sha256_file(evil)}",
        1,
    )
    assert injected != clean
    lockfile.write_text(injected)
    result = run_cli(capsys, "verify", str(lockfile), "-i", server.simple_url, "--no-cache")
    assert result.code != 0
    assert "evil" in result.out + result.err
    assert "Traceback" not in result.err


def test_verify_of_a_clean_lock_against_a_poisoned_page_checks_the_real_bytes(
    hostile: IndexServer, evil: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert compile_cli(capsys, hostile, "alpha==1.0").code == 0
    hostile.edit_json_page("alpha", poison_json(PAYLOADS["newline-injection"], sha256_file(evil)))
    result = run_cli(capsys, "verify", "requirements.txt", "-i", hostile.simple_url, "--no-cache")
    assert result.code == 0, result.out + result.err
    assert downloaded(hostile) >= set(ALPHA_FILES)


# -- the renderers' own checks -------------------------------------------------------------------

GOOD = "a" * 64


def one_package_lock(**changes: Any) -> Lock:
    fields: dict[str, Any] = {
        "name": canonicalize_name("alpha"),
        "version": Version("1.0"),
        "files": (LockedFile("alpha-1.0.tar.gz", "https://x.example/alpha-1.0.tar.gz", GOOD),),
        "via": ("-r requirements.in",),
    }
    fields.update(changes)
    return Lock(packages=(LockedPackage(**fields),), targets=(AMD64,))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(
            {"files": (LockedFile("a-1.0.tar.gz", "https://x/a", GOOD + "\nevil==1"),)},
            id="hash-with-line",
        ),
        pytest.param({"files": (LockedFile("a-1.0.tar.gz", "https://x/a", "abc"),)}, id="short"),
        pytest.param({"files": (LockedFile("a-1.0.tar.gz", "https://x/a", "A" * 64),)}, id="upper"),
        pytest.param({"name": "alpha\nevil"}, id="name-with-line"),
        pytest.param({"name": "Alpha"}, id="name-not-canonical"),
        pytest.param({"version": "1.0\nevil==6.6.6"}, id="version-string"),
        pytest.param({"version": "01.0"}, id="version-not-normalized"),
        pytest.param({"marker": "sys_platform == 'linux'\nevil==6.6.6"}, id="marker"),
        pytest.param({"url": "https://x.example/a.whl\nevil==6.6.6"}, id="url"),
        pytest.param({"direct": "./pkg\u2028evil==6.6.6"}, id="direct"),
    ],
)
def test_renderers_refuse_values_that_could_add_a_line(changes: dict[str, Any]) -> None:
    lock = one_package_lock(**changes)
    with pytest.raises(LockpinError, match="refusing to write"):
        lock.to_requirements_txt()
    with pytest.raises(LockpinError, match="refusing to write"):
        lock.to_pylock()


def test_renderers_escape_comment_text() -> None:
    lock = one_package_lock(via=("-r odd\nevil==6.6.6 name.in",))
    text = lock.to_requirements_txt(header=False)
    assert not any(line.startswith("evil") for line in text.splitlines())
    assert "# via -r odd\\nevil==6.6.6 name.in" in text


# -- item 3: a remote page pointing at this machine's files --------------------------------------

LOCAL_URLS = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "file:/etc/passwd",
    "ftp://127.0.0.1/alpha-1.0.tar.gz",
    "data:,alpha",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", LOCAL_URLS)
def test_remote_json_page_cannot_point_at_a_local_file(
    url: str,
    hostile: IndexServer,
    real: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def edit(doc: dict[str, Any]) -> None:
        for entry in doc["files"]:
            if entry["filename"] == "alpha-1.0.tar.gz":
                entry["url"] = url
                entry["hashes"] = {}  # so that lockpin would read it to hash it

    hostile.edit_json_page("alpha", edit)
    with caplog.at_level(logging.WARNING, logger="lockpin.python.pages"):
        result = compile_cli(capsys, hostile, "alpha==1.0")
    assert result.code == 0, result.err
    text = Path("requirements.txt").read_text()
    wheel = "alpha-1.0-py3-none-any.whl"
    assert_clean_lock(text, {"alpha": {real[wheel]}})
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() not in text
    (note,) = [r.getMessage() for r in caplog.records if r.name == "lockpin.python.pages"]
    assert "alpha-1.0.tar.gz" in note
    assert "may link only to http(s)" in note
    assert page_url(hostile) in note


def test_remote_page_of_only_local_files_fails_clearly(
    hostile: IndexServer, tmp_path: Path
) -> None:
    def edit(doc: dict[str, Any]) -> None:
        for entry in doc["files"]:
            entry["url"] = "file:///etc/passwd"
            entry["hashes"] = {}

    hostile.edit_json_page("alpha", edit)
    (tmp_path / "requirements.in").write_text("alpha==1.0\n")
    result = run_subprocess(
        "compile", "requirements.in", "-o", "-", "-i", hostile.simple_url, *TARGET_ARGS,
        cwd=tmp_path,
        env={**os.environ, "LOCKPIN_CACHE_DIR": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.code in (1, 2), result.out + result.err
    assert "Traceback" not in result.err
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() not in result.out
    assert "file: URL" in result.err
    assert page_url(hostile) in result.err
    assert "alpha" in result.err


def test_remote_html_page_cannot_point_at_local_files(
    make_index: Callable[..., IndexServer],
    real: dict[str, str],
    standard_set: StandardSet,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = make_index(html_only=True)
    sdist = (standard_set.root / "alpha-1.0.tar.gz").as_uri()
    server.edit_html_page(
        "alpha",
        lambda text: text.replace("../../files/alpha-1.0.tar.gz", sdist).replace(
            f"#sha256={real['alpha-1.0.tar.gz']}", ""
        ),
    )
    result = compile_cli(capsys, server, "alpha==1.0")
    assert result.code == 0, result.err
    text = Path("requirements.txt").read_text()
    assert_clean_lock(text, {"alpha": {real["alpha-1.0-py3-none-any.whl"]}})
    assert "alpha-1.0.tar.gz" not in downloaded(server)


def test_remote_html_base_pointing_at_local_files_is_an_error(
    make_index: Callable[..., IndexServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_index(html_only=True)
    server.edit_html_page("alpha", lambda t: t.replace("<head>", '<head><base href="file:///">'))
    result = compile_cli(capsys, server, "alpha==1.0")
    assert result.code == 2
    assert "<base href>" in result.err
    assert page_url(server) in result.err
    assert not Path("requirements.txt").exists()


def test_remote_find_links_page_cannot_point_at_local_files(
    index_server: IndexServer, tmp_path: Path, make_index: Callable[..., IndexServer]
) -> None:
    secret = tmp_path / "alpha-7.0.tar.gz"
    secret.write_bytes(b"not for the lock")
    links = make_index()
    links.override(
        "/links/",
        lambda method, path, headers: FixtureResponse(
            200,
            f'<html><body><a href="{secret.as_uri()}">alpha-7.0.tar.gz</a></body></html>'.encode(),
            {"Content-Type": "text/html"},
        ),
    )
    Path("requirements.in").write_text("alpha\n")
    lock = lockpin.compile(
        ["requirements.in"],
        targets=(AMD64,),
        index=IndexConfig(index_url=index_server.simple_url, find_links=(links.links_url,)),
        http=HttpConfig(cache_dir=None),
    )
    alpha = lock.get("alpha")
    assert alpha is not None
    assert alpha.version == Version("1.1")
    text = lock.to_requirements_txt()
    assert hashlib.sha256(b"not for the lock").hexdigest() not in text
    assert "alpha==7.0" not in text


def test_find_links_directory_lists_regular_files_only(
    standard_set: StandardSet, tmp_path: Path
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    wheel = standard_set.root / "alpha-1.0-py3-none-any.whl"
    (links / wheel.name).symlink_to(wheel)  # a symlink to a regular file is fine
    (links / "alpha-9.0-py3-none-any.whl").symlink_to("/dev/zero")
    os.mkfifo(links / "alpha-8.0.tar.gz")
    (links / "alpha-7.0.tar.gz").mkdir()
    (links / "alpha-6.0.tar.gz").symlink_to(tmp_path / "missing")
    assert stat.S_ISFIFO(os.stat(links / "alpha-8.0.tar.gz").st_mode)
    Path("requirements.in").write_text("alpha\n")
    lock = lockpin.compile(
        ["requirements.in"],
        targets=(AMD64,),
        index=IndexConfig(no_index=True, find_links=(str(links),)),
        http=HttpConfig(cache_dir=None),
    )
    alpha = lock.get("alpha")
    assert alpha is not None
    assert alpha.version == Version("1.0")
    assert [(f.filename, f.sha256) for f in alpha.files] == [(wheel.name, sha256_file(wheel))]


# -- item 8: malformed pages are errors naming the page, never tracebacks ------------------------


def test_meta_that_is_not_an_object_is_a_one_paragraph_error(
    hostile: IndexServer, tmp_path: Path
) -> None:
    hostile.edit_json_page("alpha", lambda doc: doc.update(meta=[]))
    (tmp_path / "requirements.in").write_text("alpha==1.0\n")
    result = run_subprocess(
        "compile", "requirements.in", "-i", hostile.simple_url, *TARGET_ARGS,
        cwd=tmp_path,
        env={**os.environ, "LOCKPIN_CACHE_DIR": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.code == 2
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert page_url(hostile) in lines[0]
    assert "'meta' is not an object" in lines[0]
    assert not (tmp_path / "requirements.txt").exists()


def test_json_nested_100k_deep_is_an_index_error(
    hostile: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    depth = 100_000
    body = b'{"meta": {"api-version": "1.1"}, "files": ' + b"[" * depth + b"]" * depth + b"}"
    hostile.override(
        "/simple/alpha/",
        lambda method, path, headers: FixtureResponse(200, body, {"Content-Type": JSON_TYPE}),
    )
    result = compile_cli(capsys, hostile, "alpha==1.0")
    assert result.code == 2
    assert "nested too deeply" in result.err
    assert page_url(hostile) in result.err
    with pytest.raises(IndexResponseError, match="nested too deeply"):
        parse_json_page(body, url=page_url(hostile), name="alpha")


def _set_every(field: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        for entry in doc["files"]:
            entry[field] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        pytest.param(lambda d: d.update(meta="x"), "'meta' is not an object", id="meta-string"),
        pytest.param(
            lambda d: d["meta"].update({"api-version": ["1"]}), "api-version", id="api-list"
        ),
        pytest.param(lambda d: d.update(files={"a": 1}), "no 'files' list", id="files-object"),
        pytest.param(lambda d: d["files"].extend([1, "x", None, []]), None, id="files-junk"),
        pytest.param(_set_every("hashes", []), None, id="hashes-list"),
        pytest.param(_set_every("yanked", {}), None, id="yanked-object"),
        pytest.param(_set_every("size", "12"), None, id="size-string"),
        pytest.param(_set_every("size", True), None, id="size-bool"),
        pytest.param(_set_every("requires-python", 5), None, id="requires-python-int"),
        pytest.param(_set_every("upload-time", 5), None, id="upload-time-int"),
        pytest.param(_set_every("core-metadata", "yes"), None, id="core-metadata-string"),
        pytest.param(_set_every("core-metadata", {"sha256": 5}), None, id="core-metadata-int"),
    ],
)
def test_malformed_json_fields_are_ignored_or_an_index_error(
    edit: Callable[[dict[str, Any]], None],
    error: str | None,
    hostile: IndexServer,
    real: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    hostile.edit_json_page("alpha", edit)
    result = compile_cli(capsys, hostile, "alpha==1.0")
    if error is None:
        assert result.code == 0, result.err
        assert_clean_lock(Path("requirements.txt").read_text(), {"alpha": set(real.values())})
    else:
        assert result.code == 2
        assert error in result.err
        assert page_url(hostile) in result.err


# -- the parsed-page cache -----------------------------------------------------------------------


def _lpp2(entries: list[dict[str, Any]]) -> bytes:
    """A parsed page in the format the unfixed lockpin wrote (any digest kept)."""
    blob = marshal.dumps(entries)
    head = marshal.dumps(([("1.0", 0, len(blob))], marshal.dumps([])))
    return b"LPP2" + len(head).to_bytes(4, "big") + head + blob


def test_parsed_page_written_by_the_old_format_cannot_bring_a_digest_back(
    index_server: IndexServer,
    evil: Path,
    real: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache_dir = tmp_path / "cache"
    assert compile_cli(capsys, index_server, "alpha==1.0").code == 0
    entries = sorted((cache_dir / "v1" / "parsed-pages").rglob("*"))
    paths = [p for p in entries if p.is_file()]
    assert paths, "the first run stores parsed pages"
    cache = DiskCache(cache_dir)
    payload = PAYLOADS["newline-injection"]
    for path in paths:
        meta = json.loads(path.read_bytes().partition(b"\n")[0])
        poisoned = [
            {
                "filename": name,
                "url": index_server.file_url(name),
                "hashes": {"sha256": payload(digest, sha256_file(evil))},
            }
            for name, digest in real.items()
        ]
        cache.put("parsed-pages", meta["key"], _lpp2(poisoned), meta)
    assert compile_cli(capsys, index_server, "alpha==1.0").code == 0
    assert_clean_lock(Path("requirements.txt").read_text(), {"alpha": set(real.values())})


def test_packed_entries_are_checked_again_when_read(caplog: pytest.LogCaptureFixture) -> None:
    url = "https://idx.example/simple/demo/"
    good = {"filename": "demo-1.0.tar.gz", "url": "https://idx.example/f/demo-1.0.tar.gz"}
    tampered = LazyFiles([{**good, "hashes": {"sha256": GOOD + "\nevil==1"}}], url)
    tampered.notice = "the index page lists invalid data"
    packed = pack_page(tampered)
    with caplog.at_level(logging.WARNING, logger="lockpin.python.packed"):
        files = PackedFiles(packed, url)
    assert files[0].sha256 is None
    assert files[0].hashes == {}
    assert "lists invalid data" in caplog.text

    bad_url = LazyFiles([{**good, "url": "file:///etc/passwd"}], url)
    with pytest.raises(IndexResponseError, match="cached copy"):
        _ = PackedFiles(pack_page(bad_url), url)[0]

    with pytest.raises(ValueError, match="not a packed page"):
        PackedFiles(_lpp2([good]), url)


# -- hypothesis: random values in every field ----------------------------------------------------

PAGE = "https://idx.example/simple/demo/"
H = hashlib.sha256(b"demo").hexdigest()

HOSTILE_STRINGS = st.sampled_from(
    [
        H,
        H.upper(),
        H + "\n",
        f"{H}\nevil==6.6.6 --hash=sha256:{H}\n#",
        "z" * 64,
        "abc",
        "ab --extra-index-url=http://evil.example/",
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "javascript:alert(1)",
        "data:,x",
        "http://[::1",
        "//evil.example/demo-1.0.tar.gz",
        "../demo-1.0.tar.gz",
        "demo-1.0.tar.gz",
        "demo-1.0-py3-none-any.whl",
        "../../etc/demo-1.0.tar.gz",
        "demo-1.0.tar.gz\nevil",
        "demo-1.0.tar.gz\u2028",
        "sha256=" + H,
        "sha256=abc",
        "true",
        "",
        " ",
        "\x00",
        "1.1",
        "2.0",
        ">=3.8\n",
        "2024-01-01T00:00:00Z",
        "9999-99-99",
    ]
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | HOSTILE_STRINGS
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8) | HOSTILE_STRINGS, inner, max_size=3)
    ),
    max_leaves=8,
)
FIELD_PATHS = [
    ("meta",),
    ("meta", "api-version"),
    ("files",),
    ("files", 0),
    *(
        ("files", 0, field)
        for field in (
            "filename",
            "url",
            "hashes",
            "requires-python",
            "yanked",
            "size",
            "upload-time",
            "core-metadata",
            "dist-info-metadata",
        )
    ),
    ("files", 0, "hashes", "sha256"),
    ("files", 0, "hashes", "md5"),
    ("files", 0, "hashes", "SHA256"),
    ("files", 0, "core-metadata", "sha256"),
    ("files", 1, "hashes", "sha256"),
]


def _base_doc() -> dict[str, Any]:
    return {
        "meta": {"api-version": "1.1"},
        "name": "demo",
        "files": [
            {
                "filename": "demo-1.0-py3-none-any.whl",
                "url": "https://files.example/demo-1.0-py3-none-any.whl",
                "hashes": {"sha256": H},
                "core-metadata": {"sha256": H},
            },
            {"filename": "demo-1.0.tar.gz", "url": "../../f/demo-1.0.tar.gz", "hashes": {}},
        ],
    }


def _assign(doc: dict[str, Any], path: tuple[str | int, ...], value: object) -> None:
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def assert_safe_files(page: ProjectPage, *, project: str | None = "demo") -> list[DistFile]:
    """Every value a lock could take from the page is well-formed."""
    files = list(page.files)
    for f in files:
        assert is_dist_filename(f.filename, project), f.filename
        assert urlsplit(f.url).scheme in {"http", "https"}, f.url
        assert not URL_UNSAFE.search(f.url), f.url
        for algo, digest in f.hashes.items():
            assert valid_digest(algo, digest), (algo, digest)
            assert digest == digest.lower()
        if isinstance(f.core_metadata, dict):
            assert all(valid_digest(a, d) for a, d in f.core_metadata.items())
        assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256)
        assert f.requires_python is None or f.requires_python.isprintable()
        assert f.yanked_reason is None or f.yanked_reason.isprintable()
        assert f.size is None or (type(f.size) is int and f.size >= 0)
    return files


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(FIELD_PATHS), value=JSON_VALUES)
def test_json_page_with_random_values_gives_safe_files_or_an_index_error(
    path: tuple[str | int, ...], value: object
) -> None:
    doc = _base_doc()
    _assign(doc, path, value)
    content = json.dumps(doc).encode()
    try:
        page = parse_json_page(content, url=PAGE, name="demo")
    except IndexResponseError as exc:
        error: IndexResponseError | None = exc
    else:
        error = None
    if error is not None:
        assert error.url == PAGE
        assert PAGE in str(error)
        return
    files = assert_safe_files(page)
    assert isinstance(page.files, LazyFiles)
    # the parsed-page cache keeps exactly the validated values
    packed = PackedFiles(pack_page(page.files), PAGE, replay_notice=False)
    unpacked = assert_safe_files(ProjectPage(name=page.name, url=PAGE, files=packed))
    assert sorted((f.filename, f.url, f.sha256) for f in unpacked) == sorted(
        (f.filename, f.url, f.sha256) for f in files
    )


ATTRIBUTE_TEXT = st.text(max_size=30) | HOSTILE_STRINGS


@settings(max_examples=300, deadline=None)
@given(
    href=ATTRIBUTE_TEXT,
    fragment=ATTRIBUTE_TEXT,
    metadata=st.none() | ATTRIBUTE_TEXT,
    yanked=st.none() | ATTRIBUTE_TEXT,
    requires_python=st.none() | ATTRIBUTE_TEXT,
    base=st.none() | ATTRIBUTE_TEXT,
    raw=st.sampled_from(["", "<![foo[ x ]]>", "<!x", "</", "<a href=", "&#0;", "<base href='"])
    | st.text(max_size=20),
)
def test_html_page_with_hostile_attributes_gives_safe_files_or_an_index_error(
    href: str,
    fragment: str,
    metadata: str | None,
    yanked: str | None,
    requires_python: str | None,
    base: str | None,
    raw: str,
) -> None:
    def attr(name: str, value: str | None) -> str:
        return "" if value is None else f' {name}="{html.escape(value)}"'

    anchor = (
        f"<a{attr('href', href + '#' + fragment)}{attr('data-core-metadata', metadata)}"
        f"{attr('data-yanked', yanked)}{attr('data-requires-python', requires_python)}>x</a>"
    )
    head = "" if base is None else f"<base{attr('href', base)}>"
    known = '<a href="demo-1.0.tar.gz#sha256=' + H + '">demo-1.0.tar.gz</a>'
    content = f"<html><head>{head}</head><body>{known}{anchor}{raw}</body></html>".encode()
    for name, project in (("demo", "demo"), ("find-links", None)):
        try:
            page = parse_html_page(content, url=PAGE, name=name, any_project=project is None)
        except IndexResponseError as exc:
            assert_names_the_page(exc)
            continue
        assert_safe_files(page, project=project)


def assert_names_the_page(error: IndexResponseError) -> None:
    assert error.url == PAGE
    assert PAGE in str(error)


# -- a filename listed twice; upload times missing under --exclude-newer ------------------


@pytest.fixture
def twin(make_index: Callable[..., IndexServer], tmp_path: Path) -> tuple[IndexServer, str, str]:
    """An index serving ``victim 1.0`` (needs alpha); the page is edited per test.
    Returns the server, the real wheel's sha256 and the altered twin's (needs evil)."""
    import datetime as dt

    root, alt = tmp_path / "twin-idx", tmp_path / "twin-alt"
    root.mkdir()
    alt.mkdir()
    when = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    real_wheel = build_wheel(root, "victim", "1.0", requires=["alpha"])
    server = make_index(root, standard=False)
    server.add_file(real_wheel, upload_time=when)
    server.add_file(build_wheel(root, "alpha", "1.0"), upload_time=when)
    data = build_wheel(alt, "victim", "1.0", requires=["alpha", "evil"]).read_bytes()
    server.override("/alt/", lambda method, path, headers: FixtureResponse(200, data, {"X": "y"}))
    return server, sha256_file(real_wheel), hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_a_filename_listed_twice_keeps_its_first_entry(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    twin: tuple[IndexServer, str, str],
    fmt: str,
) -> None:
    server, real_sha, alt_sha = twin
    alt_url = f"{server.url}/alt/victim-1.0-py3-none-any.whl"
    if fmt == "json":

        def edit(doc: dict[str, Any]) -> None:
            twin_entry = {
                "filename": "victim-1.0-py3-none-any.whl",
                "url": alt_url,
                "hashes": {"sha256": alt_sha},
            }
            doc["files"].append(twin_entry)

        server.edit_json_page("victim", edit)
    else:
        server.override(
            "/simple/victim/",
            lambda method, path, headers: FixtureResponse(
                200,
                (
                    f'<a href="{server.url}/files/victim-1.0-py3-none-any.whl#sha256={real_sha}">'
                    f'victim-1.0-py3-none-any.whl</a><a href="{alt_url}#sha256={alt_sha}">'
                    "victim-1.0-py3-none-any.whl</a>"
                ).encode(),
                {"Content-Type": "text/html"},
            ),
        )
    result = compile_cli(capsys, server, "victim")
    assert result.code == 0, result.err
    lock = Path("requirements.txt").read_text()
    assert lock_hashes(lock)["victim"] == {real_sha}
    assert alt_sha not in lock
    assert "evil" not in lock
    notes = [r.getMessage() for r in caplog.records if "listed more than once" in r.getMessage()]
    assert len(notes) == 1
    assert "victim-1.0-py3-none-any.whl" in notes[0]
    assert page_url(server, "victim") in notes[0]


def test_merged_indexes_keep_the_first_file_of_each_filename(
    capsys: pytest.CaptureFixture[str],
    twin: tuple[IndexServer, str, str],
    make_index: Callable[..., IndexServer],
    tmp_path: Path,
) -> None:
    server, real_sha, _alt_sha = twin
    other_root = tmp_path / "other-idx"
    other_root.mkdir()
    other = make_index(other_root, standard=False)
    other.add_file(build_wheel(other_root, "victim", "1.0", requires=["alpha", "evil"]))
    Path("requirements.in").write_text("victim\n")
    result = run_cli(
        capsys, "compile", "requirements.in", "-o", "requirements.txt",
        "-i", server.simple_url, "--extra-index-url", other.simple_url,
        "--index-strategy", "unsafe-best-match", *TARGET_ARGS,
    )  # fmt: skip
    assert result.code == 0, result.err
    lock = Path("requirements.txt").read_text()
    assert lock_hashes(lock)["victim"] == {real_sha}


@pytest.mark.parametrize("mode", ["junk", "absent"])
def test_exclude_newer_drops_a_file_without_a_usable_upload_time(
    capsys: pytest.CaptureFixture[str], twin: tuple[IndexServer, str, str], mode: str
) -> None:
    import datetime as dt

    server = twin[0]
    root = server.root
    later = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    server.add_file(build_wheel(root, "victim", "2.0", requires=["evil"]), upload_time=later)
    server.add_file(build_wheel(root, "evil", "1.0"), upload_time=later)

    def edit(doc: dict[str, Any]) -> None:
        for f in doc["files"]:
            if "2.0" in f["filename"] or f["filename"].startswith("evil"):
                if mode == "junk":
                    f["upload-time"] = "2025-01-01 12:00:00 UTC"
                else:
                    f.pop("upload-time", None)

    server.edit_json_page("victim", edit)
    Path("requirements.in").write_text("victim\n")
    result = run_cli(
        capsys, "compile", "requirements.in", "-o", "requirements.txt", "-i", server.simple_url,
        "--exclude-newer", "2024-06-01", *TARGET_ARGS,
    )  # fmt: skip
    assert result.code == 0, result.err
    lock = Path("requirements.txt").read_text()
    assert "victim==1.0" in lock
    assert "evil" not in lock


def test_exclude_newer_on_a_page_without_upload_times_warns_once(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    twin: tuple[IndexServer, str, str],
) -> None:
    server = twin[0]

    def edit(doc: dict[str, Any]) -> None:
        for f in doc["files"]:
            f.pop("upload-time", None)

    server.edit_json_page("victim", edit)
    Path("requirements.in").write_text("victim\n")
    result = run_cli(
        capsys, "compile", "requirements.in", "-o", "requirements.txt", "-i", server.simple_url,
        "--exclude-newer", "2024-06-01", "--python-version", "3.12",
        "--platform", "linux/amd64", "--platform", "linux/arm64",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "victim==1.0" in Path("requirements.txt").read_text()
    notes = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("--exclude-newer cannot be applied to victim" in n for n in notes) == 1
    assert not any("cannot be applied to alpha" in n for n in notes)
