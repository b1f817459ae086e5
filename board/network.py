"""Who is on the other end of a socket, as far as bans and limits are concerned."""

import ipaddress

from django.conf import settings


def client_address(scope):
    """The client's IP address from an ASGI scope, or None if the server gave none.

    Behind a proxy this is only the real client when daphne runs with
    ``--proxy-headers`` and the proxy is trusted; see docs/deployment.md.
    """
    client = scope.get("client")
    if not client:
        return None
    try:
        return ipaddress.ip_address(client[0])
    except ValueError:
        return None


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
