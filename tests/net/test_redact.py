"""lockpin.net.redact: credentials never survive into printed or written URLs."""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lockpin.net.redact import redact_text, redact_url, split_auth

REDACT_URL_CASES = [
    pytest.param(
        "https://user:s3cret@idx.example/simple/",
        "https://user:****@idx.example/simple/",
        id="user-and-password",
    ),
    pytest.param(
        "https://ghp_TOKEN123@idx.example/simple/",
        "https://****@idx.example/simple/",
        id="token-as-user-fully-masked",
    ),
    pytest.param(
        "https://user:@idx.example/simple/",
        "https://user:****@idx.example/simple/",
        id="empty-password",
    ),
    pytest.param(
        "https://user:pa:ss@idx.example:8443/simple/?q=1#frag",
        "https://user:****@idx.example:8443/simple/?q=1#frag",
        id="colon-in-password-port-query-fragment-kept",
    ),
    pytest.param(
        "https://user:p@ss@idx.example/simple/",
        "https://user:****@idx.example/simple/",
        id="raw-at-sign-in-password",
    ),
    pytest.param(
        "https://user:p%40ss%2Fx@idx.example/simple/",
        "https://user:****@idx.example/simple/",
        id="percent-encoded-password",
    ),
    pytest.param(
        "https://user:s3cret@[::1]:8080/simple/",
        "https://user:****@[::1]:8080/simple/",
        id="ipv6-host",
    ),
    pytest.param(
        "https://idx.example/simple/",
        "https://idx.example/simple/",
        id="no-credentials-unchanged",
    ),
    pytest.param(
        "https://idx.example/simple/?mail=a@b.example",
        "https://idx.example/simple/?mail=a@b.example",
        id="at-sign-in-query-is-not-userinfo",
    ),
    pytest.param("file:///srv/wheels/", "file:///srv/wheels/", id="file-url"),
    pytest.param("/srv/wheels", "/srv/wheels", id="plain-path"),
    pytest.param("", "", id="empty"),
]


@pytest.mark.parametrize(("url", "expected"), REDACT_URL_CASES)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_url_of_an_unparsable_url_still_masks() -> None:
    # urlsplit raises ValueError on the broken IPv6 literal: redaction must not.
    assert redact_url("https://user:s3cret@[::1/simple/") == "https://user:****@[::1/simple/"


REDACT_TEXT_CASES = [
    pytest.param(
        "GET https://user:s3cret@idx.example/simple/a/ failed",
        "GET https://user:****@idx.example/simple/a/ failed",
        id="inside-a-sentence",
    ),
    pytest.param(
        "tried https://tok@one.example/ and http://u:p@two.example:81/x, gave up",
        "tried https://****@one.example/ and http://u:****@two.example:81/x, gave up",
        id="two-urls",
    ),
    pytest.param(
        "-i https://user:p@ss@idx.example/simple/\n--extra-index-url https://x.example/",
        "-i https://user:****@idx.example/simple/\n--extra-index-url https://x.example/",
        id="raw-at-sign-in-password",
    ),
    pytest.param(
        "see https://idx.example/simple/ or mail admin@idx.example",
        "see https://idx.example/simple/ or mail admin@idx.example",
        id="email-address-untouched",
    ),
    pytest.param(
        "https://idx.example/files/a.whl?sig=x@y",
        "https://idx.example/files/a.whl?sig=x@y",
        id="at-sign-after-path-untouched",
    ),
    pytest.param(
        "git+https://u:pw@git.example/r.git", "git+https://u:****@git.example/r.git", id="vcs"
    ),
    pytest.param("nothing to see", "nothing to see", id="no-url"),
]


@pytest.mark.parametrize(("text", "expected"), REDACT_TEXT_CASES)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


SPLIT_AUTH_CASES = [
    pytest.param(
        "https://user:s3cret@idx.example/simple/",
        ("https://idx.example/simple/", ("user", "s3cret")),
        id="user-password",
    ),
    pytest.param(
        "https://TOKEN@idx.example/simple/",
        ("https://idx.example/simple/", ("TOKEN", "")),
        id="token",
    ),
    pytest.param(
        "https://us%40er:p%3Aw%2F@idx.example:8443/simple/?x=1",
        ("https://idx.example:8443/simple/?x=1", ("us@er", "p:w/")),
        id="percent-decoded",
    ),
    pytest.param(
        "https://user:p@ss@idx.example/simple/",
        ("https://idx.example/simple/", ("user", "p@ss")),
        id="raw-at-sign",
    ),
    pytest.param("https://idx.example/simple/", ("https://idx.example/simple/", None), id="none"),
]


@pytest.mark.parametrize(("url", "expected"), SPLIT_AUTH_CASES)
def test_split_auth(url: str, expected: tuple[str, tuple[str, str] | None]) -> None:
    assert split_auth(url) == expected


# -- properties ------------------------------------------------------------------------------

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}(:[1-9][0-9]{1,4})?", fullmatch=True)
paths = st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){0,3}/?", fullmatch=True)
users = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
passwords = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=4)
# What people type raw into a URL: anything but the characters that end the authority.
raw_passwords = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/@\\"),
    min_size=4,
)


@given(user=users, password=passwords, host=hosts, path=paths)
def test_percent_encoded_password_never_survives(
    user: str, password: str, host: str, path: str
) -> None:
    quoted_user, quoted_pw = quote(user, safe=""), quote(password, safe="")
    assume(quoted_user)
    url = f"https://{quoted_user}:{quoted_pw}@{host}{path}"
    redacted = f"https://{quoted_user}:****@{host}{path}"
    assert redact_url(url) == redacted
    assert redact_text(f"GET {url} answered 500\n") == f"GET {redacted} answered 500\n"
    assert split_auth(url) == (f"https://{host}{path}", (user, password))


@given(token=passwords, host=hosts, path=paths)
def test_token_only_userinfo_never_survives(token: str, host: str, path: str) -> None:
    url = f"https://{quote(token, safe='')}@{host}{path}"
    assert redact_url(url) == f"https://****@{host}{path}"
    assert redact_text(f"error: {url}") == f"error: https://****@{host}{path}"


@given(user=st.from_regex(r"[a-z]{1,8}", fullmatch=True), password=raw_passwords, host=hosts)
def test_raw_password_never_survives(user: str, password: str, host: str) -> None:
    # pip accepts unencoded passwords (it splits the authority at the last "@");
    # whatever lockpin prints must not contain them either.
    url = f"https://{user}:{password}@{host}/simple/"
    assume(password not in f"https://{user}:****@{host}/simple/")
    assert password not in redact_url(url)
    assert password not in redact_text(f"fetching {url} failed")


# -- linear time on hostile input (issue 7, item 7) --------------------------------------------

# The specification redact_text implements; ``re`` matching it backtracks quadratically on
# long runs of letters or of non-separators, so it serves here only as an oracle on short text.
_SPEC = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s]+)@")


def _by_spec(text: str) -> str:
    def mask(match: re.Match[str]) -> str:
        user, sep, _ = match.group("userinfo").partition(":")
        return f"{match.group('scheme')}{f'{user}:****' if sep else '****'}@"

    return _SPEC.sub(mask, text)


# Few distinct characters, so that schemes, "://", "@", ":" and separators collide often.
tricky_text = st.text(st.sampled_from("aZ9+.-:/@ \n\u00a0\u2028é"), max_size=40)


@given(text=tricky_text)
def test_redact_text_matches_its_specification(text: str) -> None:
    assert redact_text(text) == _by_spec(text)


@given(prefix=tricky_text, user=users, password=raw_passwords, suffix=tricky_text)
def test_redact_text_matches_its_specification_around_urls(
    prefix: str, user: str, password: str, suffix: str
) -> None:
    text = f"{prefix}https://{quote(user, safe='')}:{password}@idx.example/x{suffix}"
    assert redact_text(text) == _by_spec(text)


@pytest.mark.parametrize(
    "text",
    [
        "a://b:c://d@e",
        "x://u@ab@c://v@h",
        "1://u@h",
        "a://@x",
        "a://@x@y",
        "a1+://u:p@h",
        "é://u:p@h",
        "ab://u\u00a0p@h",
    ],
)
def test_redact_text_edge_cases_match_the_specification(text: str) -> None:
    assert redact_text(text) == _by_spec(text)


# Each would take minutes to hours with a backtracking regex (an 80k-character message took
# 7 s); a linear scan does all of them in well under a second.
ADVERSARIAL = [
    "'a' * N + '@'",  # one scheme-like run, no '://'
    "'a://' + 'x' * N",  # a huge authority without '@'
    "'a://' + 'x' * N + '@'",
    "'a:/' * (N // 3) + '@'",  # near-misses of '://'
    "'ab://x:' * (N // 7) + '@'",  # every authority ends in the next scheme
    "('https://u:p@h/' * (N // 14))",  # many real matches
    "'x' * N + '://' + '@y' * (N // 2)",
    "'pkg ; extra == ' + 'z@' * (N // 2)",  # a Requires-Dist from a hostile index
]


def test_redaction_is_linear_on_adversarial_input() -> None:
    """A hang guard, not a timing assertion: 2M-character inputs must finish in a
    subprocess given a very generous limit (quadratic work would need hours)."""
    code = "\n".join(
        [
            "from lockpin.net.redact import redact_text, redact_url",
            "N = 2_000_000",
            *(
                f"t = {expr}\nassert redact_text(t) is not None and redact_url(t) is not None"
                for expr in ADVERSARIAL
            ),
            "print('done')",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"


def test_redaction_of_a_long_text_still_masks_every_url() -> None:
    text = ("see https://user:s3cret@idx.example/simple/ " + "x" * 1000) * 200
    redacted = redact_text(text)
    assert "s3cret" not in redacted
    assert redacted.count("https://user:****@idx.example/simple/") == 200
