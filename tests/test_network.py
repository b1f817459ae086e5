import ipaddress

import pytest

from board.network import client_address, network_of


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
