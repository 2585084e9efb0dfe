"""From stanzas to packages (lockpin.apt.packages): tables of good and hostile
``Packages`` stanzas and dpkg status entries; the fixture archive and (``-m
network``) Debian bookworm's main/amd64 index read field by field against
python-debian; the status states against the real ``apt-get -s``."""

from __future__ import annotations

import lzma
import re
import shutil
import urllib.request
import warnings
from typing import TYPE_CHECKING

import pytest

from fixtures.aptget import (
    AptGetFailed,
    AptGetRoot,
    AptSource,
    make_package,
    write_flat_repository,
)
from lockpin.apt.deb822 import Deb822Error, iter_stanzas, parse_stanza
from lockpin.apt.models import INSTALLED
from lockpin.apt.packages import (
    PackageStanzaError,
    is_installed_status,
    package_from_stanza,
    parse_status,
)
from lockpin.apt.relation import Relation, parse_relations

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.apt_archive import ServedArchive
    from lockpin.apt.models import Package

debian_deb822 = pytest.importorskip("debian.deb822")

SHA = "0123456789abcdef" * 4

GOOD = {
    "package": "curl",
    "source": "curl (7.88.1-10)",
    "version": "7.88.1-10+deb12u12",
    "installed-size": "500",
    "maintainer": "Alessandro Ghedini <ghedo@debian.org>",
    "architecture": "amd64",
    "multi-arch": "foreign",
    "priority": "optional",
    "depends": "libc6 (>= 2.34), libcurl4 (= 7.88.1-10+deb12u12), zlib1g (>= 1:1.1.4)",
    "pre-depends": "dpkg (>= 1.17)",
    "recommends": "ca-certificates",
    "conflicts": "curl-old",
    "breaks": "wget (<< 1.0)",
    "provides": "http-client, curl-abi (= 4)",
    "description": "command line tool\nlong text",
    "filename": "pool/main/c/curl/curl_7.88.1-10+deb12u12_amd64.deb",
    "size": "315000",
    "sha256": SHA.upper(),
}


def package(**changes: str | None) -> Package:
    fields = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return package_from_stanza(
        fields, suite="bookworm", origin="https://m/debian/", component="main"
    )


def test_a_good_stanza() -> None:
    pkg = package()
    assert (pkg.name, pkg.version, pkg.architecture) == ("curl", "7.88.1-10+deb12u12", "amd64")
    assert (pkg.suite, pkg.origin, pkg.component) == ("bookworm", "https://m/debian/", "main")
    assert pkg.multi_arch == "foreign"
    assert pkg.essential is False
    assert pkg.priority == "optional"
    assert pkg.source == "curl"
    assert pkg.depends == parse_relations(GOOD["depends"])
    assert pkg.depends[1] == (Relation("libcurl4", "=", "7.88.1-10+deb12u12"),)
    assert pkg.pre_depends == ((Relation("dpkg", ">=", "1.17"),),)
    assert pkg.recommends == ((Relation("ca-certificates"),),)
    assert pkg.conflicts == ((Relation("curl-old"),),)
    assert pkg.breaks == ((Relation("wget", "<<", "1.0"),),)
    assert pkg.provides == (Relation("http-client"), Relation("curl-abi", "=", "4"))
    assert pkg.filename == GOOD["filename"]
    assert pkg.size == 315000
    assert pkg.sha256 == SHA  # kept lower-case
    assert pkg.key == ("curl", "amd64", "7.88.1-10+deb12u12")


@pytest.mark.parametrize(
    ("changes", "attribute", "value"),
    [
        ({"multi-arch": None}, "multi_arch", "no"),
        ({"multi-arch": "Same"}, "multi_arch", "same"),
        ({"multi-arch": "allowed"}, "multi_arch", "allowed"),
        ({"multi-arch": "bogus"}, "multi_arch", "no"),  # as apt: an unknown value is "no"
        ({"essential": "yes"}, "essential", True),
        ({"essential": "Yes"}, "essential", True),
        ({"essential": "no"}, "essential", False),
        ({"source": None}, "source", ""),
        ({"source": "curl"}, "source", "curl"),
        ({"depends": None, "breaks": ""}, "depends", ()),
        ({"provides": None}, "provides", ()),
        ({"size": "0"}, "size", 0),
        ({"size": "0007"}, "size", 7),
        ({"size": "9223372036854775807"}, "size", 2**63 - 1),
        ({"filename": "pool/main/g/git/git_2.39.5-0+deb12u2~x_all.deb"}, "filename", None),
        ({"filename": "pool/x/libfoo_1%3a2_amd64.deb"}, "filename", None),  # apt's %3a
        ({"filename": "a.deb"}, "filename", None),
        ({"architecture": "all"}, "architecture", "all"),
        ({"version": "1:2.0~rc1-1"}, "version", "1:2.0~rc1-1"),
    ],
)
def test_good_variants(changes: dict[str, str | None], attribute: str, value: object) -> None:
    expected = changes.get(attribute) if value is None else value
    assert getattr(package(**changes), attribute) == expected


HOSTILE = [
    # (changes, field at fault, fragment of the message)
    ({"package": None}, "Package", "missing"),
    ({"package": ""}, "Package", "missing"),
    ({"package": "Curl"}, "Package", "not a valid package name"),
    ({"package": "c"}, "Package", "not a valid package name"),
    ({"package": "cu_rl"}, "Package", "not a valid package name"),
    ({"package": "-curl"}, "Package", "not a valid package name"),
    ({"package": "curl\nx"}, "Package", "not a valid package name"),
    ({"version": None}, "Version", "missing or empty"),
    ({"version": "a1.0"}, "Version", "must start with a digit"),
    ({"version": "1.0 1"}, "Version", "whitespace"),
    ({"version": "1.0_1"}, "Version", "may hold only"),
    ({"version": "1.0\n1"}, "Version", "single line"),
    ({"architecture": None}, "Architecture", "missing"),
    ({"architecture": "AMD64"}, "Architecture", "not a valid architecture"),
    ({"architecture": "amd_64"}, "Architecture", "not a valid architecture"),
    ({"depends": "libc6 | | zlib1g"}, "Depends", "empty alternative"),
    ({"pre-depends": "Dpkg"}, "Pre-Depends", "invalid package name"),
    ({"recommends": "ca-certificates (>= x)"}, "Recommends", "must start with a digit"),
    ({"conflicts": "aa (1.0)"}, "Conflicts", "version restriction"),
    ({"breaks": "aa []"}, "Breaks", "empty architecture list"),
    ({"provides": "aa (>= 1)"}, "Provides", "only '(= version)'"),
    ({"provides": "aa | bb"}, "Provides", "no alternatives"),
    ({"essential": "maybe"}, "Essential", "must be 'yes' or 'no'"),
    ({"source": "Bad_Source (1.0)"}, "Source", "not a valid source name"),
    # Filename becomes part of a URL and a file name
    ({"filename": None}, "Filename", "missing"),
    ({"filename": "/etc/passwd"}, "Filename", "an absolute path"),
    ({"filename": "../x.deb"}, "Filename", "'..' path segment"),
    ({"filename": "pool/../../x.deb"}, "Filename", "'..' path segment"),
    ({"filename": "pool/./x.deb"}, "Filename", "'..' path segment"),
    ({"filename": "pool//x.deb"}, "Filename", "empty"),
    ({"filename": "pool/"}, "Filename", "empty"),
    ({"filename": "pool/%2e%2e/%2E%2E/x.deb"}, "Filename", "percent-encoded"),
    ({"filename": "pool/a%2fb.deb"}, "Filename", "percent-encoded"),
    ({"filename": "pool/a%5Cb.deb"}, "Filename", "percent-encoded"),
    ({"filename": "pool/x y.deb"}, "Filename", "whitespace"),
    ({"filename": "pool/x\ty.deb"}, "Filename", "whitespace"),
    ({"filename": "pool/x\x00.deb"}, "Filename", "control"),
    ({"filename": "pool/x\x7f.deb"}, "Filename", "control"),
    ({"filename": "pool/é.deb"}, "Filename", "unexpected characters"),
    ({"filename": "http://evil.example/x.deb"}, "Filename", "unexpected characters"),
    ({"filename": "pool/x.deb?y=1"}, "Filename", "unexpected characters"),
    ({"filename": "pool/x.deb#frag"}, "Filename", "unexpected characters"),
    ({"filename": "pool\\x.deb"}, "Filename", "unexpected characters"),
    ({"filename": "pool/x.deb\n more"}, "Filename", "single line"),
    # Size
    ({"size": None}, "Size", "missing"),
    ({"size": "-1"}, "Size", "not a size"),
    ({"size": "1.5"}, "Size", "not a size"),
    ({"size": "1e3"}, "Size", "not a size"),
    ({"size": "0x10"}, "Size", "not a size"),
    ({"size": "١٢"}, "Size", "not a size"),  # non-ASCII digits
    ({"size": "9223372036854775808"}, "Size", "not a size"),
    ({"size": "9" * 5000}, "Size", "not a size"),  # beyond int()'s limit: no ValueError
    # SHA256
    ({"sha256": None}, "SHA256", "missing"),
    ({"sha256": SHA[:-1]}, "SHA256", "64 hex digits"),
    ({"sha256": SHA + "0"}, "SHA256", "64 hex digits"),
    ({"sha256": "g" * 64}, "SHA256", "64 hex digits"),
    ({"sha256": SHA[:32] + " " + SHA[33:]}, "SHA256", "64 hex digits"),
    ({"sha256": SHA + "\n" + SHA}, "SHA256", "single line"),
]


@pytest.mark.parametrize(("changes", "field", "fragment"), HOSTILE)
def test_hostile_stanzas(changes: dict[str, str | None], field: str, fragment: str) -> None:
    with pytest.raises(PackageStanzaError) as info:
        package(**changes)
    assert info.value.field == field
    assert fragment in str(info.value)
    name = (changes["package"] or "") if "package" in changes else "curl"
    assert info.value.package == name
    assert str(info.value).startswith(f"package {name!r}" if name else "a package entry")
    assert isinstance(info.value, ValueError)


def test_installed_entries_need_no_file_fields() -> None:
    fields = {k: v for k, v in GOOD.items() if k not in ("filename", "size", "sha256")}
    pkg = package_from_stanza(fields, suite=INSTALLED, origin="", installed=True)
    assert (pkg.filename, pkg.size, pkg.sha256) == ("", 0, "")
    with pytest.raises(PackageStanzaError, match="Filename"):
        package_from_stanza(fields, suite="bookworm", origin="")


# ---------------------------------------------------------------------------
# dpkg status files

_STATES = {
    # state -> whether apt counts the package as installed (checked against apt-get
    # below)
    "not-installed": False,
    "config-files": False,
    "half-installed": True,
    "unpacked": True,
    "half-configured": True,
    "triggers-awaited": True,
    "triggers-pending": True,
    "installed": True,
}


def status_entry(name: str, status: str, version: str = "1.0", **more: str) -> str:
    lines = [f"Package: {name}", f"Status: {status}", "Priority: optional"]
    lines += ["Architecture: amd64", f"Version: {version}", "Description: x", " more"]
    lines += [f"{key}: {value}" for key, value in more.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("status", "installed"),
    [(f"install ok {state}", answer) for state, answer in _STATES.items()]
    + [
        ("hold ok installed", True),
        ("deinstall ok installed", True),
        ("purge ok installed", True),
        ("unknown ok installed", True),
        ("install reinstreq installed", True),
        ("install reinstreq half-installed", True),
        ("deinstall ok config-files", False),
        ("purge ok not-installed", False),
        ("  install   ok   installed  ", True),
    ],
)
def test_is_installed_status(status: str, installed: bool) -> None:
    assert is_installed_status(status) is installed


@pytest.mark.parametrize(
    ("status", "fragment"),
    [
        ("", "is not 'want flag state'"),
        ("install ok", "is not 'want flag state'"),
        ("install ok installed extra", "is not 'want flag state'"),
        ("install hold installed", "'hold' in 'install hold installed' is not a dpkg flag"),
        ("install ok Installed", "is not a dpkg state"),
        ("wanted ok installed", "is not a dpkg want"),
        ("install ok half-removed", "is not a dpkg state"),
    ],
)
def test_malformed_status_values(status: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        is_installed_status(status)


def test_parse_status() -> None:
    text = "\n".join(
        [
            status_entry("base-files", "install ok installed", "12.4+deb12u5", Essential="yes"),
            status_entry("gone", "deinstall ok config-files"),
            status_entry("half", "install ok unpacked", "2.0"),
            # a not-installed entry is skipped before any check of its fields
            "Package: Weird_Name\nStatus: purge ok not-installed\nVersion: not a version\n",
            status_entry("Local_Pkg", "install ok installed", "1.0"),
            status_entry("trig", "install ok triggers-pending", "3", **{"Triggers-Pending": "x"}),
        ]
    )
    packages = parse_status(text)
    assert [(p.name, p.version) for p in packages] == [
        ("base-files", "12.4+deb12u5"),
        ("half", "2.0"),
        ("local_pkg", "1.0"),  # dpkg's name rule, folded to lower case as dpkg does
        ("trig", "3"),
    ]
    assert all(p.suite == INSTALLED and p.filename == "" for p in packages)
    assert packages[0].essential is True


@pytest.mark.parametrize(
    ("text", "error", "fragment"),
    [
        (
            "Package: aa\nVersion: 1\nArchitecture: amd64\n",
            PackageStanzaError,
            "field Status: missing",
        ),
        (
            status_entry("aa", "install bad installed"),
            PackageStanzaError,
            "package 'aa': field Status",
        ),
        (status_entry("aa", "install ok installed", "x1"), PackageStanzaError, "field Version"),
        (status_entry("+aa", "install ok installed"), PackageStanzaError, "field Package"),
        (
            "Package: aa\nStatus: install ok installed\nVersion: 1\n",
            PackageStanzaError,
            "Architecture",
        ),
        ("Package: aa\nStatus: install ok installed\r\n", Deb822Error, "carriage return"),
        ("Package: aa\nPackage: bb\n", Deb822Error, "duplicate field"),
    ],
)
def test_parse_status_errors(text: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        parse_status(text)
    assert fragment in str(info.value)


def test_parse_status_of_this_machine() -> None:
    """The real status file of the test machine (a Debian system) reads whole."""
    try:
        with open("/var/lib/dpkg/status", encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        pytest.skip("no /var/lib/dpkg/status here")
    packages = parse_status(text)
    assert packages
    names = {p.name for p in packages}
    assert "dpkg" in names
    installed_count = sum(
        1
        for s in iter_stanzas(text)
        if s["status"].split()[2] not in ("not-installed", "config-files")
    )
    assert len(packages) == installed_count


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get")
def test_states_as_apt_get_reads_them(tmp_path: Path) -> None:
    """For each dpkg state of an installed ``libx``, ``apt-get -s install app``
    (app depends on libx) plans libx only when apt does not count it installed:
    the rule of :func:`is_installed_status`."""
    repo = tmp_path / "repo"
    suites = write_flat_repository(
        repo,
        {"bookworm": [make_package("libx 1.0"), make_package("app 1.0", depends="libx (>= 1.0)")]},
    )
    planned: dict[str, bool] = {}
    for state in _STATES:
        extra = {
            "triggers-pending": "Triggers-Pending: x\n",
            "triggers-awaited": "Triggers-Awaited: y\n",
        }
        status = tmp_path / f"status-{state}"
        status.write_text(status_entry("libx", f"install ok {state}") + extra.get(state, ""))
        root = AptGetRoot(
            tmp_path / f"root-{state}",
            architecture="amd64",
            sources=[AptSource(url=f"file://{repo}", suites=tuple(suites), flat=True)],
            status=status,
        )
        root.update()
        try:
            plan = root.simulate_install(["app"])
        except AptGetFailed as failed:  # pragma: no cover - shown when apt disagrees
            pytest.fail(f"apt-get refused state {state}: {failed}")
        planned[state] = "libx" in plan.installs
    assert planned == {state: not installed for state, installed in _STATES.items()}
    lockpin = {state: not is_installed_status(f"install ok {state}") for state in _STATES}
    assert planned == lockpin


# ---------------------------------------------------------------------------
# whole Packages files, against python-debian


def relations_of(value: str | None) -> tuple[tuple[tuple[object, ...], ...], ...]:
    """python-debian's parse of a relation field, in lockpin's shape."""
    if not value:
        return ()
    out = []
    for group in debian_deb822.PkgRelation.parse_relations(value):
        alts = []
        for rel in group:
            if not rel["name"]:
                continue
            op, version = rel["version"] or ("", None)
            op = {"<": "<=", ">": ">=", "": None}.get(op, op)
            arches = tuple(("" if a.enabled else "!") + a.arch for a in rel["arch"] or ())
            alts.append((rel["name"], rel["archqual"], op, version, arches))
        if alts:
            out.append(tuple(alts))
    return tuple(out)


def mine(rels: tuple[tuple[Relation, ...], ...]) -> tuple[tuple[tuple[object, ...], ...], ...]:
    return tuple(
        tuple((r.name, r.arch_qualifier, r.op, r.version, r.arches) for r in g) for g in rels
    )


def assert_agrees_with_python_debian(text: str) -> int:
    """Every stanza of the Packages ``text`` becomes a Package whose fields are
    python-debian's; the number of stanzas."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = list(
            debian_deb822.Packages.iter_paragraphs(text.splitlines(True), use_apt_pkg=False)
        )
        stanzas = list(iter_stanzas(text))
        assert len(stanzas) == len(theirs)
        for fields, para in zip(stanzas, theirs, strict=True):
            pkg = package_from_stanza(fields, suite="s", origin="o")
            assert (pkg.name, pkg.version, pkg.architecture) == (
                para["Package"],
                para["Version"],
                para["Architecture"],
            )
            assert (pkg.filename, pkg.size, pkg.sha256) == (
                para["Filename"],
                int(para["Size"]),
                para["SHA256"].lower(),
            )
            assert pkg.multi_arch == para.get("Multi-Arch", "no")
            assert pkg.essential == (para.get("Essential") == "yes")
            assert pkg.source == para.get("Source", "").split(" ")[0]
            for attribute, label in (
                ("depends", "Depends"),
                ("pre_depends", "Pre-Depends"),
                ("recommends", "Recommends"),
                ("conflicts", "Conflicts"),
                ("breaks", "Breaks"),
            ):
                assert mine(getattr(pkg, attribute)) == relations_of(para.get(label)), (
                    pkg.name,
                    label,
                )
            assert mine(tuple((r,) for r in pkg.provides)) == relations_of(para.get("Provides"))
    return len(stanzas)


def test_fixture_archive_packages(apt_archive: ServedArchive) -> None:
    count = sum(
        assert_agrees_with_python_debian(data.decode())
        for data in apt_archive.built.packages.values()
    )
    assert count > 10


def test_a_stanza_read_back_from_text() -> None:
    stanza = "".join(f"{k.title()}: {v.replace(chr(10), chr(10) + ' ')}\n" for k, v in GOOD.items())
    fields = parse_stanza(stanza)
    assert fields == GOOD
    assert (
        package_from_stanza(fields, suite="bookworm", origin="https://m/debian/", component="main")
        == package()
    )


BOOKWORM_PACKAGES = "https://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz"


@pytest.mark.network
def test_bookworm_main_amd64() -> None:
    with urllib.request.urlopen(BOOKWORM_PACKAGES, timeout=120) as response:
        text = lzma.decompress(response.read()).decode()
    assert assert_agrees_with_python_debian(text) > 50_000
