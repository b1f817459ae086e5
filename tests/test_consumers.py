"""The board consumer through Channels' WebsocketCommunicator, against a real Redis."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from board.live import protocol
from board.models import Board
from board.store import state
from board.store.state import Status
from tests.boards import default_board
from tests.players import Player

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs")]


async def two_players():
    board = await default_board()
    alice = await Player().join(board)
    bob = await Player().join(board)
    return board, alice, bob


async def test_hello_describes_the_board():
    alice = await Player().join()
    assert alice.hello["board"] == "main"
    assert alice.hello["size"] == 100_000
    assert alice.hello["version"] == 0
    assert alice.hello["frozen"] is False
    assert alice.hello["protocol"] == 2
    await alice.leave()


async def test_a_change_by_one_player_reaches_another():
    board, alice, bob = await two_players()
    await alice.send_set(51_234, 1)
    await bob.wait_for_version(1)
    assert bob.replica.get(51_234) == 1
    assert bob.replica.bits == bytearray(state.sync_client().get(state.keys("main")[0]))
    await alice.leave()
    await bob.leave()


async def test_the_sender_is_answered_with_the_version_its_change_made():
    board, alice, bob = await two_players()
    await alice.send_set(7, 1)
    assert await alice.receive_result() == (7, 1, Status.APPLIED, 1)
    await alice.send_set(7, 1)
    assert await alice.receive_result() == (7, 1, Status.UNCHANGED, 1)
    await alice.leave()
    await bob.leave()


async def test_a_change_is_answered_while_strangers_hold_every_connection_of_their_lane():
    # Sockets opening by the thousand once held every connection of the one
    # pool; the writer waited for one and took the wait for Redis lost
    # (docs/reliability.md). The board's own loops have a lane of their own.
    alice = await Player().join(await default_board())
    strangers = state.async_client()  # this task is a stranger: no socket, no hub
    held = state.LANE_CONNECTIONS["strangers"]
    holders = [asyncio.ensure_future(strangers.blpop(f"test:held:{k}", 4)) for k in range(held)]
    await asyncio.sleep(0.5)
    try:
        await alice.send_set(11, 1)
        assert await alice.receive_result(timeout=3) == (11, 1, Status.APPLIED, 1)
    finally:
        await asyncio.gather(*holders, return_exceptions=True)
    await alice.leave()


async def test_results_come_back_in_the_order_changes_were_sent():
    alice = await Player().join(await default_board())
    for index in (3, 1, 2, 1):
        await alice.send_set(index, 1)
    results = [await alice.receive_result() for _ in range(4)]
    assert [(r[0], r[2]) for r in results] == [
        (3, Status.APPLIED),
        (1, Status.APPLIED),
        (2, Status.APPLIED),
        (1, Status.UNCHANGED),
    ]
    await alice.leave()


async def test_a_change_that_changes_nothing_is_not_broadcast():
    board, alice, bob = await two_players()
    await alice.send_set(10, 0)
    assert (await alice.receive_result())[2] == Status.UNCHANGED
    await bob.drain()
    assert bob.replica.version == 0
    assert bob.updates == 0
    await alice.leave()
    await bob.leave()


async def test_the_json_form_of_set_works_like_the_binary_one():
    board, alice, bob = await two_players()
    await alice.send_json({"type": "set", "index": 99_999, "value": 1})
    await bob.wait_for_version(1)
    assert bob.replica.get(99_999) == 1
    await alice.leave()
    await bob.leave()


async def test_a_frozen_board_refuses_changes_with_a_frozen_status():
    board = await default_board()
    await sync_to_async(state.set_frozen)(board, True)
    alice = await Player().join(board)
    assert alice.hello["frozen"] is True
    await alice.send_set(5, 1)
    assert (await alice.receive_result())[2] == Status.FROZEN
    assert state.sync_client().getbit(state.keys("main")[0], 5) == 0
    await alice.leave()


BAD_BINARY = [
    (b"", "bad_frame"),
    (b"\x01\x00\x00", "bad_frame"),
    (protocol.encode_set(1, 1) + b"\x00", "bad_frame"),
    (b"\x02\x00", "bad_frame"),
    (b"\x7f\x00\x00\x00\x01\x01", "unknown_type"),
    (protocol.encode_set(100_000, 1), "index_out_of_range"),
    (protocol.encode_set(2**32 - 1, 1), "index_out_of_range"),
    (protocol.SET_FRAME.pack(protocol.OP_SET, 5, 2), "bad_value"),
    (protocol.SET_FRAME.pack(protocol.OP_SET, 5, 255), "bad_value"),
    (bytes(4096), "frame_too_large"),
]

BAD_TEXT = [
    ("", "bad_frame"),
    ("not json", "bad_frame"),
    ("[1, 2]", "bad_frame"),
    ('"set"', "bad_frame"),
    ("{}", "bad_frame"),
    ('{"type": "toggle", "index": 5}', "unknown_type"),
    ('{"type": 5}', "bad_frame"),
    ('{"type": "set", "value": 1}', "bad_frame"),
    ('{"type": "set", "index": "5", "value": 1}', "bad_frame"),
    ('{"type": "set", "index": 5.0, "value": 1}', "bad_frame"),
    ('{"type": "set", "index": true, "value": 1}', "bad_frame"),
    ('{"type": "set", "index": 5, "value": true}', "bad_frame"),
    ('{"type": "set", "index": 5, "value": null}', "bad_frame"),
    ('{"type": "set", "index": -1, "value": 1}', "index_out_of_range"),
    ('{"type": "set", "index": 100000, "value": 1}', "index_out_of_range"),
    ('{"type": "set", "index": 1000000000000000000000000, "value": 1}', "index_out_of_range"),
    ('{"type": "set", "index": 5, "value": 2}', "bad_value"),
    ('{"type": "set", "index": 5, "value": -1}', "bad_value"),
    ('{"type": "ack", "frames": -1}', "bad_frame"),
    ('{"type": "ack", "frames": "many"}', "bad_frame"),
    ('{"type": "set", "index": 1, "value": 1, "pad": "' + "x" * 600 + '"}', "frame_too_large"),
]


@pytest.mark.parametrize(("frame", "code"), BAD_BINARY + BAD_TEXT, ids=[repr(f)[:40] for f, _ in BAD_BINARY + BAD_TEXT])
async def test_a_bad_frame_gets_an_error_and_harms_no_one(frame, code):
    board, mallory, bob = await two_players()
    await mallory.send_raw(frame)
    error = await mallory.receive_control("error")
    assert error["code"] == code
    assert error["message"]
    meta = await state.ameta(board)
    assert (meta.version, meta.count) == (0, 0)
    # Mallory is still connected and the board still works for everyone.
    await mallory.send_set(42, 1)
    assert (await mallory.receive_result())[2] == Status.APPLIED
    await bob.wait_for_version(1)
    assert bob.replica.get(42) == 1
    assert not [c for c in bob.controls if c["type"] == "error"]
    await mallory.leave()
    await bob.leave()


async def test_an_out_of_range_error_names_the_index():
    alice = await Player().join()
    await alice.send_json({"type": "set", "index": -5, "value": 1})
    error = await alice.receive_control("error")
    assert error["index"] == -5
    await alice.leave()


async def test_a_flood_of_bad_frames_is_disconnected(settings):
    settings.BOARD_MAX_BAD_FRAMES = 5
    mallory = await Player().join()
    for _ in range(6):
        await mallory.communicator.send_to(text_data="garbage")
    assert await mallory.closed_with() == protocol.CLOSE_TOO_MANY_BAD_FRAMES


async def test_an_unknown_board_closes_with_4404():
    stranger = Player("/ws/b/no-such-board/")
    connected, _ = await stranger.communicator.connect()
    assert connected
    error = await stranger.receive_control("error")
    assert error["code"] == "board_not_found"
    assert await stranger.closed_with() == protocol.CLOSE_BOARD_NOT_FOUND


async def test_a_socket_from_another_origin_is_refused():
    from channels.testing import WebsocketCommunicator

    from checkboxes_project.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/b/main/", headers=[(b"origin", b"https://evil.example")])
    connected, _ = await communicator.connect()
    assert not connected


async def test_ping_is_answered_with_pong_and_the_same_token():
    alice = await Player().join()
    await alice.send_json({"type": "ping", "token": "abc"})
    assert (await alice.receive_control("pong"))["token"] == "abc"
    await alice.leave()


async def test_other_boards_are_separate():
    small = await Board.objects.acreate(slug="small", size=64)
    main = await default_board()
    on_small = await Player("/ws/b/small/").join(small)
    on_main = await Player().join(main)
    assert on_small.hello["size"] == 64
    await on_small.send_set(63, 1)
    await on_small.wait_for_version(1)
    await on_main.drain()
    assert on_main.replica.version == 0
    await on_small.leave()
    await on_main.leave()


async def test_a_player_that_stops_acknowledging_is_paused_then_told_to_resync(settings):
    settings.BOARD_LAG_FRAMES = 5
    board, alice, slow = await two_players()
    for index in range(12):
        await alice.send_set(index, 1)
        await alice.receive_result()
        await alice.wait_for_version(index + 1)
        await alice.communicator.send_to(bytes_data=protocol.encode_ack(alice.frames))
    await slow.drain()
    # Frames after the limit were not sent: the slow player is behind.
    assert slow.replica.version < 12
    await slow.communicator.send_to(bytes_data=protocol.encode_ack(slow.frames))
    resync = await slow.receive_control("resync")
    assert resync["reason"] == "lagged"
    await slow.load(board)
    assert slow.replica.version == 12
    await alice.leave()
    await slow.leave()


async def test_a_player_that_acknowledges_keeps_receiving(settings):
    settings.BOARD_LAG_FRAMES = 5
    board, alice, bob = await two_players()
    for index in range(12):
        await alice.send_set(index, 1)
        await alice.receive_result()
        await bob.wait_for_version(index + 1)
        await bob.communicator.send_to(bytes_data=protocol.encode_ack(bob.frames))
    assert bob.replica.version == 12
    assert not [c for c in bob.controls if c["type"] == "resync"]
    await alice.leave()
    await bob.leave()


async def test_a_replaced_board_tells_every_player_to_resync():
    from board.live import events

    board, alice, bob = await two_players()
    await sync_to_async(state.replace)(board, bytes([0xFF]) * 12_500)
    await events.publish("main", events.reset("restored"))
    assert (await bob.receive_control("resync"))["reason"] == "restored"
    await bob.load(board)
    assert bob.replica.count == 100_000
    await alice.leave()
    await bob.leave()
