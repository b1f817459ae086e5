import ipaddress

import pytest

from board.live.network import client_address, network_of


def test_the_address_comes_from_the_scope():
    assert client_address({"client": ["203.0.113.9", 5000]}) == ipaddress.ip_address("203.0.113.9")


@pytest.mark.parametrize("scope", [{}, {"client": None}, {"client": ["not-an-ip", 1]}])
def test_a_scope_without_a_usable_address_gives_none(scope):
    assert client_address(scope) is None


def test_an_ipv4_address_is_its_own_network():
    assert network_of(ipaddress.ip_address("203.0.113.9")) == ipaddress.ip_network("203.0.113.9/32")


def test_ipv6_addresses_are_grouped_by_their_slash_64():
    one = network_of(ipaddress.ip_address("2001:db8:1:2::1"))
    two = network_of(ipaddress.ip_address("2001:db8:1:2:ffff::9"))
    assert one == two == ipaddress.ip_network("2001:db8:1:2::/64")


def test_the_ipv6_grouping_is_a_setting(settings):
    settings.BOARD_IPV6_PREFIX = 48
    assert network_of(ipaddress.ip_address("2001:db8:1:2::1")) == ipaddress.ip_network("2001:db8:1::/48")


def test_an_ipv4_mapped_ipv6_address_counts_as_ipv4():
    assert network_of(ipaddress.ip_address("::ffff:203.0.113.9")) == ipaddress.ip_network("203.0.113.9/32")


def scope_from(peer, *forwarded_for):
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return {"client": [peer, 4000], "headers": headers}


def test_forwarded_for_is_ignored_without_trusted_proxies():
    scope = scope_from("198.51.100.7", "203.0.113.9")
    assert client_address(scope) == ipaddress.ip_address("198.51.100.7")


def test_forwarded_for_is_ignored_from_a_peer_that_is_not_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    scope = scope_from("198.51.100.7", "203.0.113.9")
    assert client_address(scope) == ipaddress.ip_address("198.51.100.7")


def test_a_trusted_proxy_names_the_client(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    scope = scope_from("127.0.0.1", "203.0.113.9")
    assert client_address(scope) == ipaddress.ip_address("203.0.113.9")


def test_addresses_a_client_forged_left_of_the_proxys_hop_are_not_believed(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    # The client sent "X-Forwarded-For: 192.0.2.1"; the proxy appended the real peer.
    scope = scope_from("127.0.0.1", "192.0.2.1, 203.0.113.9")
    assert client_address(scope) == ipaddress.ip_address("203.0.113.9")


def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_hop(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]
    scope = scope_from("127.0.0.1", "192.0.2.1", "203.0.113.9, 10.1.2.3")
    assert client_address(scope) == ipaddress.ip_address("203.0.113.9")


def test_a_trusted_proxy_without_forwarded_for_is_the_client(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    assert client_address(scope_from("127.0.0.1")) == ipaddress.ip_address("127.0.0.1")


def test_a_malformed_hop_stops_at_the_last_trusted_address(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.0/8")]
    scope = scope_from("127.0.0.1", "203.0.113.9, nonsense, 127.0.0.2")
    assert client_address(scope) == ipaddress.ip_address("127.0.0.2")


@pytest.mark.parametrize(
    ("hop", "expected"),
    [("203.0.113.9:5555", "203.0.113.9"), ("[2001:db8::5]:443", "2001:db8::5"), ("2001:db8::5", "2001:db8::5")],
)
def test_hops_with_ports_and_brackets_are_understood(settings, hop, expected):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    assert client_address(scope_from("127.0.0.1", hop)) == ipaddress.ip_address(expected)


def test_an_ipv4_mapped_peer_matches_an_ipv4_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    scope = scope_from("::ffff:127.0.0.1", "203.0.113.9")
    assert client_address(scope) == ipaddress.ip_address("203.0.113.9")
