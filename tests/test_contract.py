"""docs/protocol.md, point by point, as an outside client meets it.

In-process through Channels' communicator with raw frames, and over TCP
against real daphne. Numbers come from settings, as the page names them.

NEEDS_STATE_HELPER marks what the state endpoint's branch adds (the
handshake refusal of unroutable paths, BOARD_STATE_RATE_LIMITS): it fails
until that branch is merged.
"""

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings

from board import moderation
from board.live import events, protocol
from board.models import Board
from board.store import snapshots, state
from board.store.state import Status
from harness.players import NetPlayer
from tests.boards import default_board
from tests.players import Player

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs")]

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "protocol.md"
HOUR = 3600
# The defaults the page states; tests/conftest.py turns these limits off in-process.
DEFAULT_PINGS = 5
DEFAULT_FRAMES_PER_SECOND = 50


async def join(board=None, **options):
    board = board or await default_board()
    return await Player(**options).join(board)


async def result_frame(player, timeout=5):
    """The next RESULT frame, raw, as ``(epoch, entries)``; other frames are taken as usual."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await player.recv(timeout)
            player.frames += 1
            if isinstance(frame, bytes) and frame[0] == protocol.FRAME_RESULT:
                return protocol.decode_results(frame)
            if isinstance(frame, bytes):
                player.replica.update(frame)
            else:
                player.controls.append(json.loads(frame))


def default_settings(*names):
    """Settings as a fresh process reads them with no environment overrides."""
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    )
    env = {key: value for key, value in os.environ.items() if key not in names}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(result.stdout)


async def error_code(player, frame):
    await player.send_raw(frame)
    return (await player.receive_control("error"))["code"]


# -- the page names only settings that exist ----------------------------------------


# NEEDS_STATE_HELPER (BOARD_STATE_RATE_LIMITS)
def test_every_setting_the_page_names_exists():
    named = set(re.findall(r"`((?:BOARD|DAPHNE)_[A-Z_]+)`", PAGE.read_text()))
    assert named
    assert sorted(name for name in named if not hasattr(django_settings, name)) == []


# -- joining -------------------------------------------------------------------------


async def test_hello_has_every_documented_field(settings):
    board = await default_board()
    alice = await join(board)
    meta = await state.ameta(board)
    assert alice.hello == {
        "type": "hello",
        "protocol": 2,
        "board": "main",
        "size": meta.size,
        "epoch": meta.epoch,
        "version": meta.version,
        "count": meta.count,
        "frozen": False,
        "players": 1,
        "tick_ms": settings.BOARD_TICK_MS,
        "lag_frames": settings.BOARD_LAG_FRAMES,
    }
    assert 1 <= meta.epoch <= 2**31 - 1
    await alice.leave()


async def test_an_unknown_board_gets_board_not_found_then_4404():
    mallory = Player("/ws/b/no-such-board/")
    await mallory.open()
    assert (await mallory.receive_control("error"))["code"] == "board_not_found"
    assert await mallory.closed_with() == protocol.CLOSE_BOARD_NOT_FOUND


async def test_a_beacon_has_players_epoch_version_and_frozen():
    board = await default_board()
    alice = await join(board)
    bob = await join(board)
    # The first beacon may predate Bob: the one after his joining counts him.
    async with asyncio.timeout(3 * django_settings.BOARD_BEACON_SECONDS):
        beacon = await alice.receive_control("beacon")
        while beacon["players"] != 2:
            beacon = await alice.receive_control("beacon")
    meta = await state.ameta(board)
    assert set(beacon) == {"type", "players", "epoch", "version", "frozen"}
    assert (beacon["epoch"], beacon["version"], beacon["frozen"]) == (meta.epoch, meta.version, False)
    assert beacon["players"] == 2
    await alice.leave()
    await bob.leave()


# -- RESULTs ---------------------------------------------------------------------------


async def test_a_result_carries_the_epoch_its_versions_belong_to():
    alice = await join()
    await alice.send_set(9, 1)
    epoch, entries = await result_frame(alice)
    assert epoch == alice.hello["epoch"]
    assert entries == [(9, 1, Status.APPLIED, 1)]
    await alice.send_set(9, 1)
    assert await result_frame(alice) == (epoch, [(9, 1, Status.UNCHANGED, 1)])
    await alice.leave()


async def test_a_result_whose_changes_never_reached_the_board_has_epoch_zero(settings):
    settings.BOARD_CHANGE_BUCKET = (1, 1 / HOUR)
    alice = await join()
    await alice.send_set(1, 1)
    assert (await result_frame(alice))[1][0][2] == Status.APPLIED
    await alice.send_set(2, 1)
    epoch, [(index, value, status, wait)] = await result_frame(alice)
    assert (epoch, index, value, status) == (0, 2, 1, Status.RATE_LIMITED)
    # The version field of a RATE_LIMITED entry is the retry-after (*Retry-after*).
    assert wait > 0
    await alice.leave()


async def test_a_rate_limited_entry_carries_the_milliseconds_until_the_bucket_holds_a_change(settings):
    settings.BOARD_CHANGE_BUCKET = (2, 1 / HOUR)
    alice = await join()
    for index in range(3):
        await alice.send_set(index, 1)
    statuses = [await alice.receive_result() for _ in range(3)]
    assert [status for _, _, status, _ in statuses] == [Status.APPLIED] * 2 + [Status.RATE_LIMITED]
    # An hour's refill is one change: the wait is (just under) an hour, in milliseconds.
    assert HOUR * 1000 * 0.99 < statuses[2][3] <= HOUR * 1000
    await alice.leave()


async def test_a_change_sent_after_the_retry_after_is_not_refused(settings):
    settings.BOARD_CHANGE_BUCKET = (1, 20)
    alice = await join()
    await alice.send_set(1, 1)
    await alice.send_set(2, 1)
    results = [await alice.receive_result() for _ in range(2)]
    if results[1][2] == Status.APPLIED:
        pytest.skip("this machine took over 50 ms between two frames: the bucket had refilled")
    assert results[1][2] == Status.RATE_LIMITED and 0 < results[1][3] <= 50
    await asyncio.sleep(results[1][3] / 1000 + 0.01)
    await alice.send_set(2, 1)
    assert (await alice.receive_result())[2] == Status.APPLIED
    await alice.leave()


def test_the_page_says_a_rate_limited_entrys_version_is_the_wait_in_milliseconds():
    row = next(line for line in PAGE.read_text().splitlines() if line.startswith("| 6 | `RATE_LIMITED`"))
    version = row.rstrip(" |").rsplit("|", 1)[1].strip()
    assert version.startswith("the retry-after: milliseconds until a change from you would be allowed")
    assert version.endswith("0 when the server has no estimate")
    assert f"| {int(Status.RATE_LIMITED)} | `RATE_LIMITED`" in row


def test_the_page_states_the_change_buckets_the_server_ships():
    # In-process tests run with the limits off: the shipped values, as a fresh process reads them.
    shipped = default_settings("BOARD_CHANGE_BUCKET", "BOARD_NETWORK_CHANGE_BUCKET", "BOARD_WIDE_NETWORK_CHANGE_BUCKET")
    for name, (capacity, refill) in shipped.items():
        row = next(line for line in PAGE.read_text().splitlines() if f"(`{name}`)" in line)
        assert f"`{capacity}/{refill:g}`: a burst of {capacity}, refilled {refill:g} a second" in row


async def test_a_frozen_result_carries_the_boards_version():
    board = await default_board()
    alice = await join(board)
    await alice.send_set(3, 1)
    await alice.send_set(4, 1)
    await result_frame(alice)
    await sync_to_async(moderation.freeze)(board)
    assert (await alice.receive_control("frozen"))["frozen"] is True
    meta = await state.ameta(board)
    assert meta.version == 2
    await alice.send_set(5, 1)
    epoch, entries = await result_frame(alice)
    assert (epoch, entries) == (meta.epoch, [(5, 1, Status.FROZEN, 2)])
    await alice.leave()


async def test_an_unchanged_change_counts_toward_the_rate(settings):
    settings.BOARD_CHANGE_BUCKET = (3, 1 / HOUR)
    alice = await join()
    for _ in range(3):
        await alice.send_set(10, 0)
        assert (await alice.receive_result())[2] == Status.UNCHANGED
    await alice.send_set(11, 1)
    assert (await alice.receive_result())[2] == Status.RATE_LIMITED
    await alice.leave()


# -- epochs and versions of a replaced board ---------------------------------------------


async def test_a_replace_gives_a_new_epoch_and_the_version_before_plus_one():
    board = await default_board()
    alice = await join(board)
    await alice.send_set(1, 1)
    await alice.receive_result()
    before = await state.ameta(board)
    await sync_to_async(moderation.clear)(board)
    assert (await alice.receive_control("resync"))["reason"] == "cleared"
    after = await state.ameta(board)
    assert after.epoch != before.epoch
    assert after.version == before.version + 1
    # A RESULT now names the new epoch: the client's state (of the old one) is stale.
    await alice.send_set(2, 1)
    epoch, entries = await result_frame(alice)
    assert epoch == after.epoch != alice.hello["epoch"]
    assert entries == [(2, 1, Status.APPLIED, after.version + 1)]
    await alice.leave()


def test_recovery_after_a_redis_loss_gives_the_snapshots_version_under_a_new_epoch(main_board):
    state.apply(main_board, [(k, 1) for k in range(5)])
    snapshot = snapshots.take(main_board, "manual")
    state.apply(main_board, [(k, 1) for k in range(5, 12)])
    lost = state.meta(main_board)
    assert (snapshot.version, lost.version) == (5, 12)
    state.sync_client().delete(*state.keys(main_board.slug))
    recovered = state.meta(main_board)
    assert recovered.version == snapshot.version < lost.version
    assert recovered.epoch != lost.epoch
    assert recovered.count == 5


# -- validation: which error, in which order ----------------------------------------------

CHECKS = [
    ("{}", "bad_frame"),
    ('{"type": 5}', "bad_frame"),
    ('{"type": null, "index": 1, "value": 1}', "bad_frame"),
    ('{"type": ["set"]}', "bad_frame"),
    ('{"type": "SET", "index": 1, "value": 1}', "unknown_type"),
    ('{"type": "set", "index": -1, "value": "x"}', "bad_frame"),
    ('{"type": "set", "index": -1, "value": 7}', "index_out_of_range"),
    ('{"type": "set", "index": 5, "value": 7}', "bad_value"),
    ('{"type": "set", "index": true, "value": 1}', "bad_frame"),
    ('{"type": "set", "index": 1, "value": false}', "bad_frame"),
    ('{"type": "set", "index": 1.0, "value": 1}', "bad_frame"),
    ('{"type": "set", "index": 1, "value": 1.0}', "bad_frame"),
    ('{"type": "set", "index": 1, "value": 1e0}', "bad_frame"),
    ('{"type": "ack", "frames": true}', "bad_frame"),
    ('{"type": "ack", "frames": 1.0}', "bad_frame"),
    ('{"type": "ack", "frames": 4294967296}', "bad_frame"),
    ('{"type": "ack"}', "bad_frame"),
    ('{"type": "set", "index": 1, "value": 1, "pad": "' + "é" * 250 + '"}', "frame_too_large"),
    (b"", "bad_frame"),
    (b"\x03", "unknown_type"),
    (protocol.encode_set(1, 1)[:5], "bad_frame"),
    (protocol.encode_set(100_000, 7), "index_out_of_range"),
    (protocol.SET_FRAME.pack(protocol.OP_SET, 5, 7), "bad_value"),
]


@pytest.mark.parametrize(("frame", "code"), CHECKS, ids=[repr(frame)[:50] for frame, _ in CHECKS])
async def test_the_first_failed_check_names_the_error(frame, code):
    mallory = await join()
    assert await error_code(mallory, frame) == code
    await mallory.leave()


async def test_range_errors_carry_the_index_and_type_errors_do_not():
    mallory = await join()
    await mallory.send_raw('{"type": "set", "index": 100000, "value": 1}')
    assert (await mallory.receive_control("error"))["index"] == 100_000
    await mallory.send_raw('{"type": "set", "index": 5, "value": 2}')
    assert (await mallory.receive_control("error"))["index"] == 5
    await mallory.send_raw('{"type": "set", "index": "5", "value": 1}')
    assert "index" not in await mallory.receive_control("error")
    await mallory.leave()


async def test_a_refused_set_gets_no_result_and_other_fields_are_ignored():
    board = await default_board()
    alice = await join(board)
    await alice.send_raw('{"type": "set", "index": 100000, "value": 1}')
    await alice.send_raw('{"type": "set", "index": 8, "value": 1, "note": "hi"}')
    assert await alice.receive_result() == (8, 1, Status.APPLIED, 1)
    assert [c["code"] for c in alice.controls if c["type"] == "error"] == ["index_out_of_range"]
    await alice.leave()


@pytest.mark.parametrize(("ping", "token"), [({"type": "ping"}, None), ({"type": "ping", "token": True}, True)])
async def test_a_ping_is_answered_with_its_token_or_null(ping, token):
    alice = await join()
    await alice.send_json(ping)
    assert await alice.receive_control("pong") == {"type": "pong", "token": token}
    await alice.leave()


async def test_the_bad_frame_past_the_limit_still_gets_its_error_before_the_4400_close(settings):
    mallory = await join()
    limit = settings.BOARD_MAX_BAD_FRAMES
    # Two halves a second apart: under the frame rate limit of 50 a second.
    for half in (limit // 2, limit - limit // 2 + 1):
        for _ in range(half):
            await mallory.send_raw(b"\x03")
        await asyncio.sleep(1.1)
    assert await mallory.closed_with() == protocol.CLOSE_TOO_MANY_BAD_FRAMES
    errors = [c for c in mallory.controls if c["type"] == "error"]
    assert len(errors) == limit + 1
    assert {e["code"] for e in errors} == {"unknown_type"}


# -- flow control ------------------------------------------------------------------------------


async def test_results_and_pongs_continue_while_updates_are_paused(settings):
    settings.BOARD_LAG_FRAMES = 10
    board = await default_board()
    alice = await join(board)
    bob = await join(board)
    # Bob's changes, one a tick, are more UPDATEs than Alice may leave unacknowledged.
    for index in range(3 * settings.BOARD_LAG_FRAMES):
        await bob.send_set(index, 1)
        await bob.receive_result()
        await bob.ack()
        await asyncio.sleep(settings.BOARD_TICK_MS / 1000)
    await alice.drain()
    assert alice.replica.version < 3 * settings.BOARD_LAG_FRAMES
    await alice.send_set(99_999, 1)
    assert (await alice.receive_result())[2] == Status.APPLIED
    await alice.send_json({"type": "ping", "token": "still here"})
    assert (await alice.receive_control("pong"))["token"] == "still here"
    await alice.ack()
    assert (await alice.receive_control("resync"))["reason"] == "lagged"
    await alice.leave()
    await bob.leave()


async def test_a_socket_that_never_acknowledges_gets_not_reading_then_4408(settings):
    settings.BOARD_MAX_UNACKED_FRAMES = 20
    alice = await join()
    for index in range(settings.BOARD_MAX_UNACKED_FRAMES + 5):
        await alice.send_set(index, 1)
        await asyncio.sleep(0.03)
    assert await alice.closed_with() == 4408
    assert alice.controls[-1]["code"] == "not_reading"


async def test_an_ack_of_more_messages_than_were_sent_or_going_back_is_a_bad_frame():
    alice = await join()
    assert await error_code(alice, protocol.encode_ack(alice.frames + 5)) == "bad_frame"
    await alice.ack()
    assert await error_code(alice, protocol.encode_ack(alice.frames - 1)) == "bad_frame"
    await alice.leave()


async def test_a_ping_past_the_ping_limit_gets_too_many_pings_and_no_pong(settings):
    # The page's count (tests turn the limit off by default), in a window long
    # enough that no run straddles two.
    pings = DEFAULT_PINGS
    settings.BOARD_PING_LIMITS = [(pings, HOUR)]
    alice = await join()
    for k in range(pings + 1):
        await alice.send_json({"type": "ping", "token": k})
    assert (await alice.receive_control("error"))["code"] == "too_many_pings"
    await alice.drain()
    assert [c["token"] for c in alice.controls if c["type"] == "pong"] == list(range(pings))
    await alice.leave()


async def test_frames_past_the_frame_rate_get_too_many_frames_then_4429(settings):
    frames = DEFAULT_FRAMES_PER_SECOND
    settings.BOARD_FRAME_LIMITS = [(frames, HOUR)]
    alice = await join()
    for _ in range(frames + 1):
        await alice.send(protocol.encode_ack(1))
    assert await alice.closed_with() == protocol.CLOSE_TOO_MANY
    assert alice.controls[-1]["code"] == "too_many_frames"


# -- the largest frame ---------------------------------------------------------------------------


async def test_no_update_frame_exceeds_64_kib_even_when_a_tick_carries_more(settings):
    settings.BOARD_MAX_BATCH = protocol.MAX_BATCH
    board = await default_board()
    alice = await join(board)
    batches = 12
    for k in range(batches):
        changes = [(k * protocol.MAX_BATCH + i, 1) for i in range(protocol.MAX_BATCH)]
        applied = await sync_to_async(state.apply)(board, changes)
        await events.publish(board.slug, events.batch("moderation", events.applied_run(applied, changes)))
    sizes = []
    async with asyncio.timeout(30):
        while alice.replica.version < batches * protocol.MAX_BATCH:
            frame = await alice.next_frame()
            if isinstance(frame, bytes):
                sizes.append(len(frame))
            await alice.ack()
    assert max(sizes) <= protocol.MAX_SERVER_FRAME
    assert alice.replica.bits == bytearray(state.sync_client().get(state.keys(board.slug)[0]))
    await alice.leave()


# -- against real daphne -----------------------------------------------------------------------------


async def test_over_tcp_results_name_the_epoch_and_oversized_messages_end_as_documented(daphnes):
    (server,) = daphnes(1)
    await sync_to_async(Board.objects.default)()
    alice = await NetPlayer(server.url, local_address="127.0.0.21").join()
    assert alice.hello["protocol"] == 2
    await alice.send_json({"type": "set", "index": 7, "value": 1})
    assert await alice.receive_result() == (7, 1, Status.APPLIED, 1)
    assert alice.result_epoch == alice.hello["epoch"]
    # Over BOARD_MAX_FRAME_BYTES but within daphne's cap: an error, and the socket stays.
    await alice.send(bytes(django_settings.BOARD_MAX_FRAME_BYTES + 1))
    assert (await alice.receive_control("error"))["code"] == "frame_too_large"
    # Over DAPHNE_MAX_MESSAGE_BYTES: dropped without a close frame (1006 to a browser).
    await alice.send(bytes(django_settings.DAPHNE_MAX_MESSAGE_BYTES + 1))
    assert await alice.closed_with() is None
    nobody = NetPlayer(server.url, slug="no-such-board", local_address="127.0.0.22")
    await nobody.open()
    assert (await nobody.receive_control("error"))["code"] == "board_not_found"
    assert await nobody.closed_with() == protocol.CLOSE_BOARD_NOT_FOUND


def handshake_status(port, path):
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request.encode())
        return int(connection.recv(1024).split(b" ")[1])


# NEEDS_STATE_HELPER
def test_other_socket_paths_are_refused_during_the_handshake(daphnes):
    (server,) = daphnes(1)
    Board.objects.default()
    assert handshake_status(server.port, "/ws/b/main/") == 101
    for path in ("/ws/", "/ws/b/main", "/ws/b/main/extra/", "/ws/nothing/"):
        assert handshake_status(server.port, path) in (403, 404), path
    assert "Traceback" not in server.log()


@pytest.mark.browser
async def test_the_browser_refetches_the_state_on_a_result_of_another_epoch(browser, daphnes):
    from tests.pages import open_board

    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if "/state" in request.url else None)
    # A RESULT as the server sends it after a replace the page has not heard of yet.
    await page.evaluate(
        "() => { const sync = window.checkboxes.sync;"
        " sync.results({ epoch: (sync.epoch % 2147483647) + 1, entries: [] }); }"
    )
    await page.wait_for_function("() => !window.checkboxes.sync.fetching")
    assert fetched == [f"{server.url}/b/main/state"]
    await page.context.close()
