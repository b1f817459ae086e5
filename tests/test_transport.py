"""Frames written straight to daphne's sockets (board/live/transport.py)."""

import functools

import pytest

from board.live import transport
from harness.players import NetPlayer


def unframe(data):
    """Decode one unmasked server frame: (fin+opcode byte, payload)."""
    length, offset = data[1], 2
    assert not length & 0x80, "server frames are never masked"
    if length == 126:
        length, offset = int.from_bytes(data[2:4], "big"), 4
    elif length == 127:
        length, offset = int.from_bytes(data[2:10], "big"), 10
    assert len(data) == offset + length
    return data[0], data[offset:]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 200_000])
def test_it_frames_binary_payloads_of_every_length_encoding(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    head, body = unframe(transport.frame(payload))
    assert head == 0x82
    assert body == payload


def test_it_frames_text_as_a_utf8_text_message():
    head, body = unframe(transport.frame('{"type":"beacon","players":3,"note":"ü"}'))
    assert head == 0x81
    assert body.decode() == '{"type":"beacon","players":3,"note":"ü"}'


async def plain_send(message):
    pass


class TLSConnection:
    TLS = True
    socket = connected = disconnecting = dataBuffer = offset = _tempDataBuffer = None


class Protocol:
    STATE_OPEN = 3
    state = 3
    send_queue = ()

    def __init__(self, transport):
        self.transport = transport


def test_there_is_no_direct_writer_outside_daphne():
    assert transport.direct_writer(plain_send) is None


def test_there_is_no_direct_writer_without_a_transport():
    assert transport.direct_writer(functools.partial(plain_send, Protocol(None))) is None


def test_there_is_no_direct_writer_under_tls():
    assert transport.direct_writer(functools.partial(plain_send, Protocol(TLSConnection()))) is None


def test_falling_back_is_logged_once_per_process_not_per_socket(caplog):
    transport._log_fallback.cache_clear()
    for _ in range(3):
        transport.direct_writer(functools.partial(plain_send, Protocol(TLSConnection())))
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage().endswith("not straight to the socket: daphne terminates TLS.")


@pytest.mark.slow
@pytest.mark.usefixtures("hubs")
async def test_daphne_over_plain_tcp_writes_directly_and_logs_no_fall_back(daphnes):
    (server,) = daphnes(1)
    player = await NetPlayer(server.url).join()
    await player.send_set(3, 1)
    await player.receive_result()
    await player.leave()
    assert "ASGI send" not in server.log()
