"""lockpin.image.platform: normalisation (containerd's names, default variants written
out), variant-aware matching, the Debian architecture, refusals."""

from __future__ import annotations

import pytest

from lockpin.errors import InputError
from lockpin.image.platform import Platform, parse_platform


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("Linux/X86-64", "linux/amd64"),
        ("linux/aarch64", "linux/arm64/v8"),
        ("linux/arm64", "linux/arm64/v8"),
        ("linux/arm64/v8", "linux/arm64/v8"),
        ("linux/arm64/8", "linux/arm64/v8"),
        ("linux/arm64/v9", "linux/arm64/v9"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/armel", "linux/arm/v6"),
        ("linux/i686", "linux/386"),
        ("linux/386", "linux/386"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("windows/amd64", "windows/amd64"),
        ("linux/ppc64le", "linux/ppc64le"),
    ],
)
def test_normalisation(text: str, expected: str) -> None:
    assert str(parse_platform(text)) == expected
    assert parse_platform(expected) == parse_platform(text)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("linux", "arm64", ""), ("linux", "arm64", "v8"), True),
        (("linux", "aarch64", ""), ("linux", "arm64", "v8"), True),
        (("linux", "arm", "v7"), ("linux", "arm", "v6"), False),
        (("linux", "arm", ""), ("linux", "arm", "7"), True),
        (("linux", "amd64", ""), ("linux", "amd64", "v3"), False),
        (("linux", "amd64", ""), ("windows", "amd64", ""), False),
        (("linux", "amd64", ""), ("linux", "arm64", ""), False),
    ],
)
def test_matches(a: tuple[str, str, str], b: tuple[str, str, str], same: bool) -> None:
    # Raw (unnormalised) values as an index entry carries them.
    assert Platform(*a).matches(Platform(*b)) is same
    assert Platform(*b).matches(Platform(*a)) is same


@pytest.mark.parametrize(
    ("text", "arch"),
    [("linux/amd64", "amd64"), ("linux/arm64", "arm64"), ("linux/arm/v7", "armhf")],
)
def test_debian_arch(text: str, arch: str) -> None:
    assert parse_platform(text).debian_arch == arch


def test_debian_arch_unknown() -> None:
    with pytest.raises(InputError, match="unknown platform"):
        _ = parse_platform("windows/amd64").debian_arch


@pytest.mark.parametrize("text", ["", "linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"])
def test_refused(text: str) -> None:
    with pytest.raises(InputError, match="OS/ARCH"):
        parse_platform(text)
