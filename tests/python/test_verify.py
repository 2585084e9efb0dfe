"""``lockpin verify`` and ``lockpin.verify``: exact hash sets, precise reports, and
``--download`` catching bytes that differ from what the index states."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest
from packaging.utils import NormalizedName

import lockpin
from fixtures.dists import build_wheel
from lockpin.errors import NoSuchVersionError
from lockpin.net.http import HttpConfig
from lockpin.python.hashing import VerifyProblem, VerifyResult
from lockpin.python.index import IndexConfig
from support import CliRun, dir_state, run_cli, run_subprocess, sha256_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fixtures.index_server import IndexServer

BOGUS = "fedcba9876543210" * 4
ALPHA = NormalizedName("alpha")
PLAT = {
    "arm64": "platwheel-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    "amd64": "platwheel-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "win": "platwheel-1.0-cp312-cp312-win_amd64.whl",
    "cp311": "platwheel-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "sdist": "platwheel-1.0.tar.gz",
}


def hashed(requirement: str, hashes: list[str]) -> str:
    body = " \\\n".join([requirement, *(f"    --hash=sha256:{h}" for h in hashes)])
    return body + "\n"


def sha(dist_dir: Path, *names: str) -> list[str]:
    return sorted(sha256_file(dist_dir / n) for n in names)


@pytest.fixture
def index(index_server: IndexServer) -> IndexServer:
    index_server.clear_log()
    return index_server


@pytest.fixture
def lockfile(dist_dir: Path, tmp_path: Path) -> Path:
    """A correct lockfile for alpha 1.0, beta 1.0 and nohash 1.0 (sha256 not on the index)."""
    path = tmp_path / "requirements.txt"
    path.write_text(
        hashed("alpha==1.0", sha(dist_dir, "alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"))
        + "    # via beta\n"
        + hashed("beta==1.0", sha(dist_dir, "beta-1.0-py3-none-any.whl"))
        + hashed("nohash==1.0", sha(dist_dir, "nohash-1.0-py3-none-any.whl"))
    )
    return path


def verify_cli(
    capsys: pytest.CaptureFixture[str], path: Path, index: IndexServer, *args: str
) -> CliRun:
    return run_cli(capsys, "verify", str(path), "-i", index.simple_url, "--no-cache", *args)


def test_exact_lockfile_passes(
    index: IndexServer, lockfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dir_state(lockfile.parent)
    result = verify_cli(capsys, lockfile, index)
    assert result.code == 0, result.out + result.err
    assert result.out == ""
    assert result.err == f"lockpin: {lockfile}: 3 release(s) match the index.\n"
    assert dir_state(lockfile.parent) == before  # verify never writes
    assert [r.path for r in index.requests if r.path.startswith("/files/")] == [
        "/files/nohash-1.0-py3-none-any.whl"  # only to compute the sha256 the page lacks
    ]


def test_what_hash_writes_verify_accepts(
    index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.1\nFoo.Bar_baz==0.1\nplatwheel==1.0\nnohash2==1.0\nmoved==1.0\n")
    assert verify_cli(capsys, req, index).code == 1  # no hashes yet
    assert run_cli(capsys, "hash", str(req), "-i", index.simple_url, "--no-cache").code == 0
    assert verify_cli(capsys, req, index).code == 0


def test_missing_hash_is_reported_precisely(
    index: IndexServer, dist_dir: Path, lockfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sdist = sha256_file(dist_dir / "alpha-1.0.tar.gz")
    lockfile.write_text(lockfile.read_text().replace(f" \\\n    --hash=sha256:{sdist}", ""))
    assert sdist not in lockfile.read_text()
    result = verify_cli(capsys, lockfile, index)
    assert result.code == 1
    assert result.out == (
        f"{lockfile}:1: alpha==1.0: missing hash for alpha-1.0.tar.gz: expected sha256:{sdist}\n"
    )
    assert result.err == f"lockpin: {lockfile}: 1 problem(s) in 1 release(s).\n"


def test_extra_hash_is_reported_precisely(
    index: IndexServer, lockfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = lockfile.read_text().replace(
        "beta==1.0 \\\n", f"beta==1.0 \\\n    --hash=sha256:{BOGUS} \\\n"
    )
    lockfile.write_text(text)
    result = verify_cli(capsys, lockfile, index)
    assert result.code == 1
    line = text.splitlines().index("beta==1.0 \\") + 1
    assert result.out == (
        f"{lockfile}:{line}: beta==1.0: extra hash sha256:{BOGUS} matches no file on the index\n"
    )


def test_several_problems_are_all_reported_in_file_order(
    index: IndexServer, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "requirements.txt"
    beta = sha256_file(dist_dir / "beta-1.0-py3-none-any.whl")
    req.write_text(f"beta==1.0 --hash=sha256:{BOGUS}\nalpha==1.0\n")
    result = verify_cli(capsys, req, index)
    assert result.code == 1
    alpha_wheel, alpha_sdist = (
        sha256_file(dist_dir / "alpha-1.0-py3-none-any.whl"),
        sha256_file(dist_dir / "alpha-1.0.tar.gz"),
    )
    assert result.out.splitlines() == [
        f"{req}:1: beta==1.0: extra hash sha256:{BOGUS} matches no file on the index",
        f"{req}:1: beta==1.0: missing hash for beta-1.0-py3-none-any.whl: expected sha256:{beta}",
        f"{req}:2: alpha==1.0: missing hash for alpha-1.0-py3-none-any.whl: "
        f"expected sha256:{alpha_wheel}",
        f"{req}:2: alpha==1.0: missing hash for alpha-1.0.tar.gz: expected sha256:{alpha_sdist}",
    ]
    assert "4 problem(s) in 2 release(s)" in result.err
    assert f"{req}:2: alpha has no hashes." in result.err


def test_non_sha256_hashes_are_not_checked_but_said(
    index: IndexServer, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = dist_dir / "beta-1.0-py3-none-any.whl"
    sha512 = hashlib.sha512(wheel.read_bytes()).hexdigest()
    req = tmp_path / "requirements.txt"
    req.write_text(
        hashed("beta==1.0", [sha256_file(wheel)]).rstrip("\n")
        + f" \\\n    --hash=sha512:{sha512}\n"
    )
    result = verify_cli(capsys, req, index)
    assert result.code == 0, result.out
    assert "1 non-sha256 hash(es) not checked" in result.err


def test_unpinned_and_unknown_are_errors(
    index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("alpha==1.0\nbeta\n")
    result = verify_cli(capsys, req, index)
    assert result.code == 2
    assert f"{req}:2:" in result.err
    req.write_text("alpha==3.0\n")
    result = verify_cli(capsys, req, index)
    assert result.code == 2
    assert "alpha==3.0 is not on" in result.err


# -- target ---------------------------------------------------------------------------------------


def test_target_full_lockfile_passes_and_restricted_one_too(
    index: IndexServer, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--python-version", "3.12", "--platform", "linux/arm64"]
    full = tmp_path / "full.txt"
    full.write_text(hashed("platwheel==1.0", sha(dist_dir, *PLAT.values())))
    restricted = tmp_path / "arm64.txt"
    restricted.write_text(hashed("platwheel==1.0", sha(dist_dir, PLAT["arm64"], PLAT["sdist"])))

    # Other platforms' hashes are harmless for this target; all of them are needed without one.
    assert verify_cli(capsys, full, index, *target).code == 0
    assert verify_cli(capsys, full, index).code == 0
    assert verify_cli(capsys, restricted, index, *target).code == 0
    untargeted = verify_cli(capsys, restricted, index)
    assert untargeted.code == 1
    assert sorted(
        line.split("missing hash for ")[1].split(":")[0] for line in untargeted.out.splitlines()
    ) == sorted([PLAT["amd64"], PLAT["win"], PLAT["cp311"]])

    amd64 = verify_cli(
        capsys, restricted, index, "--python-version", "3.12", "--platform", "linux/amd64"
    )
    assert amd64.code == 1
    assert f"missing hash for {PLAT['amd64']}" in amd64.out
    assert "extra hash" not in amd64.out  # the arm64 hash is a real file of the release


def test_target_with_nothing_installable_is_an_error(
    index: IndexServer, dist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(hashed("newpy==1.0", sha(dist_dir, "newpy-1.0-py3-none-any.whl")))
    assert verify_cli(capsys, req, index).code == 0
    result = verify_cli(capsys, req, index, "--python-version", "3.12")
    assert result.code == 2
    assert "newpy==1.0 has no file installable on" in result.err


# -- --download --------------------------------------------------------------------------------


def test_download_checks_every_file(
    index: IndexServer, lockfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = verify_cli(capsys, lockfile, index, "--download")
    assert result.code == 0, result.out
    assert "3 release(s) match the index, 4 file(s) downloaded and checked." in result.err
    fetched = sorted(r.path for r in index.requests if r.path.startswith("/files/"))
    assert fetched == sorted(
        [
            "/files/alpha-1.0-py3-none-any.whl",
            "/files/alpha-1.0.tar.gz",
            "/files/beta-1.0-py3-none-any.whl",
            "/files/nohash-1.0-py3-none-any.whl",
            "/files/nohash-1.0-py3-none-any.whl",  # once to hash it, once to check it
        ]
    )


def test_download_detects_a_file_replaced_behind_a_cached_page(
    make_index: Callable[..., IndexServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original_dir, rebuilt_dir = tmp_path / "original", tmp_path / "rebuilt"
    original_dir.mkdir()
    rebuilt_dir.mkdir()
    original = build_wheel(original_dir, "tamper", "1.0")
    rebuilt = build_wheel(rebuilt_dir, "tamper", "1.0", requires=["evil"])
    assert original.name == rebuilt.name
    server = make_index(root=original_dir, standard=False)
    server.add_file(original)
    req = tmp_path / "requirements.txt"
    req.write_text("tamper==1.0\n")
    common = ["-i", server.simple_url, "--cache-dir", str(tmp_path / "cache")]
    assert run_cli(capsys, "hash", str(req), *common).code == 0
    assert sha256_file(original) in req.read_text()

    server.add_file(rebuilt)  # the server now sends other bytes under the same name
    # The page (fresh in the cache) and the lockfile still state the original hash:
    # only the bytes can tell.
    assert run_cli(capsys, "verify", str(req), *common).code == 0
    result = run_cli(capsys, "verify", str(req), "--download", *common)
    assert result.code == 1
    assert result.out == (
        f"{req}:1: tamper==1.0: {original.name} downloaded with sha256:{sha256_file(rebuilt)}, "
        f"but the index states sha256:{sha256_file(original)}\n"
    )


def test_download_detects_a_file_tampered_on_a_static_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A static file-tree index (file://) whose page hash was computed before the
    # file was altered on disk.
    root = tmp_path / "static"
    (root / "files").mkdir(parents=True)
    (root / "simple" / "tamper").mkdir(parents=True)
    wheel = build_wheel(root / "files", "tamper", "1.0")
    stated = sha256_file(wheel)
    (root / "simple" / "tamper" / "index.html").write_text(
        f'<a href="../../files/{wheel.name}#sha256={stated}">{wheel.name}</a>\n'
    )
    req = tmp_path / "requirements.txt"
    req.write_text(hashed("tamper==1.0", [stated]))
    args = ["-i", (root / "simple").as_uri() + "/", "--no-cache"]
    assert run_cli(capsys, "verify", str(req), "--download", *args).code == 0

    wheel.write_bytes(wheel.read_bytes() + b"\0")
    assert run_cli(capsys, "verify", str(req), *args).code == 0  # the page alone cannot tell
    result = run_cli(capsys, "verify", str(req), "--download", *args)
    assert result.code == 1
    actual = sha256_file(wheel)
    assert f"{wheel.name} downloaded with sha256:{actual}" in result.out
    assert f"but the index states sha256:{stated}" in result.out


def test_download_failure_is_a_network_error(
    make_index: Callable[..., IndexServer], lockfile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_index()
    server.fail("/files/beta-", 500, times=None)
    result = run_cli(
        capsys,
        "verify",
        str(lockfile),
        "-i",
        server.simple_url,
        "--no-cache",
        "--download",
        "--retries",
        "1",
    )
    assert result.code == 2
    assert server.file_url("beta-1.0-py3-none-any.whl") in result.err


def test_subprocess_verify_failure_has_no_traceback(index: IndexServer, lockfile: Path) -> None:
    lockfile.write_text(lockfile.read_text() + f"six==1.0 --hash=sha256:{BOGUS}\n")
    result = run_subprocess("verify", str(lockfile), "-i", index.simple_url, "--no-cache")
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "project 'six' was not found" in result.err


# -- the Python API ---------------------------------------------------------------------------


def test_api_verify_returns_a_typed_result(
    index: IndexServer, dist_dir: Path, lockfile: Path
) -> None:
    ok = lockpin.verify(
        lockfile,
        index=IndexConfig(index_url=index.simple_url),
        http=HttpConfig(cache_dir=None),
    )
    assert isinstance(ok, VerifyResult)
    assert ok.ok
    assert ok.problems == ()
    assert ok.downloaded == 0
    assert [r.name for r in ok.releases] == ["alpha", "beta", "nohash"]

    sdist = sha256_file(dist_dir / "alpha-1.0.tar.gz")
    lockfile.write_text(lockfile.read_text().replace(sdist, BOGUS))
    bad = lockpin.verify(
        lockfile,
        index=IndexConfig(index_url=index.simple_url),
        download=True,
        http=HttpConfig(cache_dir=None),
    )
    assert not bad.ok
    assert bad.downloaded == 4
    assert bad.problems == (
        VerifyProblem("extra", ALPHA, "1.0", f"{lockfile}:1", actual=BOGUS),
        VerifyProblem(
            "missing",
            ALPHA,
            "1.0",
            f"{lockfile}:1",
            filename="alpha-1.0.tar.gz",
            expected=sdist,
        ),
    )


def test_api_verify_raises_for_an_impossible_target(index: IndexServer, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("newpy==1.0\n")
    with pytest.raises(NoSuchVersionError):
        lockpin.verify(
            req,
            index=IndexConfig(index_url=index.simple_url),
            target=lockpin.parse_target(python_version="3.11"),
            http=HttpConfig(cache_dir=None),
        )
