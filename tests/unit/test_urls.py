"""core.urls: the URL checks, and the legacy IPv4 reading against the C library's own."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faxpush.core.errors import ConfigurationError
from faxpush.core.urls import check_http_url, display_url, legacy_ipv4

NUMBER_CHARACTERS = "0123456789abcdefxABCDEFX."


def c_library_reading(host: str) -> IPv4Address | None:
    """What legacy_ipv4 answered when it asked socket.inet_aton (the reference)."""
    text = host.removesuffix(".")
    if not text or not set(text) <= set(NUMBER_CHARACTERS):
        return None
    try:
        address = IPv4Address(socket.inet_aton(text))
    except OSError:
        return None
    return None if str(address) == host else address


def _written(value: int, form: str, zeros: int) -> str:
    if form == "hex":
        return "0x" + "0" * zeros + format(value, "x")
    if form == "HEX":
        return "0X" + "0" * zeros + format(value, "X")
    if form == "octal":
        return "0" * (zeros + 1) + format(value, "o")
    return str(value)


numbers = st.builds(
    _written,
    st.one_of(st.integers(0, 0x1FF), st.integers(0, 2**33)),
    st.sampled_from(["hex", "HEX", "octal", "decimal"]),
    st.integers(0, 2),
)
junk = st.sampled_from(["", "0x", "0X", "08", "09", "0x1x", "1a", "a1", "x", "00x1", "0xg"])
hosts = st.builds(
    lambda parts, dot: ".".join(parts) + dot,
    st.lists(st.one_of(numbers, numbers, numbers, junk), min_size=1, max_size=5),
    st.sampled_from(["", "", "."]),
)


@settings(max_examples=3000)
@given(st.one_of(hosts, st.text(NUMBER_CHARACTERS, max_size=24)))
def test_legacy_ipv4_reads_like_the_c_library(host: str) -> None:
    assert legacy_ipv4(host) == c_library_reading(host)


@pytest.mark.parametrize(
    ("host", "meaning"),
    [
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0xffffffff", "255.255.255.255"),
        ("1.0xffffff", "1.255.255.255"),
        ("1.2.0xffff", "1.2.255.255"),
        ("127.0.0.1", None),
        ("0x100000000", None),
        ("1.0x1000000", None),
        ("256.1", None),
        ("0x", None),
        ("08", None),
        ("1..1", None),
        ("1.2.3.4.5", None),
        ("cafe", None),
        ("", None),
    ],
)
def test_legacy_ipv4_forms(host: str, meaning: str | None) -> None:
    found = legacy_ipv4(host)
    assert (None if found is None else str(found)) == meaning
    assert found == c_library_reading(host)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.test/x", "must be an absolute http:// or https:// URL"),
        ("/relative", "must be an absolute http:// or https:// URL"),
        ("https://u:p@example.test/x", "contains user info"),
        ("http://0x7f.1/x", "write the address as 127.0.0.1"),
        ("http://[::1", "is not a valid URL"),
    ],
)
def test_check_http_url_refuses(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as refused:
        check_http_url(url, role="token URL")
    assert "token URL" in str(refused.value)
    assert "u:p@" not in str(refused.value)


def test_check_http_url_accepts_http_and_https() -> None:
    check_http_url("http://127.0.0.1:8080/push")
    check_http_url("https://hooks.example.test/fax/status?x=1")


def test_display_url_drops_user_info_query_and_fragment() -> None:
    assert display_url("https://u:p@example.test/a?token=x#f") == "https://example.test/a"
    assert display_url("http://[::1") == "<invalid URL>"
