"""The client's address through trusted proxies (``api/clientaddr.py``), header by header."""

from __future__ import annotations

import pytest

from api.clientaddr import ProxySettingError, client_address, trusted_networks

PROXIES = trusted_networks("10.0.0.0/8, 192.0.2.1, ::1")


def scope(peer: str, *headers: tuple[str, str]) -> dict:
    return {"client": (peer, 5000), "headers": [(k.encode(), v.encode()) for k, v in headers]}


@pytest.mark.parametrize(
    ("peer", "headers", "header", "expected"),
    [
        pytest.param("203.0.113.9", [("x-forwarded-for", "198.51.100.1")], "x-forwarded-for", "203.0.113.9", id="untrusted-peer-keeps-its-address"),
        pytest.param("10.0.0.2", [("x-forwarded-for", "198.51.100.1")], "x-forwarded-for", "198.51.100.1", id="trusted-proxy"),
        pytest.param("10.0.0.2", [("x-forwarded-for", "198.51.100.66, 198.51.100.1, 10.0.0.3")], "x-forwarded-for", "198.51.100.1", id="rightmost-untrusted-hop"),
        pytest.param("10.0.0.2", [("x-forwarded-for", "198.51.100.66"), ("x-forwarded-for", "198.51.100.1")], "x-forwarded-for", "198.51.100.1", id="repeated-header-joined"),
        pytest.param("10.0.0.2", [], "x-forwarded-for", "10.0.0.2", id="no-header-the-proxy-itself"),
        pytest.param("10.0.0.2", [("x-forwarded-for", "10.0.0.9")], "x-forwarded-for", "10.0.0.9", id="only-proxies-the-nearest"),
        pytest.param("10.0.0.2", [("x-forwarded-for", "unknown, 198.51.100.1")], "x-forwarded-for", "198.51.100.1", id="garbage-left-of-the-client"),
        pytest.param("10.0.0.2", [("x-forwarded-for", "198.51.100.1, garbage")], "x-forwarded-for", "10.0.0.2", id="garbage-hop-stops-the-walk"),
        pytest.param("10.0.0.2", [("x-forwarded-for", "198.51.100.1:4711")], "x-forwarded-for", "198.51.100.1", id="v4-with-port"),
        pytest.param("::1", [("forwarded", 'for="[2001:db8:cafe::17]:4711";proto=https, for=192.0.2.1')], "forwarded", "2001:db8:cafe::17", id="rfc7239-v6"),
        pytest.param("10.0.0.2", [("forwarded", "for=_hidden")], "forwarded", "10.0.0.2", id="rfc7239-obfuscated"),
        pytest.param("10.0.0.2", [("forwarded", "for=198.51.100.1")], "x-forwarded-for", "10.0.0.2", id="only-the-configured-header"),
        pytest.param("::ffff:10.0.0.2", [("x-forwarded-for", "198.51.100.1")], "x-forwarded-for", "198.51.100.1", id="v4-mapped-peer"),
        pytest.param("10.0.0.2", [("X-Forwarded-For", "198.51.100.1")], "X-Forwarded-For", "198.51.100.1", id="header-names-any-case"),
    ],
)
def test_client_address(peer, headers, header, expected):
    assert client_address(scope(peer, *headers), PROXIES, header) == expected


def test_no_trusted_proxies_means_the_peer():
    assert client_address(scope("10.0.0.2", ("x-forwarded-for", "198.51.100.1")), (), "x-forwarded-for") == "10.0.0.2"


def test_a_bad_setting_is_refused_by_name():
    with pytest.raises(ProxySettingError, match="not-an-address"):
        trusted_networks("10.0.0.0/8,not-an-address")
