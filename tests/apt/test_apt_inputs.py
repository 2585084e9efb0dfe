"""apt.in parsing: every accepted spelling, every refusal at its FILE:LINE."""

from __future__ import annotations

import pytest

from lockpin.apt.inputs import parse_apt_in
from lockpin.apt.relation import Relation
from lockpin.errors import InputError


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("curl", Relation("curl")),
        ("  curl  ", Relation("curl")),
        ("libpq5 (>= 15)", Relation("libpq5", ">=", "15")),
        ("libpq5(>=15)", Relation("libpq5", ">=", "15")),
        ("git=1:2.39.5-0+deb12u2", Relation("git", "=", "1:2.39.5-0+deb12u2")),
        ("git = 1:2.39.5-0+deb12u2", Relation("git", "=", "1:2.39.5-0+deb12u2")),
        ("libc6:amd64", Relation("libc6", arch_qualifier="amd64")),
        ("python3:any (>= 3.11)", Relation("python3", ">=", "3.11", "any")),
        ("g++ # the compiler", Relation("g++")),
        ("libstdc++6 (<< 13~)", Relation("libstdc++6", "<<", "13~")),
        ("zlib1g (> 1)", Relation("zlib1g", ">=", "1")),  # deprecated '>' means '>='
    ],
)
def test_accepted_spellings(line: str, expected: Relation) -> None:
    (request,) = parse_apt_in(f"# header\n\n{line}\n")
    assert request.relation == expected
    assert request.line == 3


def test_file_order_comments_and_blank_lines() -> None:
    text = "# packages of the image\n\njq\n  # indented comment\ncurl\n\n\nca-certificates\n"
    requests = parse_apt_in(text)
    assert [(r.relation.name, r.line) for r in requests] == [
        ("jq", 3),
        ("curl", 5),
        ("ca-certificates", 8),
    ]


def test_empty_file_gives_no_request() -> None:
    assert parse_apt_in("# nothing yet\n\n") == []


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("curl | wget", "alternatives"),
        ("curl, jq", "one package per line"),
        ("curl [amd64]", "architecture lists"),
        ("curl <!nocheck>", "build profiles"),
        ("curl/bookworm-backports", "name/suite"),
        ("Curl", "invalid package name"),
        ("c", "invalid package name"),
        ("curl (>= )", "not a package request"),
        ("curl (~> 1)", "not a package request"),
        ("curl=", "not a package request"),
        ("curl=1:", "invalid version"),
        ("curl=a b", "not a package request"),
        ("curl (>= 1) extra", "not a package request"),
    ],
)
def test_refused_lines_name_file_and_line(line: str, match: str) -> None:
    with pytest.raises(InputError, match=match) as info:
        parse_apt_in(f"jq\n{line}\n", filename="build/apt.in")
    assert info.value.location == "build/apt.in:2"
    assert str(info.value).startswith("build/apt.in:2: ")


def test_a_package_requested_twice_names_both_lines() -> None:
    with pytest.raises(InputError, match=r"curl is requested twice \(first at line 1\)") as info:
        parse_apt_in("curl\njq\ncurl (>= 7)\n", filename="apt.in")
    assert info.value.location == "apt.in:3"
