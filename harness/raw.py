"""A WebSocket client on a plain socket, for clients a library would keep too polite.

It can do what hostile clients do: open from any 127.0.0.x (each address its own
network to the server's limits), send any Origin or path, send masked frames of
any opcode, several of them in one ``sendall`` (one TCP segment), keep sending
while never reading (with a small receive buffer), drop the connection at any
moment, and read frames and close codes with a timeout. RFC 6455 framing only,
without extensions or fragmented messages (the server sends neither).
"""

import base64
import json
import os
import socket
import struct
import time

from board.live import protocol

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
# What the client reports when the TCP connection ends without a Close frame.
ABNORMAL = 1006


class HandshakeRefused(Exception):
    def __init__(self, status, response):
        super().__init__(f"handshake answered {status}")
        self.status = status
        self.response = response


def frame(opcode, payload=b""):
    """One final, masked client frame."""
    if isinstance(payload, str):
        payload = payload.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack(">BB", 0x80 | opcode, 0x80 | size)
    elif size < 2**16:
        header = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, size)
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[k % 4] for k, byte in enumerate(payload))
    return header + mask + masked


def close_frame(code=1000, reason=""):
    return frame(CLOSE, struct.pack(">H", code) + reason.encode())


def set_frame(index, value):
    return frame(BINARY, protocol.encode_set(index, value))


def text_frame(message):
    return frame(TEXT, json.dumps(message))


class RawSocket:
    """One client connection to ``port`` of 127.0.0.1 from ``source``.

    ``receive_buffer`` shrinks SO_RCVBUF before connecting, so a client that
    stops reading pushes back on the server within a few kilobytes.
    """

    def __init__(self, port, source="127.0.0.1", path="/ws/b/main/", origin=None, receive_buffer=None, headers=()):
        self.port = port
        self.source = source
        self.path = path
        self.origin = f"http://127.0.0.1:{port}" if origin is None else origin
        self.headers = headers
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.bind((source, 0))
        self.buffer = b""
        self.close_code = None

    # -- opening -------------------------------------------------------------

    def request(self):
        """The HTTP upgrade request, as bytes."""
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.origin:
            lines.append(f"Origin: {self.origin}")
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def connect(self, timeout=10):
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", self.port))
        return self

    def open(self, timeout=10):
        """Connect and complete the handshake; HandshakeRefused unless the server answers 101."""
        self.connect(timeout)
        self.sock.sendall(self.request())
        return self.finish_handshake(timeout)

    def finish_handshake(self, timeout=10):
        """Read the answer to a request already sent."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill(deadline):
                raise HandshakeRefused(None, self.buffer)
        response, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status = int(response.split(b" ", 2)[1])
        if status != 101:
            raise HandshakeRefused(status, response)
        return self

    # -- sending -------------------------------------------------------------

    def send(self, *frames):
        """Write ``frames`` with one ``sendall``: back to back, in as few segments as TCP makes."""
        self.sock.sendall(b"".join(frames))

    def try_send(self, data, timeout):
        """Send ``data`` unless the server stopped taking it: False if it is gone or not reading."""
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(data)
        except (TimeoutError, OSError):
            return False
        return True

    def abort(self):
        """Drop the connection with a TCP reset, no Close frame."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        self.sock.close()

    # -- reading -------------------------------------------------------------

    def _fill(self, deadline):
        """Read more bytes into the buffer; False at end of stream. TimeoutError past ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no frame in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return False
        self.buffer += chunk
        return bool(chunk)

    def read_frame(self, timeout=5):
        """The next frame as (opcode, payload); (None, b"") when the connection ended."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            if not self._fill(deadline):
                return None, b""

    def _parse(self):
        if len(self.buffer) < 2:
            return None
        opcode, size = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
        offset = 2
        if size == 126:
            if len(self.buffer) < 4:
                return None
            (size,), offset = struct.unpack_from(">H", self.buffer, 2), 4
        elif size == 127:
            if len(self.buffer) < 10:
                return None
            (size,), offset = struct.unpack_from(">Q", self.buffer, 2), 10
        if len(self.buffer) < offset + size:
            return None
        payload, self.buffer = self.buffer[offset : offset + size], self.buffer[offset + size :]
        return opcode, payload

    def read_message(self, timeout=5):
        """The next data frame: a dict for JSON text, bytes for binary; None once closed."""
        deadline = time.monotonic() + timeout
        while True:
            opcode, payload = self.read_frame(max(deadline - time.monotonic(), 0.001))
            if opcode is None or opcode == CLOSE:
                self._closed(opcode, payload)
                return None
            if opcode == TEXT:
                return json.loads(payload)
            if opcode == BINARY:
                return payload

    def read_until_closed(self, timeout=10, answer=False):
        """Read until the server closes; ``(code, messages)``: its close code (ABNORMAL
        without a Close frame) and the messages read on the way.

        With ``answer`` the Close is answered at once, as a polite client does.
        TimeoutError if the server keeps the connection open past ``timeout``.
        """
        deadline = time.monotonic() + timeout
        messages = []
        while self.close_code is None:
            message = self.read_message(max(deadline - time.monotonic(), 0.001))
            if message is not None:
                messages.append(message)
        if answer and self.close_code != ABNORMAL:
            self.try_send(close_frame(self.close_code), timeout=1)
        return self.close_code, messages

    def _closed(self, opcode, payload):
        if opcode == CLOSE and len(payload) >= 2:
            self.close_code = struct.unpack(">H", payload[:2])[0]
        else:
            self.close_code = ABNORMAL


def errors(messages):
    """The codes of the error frames among ``messages``."""
    return [message["code"] for message in messages if isinstance(message, dict) and message.get("type") == "error"]
