"""``lockpin image resolve`` in-process against the real test registry: text and JSON
output checked against skopeo's digests, platforms, and every failure the issue names
(unknown image or tag, auth failure, 429, unknown media type, missing platform, a
digest that does not match) as one error paragraph and exit code 2, no traceback."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from fixtures.http_server import Response
from fixtures.registry import RegistryProxy
from lockpin.image.digest import digest_of
from support import run_cli

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.registry_plugin import OciRegistry
    from support import CliRun

pytestmark = pytest.mark.usefixtures("isolated", "docker_config")


def resolve(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    return run_cli(capsys, "image", "resolve", *args, "--retries", "0", "-q")


def assert_clean_error(result: CliRun, *needles: str) -> None:
    assert result.code == 2, result.both
    assert result.out == ""
    assert "Traceback" not in result.err
    assert result.err.startswith("lockpin: error: ")
    for needle in needles:
        assert needle in result.err, result.err


def test_text_output(capsys: pytest.CaptureFixture[str], oci_registry: OciRegistry) -> None:
    ref = oci_registry.ref("public/multi:1")
    result = resolve(capsys, ref)
    assert result.code == 0, result.err
    digest = oci_registry.digests["public/multi:1"]
    lines = result.out.splitlines()
    assert lines[0] == f"{ref}@{digest}"
    assert lines[1] == f"  index {digest}"
    per = oci_registry.platforms["public/multi:1"]
    assert lines[2].split() == ["linux/amd64", per["linux/amd64"]]
    assert lines[3].split() == ["linux/arm64/v8", per["linux/arm64/v8"]]
    assert len(lines) == 4  # the attestation is not a platform


def test_json_output_with_platforms(
    capsys: pytest.CaptureFixture[str], oci_registry: OciRegistry
) -> None:
    ref = oci_registry.ref("public/multi:1")
    result = resolve(
        capsys, ref, "--platform", "linux/aarch64", "--platform", "linux/amd64", "--format", "json"
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    per = oci_registry.platforms["public/multi:1"]
    assert data["digest"] == oci_registry.digests["public/multi:1"]
    assert data["reference"] == ref
    assert data["index"] is True
    assert data["pinned"] == f"{ref}@{data['digest']}"
    assert [(m["platform"], m["digest"]) for m in data["manifests"]] == [
        ("linux/arm64/v8", per["linux/arm64/v8"]),
        ("linux/amd64", per["linux/amd64"]),
    ]


def test_single_platform_image(
    capsys: pytest.CaptureFixture[str], oci_registry: OciRegistry
) -> None:
    ref = oci_registry.ref("library/pythonish:3.12")
    result = resolve(capsys, ref, "--format", "json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["digest"] == oci_registry.digests["library/pythonish:3.12"]
    assert data["index"] is False
    assert data["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert [m["platform"] for m in data["manifests"]] == ["linux/amd64"]
    missing = resolve(capsys, ref, "--platform", "linux/arm64")
    assert_clean_error(missing, "no image for platform linux/arm64/v8", "it has: linux/amd64")


def test_missing_platform(capsys: pytest.CaptureFixture[str], oci_registry: OciRegistry) -> None:
    result = resolve(capsys, oci_registry.ref("public/multi:1"), "--platform", "linux/s390x")
    assert_clean_error(
        result, "no image for platform linux/s390x", "it has: linux/amd64, linux/arm64/v8"
    )


def test_unknown_image_or_tag(
    capsys: pytest.CaptureFixture[str], oci_registry: OciRegistry
) -> None:
    ref = oci_registry.ref("public/multi:2")
    assert_clean_error(resolve(capsys, ref), "unknown image or tag", ref)
    assert_clean_error(resolve(capsys, oci_registry.ref("nobody/none:1")), "unknown image or tag")


def test_bad_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert_clean_error(resolve(capsys, "Python:3"), "must be lowercase")
    assert_clean_error(resolve(capsys, "python@sha256:12"), "sha256 needs 64")
    assert_clean_error(resolve(capsys, "python", "--platform", "linux"), "OS/ARCH")


def test_auth_failure(capsys: pytest.CaptureFixture[str], oci_registry: OciRegistry) -> None:
    result = resolve(capsys, oci_registry.ref("private/multi:1", registry=oci_registry.token))
    assert_clean_error(result, "private/multi", "config.json", "docker login")


def test_anonymous_token_flow(
    capsys: pytest.CaptureFixture[str], oci_registry: OciRegistry
) -> None:
    result = resolve(capsys, oci_registry.ref("public/multi:1", registry=oci_registry.token))
    assert result.code == 0, result.err
    assert oci_registry.digests["public/multi:1"] in result.out.splitlines()[0]


@pytest.fixture
def proxy(oci_registry: OciRegistry) -> Iterator[RegistryProxy]:
    with RegistryProxy(oci_registry.open.url) as server:
        yield server


def _via(proxy: RegistryProxy, name: str) -> str:
    return f"{proxy.url.removeprefix('http://')}/{name}"


def test_rate_limited(capsys: pytest.CaptureFixture[str], proxy: RegistryProxy) -> None:
    proxy.fail("/v2/public/", 429, times=None, retry_after=0)
    assert_clean_error(resolve(capsys, _via(proxy, "public/multi:1")), "rate limiting", "429")


def test_unknown_media_type(capsys: pytest.CaptureFixture[str], proxy: RegistryProxy) -> None:
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.example.thing.v1+json"}'

    def rewrite(path: str, answer: Response) -> Response:
        if "/manifests/" not in path:
            return answer
        return Response(
            200,
            body,
            {
                "Content-Type": "application/vnd.example.thing.v1+json",
                "Docker-Content-Digest": digest_of(body),
            },
        )

    proxy.rewrite = rewrite
    assert_clean_error(
        resolve(capsys, _via(proxy, "public/multi:1")),
        "unknown manifest media type 'application/vnd.example.thing.v1+json'",
    )


def test_a_digest_mismatch_is_refused(
    capsys: pytest.CaptureFixture[str], proxy: RegistryProxy, oci_registry: OciRegistry
) -> None:
    def rewrite(path: str, answer: Response) -> Response:
        if "/manifests/" in path:
            answer.body = answer.body + b" "
        return answer

    proxy.rewrite = rewrite
    result = resolve(capsys, _via(proxy, "public/multi:1"))
    assert_clean_error(result, "lockpin refuses", oci_registry.digests["public/multi:1"])


def test_help_lists_the_group(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "image")
    assert result.code == 2
    assert "resolve" in result.err


def test_credentials_stay_out_of_verbose_output(
    capsys: pytest.CaptureFixture[str], oci_registry: OciRegistry, docker_config: Path
) -> None:
    import base64
    import logging

    from fixtures.registry import PASSWORD, USER

    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {oci_registry.basic.host: {"auth": auth}}})
    )
    ref = oci_registry.ref("public/multi:1", registry=oci_registry.basic)
    result = run_cli(capsys, "image", "resolve", ref, "-vvv", "--retries", "0")
    assert result.code == 0, result.err
    assert PASSWORD not in result.both
    assert auth not in result.both
    # hpack logs encoded request headers at DEBUG: kept quiet even at -vvv.
    assert logging.getLogger("hpack").getEffectiveLevel() >= logging.WARNING


def _identity_config(docker_config: Path, host: str, token: str) -> None:
    import base64

    # What `docker login` writes for Azure: a placeholder user, no password, the token.
    user = base64.b64encode(b"00000000-0000-0000-0000-000000000000:").decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {host: {"auth": user, "identitytoken": token}}})
    )


def _everything(result: CliRun, caplog: pytest.LogCaptureFixture, cache: Path) -> str:
    files = [p.read_bytes().decode("latin-1") for p in cache.rglob("*") if p.is_file()]
    return "\n".join([result.both, caplog.text, *files])


@pytest.mark.parametrize("oauth", [True, False], ids=["oauth2-post", "get-fallback"])
def test_an_identity_token_is_used_and_never_shown(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    oci_registry: OciRegistry,
    docker_config: Path,
    tmp_path: Path,
    oauth: bool,
) -> None:
    import logging

    from fixtures.registry import IDENTITY_TOKEN

    server = oci_registry.token_server
    _identity_config(docker_config, oci_registry.token.host, IDENTITY_TOKEN)
    ref = oci_registry.ref("private/multi:1", registry=oci_registry.token)  # needs login
    cache = tmp_path / "cache"
    server.forms.clear()
    server.oauth = oauth
    try:
        with caplog.at_level(logging.DEBUG):
            result = run_cli(
                capsys, "image", "resolve", ref, "-vvv", "--retries", "0", "--cache-dir", str(cache)
            )
    finally:
        server.oauth = True
    assert result.code == 0, result.err
    assert result.out.startswith(f"{ref}@{oci_registry.digests['private/multi:1']}")
    posted = {
        "grant_type": "refresh_token",
        "refresh_token": "<valid>",
        "service": "lockpin-test-registry",
        "scope": "repository:private/multi:pull",
        "client_id": "lockpin",
    }
    # without OAuth2 the POST is refused (404) and the token goes by GET instead
    assert server.forms == ([posted] if oauth else [])
    seen = _everything(result, caplog, cache)
    assert IDENTITY_TOKEN not in seen  # nor the rotated one the server sent back
    assert "T0KEN" not in seen


def test_a_refused_identity_token_is_not_shown(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    oci_registry: OciRegistry,
    docker_config: Path,
    tmp_path: Path,
) -> None:
    import logging

    wrong = "wrong-refresh-PLANTED-secret-9c2e"
    _identity_config(docker_config, oci_registry.token.host, wrong)
    ref = oci_registry.ref("private/multi:1", registry=oci_registry.token)
    cache = tmp_path / "cache"
    with caplog.at_level(logging.DEBUG):
        result = run_cli(
            capsys, "image", "resolve", ref, "-vvv", "--retries", "0", "--cache-dir", str(cache)
        )
    assert result.code == 2, result.both
    assert "Traceback" not in result.err
    assert "refused the credentials" in result.err
    assert str(docker_config / "config.json") in result.err  # where they came from
    assert "PLANTED" not in _everything(result, caplog, cache)
