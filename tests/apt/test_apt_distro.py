"""Distributions, suites, mirrors, snapshots and platforms (lockpin.apt.distro)."""

from __future__ import annotations

import pytest

from lockpin.apt.distro import (
    DEFAULT_KEYRINGS,
    Sources,
    Suite,
    debian_arch,
    keyring_help,
    oci_platform,
    sources_for,
)
from lockpin.errors import InputError, UnsafeURLError


def _suites(sources: Sources, arch: str = "amd64") -> list[tuple[str, str]]:
    return [(s.name, s.base_url) for s in sources.suites_for(arch)]


@pytest.mark.parametrize(
    ("platform", "arch"),
    [
        ("linux/amd64", "amd64"),
        ("linux/arm64", "arm64"),
        ("linux/arm64/v8", "arm64"),
        ("linux/arm/v7", "armhf"),
        ("linux/arm/v5", "armel"),
        ("linux/386", "i386"),
        ("linux/ppc64le", "ppc64el"),
        ("linux/s390x", "s390x"),
        ("linux/riscv64", "riscv64"),
        ("linux/mips64le", "mips64el"),
        ("LINUX/AMD64", "amd64"),
        ("arm64", "arm64"),
        ("armhf", "armhf"),
    ],
)
def test_debian_arch(platform: str, arch: str) -> None:
    assert debian_arch(platform) == arch


@pytest.mark.parametrize("platform", ["linux/sparc", "windows/amd64", "", "linux/arm", "x86_64"])
def test_unknown_platform_is_an_input_error(platform: str) -> None:
    with pytest.raises(InputError, match="platform"):
        debian_arch(platform)


@pytest.mark.parametrize(
    ("arch", "platform"),
    [
        ("amd64", "linux/amd64"),
        ("arm64", "linux/arm64"),
        ("armhf", "linux/arm/v7"),
        ("armel", "linux/arm/v5"),
        ("i386", "linux/386"),
        ("ppc64el", "linux/ppc64le"),
        ("s390x", "linux/s390x"),
        ("riscv64", "linux/riscv64"),
        ("mips64el", "linux/mips64le"),
    ],
)
def test_oci_platform_round_trips(arch: str, platform: str) -> None:
    assert oci_platform(arch) == platform
    assert debian_arch(oci_platform(arch)) == arch


def test_oci_platform_of_unknown_arch() -> None:
    with pytest.raises(InputError, match="sparc64"):
        oci_platform("sparc64")


def test_debian_default_suites() -> None:
    sources = sources_for(release="bookworm")
    assert sources.distribution == "debian"
    assert _suites(sources) == [
        ("bookworm", "http://deb.debian.org/debian/"),
        ("bookworm-updates", "http://deb.debian.org/debian/"),
        ("bookworm-security", "http://deb.debian.org/debian-security/"),
    ]
    assert all(s.components == ("main",) for s in sources.suites_for("amd64"))
    assert sources.keyring_path == DEFAULT_KEYRINGS["debian"]
    assert sources.suites_for("amd64")[0].inrelease_url == (
        "http://deb.debian.org/debian/dists/bookworm/InRelease"
    )


@pytest.mark.parametrize("release", ["sid", "unstable"])
def test_sid_has_no_updates_nor_security(release: str) -> None:
    sources = sources_for(release=release)
    assert sources.release == "sid"
    assert _suites(sources) == [("sid", "http://deb.debian.org/debian/")]


def test_buster_lives_on_the_archive() -> None:
    sources = sources_for(release="buster")
    assert _suites(sources) == [
        ("buster", "http://archive.debian.org/debian/"),
        ("buster-updates", "http://archive.debian.org/debian/"),
        ("buster/updates", "http://archive.debian.org/debian-security/"),
    ]


def test_ubuntu_primary_and_ports() -> None:
    sources = sources_for(release="noble", components=["main", "universe"])
    assert sources.distribution == "ubuntu"
    assert _suites(sources, "amd64") == [
        ("noble", "http://archive.ubuntu.com/ubuntu/"),
        ("noble-updates", "http://archive.ubuntu.com/ubuntu/"),
        ("noble-security", "http://security.ubuntu.com/ubuntu/"),
    ]
    assert _suites(sources, "arm64") == [
        ("noble", "http://ports.ubuntu.com/ubuntu-ports/"),
        ("noble-updates", "http://ports.ubuntu.com/ubuntu-ports/"),
        ("noble-security", "http://ports.ubuntu.com/ubuntu-ports/"),
    ]
    assert sources.suites_for("arm64")[0].components == ("main", "universe")
    assert sources.keyring_path == DEFAULT_KEYRINGS["ubuntu"]


def test_mirrors_override() -> None:
    debian = sources_for(
        release="trixie", mirror="https://mirror.example/debian", security_mirror=None
    )
    assert _suites(debian) == [
        ("trixie", "https://mirror.example/debian/"),
        ("trixie-updates", "https://mirror.example/debian/"),
        # Debian's security archive is another archive: a mirror of debian/ lacks it.
        ("trixie-security", "http://deb.debian.org/debian-security/"),
    ]
    both = sources_for(
        release="trixie",
        mirror="https://mirror.example/debian/",
        security_mirror="https://mirror.example/debian-security",
    )
    assert _suites(both)[2] == ("trixie-security", "https://mirror.example/debian-security/")
    # Ubuntu mirrors carry -security as well.
    ubuntu = sources_for(release="jammy", mirror="https://mirror.example/ubuntu")
    assert {base for _, base in _suites(ubuntu, "arm64")} == {"https://mirror.example/ubuntu/"}


def test_snapshots() -> None:
    debian = sources_for(release="bookworm", snapshot="20250520T000000Z")
    # plain http by default, as the archive itself: the signature covers every byte,
    # and a slim image has no CA certificates for the exported script to use https
    assert _suites(debian) == [
        ("bookworm", "http://snapshot.debian.org/archive/debian/20250520T000000Z/"),
        ("bookworm-updates", "http://snapshot.debian.org/archive/debian/20250520T000000Z/"),
        (
            "bookworm-security",
            "http://snapshot.debian.org/archive/debian-security/20250520T000000Z/",
        ),
    ]
    ubuntu = sources_for(release="noble", snapshot="20250520T000000Z")
    assert {b for _, b in _suites(ubuntu, "amd64")} == {
        "http://snapshot.ubuntu.com/ubuntu/20250520T000000Z/"
    }
    assert {b for _, b in _suites(ubuntu, "arm64")} == {
        "http://snapshot.ubuntu.com/ubuntu-ports/20250520T000000Z/"
    }
    own = sources_for(
        release="bookworm", snapshot="20250520T000000Z", snapshot_url="https://snap.example/"
    )
    assert _suites(own)[0][1] == "https://snap.example/archive/debian/20250520T000000Z/"
    # https, when given, is kept (the CLI's --snapshot-url https://snapshot.debian.org)
    tls = sources_for(
        release="noble", snapshot="20250520T000000Z", snapshot_url="https://snapshot.ubuntu.com"
    )
    assert (
        _suites(tls, "arm64")[0][1] == "https://snapshot.ubuntu.com/ubuntu-ports/20250520T000000Z/"
    )


@pytest.mark.parametrize(
    ("release", "arch", "host"),
    [
        ("bookworm", "amd64", "snapshot.debian.org"),
        ("bookworm", "arm64", "snapshot.debian.org"),
        ("noble", "amd64", "snapshot.ubuntu.com"),
        ("noble", "arm64", "snapshot.ubuntu.com"),
    ],
)
def test_snapshot_hosts_are_allowed_plain_http_as_the_archive_is(
    release: str, arch: str, host: str
) -> None:
    """The net policy refuses plain http to other hosts; the snapshot's own host is
    let through exactly as deb.debian.org is (the archive signature vouches for it)."""
    from lockpin.apt.compile import apt_http_config
    from lockpin.net.config import HttpConfig
    from lockpin.net.policy import check_url

    stamp = "20250520T000000Z"
    snapshot = sources_for(release=release, snapshot=stamp)
    config = apt_http_config(HttpConfig(), snapshot, [arch])
    archive = apt_http_config(HttpConfig(), sources_for(release=release), [arch])
    assert host in config.allow_insecure_hosts
    assert config.allow_insecure_hosts == {host}  # that host only, any port, as the archive's
    for suite in snapshot.suites_for(arch):
        check_url(suite.inrelease_url, config)  # no UnsafeURLError
        check_url(f"{suite.base_url}pool/main/c/curl/curl_1_amd64.deb", config)
    with pytest.raises(UnsafeURLError):
        check_url(f"http://elsewhere.example/archive/debian/{stamp}/dists/x/InRelease", config)
    with pytest.raises(UnsafeURLError):  # the normal archive's hosts are not in a snapshot's
        check_url(snapshot.suites_for(arch)[0].inrelease_url, archive)


@pytest.mark.parametrize(
    "stamp", ["20250520", "2025-05-20T00:00:00Z", "20251320T000000Z", "20250520T250000Z", "latest"]
)
def test_bad_snapshot(stamp: str) -> None:
    with pytest.raises(InputError, match="snapshot"):
        sources_for(release="bookworm", snapshot=stamp)


def test_snapshot_excludes_mirror() -> None:
    with pytest.raises(InputError, match="exclude"):
        sources_for(release="bookworm", snapshot="20250520T000000Z", mirror="https://m/")
    with pytest.raises(InputError, match="--snapshot"):
        sources_for(release="bookworm", snapshot_url="https://snap.example/")


@pytest.mark.parametrize(
    ("release", "expected"),
    [("stable", "trixie"), ("oldstable", "bookworm"), ("testing", "forky")],
)
def test_aliases_are_refused_with_the_code_name(release: str, expected: str) -> None:
    with pytest.raises(InputError, match=f"code name.*{expected}"):
        sources_for(release=release)


def test_unknown_release_needs_distro() -> None:
    with pytest.raises(InputError, match="--distro"):
        sources_for(release="kali-rolling")
    sources = sources_for(release="kali-rolling", distro="debian", mirror="https://m.example/")
    assert _suites(sources)[0] == ("kali-rolling", "https://m.example/")
    with pytest.raises(InputError, match="distribution"):
        sources_for(release="bookworm", distro="fedora")


def test_suites_override() -> None:
    sources = sources_for(
        release="bookworm",
        suites=["{release}", "bookworm-security", "bookworm"],
        mirror="http://127.0.0.1:9/debian",
    )
    assert sources.suite_names == ("bookworm", "bookworm-security")
    with pytest.raises(InputError, match="suite"):
        sources_for(release="bookworm", suites=["../etc"])
    with pytest.raises(InputError, match="at least one suite"):
        sources_for(release="bookworm", suites=[])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"release": "Bookworm!"}, "code name"),
        ({"release": "bookworm", "components": ["Main Universe"]}, "component"),
        ({"release": "bookworm", "components": []}, "component"),
        ({"release": "bookworm", "mirror": "ftp://x/"}, "mirror"),
        ({"release": "bookworm", "security_mirror": "deb.debian.org"}, "security mirror"),
    ],
)
def test_bad_values(options: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        sources_for(**options)  # type: ignore[arg-type]


def test_dict_round_trip_drops_credentials() -> None:
    sources = sources_for(
        release="noble",
        components=["main", "universe"],
        mirror="https://user:secret@mirror.example/ubuntu",
        keyring="/etc/keys/ubuntu.gpg",
        suites=["noble", "noble-security"],
    )
    data = sources.to_dict()
    assert "secret" not in repr(data)
    assert data == {
        "distribution": "ubuntu",
        "release": "noble",
        "components": ["main", "universe"],
        "mirror": "https://mirror.example/ubuntu/",
        "keyring": "/etc/keys/ubuntu.gpg",
        "suites": ["noble", "noble-security"],
    }
    again = Sources.from_dict(data)
    assert again.to_dict() == data
    assert again.suites_for("amd64") == (
        Suite("noble", "https://mirror.example/ubuntu/", ("main", "universe")),
        Suite("noble-security", "https://mirror.example/ubuntu/", ("main", "universe")),
    )
    snap = sources_for(release="bookworm", snapshot="20250520T000000Z")
    assert Sources.from_dict(snap.to_dict()) == snap


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"distribution": "debian"}, "release"),
        ({"release": "bookworm", "colour": "red"}, "unknown key"),
        ({"release": "bookworm", "components": "main"}, "components"),
        ({"release": "bookworm", "mirror": 3}, "mirror"),
        ({"release": "bookworm", "insecure_skip_verify": "yes"}, "insecure"),
        ({"release": "bookworm", "snapshot": "yesterday"}, "apt.lock: snapshot"),
    ],
)
def test_from_dict_refuses_bad_data(data: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        Sources.from_dict(data, where="apt.lock")


def test_keyring_help_names_the_package() -> None:
    assert "apt-get install debian-archive-keyring" in keyring_help("debian")
    assert "ubuntu-keyring" in keyring_help("ubuntu")
    assert "--keyring" in keyring_help("ubuntu")
