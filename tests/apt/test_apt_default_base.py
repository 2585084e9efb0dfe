"""The default base (lockpin.apt.resolve.base_from_archive) read through the packed
index's ``required_names``: the same base, without parsing every stanza.

A real archive's universe answers ``required_names()`` from its packed index (the
names with some ``Essential: yes`` / ``Priority: required`` stanza); walking every
name instead parsed all ~63,000 stanzas of Debian's main and cost a warm run ~9 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fixtures.aptget import TableUniverse, make_package
from lockpin.apt.archive import ArchiveUniverse, _Index, _Target
from lockpin.apt.packed import index_packages
from lockpin.apt.resolve import base_from_archive

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from lockpin.apt.models import Package

pkg = make_package

ARCHIVE = [
    pkg("base-files 12", essential=True, priority="required", depends="mawk | awk"),
    pkg("mawk 1.3", priority="required", provides="awk"),
    pkg("dpkg 1.21", essential=True, priority="required", pre_depends="tar (>= 1.28)"),
    pkg("tar 1.34", essential=True, priority="required"),
    pkg("apt 2.6.1", priority="important", depends="libapt-pkg6.0"),
    pkg("libapt-pkg6.0 2.6.1", priority="important"),
    # required only in an older suite: the candidate decides, as before
    pkg("oldreq 1", priority="required"),
    pkg("oldreq 2", suite="bookworm-updates", priority="optional"),
    *(pkg(f"leaf{i} 1.0", priority="optional") for i in range(50)),
]


class RequiredNamesUniverse(TableUniverse):
    """A table universe that also answers ``required_names``, as an archive's does."""

    def __init__(self, packages: Iterable[Package]) -> None:
        super().__init__(packages)
        self.names_called = False

    def required_names(self) -> Sequence[str]:
        return sorted({p.name for p in self.packages if p.essential or p.priority == "required"})

    def names(self) -> Sequence[str]:
        self.names_called = True
        return super().names()


def _pairs(base: Sequence[Package]) -> list[tuple[str, str]]:
    return [(p.name, p.version) for p in base]


def test_required_names_give_the_same_base_and_skip_the_rest() -> None:
    plain = base_from_archive(TableUniverse(ARCHIVE))
    fast_universe = RequiredNamesUniverse(ARCHIVE)
    fast = base_from_archive(fast_universe)
    assert _pairs(fast) == _pairs(plain)
    assert ("oldreq", "2") not in _pairs(fast)
    assert ("tar", "1.34") in _pairs(fast)
    assert not fast_universe.names_called
    # only the required names and the closure's were looked up, no leaf
    assert not [name for name in fast_universe.asked if name.startswith("leaf")]


def _stanza(name: str, version: str, extra: str = "") -> str:
    sha = "0" * 64
    return (
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n{extra}"
        f"Filename: pool/main/{name}_{version}_amd64.deb\nSize: 1\nSHA256: {sha}\n"
    )


def test_archive_universe_base_parses_only_what_it_needs() -> None:
    stanzas = [
        _stanza("base-files", "12", "Essential: yes\nPriority: required\nDepends: mawk\n"),
        _stanza("mawk", "1.3", "Priority: required\n"),
        _stanza("apt", "2.6.1", "Priority: important\n"),
        *(_stanza(f"leaf{i}", "1.0", "Priority: optional\n") for i in range(200)),
    ]
    text = "\n".join(stanzas).encode()
    target = _Target("bookworm", "http://archive.invalid/debian/", "main", "amd64")
    index = _Index(target, "http://archive.invalid/Packages", text, index_packages(text))
    universe = ArchiveUniverse("amd64", [index])
    base = base_from_archive(universe)
    assert _pairs(base) == [("apt", "2.6.1"), ("base-files", "12"), ("mawk", "1.3")]
    assert len(index._parsed) == 3  # the three stanzas, not the 200 leaves
