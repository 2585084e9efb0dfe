"""What makes sdist builds and backtracking cheap, without changing an answer:
build environments shared per (interpreter, build requirements), build steps that
can be stopped, pip beside lockpin reused through ``pip --python``, and batches of
older releases read together while the resolver backtracks through one project.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.dists import build_sdist
from lockpin.errors import BuildError
from lockpin.python import build as build_module
from python.test_hostile_metadata import _with_build_requirements, pins_of
from python.test_provider import FakeWorld, Rel, pins, run
from support import record_children, run_cli

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from fixtures.index_server import IndexServer
    from lockpin.python.provider import Candidate

WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)
pytestmark = pytest.mark.usefixtures("isolated")


# -- build environments ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("no_pip_config")
def test_sdists_with_the_same_build_requirements_share_one_environment(
    make_index: Callable[..., IndexServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("sharedenv")
    server = make_index()
    for name in ("victim", "other"):
        sdist = build_sdist(
            root, name, "1.0", requires=["alpha"], dynamic=["Requires-Dist"], static_pyproject=False
        )
        sdist.write_bytes(_with_build_requirements(sdist, '["beta>=1"]'))
        server.add_file(sdist, upload_time=WHEN)
    argvs = record_children(monkeypatch)
    Path("requirements.in").write_text("victim\nother\n")
    run = run_cli(
        capsys, "compile", "requirements.in", "-o", "-", "-i", server.simple_url,
        "--python-version", "3.12", "--platform", "linux/amd64",
    )  # fmt: skip
    assert run.code == 0, run.both
    assert pins_of(run.out) == {"alpha": "1.1", "other": "1.0", "victim": "1.0"}
    venvs = [a for a in argvs if a[1:3] == ["-m", "venv"]]
    installs = [a for a in argvs if "pip" in a and "install" in a and "beta>=1" in a]
    hooks = [a for a in argvs if len(a) > 1 and a[1].endswith("hook.py")]
    assert len(venvs) == 1, venvs  # one environment for both builds ...
    assert len(installs) == 1, installs  # ... with beta installed once
    assert len({h[0] for h in hooks}) == 1, hooks  # the same interpreter ...
    assert len(hooks) == 4, hooks  # ... for 2 hooks x 2 sdists
    # and it is gone when the lock is written
    assert not Path(venvs[0][-1]).exists()


def test_a_failed_environment_is_made_again_by_the_next_build(tmp_path: Path) -> None:
    envs = build_module.BuildEnvironments()
    calls: list[list[str]] = []

    def failing(env_dir: Path, reqs: list[str]) -> None:
        calls.append(reqs)
        (env_dir / "half-made").write_text("x")
        raise BuildError("index unreachable", filename="p-1.0.tar.gz", transient=True)

    with pytest.raises(BuildError, match="index unreachable"):
        envs.get("python", ["b", "a", "a"], failing)
    made = envs.get("python", ["a", "b"], lambda d, r: calls.append(r))
    assert calls == [["a", "b"], ["a", "b"]]  # sorted, deduplicated, made again
    assert made.is_dir()
    assert not (made / "half-made").exists()
    assert envs.get("python", ["b", "a"], failing) == made  # then reused as it is
    assert envs.get("other-python", ["a", "b"], lambda d, r: None) != made
    envs.close()
    assert not made.exists()


def test_a_stopped_builder_kills_its_running_step_and_starts_no_other() -> None:
    procs = build_module.Processes()
    errors: list[BaseException] = []

    def step() -> None:
        try:
            build_module._run(
                [sys.executable, "-c", "import time; time.sleep(120)"],
                what="get_requires_for_build_wheel of p-1.0.tar.gz",
                filename="p-1.0.tar.gz",
                timeout=300,
                transient=False,
                procs=procs,
            )
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=step)
    worker.start()
    deadline = time.monotonic() + 30
    while not procs._live and time.monotonic() < deadline:
        time.sleep(0.01)
    procs.stop()
    worker.join(30)
    assert not worker.is_alive()
    [err] = errors
    assert isinstance(err, BuildError)
    assert err.transient  # never remembered as the sdist's fault
    assert "was stopped: lockpin no longer needed it" in str(err)
    with pytest.raises(BuildError, match="was stopped") as later:
        build_module._run(
            [sys.executable, "-c", "pass"], what="x", filename="p", timeout=5,
            transient=False, procs=procs,
        )  # fmt: skip
    assert later.value.transient


def test_a_failing_step_says_why_and_is_not_transient_unless_told() -> None:
    with pytest.raises(BuildError, match=r"(?s)failed \(exit 3\):.*no setuptools") as err:
        build_module._run(
            [sys.executable, "-c", "import sys; sys.stderr.write('no setuptools'); sys.exit(3)"],
            what="prepare_metadata_for_build_wheel of p-1.0.tar.gz",
            filename="p-1.0.tar.gz",
            timeout=30,
            transient=False,
        )
    assert not err.value.transient


def test_pip_beside_lockpin_is_used_only_for_interpreters_it_supports() -> None:
    pytest.importorskip("pip")
    assert build_module._host_pip("3.12.1") == (sys.executable, "-m", "pip")
    assert build_module._host_pip("2.7.18") is None  # pip's Requires-Python: ensurepip then
    assert build_module._host_pip(None) is None


# -- batches while backtracking --------------------------------------------------------------


@dataclass
class PrefetchingWorld(FakeWorld):
    batches: list[list[str]] = field(default_factory=list)

    def prefetch(self, candidates: Sequence[Candidate]) -> None:
        self.batches.append([c.pin for c in candidates])


def test_backtracking_through_one_project_reads_its_older_releases_in_batches() -> None:
    # Every a>=2 needs x==2, c needs x==1: nothing in the input rules a's releases
    # out, so the resolver walks down a's 40 releases to a==1.
    projects: dict[str, list[Rel | tuple[object, ...]]] = {
        "a": [*(Rel(str(v), deps=("x==2",)) for v in range(40, 1, -1)), Rel("1")],
        "c": [Rel("1", deps=("x==1",))],
        "x": [Rel("2"), Rel("1")],
    }
    world = PrefetchingWorld(projects)
    res = run(projects, "a", "c", world=world)
    assert pins(res) == {"a": "1", "c": "1", "x": "1"}
    asked = [b for b in world.batches if b and all(p.startswith("a==") for p in b)]
    assert asked, world.batches
    sizes = [len(b) for b in asked]
    assert max(sizes) > 8  # the batches grow ...
    assert max(sizes) <= 32  # ... up to a bound
    read_ahead = {p for b in asked for p in b}
    assert "a==1" in read_ahead  # the one that is finally kept was among them
    # every release the resolver read was asked for ahead, except the first ones
    read = [c for c in world.metadata_calls if c.startswith("a==")]
    assert len(set(read) - read_ahead) <= 2, sorted(set(read) - read_ahead)


def test_no_batch_when_the_first_release_is_kept() -> None:
    projects: dict[str, list[Rel | tuple[object, ...]]] = {
        "a": [*(Rel(str(v)) for v in range(30, 0, -1))],
    }
    world = PrefetchingWorld(projects)
    res = run(projects, "a", world=world)
    assert pins(res) == {"a": "30"}
    assert world.batches == []
