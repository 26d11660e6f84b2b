"""The client's address: the TCP peer, or, when the peer is a trusted proxy, the address the
proxy says it forwarded for.

Only the one header the proxy in front sets is read (``KAMENG_FORWARDED_HEADER``: Caddy and
nginx set ``X-Forwarded-For``; some load balancers only ``Forwarded``, RFC 7239): a header the
proxy passes through untouched is the client's to forge. The chain is walked from the right,
past every trusted proxy: the first hop that is not one is the client. A request whose peer
is not trusted keeps its peer address whatever its headers say.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxySettingError(ValueError):
    pass


@functools.lru_cache(maxsize=8)
def trusted_networks(configured: str) -> tuple[Network, ...]:
    """``KAMENG_TRUSTED_PROXIES``: addresses or networks, comma-separated (``10.0.0.0/8, ::1``)."""
    networks = []
    for item in configured.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ProxySettingError(f"KAMENG_TRUSTED_PROXIES: {item!r} is not an address or network") from exc
    return tuple(networks)


def _address(text: str) -> Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` of each element of an RFC 7239 ``Forwarded`` value, in order."""
    hops = []
    for element in value.split(","):
        found = ""
        for pair in element.split(";"):
            name, _, token = pair.partition("=")
            if name.strip().lower() == "for":
                found = token.strip()
        hops.append(found)
    return hops


def _is_trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return any((mapped or address) in net for net in networks)


def client_address(scope: dict[str, Any], networks: tuple[Network, ...], header: str) -> str:
    client = scope.get("client")
    peer = client[0] if client else ""
    if not networks or not peer:
        return peer
    peer_address = _address(peer)
    if peer_address is None or not _is_trusted(peer_address, networks):
        return peer
    name = header.strip().lower().encode("latin-1")
    values = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name]
    if not values:
        return peer
    joined = ",".join(values)
    hops = _forwarded_for(joined) if name == b"forwarded" else joined.split(",")
    nearest = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return nearest  # an obfuscated or broken hop: the last address vouched for
        if not _is_trusted(address, networks):
            return str(address)
        nearest = str(address)
    return nearest
