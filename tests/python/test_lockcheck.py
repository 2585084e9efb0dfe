"""``lockpin verify`` checks a lock's dependency closure and the form of its lines, not
only its hashes: a lock compiled by lockpin passes, and every edit an attacker or a
careless hand could make (a dependency removed, a pin added or moved outside its
specifier, an index injected among the pins, a malformed hash) fails with exit 1 and a
``FILE:LINE`` report. Locks are compiled by lockpin against the real local index."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import pytest
from packaging.utils import NormalizedName

import lockpin
from fixtures.dists import build_wheel
from lockpin.net.http import HttpConfig
from lockpin.python.hashing import VerifyProblem
from lockpin.python.index import IndexConfig
from lockpin.python.lockcheck import lock_pins, parse_header
from lockpin.python.reqfile import split_blocks
from support import pip_environ, run_cli, run_subprocess, sha256_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fixtures.index_server import IndexServer
    from support import CliRun

AMD64 = ["--python-version", "3.12", "--platform", "linux/amd64"]
ARM64 = ["--python-version", "3.12", "--platform", "linux/arm64"]
AMD64_LABEL = "CPython 3.12.0 on linux/amd64"
ARM64_LABEL = "CPython 3.12.0 on linux/arm64"


# Every test runs in its own tmp_path with no lockpin configuration (conftest.py).
pytestmark = pytest.mark.usefixtures("isolated")


@pytest.fixture
def index(index_server: IndexServer) -> IndexServer:
    index_server.clear_log()
    return index_server


class Locks:
    """Compile with lockpin, edit, verify: all against one index, output captured."""

    def __init__(self, index: IndexServer, capsys: pytest.CaptureFixture[str], tmp: Path):
        self.index = index
        self.capsys = capsys
        self.tmp = tmp

    def compile(self, inputs: str, *args: str, name: str = "requirements") -> Path:
        src = self.tmp / f"{name}.in"
        src.write_text(inputs)
        result = run_cli(self.capsys, "compile", src.name, "-q", "-i", self.index.simple_url, *args)
        assert result.code == 0, result.both
        return self.tmp / f"{name}.txt"

    def verify(self, lock: Path, *args: str) -> CliRun:
        return run_cli(self.capsys, "verify", str(lock), "-i", self.index.simple_url, *args)


@pytest.fixture
def locks(index: IndexServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Locks:
    return Locks(index, capsys, tmp_path)


def drop_block(text: str, name: str) -> str:
    """Remove the pin of ``name`` with its hash and ``# via`` lines."""
    edited, n = re.subn(rf"(?m)^{re.escape(name)}==[^\n]*\n(?:    [^\n]*\n)*", "", text)
    assert n == 1, f"{name} is not pinned once in:\n{text}"
    return edited


def line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def pin_block(requirement: str, digests: list[str]) -> str:
    hashes = sorted(digests)
    body = " \\\n".join([requirement, *(f"    --hash=sha256:{h}" for h in hashes)])
    return body + "\n"


# -- a lock lockpin wrote passes ------------------------------------------------------------------


def test_unmodified_lock_passes_with_its_closure_checked(locks: Locks) -> None:
    lock = locks.compile("beta\nwithextras[fast]\n", *AMD64)
    before = lock.read_bytes()
    result = locks.verify(lock)
    assert result.code == 0, result.both
    assert result.out == ""
    assert "3 release(s) match the index" in result.err
    # The targets come from the lock's header, not from this machine.
    assert f"complete dependency closure for {AMD64_LABEL}" in result.err
    assert lock.read_bytes() == before


def test_root_extras_are_inferred_from_the_annotations(
    locks: Locks, dist_dir: Path, index: IndexServer
) -> None:
    # withextras[fast] -> beta -> alpha; the lock says only "withextras==1.0" and
    # "beta # via withextras": verify must infer [fast] to see why beta is there.
    lock = locks.compile("withextras[fast]\n", *AMD64)
    text = lock.read_text()
    assert "# via withextras" in text
    assert locks.verify(lock).code == 0

    lock.write_text(drop_block(text, "beta"))
    result = locks.verify(lock)
    assert result.code == 1
    assert (
        "alpha==1.1 is not required by any other pin and not a root" in result.out
    )  # beta, which required it, is gone
    # Without beta's annotation there is nothing left to infer [fast] from: withextras
    # alone needs nothing. The closure of what remains is checked as it stands.
    assert "missing dependency" not in result.out


def test_extras_requested_by_another_pin_are_followed(locks: Locks, dist_dir: Path) -> None:
    # A root requested with its extra on the line itself (pip-compile --no-strip-extras).
    lock = locks.compile("withextras[fast]\n", *AMD64)
    text = lock.read_text()
    text = drop_block(text, "beta").replace("withextras==1.0", "withextras[fast]==1.0")
    lock.write_text(text.replace("# This file is autogenerated by lockpin", "# edited"))
    result = locks.verify(lock, "--closure", *AMD64)
    assert result.code == 1
    assert (
        f"{lock}:{line_of(text, 'withextras')}: missing dependency beta "
        "(required by withextras[fast]==1.0)"
    ) in result.out


# -- edits that must fail -----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["every-pin", "one-root"])
def test_a_marker_that_hides_a_pin_on_every_target_is_reported(locks: Locks, which: str) -> None:
    """A lock whose pins carry ``; sys_platform == "win32"`` installs nothing on the
    lock's linux target: it is not a lock lockpin writes, and it is not closed."""
    lock = locks.compile("beta\n", *AMD64)
    text = lock.read_text()
    names = ["alpha", "beta"] if which == "every-pin" else ["beta"]
    for name in names:
        text = re.sub(rf"(?m)^({name}==[^ \n]+)", r'\1 ; sys_platform == "win32"', text, count=1)
    lock.write_text(text)
    result = locks.verify(lock)
    assert result.code == 1, result.both
    for name in names:
        assert f"{name}==" in result.out
    assert "installs on none of the lock's targets" in result.out


def test_removed_dependency_is_missing(locks: Locks) -> None:
    lock = locks.compile("beta\n", *AMD64)
    text = drop_block(lock.read_text(), "alpha")
    lock.write_text(text)
    result = locks.verify(lock)
    assert result.code == 1, result.both
    line = line_of(text, "beta==1.0")
    assert result.out.splitlines() == [
        f"{lock}:{line}: missing dependency alpha (required by beta==1.0): the lock does not "
        "pin it; re-run lockpin compile"
    ]
    assert "1 problem(s)" in result.err


def test_no_closure_is_hash_only(locks: Locks) -> None:
    lock = locks.compile("beta\n", *AMD64)
    lock.write_text(drop_block(lock.read_text(), "alpha"))
    result = locks.verify(lock, "--no-closure")
    assert result.code == 0, result.both
    assert "dependency closure" not in result.err


def test_added_unrelated_pin_is_not_required(locks: Locks, dist_dir: Path) -> None:
    lock = locks.compile("beta\n", *AMD64)
    added = pin_block("prerel==1.0", [sha256_file(dist_dir / "prerel-1.0-py3-none-any.whl")])
    text = lock.read_text() + added
    lock.write_text(text)
    result = locks.verify(lock)
    assert result.code == 1, result.both
    assert result.out == (
        f"{lock}:{line_of(text, 'prerel')}: prerel==1.0 is not required by any other pin and "
        "not a root ('# via -r FILE'); remove it, or re-run lockpin compile\n"
    )


def test_a_pin_swapped_for_a_direct_reference_to_another_project_is_reported(
    locks: Locks, dist_dir: Path, index: IndexServer
) -> None:
    """``beta==1.0`` replaced by ``beta @ <alpha's wheel> --hash=<its hash>`` with the
    annotations kept: pip would install alpha's file in beta's place."""
    lock = locks.compile("beta\n", *AMD64)
    wheel = "alpha-1.0-py3-none-any.whl"
    swapped = pin_block(f"beta @ {index.file_url(wheel)}", [sha256_file(dist_dir / wheel)])
    text, n = re.subn(
        r"(?m)^beta==1\.0 \\\n(?:    --hash=[^\n]*\n)+", lambda _m: swapped, lock.read_text()
    )
    assert n == 1
    lock.write_text(text)
    result = locks.verify(lock)
    assert result.code == 1, result.both
    assert f"{lock}:{line_of(text, 'beta @')}:" in result.out
    assert "the file is a distribution of alpha, not of beta" in result.out


def test_added_pin_with_a_forged_root_annotation_passes(locks: Locks, dist_dir: Path) -> None:
    # The limit of what verify can know without the inputs (documented): a pin that
    # claims to come from requirements.in is a root. `compile --check` catches it.
    lock = locks.compile("beta\n", *AMD64)
    check = ["compile", "requirements.in", "-i", locks.index.simple_url, *AMD64, "--check"]
    assert run_cli(locks.capsys, *check).code == 0
    added = pin_block("prerel==1.0", [sha256_file(dist_dir / "prerel-1.0-py3-none-any.whl")])
    lock.write_text(lock.read_text() + added + "    # via -r requirements.in\n")
    assert locks.verify(lock).code == 0
    assert run_cli(locks.capsys, *check).code == 1


def test_pin_outside_the_specifier_is_unsatisfied(locks: Locks, dist_dir: Path) -> None:
    # onlysdist requires alpha<2; alpha 2.0 exists (yanked) and its hash is right.
    lock = locks.compile("onlysdist\n", *AMD64)
    text = lock.read_text()
    old = re.search(r"(?m)^alpha==1\.1 \\\n(?:    --hash[^\n]*\n)+", text)
    assert old is not None
    new = pin_block("alpha==2.0", [sha256_file(dist_dir / "alpha-2.0-py3-none-any.whl")])
    text = text.replace(old.group(), new)
    lock.write_text(text)
    result = locks.verify(lock)
    assert result.code == 1, result.both
    assert result.out == (
        f"{lock}:{line_of(text, 'alpha==2.0')}: alpha==2.0 does not satisfy onlysdist==1.0's "
        "requirement alpha<2\n"
    )
    assert "yanked" not in result.out  # hashes match: only the closure is wrong


def test_injected_index_mid_file_is_reported_and_never_contacted(
    locks: Locks, make_index: Callable[..., IndexServer]
) -> None:
    evil = make_index()  # a real server, so that a request to it would be seen
    lock = locks.compile("beta\n", *AMD64)
    text = lock.read_text()
    text = text.replace("beta==1.0", f"--extra-index-url {evil.simple_url}\nbeta==1.0")
    lock.write_text(text)
    result = locks.verify(lock)
    assert result.code == 1, result.both
    assert result.out == (
        f"{lock}:{line_of(text, '--extra-index-url')}: option line "
        f"'--extra-index-url {evil.simple_url}' among the pins: lockpin writes index options "
        "only above the first pin, and this one changes where pip downloads from\n"
    )
    assert evil.requests == []


def test_injected_index_above_the_pins_must_match_the_header(
    locks: Locks, make_index: Callable[..., IndexServer]
) -> None:
    evil = make_index()
    lock = locks.compile("beta\n", *AMD64)
    injected = f"--extra-index-url {evil.simple_url}\n--index-url"
    text = lock.read_text().replace("--index-url", injected)
    lock.write_text(text)
    result = locks.verify(lock)
    assert result.code == 1
    assert "the header's '# index:' line does not list this index" in result.out
    assert evil.requests == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda h: (f"--hash=sha256:{h}", f"--hash=sha256:{h[:20]}"),
            "not a line lockpin writes: --hash=sha256:",
            id="short-hash",
        ),
        pytest.param(
            lambda h: (f"--hash=sha256:{h}", f"--hash=sha256:{h} evil==6.6.6"),
            "not a line lockpin writes: unexpected 'evil==6.6.6' after the options",
            id="text-after-hash",
        ),
        pytest.param(
            lambda h: (f"--hash=sha256:{h}", f"--hash=sha256:{h} --extra-index-url=http://x/"),
            "not a line lockpin writes: --extra-index-url applies to the whole file",
            id="option-after-hash",
        ),
        pytest.param(
            lambda h: (f"--hash=sha256:{h}", f"--hash=sha512:{h}{h}"),
            "lockpin writes sha256 digests only",
            id="sha512",
        ),
        pytest.param(
            lambda h: ("beta==1.0", "Beta==1.0"),
            "'Beta': lockpin writes the normalized name 'beta'",
            id="name",
        ),
        pytest.param(
            lambda h: ("beta==1.0", "beta>=1.0"),
            "'beta>=1.0' is not pinned with ==",
            id="loose-pin",
        ),
        pytest.param(
            lambda h: ("beta==1.0", "beta===1.0"),
            "'beta===1.0' is not pinned with ==",
            id="arbitrary-equality",
        ),
        pytest.param(
            lambda h: ("beta==1.0 \\", "beta==1.0 \\\n    --config-settings=x=y \\"),
            "a lock does not carry --config-settings=x=y",
            id="install-option",
        ),
        pytest.param(
            lambda h: ("beta==1.0 \\", "beta==1.0 \\\n    --hash=sha256:" + "f" * 64 + " \\"),
            "beta: lockpin writes the hashes sorted",
            id="unsorted",
        ),
        pytest.param(
            lambda h: ("# via -r requirements.in", "# via -r requirements.in\n-r other.in"),
            "option line '-r other.in': a lock does not contain --requirement",
            id="include",
        ),
    ],
)
def test_lines_lockpin_would_not_write(
    locks: Locks,
    edit: Callable[[str], tuple[str, str]],
    expected: str,
) -> None:
    lock = locks.compile("beta\n", *AMD64)
    text = lock.read_text()
    beta = re.search(r"(?m)^beta==1\.0 \\\n    --hash=sha256:([0-9a-f]{64})$", text)
    assert beta is not None
    old, new = edit(beta.group(1))
    assert text.count(old) == 1
    lock.write_text(text.replace(old, new))
    result = locks.verify(lock)
    assert result.code == 1, result.both
    assert expected in result.out
    assert all(line.startswith(f"{lock}:") for line in result.out.splitlines())


def test_a_name_pinned_twice_is_reported(locks: Locks) -> None:
    lock = locks.compile("beta\n", *AMD64)
    text = lock.read_text()
    alpha = re.search(r"(?m)^alpha==[^\n]*\n(?:    --hash[^\n]*\n)+", text)
    assert alpha is not None
    text += alpha.group()
    lock.write_text(text)
    result = locks.verify(lock)
    assert result.code == 1
    assert "alpha is pinned again (first at" in result.out


def test_requires_python_of_a_pin_must_admit_the_target(locks: Locks, dist_dir: Path) -> None:
    # newpy 1.0 requires Python >= 3.13; the lock is for 3.12.
    lock = locks.compile("beta\n", *AMD64)
    added = pin_block("newpy==1.0", [sha256_file(dist_dir / "newpy-1.0-py3-none-any.whl")])
    lock.write_text(lock.read_text() + added + "    # via -r requirements.in\n")
    result = locks.verify(lock)
    assert result.code == 1
    assert f"newpy==1.0 requires Python >=3.13, which {AMD64_LABEL}" in result.out


# -- targets ------------------------------------------------------------------------------------


def test_multi_target_problem_names_the_target(locks: Locks) -> None:
    lock = locks.compile(
        "beta\n", "--python-version", "3.12", "--platform", "linux/amd64", "--platform",
        "linux/arm64",
    )  # fmt: skip
    text = lock.read_text()
    assert locks.verify(lock).code == 0
    text = text.replace("alpha==1.1 \\", "alpha==1.1 ; platform_machine == 'x86_64' \\")
    lock.write_text(text)
    result = locks.verify(lock)
    assert result.code == 1, result.both
    (line,) = result.out.splitlines()
    assert line.startswith(
        f"{lock}:{line_of(text, 'beta')}: missing dependency alpha (required by beta==1.0): "
        f"its pin at {lock}:{line_of(text, 'alpha')} has a marker that excludes the target "
        f"(on {ARM64_LABEL}"
    )
    assert "amd64" not in line


def test_targets_can_be_overridden(locks: Locks) -> None:
    lock = locks.compile("beta\n", *AMD64)
    result = locks.verify(lock, *ARM64)
    assert result.code == 0, result.both
    assert f"closure for {ARM64_LABEL}" in result.err


# -- files without a lockpin header -------------------------------------------------------------


def test_hand_written_file_is_hash_only_unless_closure_is_asked(
    locks: Locks, dist_dir: Path
) -> None:
    hand = locks.tmp / "pinned.txt"
    hand.write_text(pin_block("beta==1.0", [sha256_file(dist_dir / "beta-1.0-py3-none-any.whl")]))
    result = locks.verify(hand)
    assert result.code == 0, result.both
    assert "dependency closure" not in result.err

    result = locks.verify(hand, "--closure", *AMD64)
    assert result.code == 1
    assert f"{hand}:1: missing dependency alpha (required by beta==1.0)" in result.out
    # No "# via" annotations: roots are unknown, so nothing is called unrequired.
    assert "no '# via' annotations" in result.err


def test_lock_without_annotations_skips_the_unrequired_check_with_a_note(
    locks: Locks, dist_dir: Path
) -> None:
    lock = locks.compile("beta\n", "--no-annotate", *AMD64)
    added = pin_block("prerel==1.0", [sha256_file(dist_dir / "prerel-1.0-py3-none-any.whl")])
    lock.write_text(lock.read_text() + added)
    result = locks.verify(lock)
    assert result.code == 0, result.both
    assert "no '# via' annotations" in result.err
    lock.write_text(drop_block(lock.read_text(), "alpha"))
    assert locks.verify(lock).code == 1  # missing dependencies are still found


@pytest.mark.parametrize("tool", ["pip-compile", "uv"])
def test_locks_of_other_compilers_verify(
    tool: str, index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} is not installed")
    (tmp_path / "req.in").write_text("beta\nwithextras[fast]\nonlysdist\n")
    argv = [exe, "--generate-hashes", "-q", "-i", index.simple_url, "-o", "req.txt", "req.in"]
    if tool == "uv":
        argv[1:1] = ["pip", "compile", "--no-cache"]
    env = pip_environ(tmp_path / "pip-cache")
    env.update({"UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(tmp_path / "uv-cache")})
    proc = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    lock = tmp_path / "req.txt"
    result = run_cli(capsys, "verify", str(lock), "-i", index.simple_url)
    assert result.code == 0, result.both
    assert "complete dependency closure" in result.err
    lock.write_text(drop_block(lock.read_text(), "alpha"))
    result = run_cli(capsys, "verify", str(lock), "-i", index.simple_url)
    assert result.code == 1
    assert "missing dependency alpha (required by beta==1.0)" in result.out
    assert "missing dependency alpha (required by onlysdist==1.0)" in result.out


# -- real locks, modelled on tiny fixtures --------------------------------------------------------


@pytest.fixture
def chain_index(make_index: Callable[..., IndexServer], tmp_path: Path) -> IndexServer:
    """Shapes found in real locks, in miniature.

    top[cache] -> mid[store] -> store is celery[redis] -> kombu[redis] -> redis (and
    boto3[crt] -> botocore[crt] -> awscrt): the extra reaches ``store`` through
    ``mid``, which top and side also require without extras, so a lock says
    ``store  # via mid`` and ``mid  # via side, top``, never ``top[cache]``.
    winonly needs windep on Windows and posixdep elsewhere (colorama, pexpect).
    """
    root = tmp_path / "chain"
    root.mkdir()
    server = make_index(root, standard=False)
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for path in (
        build_wheel(
            root, "top", "1.0", requires=["mid>=1", "side"], extras={"cache": ["mid[store]>=1"]}
        ),
        build_wheel(root, "side", "1.0", requires=["mid"]),
        build_wheel(root, "mid", "1.0", extras={"store": ["store>=2,!=2.1"]}),
        build_wheel(root, "store", "2.0"),
        build_wheel(root, "store", "2.1"),
        build_wheel(
            root,
            "winonly",
            "1.0",
            requires=['windep; sys_platform == "win32"', 'posixdep; sys_platform != "win32"'],
        ),
        build_wheel(root, "windep", "1.0"),
        build_wheel(root, "posixdep", "1.0"),
    ):
        server.add_file(path, upload_time=when)
    return server


@pytest.fixture
def chain(chain_index: IndexServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Locks:
    return Locks(chain_index, capsys, tmp_path)


def wheel_hash(index: IndexServer, name: str, version: str) -> str:
    return sha256_file(index.root / f"{name}-{version}-py3-none-any.whl")


def test_extras_that_reach_a_pin_through_a_dependency_are_inferred(chain: Locks) -> None:
    # celery[redis] locked: "redis  # via kombu", "kombu  # via celery"; kombu is no
    # root, and celery requires it without extras too. verify reported redis as
    # required by nothing.
    lock = chain.compile("top[cache]\n", *AMD64)
    text = lock.read_text()
    assert "store==2.0 \\\n" in text
    assert "    # via mid\n" in text
    assert "[" not in text  # nothing in the lock names an extra
    result = chain.verify(lock)
    assert result.code == 0, result.both

    # The inferred extras are checked like any other: a store that mid[store] excludes fails.
    old = re.search(r"(?m)^store==2\.0 \\\n    --hash=sha256:[0-9a-f]{64}\n", text)
    assert old is not None
    text = text.replace(
        old.group(), pin_block("store==2.1", [wheel_hash(chain.index, "store", "2.1")])
    )
    lock.write_text(text)
    result = chain.verify(lock)
    assert result.code == 1, result.both
    assert result.out == (
        f"{lock}:{line_of(text, 'store')}: store==2.1 does not satisfy mid[store]==1.0's "
        "requirement store!=2.1,>=2\n"
    )


def test_an_added_optional_dependency_needs_an_annotation_to_pass(chain: Locks) -> None:
    # store added by hand to a lock of plain "top": without "# via" nothing requires it.
    # Annotated as the tools annotate it, only top[cache] explains it, and verify takes
    # the annotation at its word (as it does "# via -r FILE"); compile --check does not.
    lock = chain.compile("top\n", *AMD64)
    text = lock.read_text()
    assert "store" not in text
    added = pin_block("store==2.0", [wheel_hash(chain.index, "store", "2.0")])
    lock.write_text(text + added)
    result = chain.verify(lock)
    assert result.code == 1
    assert result.out == (
        f"{lock}:{line_of(text + added, 'store')}: store==2.0 is not required by any other "
        "pin and not a root ('# via -r FILE'); remove it, or re-run lockpin compile\n"
    )
    lock.write_text(text + added + "    # via mid\n")
    assert chain.verify(lock).code == 0
    check = ["compile", "requirements.in", "-i", chain.index.simple_url, *AMD64, "--check"]
    assert run_cli(chain.capsys, *check).code == 1


def as_uv_lock(text: str, command: str, *, from_url: str) -> str:
    """A lockpin lock rewritten as ``uv pip compile --annotation-style line
    --emit-index-annotation`` writes it: uv's header, ``# via a, b`` on one line,
    then ``# from URL``."""
    body = text[text.index("\n\n") + 2 :]
    body = body[re.search(r"(?m)^[a-z]", body).start() :]  # type: ignore[union-attr]

    def one_line(match: re.Match[str]) -> str:
        names = re.findall(r"(?m)^    #   (.+)$", match.group(0))
        return f"    # via {', '.join(names)}\n"

    body = re.sub(r"(?m)^    # via\n(?:    #   .+\n)+", one_line, body)
    body = re.sub(r"(?m)^(    # via .+)$", rf"\1\n    # from {from_url}", body)
    return f"# This file was autogenerated by uv via the following command:\n#    {command}\n{body}"


def test_uv_line_annotations_and_index_annotations_are_read(chain: Locks) -> None:
    # uv --annotation-style line writes "# via boto3, s3transfer" under a pin: one
    # entry per name, not one name "boto3, s3transfer" (awscrt was reported unrequired).
    lock = chain.compile("top[cache]\n", *AMD64)
    command = "uv pip compile --generate-hashes --python-version 3.12 r.in -o r.txt"
    text = as_uv_lock(lock.read_text(), command, from_url=chain.index.simple_url)
    assert "    # via side, top\n" in text
    assert f"    # from {chain.index.simple_url}\n" in text
    lock.write_text(text)
    result = chain.verify(lock, *AMD64)
    assert result.code == 0, result.both

    lock.write_text(drop_block(text, "mid"))
    result = chain.verify(lock, *AMD64)
    assert result.code == 1
    assert "missing dependency mid (required by side==1.0)" in result.out
    assert "store==2.0 is not required by any other pin" in result.out


@pytest.mark.parametrize(
    ("lines", "via", "root"),
    [
        pytest.param(["# via", "#   -r r.in", "#   b"], ("-r r.in", "b"), True, id="list"),
        pytest.param(["# via b, -r r.in"], ("b", "-r r.in"), True, id="line-style"),
        pytest.param(["# via b, c"], ("b", "c"), False, id="line-style-no-root"),
        pytest.param(
            ["# via", "#   b", "# from https://pypi.org/simple"], ("b",), False, id="uv-index"
        ),
        pytest.param(["# via app (pyproject.toml)"], ("app (pyproject.toml)",), True, id="pyproj"),
        pytest.param(["# from https://pypi.org/simple", "#   b"], (), False, id="no-via"),
    ],
)
def test_via_annotations_of_every_style(lines: list[str], via: tuple[str, ...], root: bool) -> None:
    text = "a==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n" + "".join(f"    {x}\n" for x in lines)
    (pin,) = lock_pins(split_blocks(text, path="r.txt"))
    assert (pin.via, pin.is_root) == (via, root)


def uv_lock(platform_option: str, pins: list[tuple[str, str]], index: IndexServer) -> str:
    command = (
        f"uv pip compile --generate-hashes --python-version 3.12 {platform_option} r.in -o r.txt"
    )
    head = f"# This file was autogenerated by uv via the following command:\n#    {command}\n"
    body = "".join(
        pin_block(f"{name}==1.0", [wheel_hash(index, name, "1.0")]) + f"    # via {via}\n"
        for name, via in pins
    )
    return head + body


def test_uv_lock_is_checked_for_its_python_platform(chain: Locks) -> None:
    # uv pip compile --python-platform windows: the closure is Windows', whatever
    # machine verify runs on (a Linux host saw colorama unrequired, pexpect missing).
    lock = chain.tmp / "r.txt"
    pins = [("windep", "winonly"), ("winonly", "-r r.in")]
    lock.write_text(uv_lock("--python-platform windows", pins, chain.index))
    result = chain.verify(lock)
    assert result.code == 0, result.both
    assert "complete dependency closure for CPython 3.12.0 on win_amd64" in result.err

    lock.write_text(
        uv_lock("--python-platform windows", [*pins, ("posixdep", "winonly")], chain.index)
    )
    result = chain.verify(lock)
    assert result.code == 1
    assert "posixdep==1.0 is not required by any other pin" in result.out

    # A platform lockpin cannot model is an error, not a check for another platform.
    lock.write_text(uv_lock("--python-platform wasm32-pyodide2024", pins, chain.index))
    result = chain.verify(lock)
    assert result.code == 2
    assert "wasm32-pyodide2024" in result.err
    assert "pass --python-version and --platform" in result.err


# -- API and process ----------------------------------------------------------------------------


def test_api_reports_closure_problems_as_values(locks: Locks) -> None:
    lock = locks.compile("beta\n", *AMD64)
    text = drop_block(lock.read_text(), "alpha")
    lock.write_text(text)
    target = lockpin.parse_target(python_version="3.12", platform="linux/amd64")
    result = lockpin.verify(
        lock,
        index=IndexConfig(index_url=locks.index.simple_url),
        targets=[target],
        http=HttpConfig(cache_dir=None),
    )
    assert not result.ok
    assert result.closure_targets == (target.describe(),)
    assert result.problems == (
        VerifyProblem(
            "missing-dependency",
            NormalizedName("beta"),
            "1.0",
            f"{lock}:{line_of(text, 'beta')}",
            detail="missing dependency alpha (required by beta==1.0): the lock does not pin "
            "it; re-run lockpin compile",
        ),
    )
    hash_only = lockpin.verify(
        lock,
        index=IndexConfig(index_url=locks.index.simple_url),
        closure=False,
        http=HttpConfig(cache_dir=None),
    )
    assert hash_only.ok
    assert hash_only.closure_targets == ()


def test_subprocess_edited_lock_fails_without_traceback(locks: Locks) -> None:
    lock = locks.compile("beta\n", *AMD64)
    lock.write_text(drop_block(lock.read_text(), "alpha"))
    result = run_subprocess("verify", str(lock), "-i", locks.index.simple_url, "--no-cache")
    assert result.code == 1
    assert "Traceback" not in result.err
    assert "missing dependency alpha (required by beta==1.0)" in result.out


# -- reading headers (pure) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "tool", "targets", "python", "indexes"),
    [
        pytest.param(
            "#\n# This file is autogenerated by lockpin for CPython 3.12.0 on linux/amd64 "
            "(manylinux_2_28_x86_64)\n# by the following command:\n#\n#    lockpin compile "
            "r.in --python-version 3.12\n#\n# index: https://pypi.org/simple/\n#\nalpha==1\n",
            "lockpin",
            (("3.12.0", "linux/amd64"),),
            None,
            ("https://pypi.org/simple/",),
            id="lockpin",
        ),
        pytest.param(
            "#\n# This file is autogenerated by lockpin for these targets:\n"
            "#   CPython 3.12.0 on linux/amd64 (manylinux_2_28_x86_64)\n"
            "#   CPython 3.11.4 on manylinux_2_17_aarch64\n#\nalpha==1\n",
            "lockpin",
            (("3.12.0", "linux/amd64"), ("3.11.4", "manylinux_2_17_aarch64")),
            None,
            None,
            id="lockpin-targets",
        ),
        pytest.param(
            "#\n# This file is autogenerated by pip-compile with Python 3.12\n"
            "# by the following command:\n#\n#    pip-compile --generate-hashes\n#\n",
            "pip-compile",
            (),
            "3.12",
            None,
            id="pip-compile",
        ),
        pytest.param(
            "# This file was autogenerated by uv via the following command:\n"
            "#    uv pip compile r.in --python-version 3.11\nalpha==1\n",
            "uv",
            (),
            None,
            None,
            id="uv",
        ),
        pytest.param(
            "# This file was autogenerated by uv via the following command:\n"
            "#    uv pip compile r.in --python-version 3.12 --python-platform "
            "aarch64-manylinux_2_28\n",
            "uv",
            (("3.12", "manylinux_2_28_aarch64"),),
            None,
            None,
            id="uv-python-platform",
        ),
        pytest.param(
            "# This file was autogenerated by uv via the following command:\n"
            "#    uv pip compile r.in --python-platform=macos\n",
            "uv",
            ((None, "macosx_13_0_arm64"),),
            None,
            None,
            id="uv-platform-alias",
        ),
        pytest.param(
            "# This file was autogenerated by uv via the following command:\n"
            "#    uv pip compile r.in --python-version 3.11 --python-platform "
            "x86_64-manylinux2014\n",
            "uv",
            (("3.11", "manylinux2014_x86_64"),),
            None,
            None,
            id="uv-manylinux2014",
        ),
        pytest.param(
            "alpha==1\n# This file is autogenerated by lockpin for CPython 3.12.0 on host\n",
            None,
            (),
            None,
            None,
            id="not-leading",
        ),
    ],
)
def test_parse_header(
    header: str,
    tool: str | None,
    targets: tuple[tuple[str | None, str], ...],
    python: str | None,
    indexes: tuple[str, ...] | None,
) -> None:
    parsed = parse_header(header)
    assert (parsed.tool, parsed.targets, parsed.python, parsed.indexes) == (
        tool,
        targets,
        python,
        indexes,
    )
    if tool == "uv" and not targets:
        assert parsed.option_values("--python-version") == ["3.11"]
