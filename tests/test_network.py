import ipaddress
import time

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


def refused_scope(peer):
    return {"type": "websocket", "client": [peer, 5000], "headers": []}


def test_the_door_shuts_after_the_refusals_and_opens_again(settings):
    from board.live.gate import Door

    settings.BOARD_BOX_REFUSALS, settings.BOARD_BOX_SECONDS = 3, 1
    door = Door()
    for _ in range(2):
        door.refused(refused_scope("203.0.113.7"))
    assert not door.turns_away("203.0.113.7")
    door.refused(refused_scope("203.0.113.7"))
    assert door.turns_away("203.0.113.7")
    assert door.turns_away("::ffff:203.0.113.7"), "a dual-stack socket's form of the same peer"
    assert not door.turns_away("203.0.113.8")
    time.sleep(1.1)
    assert not door.turns_away("203.0.113.7")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def shut_for(door, clock, peer, refusals):
    """Refuse ``peer`` ``refusals`` times; the seconds its door then stays shut."""
    for _ in range(refusals):
        door.refused(refused_scope(peer))
    assert door.turns_away(peer)
    shut_at = clock.now
    while door.turns_away(peer):
        clock.now += 1
    return clock.now - shut_at


def test_the_door_stays_shut_twice_as_long_each_time_a_network_comes_back_for_more(settings):
    from board.live.gate import REMEMBER_SECONDS, Door

    settings.BOARD_BOX_REFUSALS, settings.BOARD_BOX_SECONDS, settings.BOARD_BOX_MAX_SECONDS = 3, 30, 200
    clock = Clock()
    door = Door(clock)
    assert [shut_for(door, clock, "203.0.113.7", 3) for _ in range(5)] == [30, 60, 120, 200, 200]
    assert shut_for(door, clock, "203.0.113.8", 3) == 30, "another network starts from the first"
    clock.now += REMEMBER_SECONDS + 1
    assert shut_for(door, clock, "203.0.113.7", 3) == 30, "quiet for ten minutes: forgiven"


def test_the_door_shuts_a_whole_ipv6_slash_64_and_never_a_trusted_proxy(settings):
    from board.live.gate import Door

    settings.BOARD_BOX_REFUSALS = 2
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    door = Door()
    for peer in ("2001:db8:1:2::1", "2001:db8:1:2::99", "127.0.0.1", "127.0.0.1"):
        door.refused(refused_scope(peer))
    assert door.turns_away("2001:db8:1:2:ffff::5")
    assert not door.turns_away("2001:db8:1:3::1")
    assert not door.turns_away("127.0.0.1")


def test_the_door_off_never_shuts(settings):
    from board.live.gate import Door

    settings.BOARD_BOX_REFUSALS = 0
    door = Door()
    for _ in range(100):
        door.refused(refused_scope("203.0.113.7"))
    assert not door.turns_away("203.0.113.7")
