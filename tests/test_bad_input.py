"""Bad input, tried systematically.

Hypothesis throws random and malformed frames at a socket. What each frame
should get is worked out here from docs/protocol.md alone (not from the
server's parser), and the test checks that the socket got exactly that: the
documented error codes in order, a RESULT for every valid change, a close
with 4400 after a flood; that the board changed by the valid changes and
nothing else; and that a well-behaved player on the same board kept
receiving updates throughout.
"""

import asyncio
import json
import struct
import urllib.request

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from board import bitset
from board.live import hub, protocol
from board.models import Board
from board.store import state
from board.store.state import Status
from harness.players import ConnectionClosed
from tests.players import Player

SIZE = 1000
MAX_FRAME = 512
MAX_BAD = 12
ERROR_CODES = {"bad_frame", "unknown_type", "frame_too_large", "index_out_of_range", "bad_value"}

pytestmark = pytest.mark.django_db(transaction=True)


# -- what the protocol document says each frame gets ----------------------------


# The fuzzer's ACKs either claim no more than the hello (always within what
# was sent) or far more than a short run sends (ahead: bad).
ACK_AHEAD = 2**20


def _ack(frames):
    return ("error", "bad_frame") if frames >= ACK_AHEAD else ("ack", frames)


def expected_reply(frame):
    """``("set", index, value)``, ``("ack", frames)``, ``("ping", token)`` or ``("error", code)``."""
    if isinstance(frame, bytes):
        return _binary(frame)
    return _text(frame)


def _binary(frame):
    if len(frame) > MAX_FRAME:
        return ("error", "frame_too_large")
    if not frame:
        return ("error", "bad_frame")
    if frame[0] == 0x01:
        if len(frame) != 6:
            return ("error", "bad_frame")
        index, value = struct.unpack(">IB", frame[1:])
        return _change(index, value)
    if frame[0] == 0x02:
        return _ack(struct.unpack(">I", frame[1:])[0]) if len(frame) == 5 else ("error", "bad_frame")
    return ("error", "unknown_type")


def _text(frame):
    if len(frame.encode(errors="surrogatepass")) > MAX_FRAME:
        return ("error", "frame_too_large")
    try:
        message = json.loads(frame)
    except ValueError:
        return ("error", "bad_frame")
    if not isinstance(message, dict):
        return ("error", "bad_frame")
    kind = message.get("type")
    if not isinstance(kind, str):
        return ("error", "bad_frame")
    if kind == "set":
        index, value = message.get("index"), message.get("value")
        if not _is_integer(index) or not _is_integer(value):
            return ("error", "bad_frame")
        return _change(index, value)
    if kind == "ack":
        frames = message.get("frames")
        return _ack(frames) if _is_integer(frames) and 0 <= frames < 2**32 else ("error", "bad_frame")
    if kind == "ping":
        return ("ping", message.get("token"))
    return ("error", "unknown_type")


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _change(index, value):
    if not 0 <= index < SIZE:
        return ("error", "index_out_of_range")
    if value not in (0, 1):
        return ("error", "bad_value")
    return ("set", index, value)


# -- frames, good and bad ------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=True), st.integers(-(2**66), 2**66), st.text(max_size=6)
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
)


def loosely(valid):
    """Mostly values of the right type and range, often not."""
    wrong = st.one_of(
        st.integers(-(2**70), 2**70),
        st.sampled_from([-1, SIZE, 2**32 - 1, 2**32, 2]),
        st.booleans(),
        st.floats(allow_nan=True),
        st.text(max_size=4),
        st.none(),
        st.lists(st.integers(0, 9), max_size=2),
    )
    return st.one_of(valid, valid, wrong)


padding = st.text(max_size=700)
set_messages = st.fixed_dictionaries(
    {"type": st.just("set"), "index": loosely(st.integers(0, SIZE - 1)), "value": loosely(st.sampled_from([0, 1]))},
    optional={"pad": padding},
)
ack_counts = st.one_of(st.integers(0, 1), st.integers(ACK_AHEAD, 2**32 - 1))
ack_messages = st.fixed_dictionaries({"type": st.just("ack"), "frames": loosely(ack_counts)})
ping_messages = st.fixed_dictionaries({"type": st.just("ping")}, optional={"token": json_values, "pad": padding})
other_messages = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(["toggle", "SET", "", "hello", "set "]), json_scalars)},
    optional={"index": st.integers(0, SIZE - 1), "value": st.sampled_from([0, 1])},
)
missing_fields = st.sampled_from(
    ['{"type": "set", "value": 1}', '{"type": "set", "index": 1}', '{"type": "ack"}', "{}"]
)
text_frames = st.one_of(
    set_messages.map(json.dumps),
    set_messages.map(json.dumps),
    ack_messages.map(json.dumps),
    ping_messages.map(json.dumps),
    other_messages.map(json.dumps),
    missing_fields,
    json_values.map(json.dumps),
    st.text(max_size=40),
    set_messages.map(json.dumps).map(lambda text: text[: len(text) // 2]),
    st.text(min_size=120, max_size=600, alphabet="é€😀x"),
)
binary_frames = st.one_of(
    st.binary(max_size=12),
    st.builds(lambda i, v: struct.pack(">BIB", 0x01, i, v), st.integers(0, 2**32 - 1), st.integers(0, 255)),
    st.builds(lambda i, v: struct.pack(">BIB", 0x01, i, v), st.integers(0, SIZE - 1), st.sampled_from([0, 1])),
    st.builds(lambda f, cut: struct.pack(">BI", 0x02, f)[:cut], ack_counts, st.integers(0, 6)),
    st.builds(lambda head, tail: head + tail, st.sampled_from([b"\x01", b"\x02"]), st.binary(max_size=9)),
    st.binary(min_size=MAX_FRAME - 2, max_size=MAX_FRAME + 200),
)


def _knowable(frame):
    """Not an ACK just past the hello, whose verdict depends on how many frames were sent before it."""
    reply = expected_reply(frame)
    return not (reply[0] == "ack" and reply[1] > 1)


frames = st.one_of(text_frames, binary_frames).filter(_knowable)
# Runs of one frame repeated make floods (and so the 4400 close) common.
bursts = st.tuples(frames, st.integers(1, 8)).map(lambda burst: [burst[0]] * burst[1])
sequences = st.lists(bursts, min_size=1, max_size=6).map(lambda runs: [frame for run in runs for frame in run])


# -- the run ---------------------------------------------------------------------------


def predict(sent, start_bits):
    """Replies a socket should get for ``sent``, and the bits the board should end with."""
    errors, changes, pongs, bits, bad, acked = [], [], [], bytearray(start_bits), 0, 0
    for frame in sent:
        reply = expected_reply(frame)
        if reply[0] == "ack":
            # An ACK may not go back on an earlier one.
            reply, acked = (("error", "bad_frame"), acked) if reply[1] < acked else (reply, reply[1])
        if reply[0] == "error":
            errors.append(reply[1])
            bad += 1
            if bad > MAX_BAD:
                return errors, changes, pongs, bits, True
        elif reply[0] == "set":
            changes.append(reply[1:])
            bitset.put(bits, *reply[1:])
        elif reply[0] == "ping":
            pongs.append(reply[1])
    return errors, changes, pongs, bits, False


async def read_replies(mallory, changes, closes):
    """Everything Mallory gets until her sentinel ping is answered (or she is closed)."""
    async with asyncio.timeout(10):
        try:
            while True:
                frame = await mallory.next_frame()
                if isinstance(frame, dict) and frame.get("token") == "sentinel":
                    break
            while len(mallory.results) < len(changes):
                await mallory.next_frame()
            return None
        except ConnectionClosed as closed:
            return closed.code


async def play(sent):
    board = await Board.objects.aget(slug="fuzz")
    start_bits, start = await state.aread(board)
    bob = await Player("/ws/b/fuzz/").join(board)
    alice = await Player("/ws/b/fuzz/").join(board)
    mallory = await Player("/ws/b/fuzz/").join(board)
    errors, changes, pongs, bits, flooded = predict(sent, start_bits)

    for frame in sent:
        await mallory.send_raw(frame)
    await mallory.send_json({"type": "ping", "token": "sentinel"})
    closed = await read_replies(mallory, changes, flooded)

    got_errors = [c for c in mallory.controls if c["type"] == "error"]
    assert [e["code"] for e in got_errors] == errors
    assert all(e["message"] for e in got_errors)
    got_pongs = [c["token"] for c in mallory.controls if c["type"] == "pong" and c["token"] != "sentinel"]
    got_changes = [(index, value) for index, value, _, _ in mallory.results]
    assert all(status in (Status.APPLIED, Status.UNCHANGED) for _, _, status, _ in mallory.results)
    if flooded:
        assert closed == protocol.CLOSE_TOO_MANY_BAD_FRAMES
        # RESULTs still queued at the close are not sent; those that were are in order.
        assert got_changes == changes[: len(got_changes)]
        assert got_pongs == pongs[: len(got_pongs)]
    else:
        assert closed is None
        assert got_changes == changes
        assert got_pongs == pongs

    # A well-behaved player's change still reaches the other well-behaved player,
    # after every valid change of Mallory's (the hub applies them in order).
    target = 7
    bitset.put(bits, target, 1 - bitset.get(bits, target))
    await alice.send_set(target, bitset.get(bits, target))
    assert (await alice.receive_result())[2] == Status.APPLIED
    end_bits, end = await state.aread(board)
    flips = sum(bin(a ^ b).count("1") for a, b in zip(start_bits, end_bits, strict=True))
    assert end_bits == bytes(bits)
    assert end.epoch == start.epoch
    assert end.version >= start.version + flips
    await bob.wait_for_version(end.version)
    assert bytes(bob.replica.bits) == end_bits
    assert not [c for c in bob.controls if c["type"] == "error"]

    for player in (bob, alice) if flooded else (bob, alice, mallory):
        await player.leave()


async def play_and_clean_up(sent):
    try:
        await play(sent)
    finally:
        await hub.stop_hubs()
        await state.close_async_client()
        await sync_to_async(connections.close_all)()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sent=sequences)
def test_random_and_malformed_frames_get_documented_answers_and_change_nothing_else(django_settings, sent):
    asyncio.run(play_and_clean_up(sent))


@pytest.fixture
def django_settings(settings, transactional_db):
    settings.BOARD_MAX_BAD_FRAMES = MAX_BAD
    settings.BOARD_MAX_FRAME_BYTES = MAX_FRAME
    Board.objects.get_or_create(slug="fuzz", defaults={"size": SIZE})
    return settings


def test_the_oracle_agrees_with_the_documented_examples():
    # The examples of docs/protocol.md, so the oracle itself is checked.
    assert expected_reply(bytes.fromhex("010000000901")) == ("set", 9, 1)
    assert expected_reply(protocol.encode_ack(12)) == ("ack", 12)
    assert expected_reply('{"type": "set", "index": 5, "value": true}') == ("error", "bad_frame")
    assert expected_reply('{"type": "set", "index": 5.0, "value": 1}') == ("error", "bad_frame")
    assert expected_reply('{"type": "toggle"}') == ("error", "unknown_type")
    assert expected_reply(bytes([0x7F])) == ("error", "unknown_type")
    assert expected_reply('{"type": "set", "index": 1000, "value": 1}') == ("error", "index_out_of_range")
    assert expected_reply('{"type": "ack", "frames": -1}') == ("error", "bad_frame")
    assert expected_reply("é" * 300) == ("error", "frame_too_large")


# -- HTTP: bad paths, methods and slugs are 4xx, never 5xx ------------------------------

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
ENDPOINTS = ["/", "/b/main/", "/b/main/state", "/healthz", "/readyz"]
BAD_PATHS = [
    "/b/no-such-board/",
    "/b/no-such-board/state",
    "/b/" + "x" * 2000 + "/",
    "/b/%C3%A9t%C3%A9/",
    "/b/%00/",
    "/b/..%2F..%2Fetc%2Fpasswd/",
    "/b/main/state/extra",
    "/ws/b/main/",
    "/healthz/",
    "/%ff%fe",
    "/static/",
    "/static/board/",
    "/static/board/no-such-file.js",
    "/static/../manage.py",
    "/static/%2e%2e/checkboxes_project/settings.py",
    "/static/board/main.js/..%2f..%2fsettings.py",
    "/admin/no-such-app/",
    "/admin/board/board/999999/change/",
    "/admin/board/board/not-a-number/change/",
]


@pytest.fixture
def http(settings, transactional_db):
    from django.test import Client

    settings.DEBUG = False
    Board.objects.default()
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_answers_every_method_without_a_server_error(http, path, method):
    response = http.generic(method, path)
    if method in ("GET", "HEAD"):
        assert response.status_code == 200
    else:
        assert response.status_code == 405
        assert set(response["Allow"].split(", ")) == {"GET", "HEAD"}


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("path", BAD_PATHS)
def test_bad_paths_and_slugs_are_client_errors(http, path, method):
    response = http.generic(method, path)
    # The admin sends strangers to its login page; everything else is a 4xx.
    if path.startswith("/admin/") and response.status_code == 302:
        assert "/admin/login/" in response["Location"]
        return
    assert 400 <= response.status_code < 500, response.status_code


def test_a_board_address_without_its_slash_is_redirected_to_it(http):
    response = http.get("/b/main")
    assert response.status_code == 301
    assert response["Location"] == "/b/main/"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.text(max_size=60), method=st.sampled_from(METHODS))
def test_random_paths_never_cause_a_server_error(http, path, method):
    from urllib.parse import quote

    response = http.generic(method, "/" + quote(path, safe="/?=&%"))
    assert response.status_code < 500, (path, response.status_code)


def test_the_admin_login_form_refuses_a_post_without_its_csrf_token(transactional_db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403


# -- the real server ---------------------------------------------------------------------


def raw_request(port, data):
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        try:
            connection.sendall(data)
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server hung up before the request was all sent: refused too
        try:
            return connection.recv(200)
        except ConnectionResetError:
            return b""


@pytest.mark.slow
@pytest.mark.parametrize(
    "request_bytes",
    [
        b"BREW /pot HTCPCP/1.0\r\n\r\n",
        b"GET /b/\xff\xfe/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"x" * 70_000 + b"\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(100),
    ],
    ids=["unknown-method", "invalid-utf8-path", "huge-header", "tls-hello-on-http"],
)
def test_garbage_requests_to_daphne_are_refused_and_the_server_stays_up(daphnes, request_bytes):
    (server,) = daphnes(1)
    answer = raw_request(server.port, request_bytes)
    assert answer == b"" or answer.split(b" ")[1][:1] == b"4", answer
    assert server.process.poll() is None
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:
        assert response.status == 200


@pytest.mark.slow
@pytest.mark.usefixtures("hubs")
async def test_a_message_over_daphnes_cap_drops_the_connection(daphnes):
    from harness.players import NetPlayer

    (server,) = daphnes(1, DAPHNE_MAX_MESSAGE_BYTES=1024)
    mallory = await NetPlayer(server.url).join()
    bob = await NetPlayer(server.url).join()
    await mallory.send(bytes(2000))
    # Daphne fails the connection (1009 in its log) by dropping TCP: no close frame arrives.
    assert await mallory.closed_with() is None
    await bob.send_set(3, 1)
    assert (await bob.receive_result())[2] == Status.APPLIED
    await bob.leave()
