"""lockpin.image.reference and lockpin.image.digest: Docker's normalisation rules as a
table, refusals with their reasons, and a hypothesis round trip."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockpin.errors import InputError
from lockpin.image.digest import check_digest, digest_of, hasher_for, is_digest
from lockpin.image.reference import ImageReference, parse_reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "canonical", "familiar", "api_host"),
    [
        ("python", "docker.io/library/python:latest", "python:latest", "registry-1.docker.io"),
        ("python:3.12-slim", "docker.io/library/python:3.12-slim", "python:3.12-slim", None),
        ("user/app", "docker.io/user/app:latest", "user/app:latest", None),
        ("docker.io/python", "docker.io/library/python:latest", "python:latest", None),
        ("index.docker.io/library/python:3", "docker.io/library/python:3", "python:3", None),
        ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest", None),
        (
            "registry:5000/a/b:tag",
            "registry:5000/a/b:tag",
            "registry:5000/a/b:tag",
            "registry:5000",
        ),
        ("localhost/x", "localhost/x:latest", "localhost/x:latest", "localhost"),
        ("localhost:5000/x", "localhost:5000/x:latest", None, "localhost:5000"),
        ("ghcr.io/o/app:v1", "ghcr.io/o/app:v1", "ghcr.io/o/app:v1", "ghcr.io"),
        ("[::1]:5000/x:1", "[::1]:5000/x:1", None, "[::1]:5000"),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest", None, None),
        ("MyHost/app", "MyHost/app:latest", None, "MyHost"),
        (f"python@{D}", f"docker.io/library/python@{D}", f"python@{D}", None),
        (f"python:3.12@{D}", f"docker.io/library/python:3.12@{D}", f"python:3.12@{D}", None),
        ("a-b.c/e--f__g.h:T_1.x-y", "a-b.c/e--f__g.h:T_1.x-y", None, "a-b.c"),
        ("ab_c/d", "docker.io/ab_c/d:latest", None, None),
        ("docker.io/a.b/c", "docker.io/a.b/c:latest", "docker.io/a.b/c:latest", None),
        (
            "docker.io/localhost/c",
            "docker.io/localhost/c:latest",
            "docker.io/localhost/c:latest",
            None,
        ),
    ],
)
def test_normalisation(
    text: str, canonical: str, familiar: str | None, api_host: str | None
) -> None:
    ref = parse_reference(text)
    assert str(ref) == canonical
    if familiar is not None:
        assert ref.familiar == familiar
    if api_host is not None:
        assert ref.api_host == api_host
    assert parse_reference(str(ref)) == ref
    assert parse_reference(ref.familiar) == ref


def test_parts_and_identifier() -> None:
    ref = parse_reference(f"python:3.12@{D}")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "docker.io",
        "library/python",
        "3.12",
        D,
    )
    assert ref.identifier == D
    assert ref.name == "docker.io/library/python"
    assert ref.familiar_name == "python"
    assert parse_reference("python:3.12").identifier == "3.12"
    only_digest = parse_reference(f"python@{D}")
    assert only_digest.tag is None
    assert only_digest.with_digest(None).tag == "latest"


def test_with_digest_keeps_the_tag() -> None:
    ref = parse_reference("python:3.12-slim")
    pinned = ref.with_digest(D)
    assert pinned.familiar == f"python:3.12-slim@{D}"
    assert pinned.with_digest(None) == ref
    with pytest.raises(InputError, match="sha256 needs 64"):
        ref.with_digest("sha256:abc")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Python", "must be lowercase"),
        ("docker.io/Library/python", "must be lowercase"),
        ("python:", "bad tag"),
        ("python:-x", "bad tag"),
        ("python:" + "a" * 129, "bad tag"),
        ("python@sha256:abc", "sha256 needs 64"),
        ("python@sha256:" + "AB" * 32, "lowercase hex"),
        ("python@md5:" + "ab" * 16, "unsupported digest algorithm"),
        ("python@" + "ab" * 32, "ALGORITHM:HEX"),
        ("python@", "ALGORITHM:HEX"),
        ("a//b", "no repository name|bad name component"),
        ("a/", "bad name component|no repository"),
        ("-a/b", "bad name component"),
        ("a_/b", "bad name component"),
        ("a/b c", "white space"),
        (" python", "white space"),
        ("a..b/c", "bad registry"),
        ("a_b.c/d", "bad registry"),
        ("ex.com/" + "a" * 260, "longer than 255"),
        ("python:3@sha256:" + "0" * 64 + "@x", "ALGORITHM:HEX"),
    ],
)
def test_refused(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as info:
        parse_reference(text)
    if text.strip():
        assert repr(text)[:40].rstrip("'") in str(info.value) or "longer" in str(info.value)


def test_direct_construction_is_checked() -> None:
    with pytest.raises(InputError, match="neither a tag nor a digest"):
        ImageReference("docker.io", "library/python", None, None)
    with pytest.raises(InputError, match="must be lowercase"):
        ImageReference("docker.io", "library/Python")


def test_digest_helpers() -> None:
    data = b"hello"
    digest = digest_of(data)
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert check_digest(digest) == digest
    assert is_digest(digest)
    assert not is_digest("sha256:xyz")
    assert digest_of(data, "sha512").startswith("sha512:")
    assert is_digest(digest_of(data, "sha512"))
    h = hasher_for(digest)
    h.update(data)
    assert f"sha256:{h.hexdigest()}" == digest
    with pytest.raises(InputError):
        digest_of(data, "md5")


_component = st.from_regex(r"[a-z0-9]{1,4}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,4}){0,2}", fullmatch=True)
_host = st.sampled_from(["", "docker.io/", "ghcr.io/", "localhost/", "reg.example:5000/", "[::1]/"])
_tag = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True))
_digest = st.one_of(st.none(), st.binary(max_size=8).map(digest_of))


@given(_host, st.lists(_component, min_size=1, max_size=3), _tag, _digest)
def test_round_trip(host: str, path: list[str], tag: str | None, digest: str | None) -> None:
    if not host:
        path[0] = path[0].replace(".", "_")  # a dotted first component names a registry
    text = host + "/".join(path)
    if tag is not None:
        text += f":{tag}"
    if digest is not None:
        text += f"@{digest}"
    ref = parse_reference(text)
    assert ref.digest == digest
    assert ref.tag == (tag if tag is not None or digest is not None else "latest")
    assert ref.repository.endswith("/".join(path))
    assert parse_reference(str(ref)) == ref
    assert parse_reference(ref.familiar) == ref
    assert str(parse_reference(str(ref))) == str(ref)
