"""pin_dockerfile / pin_text over an in-memory registry: which words are rewritten,
what is left alone, what is reported as unpinnable, idempotence, and failures
that leave the file untouched."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockpin.errors import (
    DockerfileError,
    InputError,
    LockpinError,
    NoSuchImageError,
    NoSuchPlatformError,
    PinError,
)
from lockpin.image.pin import PinResult, pin_dockerfile, pin_text

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from fixtures.registry_plugin import OciRegistry


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


OLD = digest("old")


class FakeRegistry:
    """Every reference resolves to the sha256 of its text (or of ``moved[ref]``),
    with platforms linux/amd64 and linux/arm64, unless listed in ``missing``."""

    def __init__(
        self,
        *,
        missing: Sequence[str] = (),
        moved: dict[str, str] | None = None,
        platforms: Sequence[str] = ("linux/amd64", "linux/arm64"),
        answer: str | None = None,
    ) -> None:
        self.missing = set(missing)
        self.moved = moved or {}
        self.platforms = tuple(platforms)
        self.answer = answer
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def resolve(self, reference: str, platforms: Sequence[str]) -> str:
        self.calls.append((reference, tuple(platforms)))
        if reference in self.missing:
            raise NoSuchImageError(
                f"{reference}: no such image", reference=reference, url="http://127.0.0.1/v2/"
            )
        for p in platforms:
            if p not in self.platforms:
                raise NoSuchPlatformError(reference=reference, platform=p, available=self.platforms)
        if self.answer is not None:
            return self.answer
        return digest(self.moved.get(reference, reference))


def pin(text: str, registry: FakeRegistry | None = None, **kw: object) -> PinResult:
    return pin_text(text, resolver=registry or FakeRegistry(), **kw)  # type: ignore[arg-type]


def pinned(ref: str) -> str:
    return f"{ref}@{digest(ref)}"


# -- what is rewritten -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("FROM python:3.12-slim\n", f"FROM {pinned('python:3.12-slim')}\n"),
        ("FROM python\n", f"FROM {pinned('python:latest')}\n"),
        ("from alpine:3.20 as base\n", f"from {pinned('alpine:3.20')} as base\n"),
        (
            "FROM localhost:5000/team/app AS x\n",
            f"FROM {pinned('localhost:5000/team/app:latest')} AS x\n",
        ),
        (
            "FROM docker.io/library/python:3.12\n",
            f"FROM {pinned('docker.io/library/python:3.12')}\n",
        ),
        ("FROM scratch\n", "FROM scratch\n"),
        (
            "FROM golang:1.22 AS build\nFROM build\nFROM scratch\nCOPY --from=build / /\n",
            f"FROM {pinned('golang:1.22')} AS build\n"
            "FROM build\nFROM scratch\nCOPY --from=build / /\n",
        ),
        (
            "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n",
            f"FROM --platform=$BUILDPLATFORM {pinned('golang:1.22')} AS build\n",
        ),
        ("FROM \\\n  python:3.12\n", f"FROM \\\n  {pinned('python:3.12')}\n"),
        (
            "ARG BASE=python:3.12-slim\nFROM ${BASE}\n",
            f"ARG BASE={pinned('python:3.12-slim')}\nFROM ${{BASE}}\n",
        ),
        (
            'ARG X=1 BASE="python:3.12-slim" Y\nFROM $BASE AS app\n',
            f'ARG X=1 BASE="{pinned("python:3.12-slim")}" Y\nFROM $BASE AS app\n',
        ),
        (
            "ARG BASE='alpine'\nFROM ${BASE}\n",
            f"ARG BASE='{pinned('alpine:latest')}'\nFROM ${{BASE}}\n",
        ),
        (
            "ARG BASE=node:20\nARG BASE=node:22\nFROM $BASE\n",
            f"ARG BASE=node:20\nARG BASE={pinned('node:22')}\nFROM $BASE\n",
        ),
    ],
)
def test_rewrites(before: str, after: str) -> None:
    result = pin(before)
    assert result.text == after
    assert result.unchanged == (before == after)
    assert result.unpinned == ()


def test_keeps_everything_else_byte_for_byte() -> None:
    text = (
        "\ufeff# syntax=docker/dockerfile:1\r\n"
        "# escape=`\r\n"
        "\r\n"
        "ARG BASE=python:3.12-slim\r\n"
        "# the build stage\r\n"
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\r\n"
        "RUN <<EOF\r\n"
        "FROM this-is-a-heredoc-body\r\n"
        "EOF\r\n"
        "RUN go build `\r\n"
        "  # a comment inside\r\n"
        "  -o /app\r\n"
        "FROM ${BASE}\r\n"
        "COPY --from=build /app /app\r\n"
        'CMD ["/app"]'
    )
    result = pin(text)
    expected = text.replace("golang:1.22 ", pinned("golang:1.22") + " ").replace(
        "ARG BASE=python:3.12-slim", "ARG BASE=" + pinned("python:3.12-slim")
    )
    assert result.text == expected
    assert [(c.line, c.arg, c.old, c.new) for c in result.changes] == [
        (4, "BASE", "python:3.12-slim", pinned("python:3.12-slim")),
        (6, None, "golang:1.22", pinned("golang:1.22")),
    ]
    assert [(c.stage, c.stage_name) for c in result.changes] == [(1, None), (0, "build")]


def test_idempotent_and_keeps_digests_without_asking() -> None:
    text = "ARG B=debian:bookworm\nFROM $B AS a\nFROM python:3.12 AS b\nFROM a\n"
    first = pin(text)
    registry = FakeRegistry()
    second = pin(first.text, registry)
    assert second.text == first.text
    assert second.unchanged
    assert second.changes == ()
    assert registry.calls == []


def test_update_moves_digests_and_reports_old_to_new() -> None:
    text = f"FROM python:3.12@{OLD}\nFROM alpine:3.20@{digest('alpine:3.20')}\n"
    registry = FakeRegistry()
    assert pin(text, registry).unchanged
    assert registry.calls == []
    result = pin(text, registry, update=True)
    assert (
        result.text == f"FROM {pinned('python:3.12')}\nFROM alpine:3.20@{digest('alpine:3.20')}\n"
    )
    (change,) = result.changes
    assert (change.line, change.old_digest, change.new_digest) == (1, OLD, digest("python:3.12"))
    assert f"{OLD} -> {digest('python:3.12')}" in str(change)
    assert sorted(registry.calls) == [("alpine:3.20", ()), ("python:3.12", ())]


def test_update_of_a_digest_without_tag_is_reported() -> None:
    text = f"FROM python@{OLD}\n"
    result = pin(text, update=True)
    assert result.unchanged
    (u,) = result.unpinned
    assert u.location == "Dockerfile:1"
    assert "no tag" in u.reason


def test_platforms() -> None:
    registry = FakeRegistry()
    text = (
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"
        "FROM --platform=linux/arm64 alpine:3.20 AS arm\n"
        "FROM --platform=$TARGETPLATFORM debian:bookworm AS t\n"
        "FROM python:3.12\n"
    )
    pin(text, registry, platforms=["linux/amd64", "linux/arm64"])
    assert sorted(registry.calls) == [
        ("alpine:3.20", ("linux/arm64",)),
        ("debian:bookworm", ("linux/amd64", "linux/arm64")),
        ("golang:1.22", ()),
        ("python:3.12", ("linux/amd64", "linux/arm64")),
    ]


def test_an_arg_shared_by_stages_is_resolved_once_for_all_their_platforms() -> None:
    registry = FakeRegistry()
    text = "ARG B=alpine:3.20\nFROM --platform=linux/arm64 $B AS x\nFROM ${B}\n"
    result = pin(text, registry, platforms=["linux/amd64"])
    assert registry.calls == [("alpine:3.20", ("linux/amd64", "linux/arm64"))]
    assert len(result.changes) == 1
    assert result.text.startswith(f"ARG B={pinned('alpine:3.20')}\n")


def test_missing_platform_fails_and_names_the_line() -> None:
    with pytest.raises(PinError) as info:
        pin(
            "FROM a:1\nFROM b:1\n",
            FakeRegistry(platforms=("linux/amd64",)),
            platforms=["linux/s390x"],
        )
    assert info.value.location == "Dockerfile:1"
    assert isinstance(info.value.cause, NoSuchPlatformError)
    assert "linux/s390x" in str(info.value)
    assert "linux/amd64" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("ARG BASE\nFROM ${BASE}\n", 2, "has no value"),
        ("FROM $NOWHERE\n", 1, "has no value"),
        ("ARG PY=3.12\nFROM python:${PY}-slim\n", 2, "built from variables"),
        ("ARG R=ghcr.io\nARG B=${R}/app:1\nFROM $B\n", 3, "default of ARG B"),
        ('FROM "python:3.12"\n', 1, "quoted"),
        ("FROM pyth\\\non:3.12\n", 1, "split over a line continuation"),
        ("FROM python:3.12-${TARGETARCH}\n", 1, "BuildKit sets per build"),
    ],
)
def test_unpinnable_froms_are_reported(text: str, line: int, reason: str) -> None:
    result = pin(text + "FROM alpine:3.20\n")
    (u,) = result.unpinned
    assert (u.line, u.location) == (line, f"Dockerfile:{line}")
    assert reason in u.reason
    assert str(u).startswith(f"Dockerfile:{line}: cannot pin FROM ")
    # the rest is pinned all the same
    assert result.text == text + f"FROM {pinned('alpine:3.20')}\n"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("ARG B=python:3.12\nFROM $B\nFROM ${B}-dev\n", "FROM ${B}-dev (line 3)"),
        ("ARG B=python:3.12\nARG C=${B}x\nFROM $B\n", "the default of ARG C (line 2)"),
        ("ARG B=linux/amd64\nFROM --platform=$B ${B}\n", "FROM --platform=$B (line 2)"),
    ],
)
def test_an_arg_read_elsewhere_is_not_pinned(text: str, where: str) -> None:
    result = pin(text)
    assert result.unchanged
    assert any(f"also used in {where}" in u.reason for u in result.unpinned)


def test_a_build_arg_overriding_the_default_is_reported() -> None:
    text = "ARG BASE=python:3.12\nFROM ${BASE}\n"
    result = pin(text, build_args={"BASE": "python:3.13"})
    assert result.unchanged
    (u,) = result.unpinned
    assert "build arg" in u.reason
    # a build arg that only decides a stage reference is fine
    text = "ARG V=a\nFROM alpine AS base-a\nFROM base-${V}\n"
    result = pin(text, build_args={"V": "a"})
    assert result.unpinned == ()
    assert result.text == f"ARG V=a\nFROM {pinned('alpine:latest')} AS base-a\nFROM base-${{V}}\n"


def test_stage_references_through_target_args_are_left_alone() -> None:
    text = "FROM alpine:3 AS base-amd64\nFROM alpine:3 AS base-arm64\nFROM base-${TARGETARCH}\n"
    result = pin(text)
    assert result.unpinned == ()
    assert result.text.count("@sha256:") == 2


def test_invalid_platforms_fail_before_any_network() -> None:
    registry = FakeRegistry()
    with pytest.raises(InputError, match="invalid platform 'amd64'"):
        pin("FROM a:1\n", registry, platforms=["amd64"])
    with pytest.raises(DockerfileError, match=r"^Dockerfile:2: invalid platform 'x86'"):
        pin("FROM a:1\nFROM --platform=x86 b:1\n", registry)
    assert registry.calls == []


def test_invalid_reference_names_the_line() -> None:
    with pytest.raises(DockerfileError, match=r"^app/Dockerfile:2: .*lowercase"):
        pin("FROM alpine\nFROM Python:3\n", filename="app/Dockerfile")


def test_resolver_failure_names_the_line_and_reference() -> None:
    with pytest.raises(PinError) as info:
        pin("FROM ok:1\n\nFROM gone:1\n", FakeRegistry(missing=["gone:1"]))
    assert str(info.value).startswith("Dockerfile:3: cannot pin gone:1: ")
    assert "gone:1" not in str(info.value).removeprefix("Dockerfile:3: cannot pin gone:1: ")
    assert info.value.exit_code == 2


def test_a_malformed_digest_from_the_resolver_is_refused() -> None:
    with pytest.raises(PinError, match="digest resolved for"):
        pin("FROM a:1\n", FakeRegistry(answer="sha256:abc"))


def test_pin_dockerfile_writes_only_when_asked_and_nothing_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    text = "FROM python:3.12\r\nFROM gone:1\r\n"
    path.write_bytes(text.encode())
    with pytest.raises(PinError):
        pin_dockerfile(path, resolver=FakeRegistry(missing=["gone:1"]), write=True)
    assert path.read_bytes() == text.encode()
    result = pin_dockerfile(path, resolver=FakeRegistry())
    assert path.read_bytes() == text.encode()
    assert not result.unchanged
    result = pin_dockerfile(path, resolver=FakeRegistry(), write=True)
    assert path.read_bytes() == result.text.encode()
    assert result.path == str(path)
    assert "\r\n" in result.text


def test_pin_dockerfile_refuses_what_does_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM a\nRUN <<EOF\n")
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: unterminated heredoc"):
        pin_dockerfile(path, resolver=FakeRegistry(), write=True)
    assert path.read_text() == "FROM a\nRUN <<EOF\n"


# -- the property: pinning is idempotent and touches only FROM/ARG lines ---------------------

_LINE = st.sampled_from(
    [
        "FROM python:3.12-slim",
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build",
        "FROM build",
        "FROM scratch",
        "FROM alpine AS base",
        "FROM base",
        "ARG BASE=python:3.12",
        "ARG BASE",
        "FROM ${BASE}",
        "FROM $BASE AS x",
        "FROM ${BASE}-dev",
        "ARG OTHER=${BASE}",
        'ARG BASE="alpine:3"',
        "FROM --platform=linux/arm64 ${BASE}",
        f"FROM node:20@{OLD}",
        "RUN echo \\",
        "  FROM not-me",
        "# FROM comment",
        "",
        "RUN <<EOF",
        "FROM heredoc",
        "EOF",
        "COPY --from=build / /",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=10), st.sampled_from(["\n", "\r\n"]))
def test_pinning_is_idempotent(lines: list[str], newline: str) -> None:
    text = newline.join(lines) + newline
    try:
        first = pin(text)
    except DockerfileError:
        return
    registry = FakeRegistry()
    second = pin(first.text, registry)
    assert second.text == first.text
    assert registry.calls == []
    before, after = text.split(newline), first.text.split(newline)
    assert len(before) == len(after)
    changed = {i + 1 for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b}
    assert changed == {c.line for c in first.changes}
    for line in changed:
        assert before[line - 1].split("=")[0].split()[0] in ("FROM", "ARG")


# -- every image at once ------------------------------------------------------------------------


class BatchRegistry(FakeRegistry):
    """A resolver with ``resolve_all``: answers every request in one call."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.batches: list[list[tuple[str, tuple[str, ...]]]] = []

    def resolve_all(self, requests: Sequence[tuple[str, tuple[str, ...]]]) -> list[object]:
        self.batches.append(list(requests))
        out: list[object] = []
        for ref, platforms in requests:
            try:
                out.append(FakeRegistry.resolve(self, ref, platforms))
            except LockpinError as exc:
                out.append(exc)
        return out


def test_a_batch_resolver_is_asked_once_for_every_image_in_file_order() -> None:
    registry = BatchRegistry()
    text = (
        "FROM b:1 AS one\n"
        "FROM --platform=linux/arm64 a:2\n"
        "FROM b:1\n"
        "FROM c@" + OLD + "\n"  # pinned, not --update: not asked
        "FROM one\n"
    )
    result = pin(text, registry)
    assert registry.batches == [[("b:1", ()), ("a:2", ("linux/arm64",))]]
    assert registry.calls == [("b:1", ()), ("a:2", ("linux/arm64",))]  # nothing asked twice
    assert result.text.splitlines()[0] == f"FROM b:1@{digest('b:1')} AS one"


def test_a_batch_raises_the_first_failure_in_file_order() -> None:
    registry = BatchRegistry(missing=["gone:2", "gone:3"])
    with pytest.raises(PinError) as info:
        pin("FROM ok:1\nFROM gone:2\nFROM gone:3\n", registry)
    assert str(info.value).startswith("Dockerfile:2: cannot pin gone:2: ")
    assert len(registry.batches) == 1


def test_the_registry_resolver_shares_one_client_and_asks_concurrently(
    oci_registry: OciRegistry, tmp_path: Path
) -> None:
    """Three images behind a token: one /v2/ ping, one token, and the two tag
    lookups in flight together (each waits for the other at a barrier: one at a
    time, the first would wait in vain and the barrier would break)."""
    import threading

    from fixtures.registry import RegistryProxy
    from lockpin.image.pin import RegistryResolver
    from lockpin.net.config import HttpConfig

    # three tag lookups: (), (linux/amd64,), (linux/arm64,)
    barrier = threading.Barrier(3, timeout=20)
    broken: list[bool] = []

    def meet(method: str, path: str, headers: dict[str, str]) -> None:
        if path.endswith("/manifests/1") and "authorization" in headers:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                broken.append(True)

    with RegistryProxy(oci_registry.token.url) as proxy:
        host = proxy.url.removeprefix("http://")
        proxy.override("/v2/public/multi/manifests/", meet)
        issued = oci_registry.token_server.issued
        text = (
            f"FROM {host}/public/multi:1 AS a\n"
            f"FROM --platform=linux/amd64 {host}/public/multi:1 AS b\n"
            f"FROM --platform=linux/arm64 {host}/public/multi:1\n"
        )
        resolver = RegistryResolver(http=HttpConfig(retries=0, cache_dir=None))
        result = pin_text(text, resolver=resolver)
        pings = [r for r in proxy.requests if r.path == "/v2/"]
    assert not broken
    assert len(pings) == 1
    assert oci_registry.token_server.issued == issued + 1  # one token, shared
    index = oci_registry.digests["public/multi:1"]
    assert [c.new_digest for c in result.changes] == [index] * 3
    assert [c.line for c in result.changes] == [1, 2, 3]
