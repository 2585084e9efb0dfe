"""The live tier of the resolver (``-m network``): real sets that once did not end.

The FastAPI full-stack template's backend (``fastapi[standard]`` with
``sentry-sdk<2``) backtracked for 503 s and gave up; uv locks it keeping fastapi
at 0.115.x, because newer ``fastapi[standard]`` needs ``sentry-sdk>=2.20``. An
impossible pin is explained by its chain instead of a round count. Fixed
``--exclude-newer`` keeps the answers still.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from lockpin.errors import ResolutionError
from lockpin.net.http import HttpConfig
from lockpin.python.compile import compile_lock, parse_exclude_newer
from lockpin.python.index import IndexConfig
from lockpin.python.target import parse_target

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.network

TARGET = parse_target(python_version="3.12", platform="linux/amd64")
CUTOFF = parse_exclude_newer("2026-11-01T00:00:00Z")

FASTAPI_TEMPLATE = """\
fastapi[standard]<1.0.0,>=0.114.2
python-multipart<1.0.0,>=0.0.7
email-validator<3.0.0.0,>=2.1.0.post1
passlib[bcrypt]<2.0.0,>=1.7.4
tenacity<9.0.0,>=8.2.3
pydantic>2.0
emails<1.0,>=0.6
jinja2<4.0.0,>=3.1.4
alembic<2.0.0,>=1.12.1
httpx<1.0.0,>=0.25.1
psycopg[binary]<4.0.0,>=3.1.13
sqlmodel<1.0.0,>=0.0.21
bcrypt==4.3.0
pydantic-settings<3.0.0,>=2.2.1
sentry-sdk[fastapi]<2.0.0,>=1.40.6
pyjwt<3.0.0,>=2.8.0
"""


def _lock(tmp_path: Path, text: str) -> dict[str, str]:
    src = tmp_path / "requirements.in"
    src.write_text(text)
    lock = compile_lock(
        [src],
        targets=(TARGET,),
        index=IndexConfig(index_url="https://pypi.org/simple"),
        exclude_newer=CUTOFF,
        http=HttpConfig(cache_dir=tmp_path / "cache"),
    )
    return {p.name: str(p.version) for p in lock.packages}


def test_the_fastapi_template_backend_locks_as_uv_does(tmp_path: Path) -> None:
    got = _lock(tmp_path, FASTAPI_TEMPLATE)
    # uv pip compile, same cut-off and target: fastapi 0.115.14, fastapi-cli 0.0.7
    assert got["fastapi"] == "0.115.14"
    assert got["fastapi-cli"] == "0.0.7"
    assert got["sentry-sdk"] == "1.45.1"
    assert got["cssutils"] == "2.15.0"
    assert len(got) == 62


def test_an_impossible_pin_is_explained_by_its_chain(tmp_path: Path) -> None:
    with pytest.raises(ResolutionError) as info:
        _lock(tmp_path, "apache-airflow==2.0.0\nflask>=3\n")
    text = str(info.value)
    assert "whatever else is chosen, apache-airflow==2.0.0 requires flask<2.0,>=1.1.0:" in text
    assert "requirements.in asks for flask>=3" in text
    flask = [c for c in info.value.conflicts if c.project == "flask"]
    assert {c.requirement for c in flask} >= {"flask>=3", "flask<2.0,>=1.1.0"}
