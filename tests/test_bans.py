"""Bans: what a typed address bans, what a ban list covers, and storing and lifting bans."""

import ipaddress
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from board import moderation
from board.live.bans import BanList
from board.live.network import network_of
from board.models import Ban, ban_network


@pytest.mark.parametrize(
    ("typed", "network"),
    [
        ("203.0.113.9", "203.0.113.9/32"),
        (" 203.0.113.9 ", "203.0.113.9/32"),
        ("203.0.113.9/24", "203.0.113.0/24"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9/128", "2001:db8:1:2::/64"),
        ("2001:db8::/48", "2001:db8::/48"),
        ("::ffff:203.0.113.9", "203.0.113.9/32"),
    ],
)
def test_a_typed_address_becomes_the_network_it_bans(typed, network):
    assert str(ban_network(typed)) == network


@pytest.mark.parametrize("typed", ["", "banana", "203.0.113", "203.0.113.9/33", "2001:db8::g"])
def test_something_that_is_not_an_address_is_refused_with_examples(typed):
    with pytest.raises(ValidationError, match="is not an IP address or network; write 203.0.113.9"):
        ban_network(typed)


@pytest.mark.parametrize(("typed", "widest"), [("0.0.0.0/0", "/16"), ("10.0.0.0/8", "/16"), ("2001:db8::/16", "/32")])
def test_a_ban_too_wide_to_be_sensible_is_refused(typed, widest):
    with pytest.raises(ValidationError, match=f"a ban may cover at most a {widest}"):
        ban_network(typed)


def test_the_ipv6_grouping_follows_the_setting(settings):
    settings.BOARD_IPV6_PREFIX = 56
    assert str(ban_network("2001:db8:1:2::1")) == "2001:db8:1::/56"


class FakeBan:
    """Just what BanList reads, so its matching can be shown without a database."""

    def __init__(self, network, expires=None):
        self._network = ban_network(network)
        self.expires = expires

    def ip_network(self):
        return self._network


def test_a_ban_list_covers_addresses_in_a_banned_network():
    bans = BanList([FakeBan("203.0.113.0/24"), FakeBan("2001:db8:1::/48")])
    assert bans.banned_until(network_of(ipaddress.ip_address("203.0.113.77"))) == float("inf")
    assert bans.banned_until(network_of(ipaddress.ip_address("2001:db8:1:5::1"))) == float("inf")
    assert bans.banned_until(network_of(ipaddress.ip_address("203.0.114.1"))) is None
    assert bans.banned_until(network_of(ipaddress.ip_address("2001:db8:2::1"))) is None
    assert bans.banned_until(None) is None


def test_the_longest_of_overlapping_bans_wins():
    soon = timezone.now() + timedelta(hours=1)
    later = timezone.now() + timedelta(days=1)
    bans = BanList([FakeBan("203.0.113.9", soon), FakeBan("203.0.113.0/24", later)])
    assert bans.banned_until(network_of(ipaddress.ip_address("203.0.113.9"))) == later.timestamp()


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_ban_is_stored_normalised_and_active_until_it_expires():
    ban = moderation.ban("2001:db8:1:2::1", "scribbling", expires=timezone.now() + timedelta(hours=1))
    ban.refresh_from_db()
    assert ban.network == "2001:db8:1:2::/64"
    assert list(Ban.objects.active()) == [ban]
    assert list(Ban.objects.active(timezone.now() + timedelta(hours=2))) == []


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_ban_needs_a_reason():
    with pytest.raises(ValidationError) as caught:
        moderation.ban("203.0.113.9", "")
    assert "reason" in caught.value.message_dict
    assert not Ban.objects.exists()


@pytest.mark.django_db
@pytest.mark.postgres
def test_lifting_ends_only_active_bans_and_keeps_them():
    now = timezone.now()
    active = moderation.ban("203.0.113.9", "scribbling")
    ended = moderation.ban("203.0.113.10", "old", expires=now - timedelta(days=1))
    assert moderation.lift([active, ended], now) == 1
    active.refresh_from_db()
    ended.refresh_from_db()
    assert active.expires == now
    assert ended.expires == now - timedelta(days=1)
    assert Ban.objects.count() == 2
