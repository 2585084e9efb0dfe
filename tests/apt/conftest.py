"""Fixtures of the apt tests: a throw-away signing key and a real signed archive
served on 127.0.0.1 (:mod:`fixtures.apt_archive`).

* ``apt_key`` (session): the archive's signing key (:class:`GpgKey`;
  ``apt_key.keyring`` is the binary keyring to pass as ``keyring=``).
* ``apt_other_key`` (session): a second key, in no keyring the tests pass.
* ``apt_debs`` (session): the ``.deb`` cache (:class:`DebCache`).
* ``apt_archive`` (session): the standard archive (:data:`STANDARD_TABLE`),
  served; shared, so treat it as read-only: never add faults to its server.
  ``apt_archive.sources()`` gives :class:`~lockpin.apt.distro.Sources` for it.
* ``make_apt_archive`` (per test): ``make_apt_archive(suites=None, *, key=None)``
  builds a private archive (the standard one by default) and serves it; safe to
  break with faults. Stopped at teardown.
* ``debian_minbase_root`` (session, live tier only): a ``debootstrap
  --variant=minbase bookworm`` root, built once and cached
  (:func:`fixtures.minbase.minbase_root`; ``$LOCKPIN_TEST_DEBIAN_ROOT`` names one
  to use instead). Read-only: copy it (:func:`fixtures.minbase.private_copy`)
  to install into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fixtures.apt_archive import (
    AptArchiveServer,
    DebCache,
    GpgKey,
    ServedArchive,
    SuiteSpec,
    build_archive,
    make_gpg_key,
    standard_suites,
)
from fixtures.minbase import minbase_root

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path


@pytest.fixture(scope="session")
def apt_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKey]:
    key = make_gpg_key(tmp_path_factory.mktemp("apt-key"))
    yield key
    key.close()


@pytest.fixture(scope="session")
def apt_other_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKey]:
    key = make_gpg_key(tmp_path_factory.mktemp("apt-other-key"), "some other key")
    yield key
    key.close()


@pytest.fixture(scope="session")
def apt_debs(tmp_path_factory: pytest.TempPathFactory) -> DebCache:
    return DebCache(tmp_path_factory.mktemp("apt-debs"))


@pytest.fixture(scope="session")
def apt_archive(
    tmp_path_factory: pytest.TempPathFactory, apt_key: GpgKey, apt_debs: DebCache
) -> Iterator[ServedArchive]:
    """The standard archive, served. Shared by the session: do not break it."""
    root = tmp_path_factory.mktemp("apt-archive")
    built = build_archive(root, standard_suites(), key=apt_key, debs=apt_debs)
    with AptArchiveServer(root) as server:
        yield ServedArchive(built, server, apt_key)


@pytest.fixture
def make_apt_archive(
    tmp_path: Path, apt_key: GpgKey, apt_debs: DebCache
) -> Iterator[Callable[..., ServedArchive]]:
    """``make_apt_archive(suites=None, *, key=None)``: a private archive (the
    standard one by default), built and served; safe to break."""
    servers: list[AptArchiveServer] = []

    def make(
        suites: Sequence[SuiteSpec] | None = None, *, key: GpgKey | None = None
    ) -> ServedArchive:
        root = tmp_path / f"archive-{len(servers)}"
        signer = key or apt_key
        built = build_archive(
            root,
            list(suites) if suites is not None else standard_suites(),
            key=signer,
            debs=apt_debs,
        )
        server = AptArchiveServer(root).start()
        servers.append(server)
        return ServedArchive(built, server, signer)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def debian_minbase_root() -> Path:
    """A minimal Debian bookworm root (read-only; see the module docstring)."""
    return minbase_root(
        "bookworm",
        release="bookworm",
        mirror="http://deb.debian.org/debian",
        env="LOCKPIN_TEST_DEBIAN_ROOT",
    )
