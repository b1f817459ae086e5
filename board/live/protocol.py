"""
The WebSocket wire format, as written down in docs/protocol.md.

Client to server: binary SET and ACK frames, or the same as JSON text.
Server to client: binary UPDATE and RESULT frames; JSON text for everything else.
All integers are big-endian.
"""

import json
import struct
from dataclasses import dataclass

# Client -> server binary opcodes.
OP_SET = 0x01
OP_ACK = 0x02

# Server -> client binary frame types.
FRAME_UPDATE = 0x01
FRAME_RESULT = 0x02

SET_FRAME = struct.Struct(">BIB")  # op, index, value
ACK_FRAME = struct.Struct(">BI")  # op, frames received (mod 2**32)
RUN_HEADER = struct.Struct(">IQH")  # epoch, version before the run, changes in the run
RESULT_HEADER = struct.Struct(">BI")  # frame type, epoch
RESULT_ENTRY = struct.Struct(">IBBQ")  # index, value, status, version

# The largest server-to-client frame a client must accept. A RESULT holds at
# most one batch's entries and a run at most one batch's changes, so the most
# changes one Lua call applies (BOARD_MAX_BATCH) is capped at MAX_BATCH.
MAX_SERVER_FRAME = 65536
MAX_BATCH = (MAX_SERVER_FRAME - RESULT_HEADER.size) // RESULT_ENTRY.size
UPDATE_PREFIX = bytes([FRAME_UPDATE])

# The protocol version a hello announces (2: RESULT frames carry the epoch).
VERSION = 2

# Close codes (4000-4999 are reserved for applications by RFC 6455).
CLOSE_BOARD_NOT_FOUND = 4404
# Too many frames left unacknowledged: the client is not reading.
CLOSE_NOT_READING = 4408
# The board was deleted: do not reconnect.
CLOSE_BOARD_DELETED = 4410
CLOSE_TOO_MANY_BAD_FRAMES = 4400
CLOSE_UNAVAILABLE = 4503
# Too many changes refused for the rate, too many sockets, or opening too often.
CLOSE_TOO_MANY = 4429


class FrameError(Exception):
    """A frame this server cannot act on. ``code`` goes to the client."""

    def __init__(self, code, message, index=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.index = index


@dataclass(frozen=True)
class SetBox:
    index: int
    value: int


@dataclass(frozen=True)
class Ack:
    frames: int


@dataclass(frozen=True)
class Ping:
    token: object = None


def parse(text_data=None, bytes_data=None, max_bytes=512):
    """Decode one client frame into SetBox, Ack or Ping, or raise FrameError.

    Index and value are checked for type here and for range by the caller,
    which knows the board's size.
    """
    if bytes_data is not None:
        if len(bytes_data) > max_bytes:
            raise FrameError("frame_too_large", f"Frames are limited to {max_bytes} bytes.")
        return _parse_binary(bytes_data)
    if text_data is None:
        raise FrameError("bad_frame", "Empty frame.")
    # The limit is in bytes, as sent: UTF-8 needs up to four per character.
    if len(text_data) > max_bytes or len(text_data.encode(errors="surrogatepass")) > max_bytes:
        raise FrameError("frame_too_large", f"Frames are limited to {max_bytes} bytes.")
    return _parse_text(text_data)


def _parse_binary(data):
    if not data:
        raise FrameError("bad_frame", "Empty binary frame.")
    op = data[0]
    if op == OP_SET:
        if len(data) != SET_FRAME.size:
            raise FrameError("bad_frame", f"A binary SET frame is exactly {SET_FRAME.size} bytes.")
        _, index, value = SET_FRAME.unpack(data)
        return SetBox(index, value)
    if op == OP_ACK:
        if len(data) != ACK_FRAME.size:
            raise FrameError("bad_frame", f"A binary ACK frame is exactly {ACK_FRAME.size} bytes.")
        return Ack(ACK_FRAME.unpack(data)[1])
    raise FrameError("unknown_type", f"Unknown binary opcode 0x{op:02x}.")


def _parse_text(text):
    try:
        message = json.loads(text)
    except ValueError:
        raise FrameError("bad_frame", "Text frames must be JSON objects.") from None
    if not isinstance(message, dict):
        raise FrameError("bad_frame", "Text frames must be JSON objects.")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise FrameError("bad_frame", "A text frame needs a string type.")
    if kind == "set":
        return SetBox(_integer(message, "index"), _integer(message, "value"))
    if kind == "ack":
        frames = _integer(message, "frames")
        if not 0 <= frames < 2**32:
            raise FrameError("bad_frame", "ack.frames must be between 0 and 2**32 - 1.")
        return Ack(frames)
    if kind == "ping":
        return Ping(message.get("token"))
    raise FrameError("unknown_type", f"Unknown message type {kind[:40]!r}.")


def _integer(message, field):
    value = message.get(field)
    # bool is an int subclass in Python; true/false are not numbers on this wire.
    if not isinstance(value, int) or isinstance(value, bool):
        raise FrameError("bad_frame", f"{field} must be an integer.")
    return value


def encode_run(epoch, from_version, changes):
    """One run: a batch of changes that took versions from_version+1, +2, …"""
    packed = [(index << 1) | value for index, value in changes]
    return RUN_HEADER.pack(epoch, from_version, len(packed)) + struct.pack(f">{len(packed)}I", *packed)


def update_frames(runs):
    """The UPDATE frames carrying ``runs``: as few as fit, none longer than MAX_SERVER_FRAME."""
    frames, current, size = [], [], len(UPDATE_PREFIX)
    for run in runs:
        if current and size + len(run) > MAX_SERVER_FRAME:
            frames.append(UPDATE_PREFIX + b"".join(current))
            current, size = [], len(UPDATE_PREFIX)
        current.append(run)
        size += len(run)
    if current:
        frames.append(UPDATE_PREFIX + b"".join(current))
    return frames


def decode_update(frame):
    """Parse an UPDATE frame into ``[(epoch, from_version, [(index, value), …]), …]``."""
    if frame[0] != FRAME_UPDATE:
        raise ValueError("not an UPDATE frame")
    runs, offset = [], 1
    while offset < len(frame):
        epoch, from_version, count = RUN_HEADER.unpack_from(frame, offset)
        offset += RUN_HEADER.size
        packed = struct.unpack_from(f">{count}I", frame, offset)
        offset += 4 * count
        runs.append((epoch, from_version, [(word >> 1, word & 1) for word in packed]))
    return runs


def encode_results(entries, epoch=0):
    """A RESULT frame: ``entries`` are (index, value, status, version), all of ``epoch``.

    ``epoch`` is 0 when none of the entries reached the board (all refused
    before it, or the board was unreachable): their versions are 0 too.
    """
    return RESULT_HEADER.pack(FRAME_RESULT, epoch) + b"".join(RESULT_ENTRY.pack(*entry) for entry in entries)


def decode_results(frame):
    """Parse a RESULT frame into ``(epoch, [(index, value, status, version), …])``."""
    kind, epoch = RESULT_HEADER.unpack_from(frame)
    if kind != FRAME_RESULT:
        raise ValueError("not a RESULT frame")
    offsets = range(RESULT_HEADER.size, len(frame), RESULT_ENTRY.size)
    return epoch, [RESULT_ENTRY.unpack_from(frame, offset) for offset in offsets]


def encode_set(index, value):
    return SET_FRAME.pack(OP_SET, index, value)


def encode_ack(frames):
    return ACK_FRAME.pack(OP_ACK, frames % 2**32)


def control(kind, **fields):
    """A JSON text frame for everything that is not a bulk update."""
    return json.dumps({"type": kind, **fields}, separators=(",", ":"))


def error(code, message, **fields):
    return control("error", code=code, message=message, **fields)
