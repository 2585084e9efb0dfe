"""Tests for lockpin.python.target: versions, platforms, markers, wheel tags."""

from __future__ import annotations

import dataclasses
import pickle
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.markers import Marker, default_environment
from packaging.tags import Tag, platform_tags, sys_tags
from packaging.version import Version

from lockpin.errors import InputError
from lockpin.python.target import Target, host_target, parse_target

DOCKER_PLATFORMS = [
    "linux/amd64",
    "linux/arm64",
    "linux/arm/v7",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
]


def target(python_version: str = "3.12", platform: str = "linux/amd64") -> Target:
    return parse_target(python_version=python_version, platform=platform)


# -- python versions --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.12", "3.12.0"),
        ("3.12.7", "3.12.7"),
        (" 3.10 ", "3.10.0"),
        ("3.8", "3.8.0"),
        ("3.15", "3.15.0"),
        ("3.21.3", "3.21.3"),
        ("3.13.0rc1", "3.13.0rc1"),
        ("3.13rc1", "3.13.0rc1"),
        ("3.14.0b2", "3.14.0b2"),
    ],
)
def test_python_version_is_padded_to_a_full_version(text: str, expected: str) -> None:
    result = target(text)
    assert str(result.python_version) == expected
    assert result.markers()["python_full_version"] == expected
    assert result.markers()["implementation_version"] == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "3",
        "2.7",
        "3.7",
        "4.0",
        "3.12.1.2",
        "3.12.post1",
        "3.12.dev0",
        "1!3.12",
        "3.12+local",
        "python3.12",
        "latest",
    ],
)
def test_invalid_python_versions_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match="--python-version"):
        target(text)


def test_free_threaded_version_is_refused_with_a_hint() -> None:
    with pytest.raises(InputError, match="free-threaded"):
        target("3.13t")


def test_python_version_defaults_to_the_running_interpreter() -> None:
    result = parse_target(platform="linux/amd64")
    assert result.python_version.release == tuple(sys.version_info[:3])
    assert result.python_minor == f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.mark.parametrize(
    ("text", "minor"), [("3.12.7", "3.12"), ("3.9", "3.9"), ("3.13.0rc1", "3.13")]
)
def test_python_minor(text: str, minor: str) -> None:
    assert target(text).python_minor == minor
    assert target(text).markers()["python_version"] == minor


# -- platforms --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "machine", "primary"),
    [
        ("linux/amd64", "linux/amd64", "x86_64", "manylinux_2_28_x86_64"),
        ("LINUX/AMD64", "linux/amd64", "x86_64", "manylinux_2_28_x86_64"),
        ("linux/amd64/v3", "linux/amd64", "x86_64", "manylinux_2_28_x86_64"),
        ("linux/x86_64", "linux/amd64", "x86_64", "manylinux_2_28_x86_64"),
        ("linux/arm64", "linux/arm64", "aarch64", "manylinux_2_28_aarch64"),
        ("linux/arm64/v8", "linux/arm64", "aarch64", "manylinux_2_28_aarch64"),
        ("linux/aarch64", "linux/arm64", "aarch64", "manylinux_2_28_aarch64"),
        ("linux/arm/v7", "linux/arm/v7", "armv7l", "manylinux_2_31_armv7l"),
        ("linux/arm", "linux/arm/v7", "armv7l", "manylinux_2_31_armv7l"),
        ("linux/386", "linux/386", "i686", "manylinux_2_28_i686"),
        ("linux/i386", "linux/386", "i686", "manylinux_2_28_i686"),
        ("linux/ppc64le", "linux/ppc64le", "ppc64le", "manylinux_2_28_ppc64le"),
        ("linux/s390x", "linux/s390x", "s390x", "manylinux_2_28_s390x"),
        ("linux/riscv64", "linux/riscv64", "riscv64", "manylinux_2_39_riscv64"),
        ("manylinux_2_28_x86_64", "manylinux_2_28_x86_64", "x86_64", "manylinux_2_28_x86_64"),
        ("manylinux_2_36_x86_64", "manylinux_2_36_x86_64", "x86_64", "manylinux_2_36_x86_64"),
        ("manylinux_2_41_aarch64", "manylinux_2_41_aarch64", "aarch64", "manylinux_2_41_aarch64"),
        ("manylinux2014_aarch64", "manylinux2014_aarch64", "aarch64", "manylinux_2_17_aarch64"),
        ("manylinux2010_x86_64", "manylinux2010_x86_64", "x86_64", "manylinux_2_12_x86_64"),
        ("manylinux1_i686", "manylinux1_i686", "i686", "manylinux_2_5_i686"),
        ("musllinux_1_2_x86_64", "musllinux_1_2_x86_64", "x86_64", "musllinux_1_2_x86_64"),
        ("musllinux_1_1_aarch64", "musllinux_1_1_aarch64", "aarch64", "musllinux_1_1_aarch64"),
        ("linux_x86_64", "linux_x86_64", "x86_64", "linux_x86_64"),
        ("macosx_11_0_arm64", "macosx_11_0_arm64", "arm64", "macosx_11_0_arm64"),
        ("macosx_10_9_x86_64", "macosx_10_9_x86_64", "x86_64", "macosx_10_9_x86_64"),
        ("win_amd64", "win_amd64", "AMD64", "win_amd64"),
        ("win32", "win32", "x86", "win32"),
        ("win_arm64", "win_arm64", "ARM64", "win_arm64"),
    ],
)
def test_platform_forms(text: str, label: str, machine: str, primary: str) -> None:
    result = target("3.12", text)
    assert result.platform == label
    assert result.markers()["platform_machine"] == machine
    assert result.tags()[0] == Tag("cp312", "cp312", primary)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "linux",
        "amd64",
        "linux/",
        "linux/mips64le",
        "linux/arm/v6",
        "linux/arm64/v9",
        "darwin/arm64",
        "windows/amd64",
        "manylinux_3_1_x86_64",
        "manylinux_2_4_x86_64",
        "manylinux_2_12_aarch64",
        "manylinux2010_aarch64",
        "manylinux1_armv7l",
        "manylinux_2_28_sparc64",
        "manylinux_2_28",
        "musllinux_2_0_x86_64",
        "musllinux_1_2_ppc64",
        "linux_armv6l",
        "macosx_10_15_arm64",
        "macosx_11_0_universal2",
        "macosx_9_0_x86_64",
        "win_ia64",
        "any",
        "manylinux_2_17_x86_64.manylinux2014_x86_64",
    ],
)
def test_unknown_platforms_are_input_errors_listing_accepted_forms(text: str) -> None:
    with pytest.raises(InputError) as excinfo:
        target("3.12", text)
    message = str(excinfo.value)
    assert f"--platform {text!r}" in message
    assert "linux/amd64" in message
    assert "manylinux_2_36_x86_64" in message
    assert "host" in message


def test_platform_defaults_to_host() -> None:
    assert parse_target(python_version="3.12").platform == "host"
    assert parse_target().platform == "host"


def _platforms(result: Target) -> list[str]:
    """Platform tags of a target in order, each once."""
    return list(dict.fromkeys(tag.platform for tag in result.tags() if tag.platform != "any"))


def test_docker_amd64_ladder_goes_from_2_28_down_to_manylinux1_then_linux() -> None:
    platforms = _platforms(target("3.12", "linux/amd64"))
    expected = []
    for minor in range(28, 4, -1):
        expected.append(f"manylinux_2_{minor}_x86_64")
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(minor)
        if legacy:
            expected.append(f"{legacy}_x86_64")
    assert platforms == [*expected, "linux_x86_64"]


@pytest.mark.parametrize(
    ("platform", "ceiling", "floor", "legacy"),
    [
        ("linux/arm64", 28, 17, ["manylinux2014_aarch64"]),
        ("linux/arm/v7", 31, 17, ["manylinux2014_armv7l"]),
        ("linux/riscv64", 39, 17, []),
        (
            "manylinux_2_36_x86_64",
            36,
            5,
            ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"],
        ),
        ("manylinux2014_aarch64", 17, 17, ["manylinux2014_aarch64"]),
    ],
)
def test_manylinux_ladders(platform: str, ceiling: int, floor: int, legacy: list[str]) -> None:
    platforms = _platforms(target("3.12", platform))
    arch = platforms[-1].removeprefix("linux_")
    numbered = [p for p in platforms if p.startswith("manylinux_")]
    assert numbered == [f"manylinux_2_{m}_{arch}" for m in range(ceiling, floor - 1, -1)]
    assert [
        p for p in platforms if p.startswith("manylinux") and not p.startswith("manylinux_")
    ] == legacy
    assert platforms[-1] == f"linux_{arch}"
    assert not any(p.startswith("musllinux") for p in platforms)


def test_musllinux_has_no_manylinux_tags() -> None:
    assert _platforms(target("3.12", "musllinux_1_2_x86_64")) == [
        "musllinux_1_2_x86_64",
        "musllinux_1_1_x86_64",
        "musllinux_1_0_x86_64",
        "linux_x86_64",
    ]


def test_linux_tag_alone_means_only_that_platform() -> None:
    assert _platforms(target("3.12", "linux_aarch64")) == ["linux_aarch64"]


def test_macos_ladder_includes_older_versions_and_universal2() -> None:
    platforms = _platforms(target("3.12", "macosx_14_0_arm64"))
    assert platforms[:2] == ["macosx_14_0_arm64", "macosx_14_0_universal2"]
    assert "macosx_11_0_arm64" in platforms
    assert "macosx_10_9_universal2" in platforms
    assert not any(p.endswith("_x86_64") for p in platforms)


def test_tags_have_no_duplicates_and_end_with_any() -> None:
    for platform in [*DOCKER_PLATFORMS, "win_amd64", "macosx_11_0_arm64", "musllinux_1_2_x86_64"]:
        tags = target("3.12", platform).tags()
        assert len(set(tags)) == len(tags)
        assert tags[-1].platform == "any"


# -- markers ----------------------------------------------------------------


def _expected_markers(os_name: str, sys_platform: str, system: str, machine: str) -> dict[str, str]:
    return {
        "implementation_name": "cpython",
        "implementation_version": "3.12.0",
        "os_name": os_name,
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": "3.12.0",
        "python_version": "3.12",
        "sys_platform": sys_platform,
    }


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux/amd64", _expected_markers("posix", "linux", "Linux", "x86_64")),
        ("linux/arm64", _expected_markers("posix", "linux", "Linux", "aarch64")),
        ("linux/arm/v7", _expected_markers("posix", "linux", "Linux", "armv7l")),
        ("linux/386", _expected_markers("posix", "linux", "Linux", "i686")),
        ("linux/ppc64le", _expected_markers("posix", "linux", "Linux", "ppc64le")),
        ("linux/s390x", _expected_markers("posix", "linux", "Linux", "s390x")),
        ("linux/riscv64", _expected_markers("posix", "linux", "Linux", "riscv64")),
        ("manylinux_2_36_x86_64", _expected_markers("posix", "linux", "Linux", "x86_64")),
        ("musllinux_1_2_aarch64", _expected_markers("posix", "linux", "Linux", "aarch64")),
        ("macosx_11_0_arm64", _expected_markers("posix", "darwin", "Darwin", "arm64")),
        ("macosx_10_9_x86_64", _expected_markers("posix", "darwin", "Darwin", "x86_64")),
        ("win_amd64", _expected_markers("nt", "win32", "Windows", "AMD64")),
        ("win_arm64", _expected_markers("nt", "win32", "Windows", "ARM64")),
        ("win32", _expected_markers("nt", "win32", "Windows", "x86")),
    ],
)
def test_markers_per_platform(platform: str, expected: dict[str, str]) -> None:
    assert target("3.12", platform).markers() == expected


def test_markers_are_a_fresh_copy() -> None:
    result = target()
    result.markers()["python_version"] = "2.7"
    assert result.markers()["python_version"] == "3.12"


@pytest.mark.parametrize(
    ("marker", "python_version", "platform", "extras", "expected"),
    [
        ('python_version >= "3.12"', "3.12", "linux/amd64", (), True),
        ('python_version >= "3.12"', "3.11", "linux/amd64", (), False),
        ('python_full_version >= "3.12.1"', "3.12", "linux/amd64", (), False),
        ('python_full_version >= "3.12.1"', "3.12.7", "linux/amd64", (), True),
        ('python_full_version >= "3.13.0rc1"', "3.13.0rc1", "linux/amd64", (), True),
        ('python_full_version == "3.13.0"', "3.13.0rc1", "linux/amd64", (), False),
        ('sys_platform == "win32"', "3.12", "linux/amd64", (), False),
        ('sys_platform == "win32"', "3.12", "win_amd64", (), True),
        ('platform_machine == "aarch64"', "3.12", "linux/arm64", (), True),
        ('platform_machine == "aarch64"', "3.12", "linux/amd64", (), False),
        ('platform_machine != "armv7l"', "3.12", "linux/arm/v7", (), False),
        ('os_name == "nt" and platform_machine == "ARM64"', "3.12", "win_arm64", (), True),
        ('implementation_name == "cpython"', "3.12", "macosx_11_0_arm64", (), True),
        ('platform_python_implementation == "PyPy"', "3.12", "linux/amd64", (), False),
        ('platform_release >= "5.0"', "3.12", "linux/amd64", (), False),
        ('extra == "socks"', "3.12", "linux/amd64", (), False),
        ('extra == "socks"', "3.12", "linux/amd64", ("socks",), True),
        ('extra == "socks"', "3.12", "linux/amd64", ("security", "socks"), True),
        ('extra == "socks"', "3.12", "linux/amd64", ("security",), False),
        ('extra == "socks"', "3.12", "linux/amd64", ("SOCKS",), True),
        ('extra == "pdf_export"', "3.12", "linux/amd64", ("PDF.Export",), True),
        ('extra == "test" and python_version < "3.11"', "3.12", "linux/amd64", ("test",), False),
        ('extra == "test" and python_version < "3.11"', "3.10", "linux/amd64", ("test",), True),
        ('python_version >= "3.8"', "3.12", "linux/amd64", ("anything",), True),
        ('extra == "a" or sys_platform == "linux"', "3.12", "linux/amd64", (), True),
    ],
)
def test_evaluate(
    marker: str, python_version: str, platform: str, extras: tuple[str, ...], expected: bool
) -> None:
    assert target(python_version, platform).evaluate(Marker(marker), extras) is expected


def test_evaluate_accepts_any_iterable_of_extras() -> None:
    assert target().evaluate(Marker('extra == "b"'), (name for name in ["a", "b"])) is True
    assert target().evaluate(Marker('extra == "b"'), {"b"}) is True


# -- wheels -----------------------------------------------------------------

NUMPY_X86 = "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
NUMPY_ARM = "numpy-2.1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
NUMPY_WIN = "numpy-2.1.0-cp312-cp312-win_amd64.whl"
NUMPY_MAC = "numpy-2.1.0-cp312-cp312-macosx_11_0_arm64.whl"
PANDAS_311 = "pandas-2.2.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
CRYPTO_ABI3_X86 = "cryptography-43.0.0-cp39-abi3-manylinux_2_28_x86_64.whl"
CRYPTO_ABI3_ARM = "cryptography-43.0.0-cp38-abi3-manylinux_2_28_aarch64.whl"
CRYPTO_ABI3_OLD = "cryptography-41.0.0-cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
ORJSON_MUSL = "orjson-3.10.7-cp312-cp312-musllinux_1_2_x86_64.whl"
NEW_GLIBC = "fastlib-1.0-cp312-cp312-manylinux_2_34_x86_64.whl"
REQUESTS = "requests-2.32.3-py3-none-any.whl"
SIX = "six-1.16.0-py2.py3-none-any.whl"
RUFF = "ruff-0.6.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


@pytest.mark.parametrize(
    ("platform", "python_version", "filename", "compatible"),
    [
        ("linux/amd64", "3.12", NUMPY_X86, True),
        ("linux/amd64", "3.12", NUMPY_ARM, False),
        ("linux/amd64", "3.12", NUMPY_WIN, False),
        ("linux/amd64", "3.12", NUMPY_MAC, False),
        ("linux/amd64", "3.12", PANDAS_311, False),
        ("linux/amd64", "3.11", PANDAS_311, True),
        ("linux/amd64", "3.12", CRYPTO_ABI3_X86, True),
        ("linux/amd64", "3.8", CRYPTO_ABI3_X86, False),
        ("linux/amd64", "3.12", CRYPTO_ABI3_OLD, True),
        ("linux/amd64", "3.12", ORJSON_MUSL, False),
        ("linux/amd64", "3.12", NEW_GLIBC, False),
        ("manylinux_2_34_x86_64", "3.12", NEW_GLIBC, True),
        ("manylinux_2_36_x86_64", "3.12", NEW_GLIBC, True),
        ("manylinux_2_36_x86_64", "3.12", NUMPY_X86, True),
        ("manylinux2014_x86_64", "3.12", CRYPTO_ABI3_X86, False),
        ("linux/amd64", "3.12", REQUESTS, True),
        ("linux/amd64", "3.12", SIX, True),
        ("linux/amd64", "3.12", RUFF, True),
        ("linux/amd64", "3.12", "tool-1.0-py312-none-any.whl", True),
        ("linux/amd64", "3.12", "tool-1.0-py313-none-any.whl", False),
        ("linux/amd64", "3.12", "tool-1.0-py2-none-any.whl", False),
        ("linux/amd64", "3.12", "tool-1.0-cp312-none-any.whl", True),
        ("linux/amd64", "3.12", "ext-1.0-cp313-abi3-manylinux_2_17_x86_64.whl", False),
        ("linux/amd64", "3.12", "ext-1.0-cp312-cp312-manylinux1_x86_64.whl", True),
        ("linux/amd64", "3.12", "ext-1.0-cp312-cp312-linux_x86_64.whl", True),
        ("linux/amd64", "3.12", "ext-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", False),
        ("linux/amd64", "3.13", "ext-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl", False),
        ("linux/arm64", "3.12", NUMPY_ARM, True),
        ("linux/arm64", "3.12", NUMPY_X86, False),
        ("linux/arm64", "3.12", CRYPTO_ABI3_ARM, True),
        ("linux/arm64", "3.8", CRYPTO_ABI3_ARM, True),
        ("linux/arm/v7", "3.12", CRYPTO_ABI3_ARM, False),
        ("linux/arm/v7", "3.12", "ext-1.0-cp312-cp312-manylinux_2_31_armv7l.whl", True),
        ("linux/arm/v7", "3.12", "ext-1.0-cp312-cp312-manylinux_2_35_armv7l.whl", False),
        ("linux/386", "3.12", "ext-1.0-cp312-cp312-manylinux2010_i686.whl", True),
        ("linux/riscv64", "3.12", "ext-1.0-cp312-cp312-manylinux_2_39_riscv64.whl", True),
        ("musllinux_1_2_x86_64", "3.12", ORJSON_MUSL, True),
        (
            "musllinux_1_2_x86_64",
            "3.12",
            "orjson-3.10.7-cp312-cp312-musllinux_1_1_x86_64.whl",
            True,
        ),
        ("musllinux_1_2_x86_64", "3.12", NUMPY_X86, False),
        ("musllinux_1_1_x86_64", "3.12", ORJSON_MUSL, False),
        ("win_amd64", "3.12", NUMPY_WIN, True),
        ("win_amd64", "3.12", NUMPY_X86, False),
        ("win32", "3.12", NUMPY_WIN, False),
        ("win32", "3.12", "numpy-2.1.0-cp312-cp312-win32.whl", True),
        ("macosx_11_0_arm64", "3.12", NUMPY_MAC, True),
        ("macosx_14_0_arm64", "3.12", NUMPY_MAC, True),
        ("macosx_14_0_arm64", "3.12", "numpy-2.1.0-cp312-cp312-macosx_14_0_arm64.whl", True),
        ("macosx_11_0_arm64", "3.12", "numpy-2.1.0-cp312-cp312-macosx_14_0_arm64.whl", False),
        ("macosx_11_0_arm64", "3.12", "numpy-2.1.0-cp312-cp312-macosx_10_9_universal2.whl", True),
        ("macosx_10_9_x86_64", "3.12", NUMPY_MAC, False),
        ("macosx_10_9_x86_64", "3.12", REQUESTS, True),
    ],
)
def test_wheel_compatibility(
    platform: str, python_version: str, filename: str, compatible: bool
) -> None:
    priority = target(python_version, platform).wheel_priority(filename)
    assert (priority is not None) is compatible


@pytest.mark.parametrize(
    "filename",
    ["numpy-2.1.0.tar.gz", "not-a-wheel.whl", "numpy-2.1.0-cp312-manylinux_2_17_x86_64.whl", ""],
)
def test_invalid_wheel_filenames_are_incompatible(filename: str) -> None:
    assert target().wheel_priority(filename) is None


@pytest.mark.parametrize(
    ("better", "worse"),
    [
        (
            "ext-1.0-cp312-cp312-manylinux_2_28_x86_64.whl",
            "ext-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        ),
        (
            "ext-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "ext-1.0-cp312-cp312-manylinux1_x86_64.whl",
        ),
        ("ext-1.0-cp312-cp312-manylinux1_x86_64.whl", "ext-1.0-cp312-cp312-linux_x86_64.whl"),
        ("ext-1.0-cp312-cp312-linux_x86_64.whl", "ext-1.0-cp312-abi3-manylinux_2_28_x86_64.whl"),
        (
            "ext-1.0-cp312-abi3-manylinux_2_17_x86_64.whl",
            "ext-1.0-cp311-abi3-manylinux_2_28_x86_64.whl",
        ),
        (
            "ext-1.0-cp311-abi3-manylinux_2_17_x86_64.whl",
            "ext-1.0-cp38-abi3-manylinux_2_28_x86_64.whl",
        ),
        ("ext-1.0-cp38-abi3-manylinux_2_17_x86_64.whl", RUFF),
        (RUFF, REQUESTS),
        ("tool-1.0-py312-none-any.whl", REQUESTS),
        (NUMPY_X86, CRYPTO_ABI3_X86),
        (CRYPTO_ABI3_X86, REQUESTS),
        (REQUESTS, "tool-1.0-py311-none-any.whl"),
    ],
)
def test_wheel_preference_order(better: str, worse: str) -> None:
    result = target("3.12", "linux/amd64")
    better_rank = result.wheel_priority(better)
    worse_rank = result.wheel_priority(worse)
    assert better_rank is not None
    assert worse_rank is not None
    assert better_rank < worse_rank


def test_multi_tag_wheel_takes_its_best_tag() -> None:
    result = target("3.12", "linux/amd64")
    assert result.wheel_priority(NUMPY_X86) == result.tags().index(
        Tag("cp312", "cp312", "manylinux_2_17_x86_64")
    )
    assert result.wheel_priority(SIX) == result.tags().index(Tag("py3", "none", "any"))


# -- requires-python --------------------------------------------------------


@pytest.mark.parametrize(
    ("python_version", "requires_python", "expected"),
    [
        ("3.12", None, True),
        ("3.12", "", True),
        ("3.12", "   ", True),
        ("3.12", ">=3.8", True),
        ("3.12", ">=3.8,<3.12", False),
        ("3.12", ">=3.12", True),
        ("3.12", ">=3.12.1", False),
        ("3.12.4", ">=3.12.1", True),
        ("3.12", "~=3.10", True),
        ("3.12", "==3.12.*", True),
        ("3.12", "!=3.12.*", False),
        ("3.12", ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*", True),
        ("3.12", "<4", True),
        ("3.12", ">=3.12.0a1", True),
        ("3.12", ">=3.13.0rc1", False),
        ("3.13.0rc1", ">=3.13", True),
        ("3.13.0rc1", "<3.13", False),
        ("3.14.0b2", ">=3.14.0b1", True),
        ("3.12", ">=3.6.*", True),
        ("3.12", "~=3", True),
        ("3.12", "not a specifier", True),
        ("3.12", ">=3.8,", True),
    ],
)
def test_supports_python(python_version: str, requires_python: str | None, expected: bool) -> None:
    assert target(python_version).supports_python(requires_python) is expected


# -- describe ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("python_version", "platform", "expected"),
    [
        ("3.12", "linux/amd64", "CPython 3.12.0 on linux/amd64 (manylinux_2_28_x86_64)"),
        ("3.12", "linux/arm64/v8", "CPython 3.12.0 on linux/arm64 (manylinux_2_28_aarch64)"),
        ("3.12.7", "manylinux_2_36_x86_64", "CPython 3.12.7 on manylinux_2_36_x86_64"),
        (
            "3.12",
            "manylinux2014_x86_64",
            "CPython 3.12.0 on manylinux2014_x86_64 (manylinux_2_17_x86_64)",
        ),
        ("3.11", "musllinux_1_2_aarch64", "CPython 3.11.0 on musllinux_1_2_aarch64"),
        ("3.13", "win_amd64", "CPython 3.13.0 on win_amd64"),
        ("3.12", "macosx_11_0_arm64", "CPython 3.12.0 on macosx_11_0_arm64"),
        ("3.12", "linux_x86_64", "CPython 3.12.0 on linux_x86_64"),
    ],
)
def test_describe(python_version: str, platform: str, expected: str) -> None:
    assert target(python_version, platform).describe() == expected


# -- value semantics --------------------------------------------------------


def test_targets_compare_by_normalized_version_and_platform() -> None:
    direct = Target(Version("3.12"), "linux/arm64/v8")
    parsed = parse_target(python_version="3.12.0", platform="linux/arm64")
    assert direct == parsed
    assert hash(direct) == hash(parsed)
    assert str(direct.python_version) == "3.12.0"
    assert direct.platform == "linux/arm64"
    assert direct != target("3.12.1", "linux/arm64")
    assert direct != target("3.12", "linux/amd64")


def test_direct_construction_validates() -> None:
    with pytest.raises(InputError, match="--platform"):
        Target(Version("3.12"), "linux/mips")
    with pytest.raises(InputError, match=r"3\.8"):
        Target(Version("3.6"), "linux/amd64")
    with pytest.raises(TypeError):
        Target("3.12", "linux/amd64")  # type: ignore[arg-type]


def test_target_is_frozen_picklable_and_replaceable() -> None:
    original = target("3.12", "linux/arm64")
    with pytest.raises(dataclasses.FrozenInstanceError):
        original.platform = "linux/amd64"  # type: ignore[misc]
    restored = pickle.loads(pickle.dumps(original))
    assert restored == original
    assert restored.tags() == original.tags()
    moved = dataclasses.replace(original, platform="linux/amd64")
    assert moved.markers()["platform_machine"] == "x86_64"
    assert moved.python_version == original.python_version


# -- host -------------------------------------------------------------------


def test_host_target_is_the_running_interpreter() -> None:
    host = host_target()
    assert host.platform == "host"
    assert host.python_version.release == tuple(sys.version_info[:3])
    assert host.markers() == {key: str(value) for key, value in default_environment().items()}
    assert host.tags() == tuple(sys_tags())
    assert host.describe().startswith(
        f"{default_environment()['platform_python_implementation']} {host.python_version} on host"
    )
    assert parse_target() == host


def test_host_with_another_python_version_keeps_host_platforms() -> None:
    other = "3.9" if sys.version_info[:2] != (3, 9) else "3.10"
    result = parse_target(python_version=other)
    interpreter = "cp" + other.replace(".", "")
    first_platform = next(iter(platform_tags()))
    assert result.tags()[0] == Tag(interpreter, interpreter, first_platform)
    markers = result.markers()
    assert markers["python_version"] == other
    assert markers["python_full_version"] == f"{other}.0"
    assert markers["platform_system"] == default_environment()["platform_system"]
    assert markers["platform_machine"] == default_environment()["platform_machine"]


def _host_platform_label() -> str | None:
    """The explicit spelling of this machine's platform, when lockpin accepts one."""
    for platform in platform_tags():
        if not platform.startswith("linux_"):
            return platform
    return None


@pytest.mark.skipif(
    sys.implementation.name != "cpython" or not sys.version_info >= (3, 8),
    reason="explicit targets are CPython",
)
def test_explicit_target_for_this_machine_matches_pip_tags() -> None:
    """Differential check against packaging.tags.sys_tags on the machine running the
    tests: naming the host's own platform explicitly must give pip's tag list,
    except that lockpin ranks linux_<arch> last (see _manylinux_ladder)."""
    label = _host_platform_label()
    running = sys_tags()
    first = next(running)
    if label is None or first.abi.endswith("t"):
        pytest.skip("no explicit platform form for this machine")
    try:
        explicit = parse_target(platform=label)
    except InputError:
        pytest.skip(f"{label} is not a platform form lockpin accepts")
    expected = [first, *running]
    assert set(explicit.tags()) == set(expected)

    def without_linux(tags: tuple[Tag, ...] | list[Tag]) -> list[Tag]:
        return [tag for tag in tags if not tag.platform.startswith("linux_")]

    assert without_linux(explicit.tags()) == without_linux(expected)


# -- properties -------------------------------------------------------------


@given(
    minor=st.integers(min_value=8, max_value=14),
    micro=st.integers(min_value=0, max_value=20),
    platform=st.sampled_from(DOCKER_PLATFORMS),
    other_minor=st.integers(min_value=2, max_value=16),
)
def test_docker_targets_properties(minor: int, micro: int, platform: str, other_minor: int) -> None:
    result = target(f"3.{minor}.{micro}", platform)
    markers = result.markers()
    assert markers["python_version"] == f"3.{minor}"
    assert markers["python_full_version"] == f"3.{minor}.{micro}"
    assert markers["sys_platform"] == "linux"

    primary = result.tags()[0].platform
    pure = result.wheel_priority("x-1.0-py3-none-any.whl")
    specific = result.wheel_priority(f"x-1.0-cp3{minor}-cp3{minor}-{primary}.whl")
    assert pure is not None
    assert specific == 0
    assert specific < pure

    other_specific = result.wheel_priority(f"x-1.0-cp3{other_minor}-cp3{other_minor}-{primary}.whl")
    assert (other_specific is not None) is (other_minor == minor)
    abi3 = result.wheel_priority(f"x-1.0-cp3{other_minor}-abi3-{primary}.whl")
    assert (abi3 is not None) is (other_minor <= minor)
    if abi3 is not None:
        assert specific < abi3 < pure


@given(ceiling=st.integers(min_value=5, max_value=45), wheel=st.integers(min_value=5, max_value=45))
def test_manylinux_ceiling_property(ceiling: int, wheel: int) -> None:
    result = target("3.12", f"manylinux_2_{ceiling}_x86_64")
    priority = result.wheel_priority(f"x-1.0-cp312-cp312-manylinux_2_{wheel}_x86_64.whl")
    assert (priority is not None) is (wheel <= ceiling)
