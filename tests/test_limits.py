"""Abuse limits: changes per socket and per network, sockets per network, proxies."""

import ipaddress

import pytest
from asgiref.sync import sync_to_async

from board.live import limits, protocol
from board.live.limits import OPENED, ChangeBucket, NetworkBudget, SocketLedger
from board.models import Board
from board.store import state
from board.store.state import Status
from harness.players import ConnectionClosed
from tests.boards import bit
from tests.conftest import use_redis
from tests.players import Player

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs")]

MALLORY = "203.0.113.66"
ALICE = "198.51.100.1"
# Buckets that refill once an hour, so that no test depends on how fast the machine runs it.
HOUR = 3600


async def join(address=ALICE, **options):
    board = await sync_to_async(Board.objects.default)()
    return await Player(address=address, **options).join(board)


async def results_of(player, count):
    return [await player.receive_result() for _ in range(count)]


# -- one socket's bucket, by the clock ---------------------------------------

DEFAULT_BUCKET = (40, 6)


def clicks(bucket, per_second, seconds, start=0.0):
    """Click at a steady rate; the number of clicks refused."""
    refused = 0
    for k in range(int(per_second * seconds)):
        now = start + k / per_second
        if bucket.wait(now):
            refused += 1
        else:
            bucket.take(now)
    return refused


def test_a_socket_may_burst_forty_changes_at_once_but_not_forty_one():
    bucket = ChangeBucket(DEFAULT_BUCKET)
    assert clicks(bucket, 10**6, 40 / 10**6) == 0
    assert bucket.wait(0.0001) > 0


def test_a_fast_person_clicking_12_a_second_for_3_seconds_is_never_refused():
    assert clicks(ChangeBucket(DEFAULT_BUCKET), 12, 3) == 0


def test_a_steady_person_clicking_5_a_second_for_a_minute_is_never_refused():
    assert clicks(ChangeBucket(DEFAULT_BUCKET), 5, 60) == 0


def test_a_bot_sending_20_a_second_is_refused_within_3_seconds_then_held_to_the_refill():
    bucket = ChangeBucket(DEFAULT_BUCKET)
    assert clicks(bucket, 20, 2.5) == 0
    assert clicks(bucket, 20, 0.5, start=2.5) > 0
    # Over the next ten seconds it gets the refill, 6 a second, and no more.
    refused = clicks(bucket, 20, 10, start=3)
    assert 200 - 61 <= refused <= 200 - 59


def test_a_refused_change_is_told_how_long_until_the_bucket_holds_one():
    bucket = ChangeBucket((1, 2))
    bucket.take(10.0)
    assert bucket.wait(10.0) == 500
    assert bucket.wait(10.25) == 250
    assert bucket.wait(10.5) == 0


def test_a_socket_without_a_bucket_is_never_limited():
    bucket = ChangeBucket(None)
    assert clicks(bucket, 10**6, 1000 / 10**6) == 0


# -- one socket, on the wire ------------------------------------------------


async def test_a_change_over_the_sockets_rate_is_refused_and_never_reaches_the_board(settings):
    settings.BOARD_CHANGE_BUCKET = (3, 1 / HOUR)
    mallory, bob = await join(MALLORY), await join()
    for index in range(4):
        await mallory.send_set(index, 1)
    statuses = [status for _, _, status, _ in await results_of(mallory, 4)]
    assert statuses == [Status.APPLIED] * 3 + [Status.RATE_LIMITED]
    assert bit("main", 3) == 0
    await bob.wait_for_version(3)
    await bob.drain()
    assert bob.replica.version == 3
    assert bob.replica.get(3) == 0
    await mallory.leave()
    await bob.leave()


async def test_rate_limited_results_keep_their_place_among_the_others(settings):
    settings.BOARD_CHANGE_BUCKET = (2, 1 / HOUR)
    mallory = await join(MALLORY)
    for index in (10, 11, 12, 13):
        await mallory.send_set(index, 1)
    results = await results_of(mallory, 4)
    assert [(index, status) for index, _, status, _ in results] == [
        (10, Status.APPLIED),
        (11, Status.APPLIED),
        (12, Status.RATE_LIMITED),
        (13, Status.RATE_LIMITED),
    ]
    await mallory.leave()


async def test_a_refusal_for_the_sockets_rate_carries_the_milliseconds_to_wait(settings):
    settings.BOARD_CHANGE_BUCKET = (1, 1 / HOUR)
    mallory = await join(MALLORY)
    await mallory.send_set(1, 1)
    await mallory.send_set(2, 1)
    applied, refused = await results_of(mallory, 2)
    assert applied[2] == Status.APPLIED
    # A RATE_LIMITED entry's version is the wait: about an hour, never 0.
    assert refused[2] == Status.RATE_LIMITED
    assert HOUR * 1000 * 0.99 < refused[3] <= HOUR * 1000
    await mallory.leave()


async def test_one_sockets_rate_does_not_limit_another_socket(settings):
    settings.BOARD_CHANGE_BUCKET = (1, 1 / HOUR)
    mallory, alice = await join(MALLORY), await join()
    await mallory.send_set(1, 1)
    await mallory.send_set(2, 1)
    await alice.send_set(3, 1)
    assert [s for _, _, s, _ in await results_of(mallory, 2)] == [Status.APPLIED, Status.RATE_LIMITED]
    assert (await alice.receive_result())[2] == Status.APPLIED
    await mallory.leave()
    await alice.leave()


async def test_a_socket_that_keeps_sending_while_limited_is_disconnected_with_4429(settings):
    settings.BOARD_CHANGE_BUCKET = (2, 1 / HOUR)
    settings.BOARD_RATE_LIMITED_CLOSE = 5
    mallory, bob = await join(MALLORY), await join()
    for index in range(20):
        await mallory.send_set(index, 1)
    assert await mallory.closed_with() == protocol.CLOSE_TOO_MANY
    errors = [c for c in mallory.controls if c["type"] == "error"]
    assert [e["code"] for e in errors] == ["rate_limited"]
    # RESULTs still queued when the socket closed are not sent; those that were are in order.
    statuses = [s for _, _, s, _ in mallory.results]
    assert statuses == ([Status.APPLIED] * 2 + [Status.RATE_LIMITED] * 18)[: len(statuses)]
    # The board holds exactly the two changes that were allowed, and Bob is fine.
    await bob.send_set(50, 1)
    assert await bob.receive_result() == (50, 1, Status.APPLIED, 3)
    assert [bit("main", index) for index in range(4)] == [1, 1, 0, 0]
    await bob.leave()


async def test_a_socket_that_slows_down_is_not_disconnected(settings):
    settings.BOARD_CHANGE_BUCKET = (2, 1 / HOUR)
    settings.BOARD_RATE_LIMITED_CLOSE = 5
    alice = await join()
    for index in range(7):
        await alice.send_set(index, 1)
    await results_of(alice, 7)
    await alice.send_json({"type": "ping", "token": 1})
    assert (await alice.receive_control("pong"))["token"] == 1
    await alice.leave()


# -- one network, shared by its sockets ---------------------------------------


async def test_sockets_of_one_network_share_its_budget(settings):
    settings.BOARD_NETWORK_CHANGE_BUCKET = (5, 1 / HOUR)
    first, second = await join(MALLORY), await join(MALLORY)
    for index in range(3):
        await first.send_set(index, 1)
    assert [s for _, _, s, _ in await results_of(first, 3)] == [Status.APPLIED] * 3
    for index in range(3, 6):
        await second.send_set(index, 1)
    assert [s for _, _, s, _ in await results_of(second, 3)] == [Status.APPLIED] * 2 + [Status.RATE_LIMITED]
    assert bit("main", 5) == 0
    await first.leave()
    await second.leave()


async def test_a_refusal_for_the_networks_rate_carries_the_milliseconds_to_wait(settings):
    settings.BOARD_NETWORK_CHANGE_BUCKET = (1, 1 / HOUR)
    first, second = await join(MALLORY), await join(MALLORY)
    await first.send_set(1, 1)
    assert (await first.receive_result())[2] == Status.APPLIED
    await second.send_set(2, 1)
    # Counted in Redis, by Redis's clock: the other socket waits about an hour too.
    _, _, status, wait = await second.receive_result()
    assert status == Status.RATE_LIMITED
    assert HOUR * 1000 * 0.99 < wait <= HOUR * 1000
    await first.leave()
    await second.leave()


async def test_another_network_has_its_own_budget(settings):
    settings.BOARD_NETWORK_CHANGE_BUCKET = (1, 1 / HOUR)
    mallory, alice = await join(MALLORY), await join(ALICE)
    await mallory.send_set(1, 1)
    await mallory.send_set(2, 1)
    await alice.send_set(3, 1)
    assert [s for _, _, s, _ in await results_of(mallory, 2)] == [Status.APPLIED, Status.RATE_LIMITED]
    assert (await alice.receive_result())[2] == Status.APPLIED
    await mallory.leave()
    await alice.leave()


async def test_ipv6_addresses_in_one_slash_64_share_a_budget(settings):
    settings.BOARD_NETWORK_CHANGE_BUCKET = (1, 1 / HOUR)
    one, two = await join("2001:db8:5:6::1"), await join("2001:db8:5:6:abcd::2")
    await one.send_set(1, 1)
    assert (await one.receive_result())[2] == Status.APPLIED
    await two.send_set(2, 1)
    assert (await two.receive_result())[2] == Status.RATE_LIMITED
    await one.leave()
    await two.leave()


async def test_many_sockets_checking_at_once_are_each_counted_once(settings):
    # Checks that arrive together go to Redis in one call; each must still count.
    settings.BOARD_NETWORK_CHANGE_BUCKET = (10, 1 / HOUR)
    players = [await join(MALLORY) for _ in range(6)]
    for player in players:
        await player.send_set(players.index(player) * 2, 1)
        await player.send_set(players.index(player) * 2 + 1, 1)
    statuses = [s for player in players for _, _, s, _ in await results_of(player, 2)]
    assert statuses.count(Status.APPLIED) == 10
    assert statuses.count(Status.RATE_LIMITED) == 2
    assert (await state.ameta(await sync_to_async(Board.objects.default)())).version == 10
    for player in players:
        await player.leave()


# -- sockets per network --------------------------------------------------------


async def test_a_network_may_not_hold_more_sockets_than_the_limit(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 2
    first, second = await join(MALLORY), await join(MALLORY)
    third = Player(address=MALLORY)
    await third.open()
    error = await third.receive_control("error")
    assert error["code"] == "too_many_sockets"
    assert await third.closed_with() == protocol.CLOSE_TOO_MANY
    assert third.hello is None
    await first.leave()
    await second.leave()


async def test_a_closed_socket_makes_room_for_a_new_one(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 1
    first = await join(MALLORY)
    await first.leave()
    second = await join(MALLORY)
    assert second.hello["type"] == "hello"
    await second.leave()


async def test_other_networks_may_still_open_sockets(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 1
    mallory, alice = await join(MALLORY), await join(ALICE)
    assert alice.hello["type"] == "hello"
    await mallory.leave()
    await alice.leave()


async def test_a_network_opening_sockets_too_often_is_refused(settings):
    settings.BOARD_NEW_SOCKETS_PER_MINUTE = 3
    for _ in range(3):
        player = await join(MALLORY)
        await player.leave()
    fourth = Player(address=MALLORY)
    await fourth.open()
    assert (await fourth.receive_control("error"))["code"] == "opening_too_often"
    assert await fourth.closed_with() == protocol.CLOSE_TOO_MANY


async def test_refused_openings_count_too(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 1
    settings.BOARD_NEW_SOCKETS_PER_MINUTE = 3
    holder = await join(MALLORY)
    codes = []
    for _ in range(3):
        player = Player(address=MALLORY)
        await player.open()
        codes.append((await player.receive_control("error"))["code"])
        await player.closed_with()
    assert codes == ["too_many_sockets", "too_many_sockets", "opening_too_often"]
    await holder.leave()


async def test_a_socket_whose_address_is_unknown_gets_only_its_own_limits(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 1
    first, second = await join(address=None), await join(address=None)
    assert first.hello and second.hello
    await first.leave()
    await second.leave()


# -- behind a proxy ---------------------------------------------------------------


def forwarded(address):
    return [(b"x-forwarded-for", address.encode())]


async def test_clients_behind_a_trusted_proxy_are_told_apart_by_forwarded_for(settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 1
    one = await join("127.0.0.1", headers=forwarded(MALLORY))
    two = await join("127.0.0.1", headers=forwarded(ALICE))
    assert one.hello and two.hello
    await one.leave()
    await two.leave()


async def test_forwarded_for_from_an_untrusted_peer_cannot_dodge_the_limits(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 1
    one = await join(MALLORY, headers=forwarded("192.0.2.1"))
    two = Player(address=MALLORY, headers=forwarded("192.0.2.2"))
    await two.open()
    assert (await two.receive_control("error"))["code"] == "too_many_sockets"
    await two.closed_with()
    await one.leave()


# -- across processes ---------------------------------------------------------------

# One household's address: every NetPlayer given it is on the same network.
HOME = "127.0.0.5"


async def refused_with(player):
    await player.open()
    error = await player.receive_control("error")
    await player.closed_with()
    return error["code"]


def test_real_servers_run_with_the_shipped_limits_unless_told_otherwise():
    from harness.servers import LIMITS_OFF, server_environment

    environment = server_environment()
    assert [name for name in LIMITS_OFF if name in environment] == []
    assert server_environment(**LIMITS_OFF).items() >= LIMITS_OFF.items()


@pytest.mark.slow
async def test_each_harness_player_is_a_network_of_its_own(daphnes):
    from harness.players import NetPlayer

    first, second = daphnes(2)
    players = [await NetPlayer(server.url).join() for server in (first, second, first)]
    client = state.sync_client()
    counts = {}
    for ledger in client.smembers(limits.key("ledgers")):
        counts.update(client.hgetall(ledger))
    networks = {f"{player.local_address}/32".encode() for player in players}
    assert counts == dict.fromkeys(networks, b"1")
    assert len(networks) == 3
    for player in players:
        await player.leave()


@pytest.mark.slow
async def test_a_networks_budget_is_shared_by_its_sockets_on_every_process(daphnes):
    from harness.players import NetPlayer

    first, second = daphnes(2, BOARD_NETWORK_CHANGE_BUCKET="5/0.0003")
    one = await NetPlayer(first.url, local_address=HOME).join()
    two = await NetPlayer(second.url, local_address=HOME).join()
    for index in range(3):
        await one.send_set(index, 1)
    assert [s for _, _, s, _ in await results_of(one, 3)] == [Status.APPLIED] * 3
    for index in range(3, 6):
        await two.send_set(index, 1)
    assert [s for _, _, s, _ in await results_of(two, 3)] == [Status.APPLIED] * 2 + [Status.RATE_LIMITED]
    await one.leave()
    await two.leave()


@pytest.mark.slow
async def test_sockets_are_counted_across_processes_and_a_killed_processs_stop_counting(daphnes):
    import asyncio

    from harness.players import NetPlayer

    first, second = daphnes(2, BOARD_MAX_SOCKETS_PER_NETWORK=2, BOARD_BEACON_SECONDS=1)
    for _ in range(2):
        await NetPlayer(first.url, local_address=HOME).join()
    assert await refused_with(NetPlayer(second.url, local_address=HOME)) == "too_many_sockets"

    first.kill()
    # Its counts expire three beacons later; until then the network is still full.
    async with asyncio.timeout(20):
        while True:
            newcomer = NetPlayer(second.url, local_address=HOME)
            try:
                await newcomer.join()
                break
            except ConnectionClosed:
                await asyncio.sleep(0.5)
    # The network holds two sockets again, both on the living process, and no more.
    another = await NetPlayer(second.url, local_address=HOME).join()
    assert await refused_with(NetPlayer(second.url, local_address=HOME)) == "too_many_sockets"
    await newcomer.leave()
    await another.leave()


# -- without Redis --------------------------------------------------------------------

UNREACHABLE = "redis://127.0.0.1:1/0"


async def test_the_network_budget_lets_changes_through_when_redis_is_unreachable(settings):
    # The writer refuses them as UNAVAILABLE then, which says more than "slow down".
    settings.BOARD_NETWORK_CHANGE_BUCKET = (1, 1 / HOUR)
    original = settings.REDIS_URL
    use_redis(UNREACHABLE)
    try:
        budget = NetworkBudget()
        assert [await budget.wait(ipaddress.ip_network(f"{MALLORY}/32")) for _ in range(2)] == [0, 0]
    finally:
        await state.close_async_client()
        use_redis(original)


async def test_socket_counts_redis_missed_are_written_whole_by_the_next_heartbeat(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 5
    network = ipaddress.ip_network(f"{MALLORY}/32")
    ledger = SocketLedger()
    original = settings.REDIS_URL
    use_redis(UNREACHABLE)
    try:
        assert await ledger.open(network) == OPENED
        assert await ledger.open(network) == OPENED
        await ledger.close(network)
    finally:
        await state.close_async_client()
        use_redis(original)
    assert ledger.dirty
    await ledger.heartbeat()
    client = state.sync_client()
    assert client.hgetall(ledger.name) == {str(network).encode(): b"1"}
    assert ledger.name.encode() in client.smembers(limits.key("ledgers"))
    assert 0 < client.ttl(ledger.name) <= SocketLedger.ttl()
