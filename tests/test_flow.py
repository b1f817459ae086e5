"""What one socket may cost the process: frames, pings, changes in flight, unacknowledged frames, Redis refusals.

In-process, through Channels' communicator, with each bound set small so the
test does not depend on the machine's speed. The same bounds at their shipped
values, against real daphne processes and raw sockets, are in tests/test_hostile.py.
"""

import asyncio
import ipaddress
import time
from collections import deque

import pytest
from asgiref.sync import sync_to_async

from board import views
from board.live import hub, protocol
from board.live.limits import OPENED, TOO_MANY_SOCKETS, SocketLedger, Windows
from board.live.network import wide_network_of
from board.models import Board
from board.store import state
from board.store.state import Status
from tests.boards import bit
from tests.players import Player

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs")]

MALLORY = "203.0.113.66"
ALICE = "198.51.100.1"
HOUR = 3600


async def join(address=ALICE):
    board = await sync_to_async(Board.objects.default)()
    return await Player(address=address).join(board)


async def bystander_is_served(bob, index=999):
    await bob.send_set(index, 1)
    index_, value, status, version = await bob.receive_result()
    assert (index_, value, status) == (index, 1, Status.APPLIED)
    assert bit("main", index) == 1
    return version


# -- fixed windows ----------------------------------------------------------


def test_windows_count_every_event_and_refuse_past_any_rate():
    windows = Windows([(3, 1), (5, 60)])
    assert [windows.take(0.1 * k) for k in range(4)] == [True, True, True, False]
    # A new second has room again under the first rate, not under the minute's.
    assert windows.take(1.5)
    assert not windows.take(2.5)


def test_windows_without_rates_never_refuse():
    windows = Windows([])
    assert all(windows.take(0.0) for _ in range(10_000))


# -- frames and pings -----------------------------------------------------------


async def test_a_socket_sending_too_many_frames_is_told_and_closed_4429(settings):
    settings.BOARD_FRAME_LIMITS = [(10, HOUR)]
    mallory, bob = await join(MALLORY), await join()
    for _ in range(12):
        await mallory.ack()
    assert await mallory.closed_with() == protocol.CLOSE_TOO_MANY
    assert [c["code"] for c in mallory.controls if c["type"] == "error"] == ["too_many_frames"]
    await bystander_is_served(bob)


async def test_pings_past_their_limit_get_an_error_not_a_pong(settings):
    settings.BOARD_PING_LIMITS = [(3, HOUR)]
    alice = await join()
    for token in range(5):
        await alice.send_json({"type": "ping", "token": token})
    await alice.drain()
    pongs = [c["token"] for c in alice.controls if c["type"] == "pong"]
    errors = [c["code"] for c in alice.controls if c["type"] == "error"]
    assert pongs == [0, 1, 2]
    assert errors == ["too_many_pings", "too_many_pings"]
    await alice.leave()


async def test_an_ack_of_more_frames_than_were_sent_is_a_bad_frame():
    alice = await join()
    await alice.send(protocol.encode_ack(alice.frames + 5))
    error = await alice.receive_control("error")
    assert error["code"] == "bad_frame"
    await alice.leave()


# -- unacknowledged frames ----------------------------------------------------


async def test_a_socket_that_never_acknowledges_is_closed_4408_and_others_carry_on(settings):
    settings.BOARD_MAX_UNACKED_FRAMES = 30
    settings.BOARD_LAG_FRAMES = 20
    mallory, bob = await join(MALLORY), await join()
    # Every frame counts, pongs and RESULTs too, not only UPDATEs.
    for token in range(40):
        await mallory.send_json({"type": "ping", "token": token})
    assert await mallory.closed_with() == protocol.CLOSE_NOT_READING
    assert [c["code"] for c in mallory.controls if c["type"] == "error"] == ["not_reading"]
    await bob.ack()
    await bystander_is_served(bob)
    await bob.leave()


# -- refusals stay with their socket ------------------------------------------------


async def test_refused_changes_never_enter_the_boards_write_queue(settings):
    settings.BOARD_CHANGE_BUCKET = (2, 1 / HOUR)
    mallory = await join(MALLORY)
    board_hub = await hub.hub_for("main")
    submitted = []
    original = board_hub.submit
    board_hub.submit = lambda consumer, index, value: (submitted.append(index), original(consumer, index, value))
    for index in range(10):
        await mallory.send_set(index, 1)
    statuses = [s for _, _, s, _ in [await mallory.receive_result() for _ in range(10)]]
    assert statuses == [Status.APPLIED] * 2 + [Status.RATE_LIMITED] * 8
    assert submitted == [0, 1]
    await mallory.leave()


async def test_refusals_held_behind_changes_in_flight_keep_the_order_of_the_sets(settings):
    settings.BOARD_CHANGE_BUCKET = (1, 1 / HOUR)
    alice = await join()
    # The first is queued, the rest refused while it is in flight: one RESULT, in order.
    for index in range(4):
        await alice.send_set(index, 1)
    results = [await alice.receive_result() for _ in range(4)]
    assert [index for index, *_ in results] == [0, 1, 2, 3]
    assert [status for _, _, status, _ in results] == [Status.APPLIED] + [Status.RATE_LIMITED] * 3
    await alice.leave()


async def test_a_socket_may_have_only_so_many_changes_in_flight(settings):
    settings.BOARD_MAX_IN_FLIGHT = 3
    settings.BOARD_CHANGE_BUCKET = None
    alice = await join()
    board_hub = await hub.hub_for("main")
    # Hold the writer so the changes stay in flight.
    board_hub._write_wakeup.set = lambda: None
    for index in range(5):
        await alice.send_set(index, 1)
    await asyncio.sleep(0.1)
    assert len(board_hub._queue) == 3
    del board_hub._write_wakeup.set
    board_hub._write_wakeup.set()
    statuses = [s for _, _, s, _ in [await alice.receive_result() for _ in range(5)]]
    assert statuses == [Status.APPLIED] * 3 + [Status.RATE_LIMITED] * 2
    await alice.leave()


async def test_a_banned_network_that_keeps_sending_is_closed_4429(settings):
    from board.models import Ban

    settings.BOARD_RATE_LIMITED_CLOSE = 5
    await Ban.objects.acreate(network=f"{MALLORY}/32", reason="flood")
    mallory, bob = await join(MALLORY), await join()
    for index in range(10):
        await mallory.send_set(index, 1)
    assert await mallory.closed_with() == protocol.CLOSE_TOO_MANY
    assert [c["code"] for c in mallory.controls if c["type"] == "error"] == ["banned"]
    assert {s for _, _, s, _ in mallory.results} == {Status.BANNED}
    await bystander_is_served(bob)
    await bob.leave()


# -- the socket ledger ---------------------------------------------------------


async def test_sockets_of_one_network_opening_together_are_each_counted(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 5
    network = ipaddress.ip_network("203.0.113.9/32")
    ledgers = [SocketLedger() for _ in range(3)]  # three processes
    verdicts = await asyncio.gather(*(ledgers[k % 3].open(network) for k in range(12)))
    assert verdicts.count(OPENED) == 5
    assert verdicts.count(TOO_MANY_SOCKETS) == 7


async def test_a_ledger_that_expired_is_written_again_by_the_heartbeat(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 2
    network = ipaddress.ip_network("203.0.113.9/32")
    ledger = SocketLedger()
    assert await ledger.open(network) == OPENED
    await state.async_client().delete(ledger.name)  # as if this process stalled past its ttl
    await ledger.heartbeat()
    assert await state.async_client().hget(ledger.name, str(network)) == b"1"
    assert await SocketLedger().open(network) == OPENED
    assert await SocketLedger().open(network) == TOO_MANY_SOCKETS


async def test_an_ipv6_slash_48_shares_a_looser_socket_limit_across_its_slash_64s(settings):
    settings.BOARD_MAX_SOCKETS_PER_NETWORK = 2
    settings.BOARD_MAX_SOCKETS_PER_WIDE_NETWORK = 3
    ledger = SocketLedger()
    addresses = [ipaddress.ip_address(f"2001:db8:1:{k}::1") for k in range(5)]
    verdicts = [await ledger.open(ipaddress.ip_network(f"{a}/64", strict=False), wide_network_of(a)) for a in addresses]
    assert verdicts == [OPENED] * 3 + [TOO_MANY_SOCKETS] * 2
    # A refused wide opening gives its /64's count back.
    slash_64s = {str(ipaddress.ip_network(f"{a}/64", strict=False)): 1 for a in addresses[:3]}
    assert ledger.counts == {**slash_64s, "2001:db8:1::/48": 3}


async def test_an_ipv6_slash_48_shares_a_looser_change_budget(settings):
    settings.BOARD_WIDE_NETWORK_CHANGE_BUCKET = (3, 1 / HOUR)
    settings.BOARD_NETWORK_CHANGE_BUCKET = (10, 1 / HOUR)
    players = [await join(f"2001:db8:1:{k}::1") for k in range(4)]
    for index, player in enumerate(players):
        await player.send_set(index, 1)
    statuses = [(await player.receive_result())[2] for player in players]
    assert statuses == [Status.APPLIED] * 3 + [Status.RATE_LIMITED]
    for player in players:
        await player.leave()


# -- Redis refusing ----------------------------------------------------------


async def test_redis_at_maxmemory_refuses_changes_as_unavailable_and_keeps_the_socket(settings):
    alice = await join()
    client = state.async_client()
    await client.config_set("maxmemory", 1)
    try:
        await alice.send_set(5, 1)
        assert (await alice.receive_result())[2] == Status.UNAVAILABLE
    finally:
        await client.config_set("maxmemory", 0)
    # Still connected, and served again once Redis accepts writes.
    await bystander_is_served(alice, index=6)
    await alice.leave()


async def test_the_health_check_reports_a_hub_loop_that_keeps_failing(settings, rf):
    alice = await join()
    board_hub = await hub.hub_for("main")
    assert (await views.health(rf.get("/healthz"))).status_code == 200
    board_hub._failures["beacon"] = deque([time.monotonic()] * hub.FAILURES_PER_MINUTE)
    response = await views.health(rf.get("/healthz"))
    assert response.status_code == 503
    assert b"beacon: failed" in response.content
    await alice.leave()


async def test_a_hub_loop_that_raises_is_logged_and_runs_again(caplog):
    alice = await join()
    board_hub = await hub.hub_for("main")
    calls = []

    async def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        await asyncio.sleep(3600)

    task = asyncio.ensure_future(board_hub._supervised("test", flaky))
    for _ in range(50):
        if len(calls) == 2:
            break
        await asyncio.sleep(0.1)
    task.cancel()
    assert len(calls) == 2
    assert "The test loop of board main failed; restarting it" in caplog.text
    await alice.leave()


# -- readiness ------------------------------------------------------------------


async def test_readiness_is_503_while_redis_refuses_writes_and_200_again_after(rf):
    alice = await join()
    for _ in range(50):  # the hub subscribes in the background
        if (await views.ready(rf.get("/readyz"))).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (await views.ready(rf.get("/readyz"))).status_code == 200
    client = state.async_client()
    await client.config_set("maxmemory", 1)
    try:
        refused = await views.ready(rf.get("/readyz"))
        # Liveness stays: the process runs and Redis answers.
        assert (await views.health(rf.get("/healthz"))).status_code == 200
    finally:
        await client.config_set("maxmemory", 0)
    assert refused.status_code == 503
    assert b"redis refuses writes" in refused.content
    assert (await views.ready(rf.get("/readyz"))).status_code == 200
    await alice.leave()


async def test_readiness_is_503_when_a_hub_loop_keeps_failing(rf):
    alice = await join()
    board_hub = await hub.hub_for("main")
    board_hub._failures["writer"] = deque([time.monotonic()] * hub.FAILURES_PER_MINUTE)
    response = await views.ready(rf.get("/readyz"))
    assert response.status_code == 503 and b"writer: failed" in response.content
    await alice.leave()
