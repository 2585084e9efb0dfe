"""Fixtures of the apt tests besides the signed archive's (``apt_key``,
``apt_archive``, ``make_apt_archive``, ...: :mod:`fixtures.apt_plugin`, shared
with ``tests/cli``).

* ``debian_minbase_root`` (session, live tier only): a ``debootstrap
  --variant=minbase bookworm`` root, built once and cached
  (:func:`fixtures.minbase.minbase_root`; ``$LOCKPIN_TEST_DEBIAN_ROOT`` names one
  to use instead). Read-only: copy it (:func:`fixtures.minbase.private_copy`)
  to install into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fixtures.minbase import minbase_root

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="session")
def debian_minbase_root() -> Path:
    """A minimal Debian bookworm root (read-only; see the module docstring)."""
    return minbase_root(
        "bookworm",
        release="bookworm",
        mirror="http://deb.debian.org/debian",
        env="LOCKPIN_TEST_DEBIAN_ROOT",
    )
