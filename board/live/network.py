"""Who is on the other end of a socket, as far as bans and limits are concerned."""

import ipaddress

from django.conf import settings


def client_address(scope):
    """The client's IP address from an ASGI scope, or None if the server gave none.

    It is the TCP peer, unless the peer is one of ``TRUSTED_PROXIES``. Then the
    ``X-Forwarded-For`` chain is read from the right (the hop the proxy itself
    added) past every trusted proxy, and the first address not among them is
    the client. Anything further left was written by the client and proves
    nothing. Daphne runs without ``--proxy-headers``, which would believe the
    leftmost entry from anyone; see docs/deployment.md.
    """
    client = scope.get("client")
    if not client:
        return None
    peer = parse_address(client[0])
    if peer is None or not is_trusted_proxy(peer):
        return peer
    for hop in reversed(_forwarded_for(scope)):
        address = parse_address(hop)
        if address is None:
            # Only a trusted proxy could have put this here: the last address
            # it vouched for is the best there is.
            return peer
        if not is_trusted_proxy(address):
            return address
        peer = address
    return peer


def network_of(address):
    """The network an address is grouped into: itself for IPv4, its /64 (by default) for IPv6.

    One IPv6 subscriber usually holds a whole /64, so counting or banning single
    IPv6 addresses would be useless.
    """
    if address is None:
        return None
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 32 if address.version == 4 else settings.BOARD_IPV6_PREFIX
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


def wide_network_of(address):
    """The wider IPv6 network (a /48 by default) whose /64s are limited together; None for IPv4.

    One site or provider customer often holds a /48: 65,536 separate /64
    budgets unless they also share a looser one.
    """
    if address is None or address.version != 6 or address.ipv4_mapped:
        return None
    return ipaddress.ip_network(f"{address}/{settings.BOARD_IPV6_WIDE_PREFIX}", strict=False)


def is_trusted_proxy(address):
    return any(address in proxies for proxies in settings.TRUSTED_PROXIES if proxies.version == address.version)


def _forwarded_for(scope):
    """Every hop of every X-Forwarded-For header, in order."""
    hops = []
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-forwarded-for":
            hops += [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
    return hops


def parse_address(text):
    """An IP address from a peer's or a header's text, or None.

    Also from the ``[v6]:port`` and ``v4:port`` forms some proxies write.
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    return address.ipv4_mapped or address if address.version == 6 else address
