"""
The load generator: thousands of board clients per Python process.

Each client speaks docs/protocol.md over a plain asyncio Protocol (no
WebSocket library: framing is a few lines, and a library's per-frame cost
would make the generator the thing being measured). While the clock runs a
client does only what it must:

- count frames and ACK every 16 (a client that never ACKs is paused by design);
- read each UPDATE's run headers (14 bytes each) to note when each run arrived,
  and keep the runs' raw bytes in a log; they are decoded after the timed window;
- senders match RESULT entries to the SETs they sent, to learn the version each
  applied change took (that is how a change is followed to every client).

After the window every client rebuilds its bitset with the reference
:class:`board.replica.Replica` from the state it fetched plus its log, and the
result is compared with Redis.

A worker process runs a share of the clients and talks to the coordinating
process over a pipe: ``join`` → ``joined``, ``go`` → ``sent``, ``finish`` → ``report``.
"""

import asyncio
import base64
import hashlib
import json
import os
import random
import time
from collections import Counter, deque

from benchmarks.stack import own_cpu_seconds, raise_open_files_limit
from board.live import protocol
from harness.replica import Replica

RUN_HEADER = protocol.RUN_HEADER
RESULT_ENTRY = protocol.RESULT_ENTRY
APPLIED = 0
ACK_EVERY = 16
ACK_SWEEP_SECONDS = 1.0
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def masked_frame(payload, opcode=OP_BINARY):
    """A client-to-server WebSocket frame (clients must mask; RFC 6455 §5.3)."""
    size = len(payload)
    key = random.getrandbits(32).to_bytes(4, "big")
    stream = (key * (size // 4 + 1))[:size]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")
    if size < 126:
        return bytes((0x80 | opcode, 0x80 | size)) + key + body
    return bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big") + key + body


def source_address(number):
    """A loopback source address per client (127.1.x.y), so per-address limits see many players."""
    return f"127.1.{(number >> 8) & 0xFF}.{number & 0xFF or 1}"


async def http_get(host, port, path, source=None):
    """``(status, headers, body)`` of one HTTP/1.1 GET; the state endpoint is all clients fetch."""
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection(host, port, local_addr=local)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length")
        body = await (reader.readexactly(int(length)) if length is not None else reader.read())
        return status, headers, body
    finally:
        writer.close()


class Client(asyncio.Protocol):
    """One player's socket. ``timed`` clients count towards latency and ``lost``."""

    def __init__(self, worker, number, host, port, slug, sender=False, slow=False):
        self.worker = worker
        self.number = number
        self.host, self.port, self.slug = host, port, slug
        self.sender = sender
        self.slow = slow
        self.timed = not slow
        self.paused = False  # a slow client not reading, during the window
        self.transport = None
        self.handshaking = True
        self.key = b""
        self.buffer = b""
        self.frames = 0
        self.acked = 0
        self.hello = None
        self.opened = None
        self.closed = False
        self.state = None  # (bits, epoch, version) of the latest state fetched
        self.log = bytearray()  # every run received, back to back, as sent
        self.top = 0  # highest version any received run reached
        self.in_flight = deque()  # send times of SETs awaiting their RESULT
        self.resyncs = 0
        self.reconnects = 0
        self.errors = 0
        self.error_codes = Counter()  # the ``code`` of each error frame
        self.close_code = None  # the code of the server's Close, if it sent one
        self.unavailable = 0  # state requests answered 503
        self.fetching = None

    # -- connecting ----------------------------------------------------------

    async def connect(self):
        loop = asyncio.get_running_loop()
        self.opened = loop.create_future()
        self.handshaking, self.buffer, self.frames, self.acked, self.closed = True, b"", 0, 0, False
        await loop.create_connection(lambda: self, self.host, self.port, local_addr=(source_address(self.number), 0))
        self.hello = await asyncio.wait_for(self.opened, 60)

    async def join(self):
        await self.connect()
        await self.fetch_state()

    def connection_made(self, transport):
        self.transport = transport
        self.key = base64.b64encode(os.urandom(16))
        transport.write(
            f"GET /ws/b/{self.slug}/ HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://{self.host}:{self.port}\r\n\r\n".encode()
        )

    def connection_lost(self, exc):
        self.closed = True
        if self.opened is not None and not self.opened.done():
            self.opened.set_exception(ConnectionError(f"client {self.number} closed before hello"))

    def handshake(self, data):
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return b""
        head, rest = self.buffer[:end], self.buffer[end + 4 :]
        self.buffer, self.handshaking = b"", False
        accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest())
        if not head.startswith(b"HTTP/1.1 101") or accept not in head:
            self.opened.set_exception(ConnectionError(f"handshake refused: {head[:80]!r}"))
            self.transport.close()
            return b""
        return rest

    async def fetch_state(self, attempts=5):
        """Fetch the state; a 429 or 503 is retried after its Retry-After, as the browser does."""
        path, source = f"/b/{self.slug}/state", source_address(self.number)
        for _ in range(attempts):
            status, headers, body = await http_get(self.host, self.port, path, source)
            if status not in (429, 503):
                break
            self.unavailable += 1
            await asyncio.sleep(float(headers.get("retry-after", 1)))
        if status != 200:
            raise ConnectionError(f"state request answered {status}")
        self.state = (body, int(headers["x-board-epoch"]), int(headers["x-board-version"]))

    def resync(self):
        self.resyncs += 1
        if self.fetching is None or self.fetching.done():
            self.fetching = asyncio.ensure_future(self.fetch_state())

    # -- reading: the hot path -------------------------------------------------

    def data_received(self, data):
        if self.handshaking:
            data = self.handshake(data)
        elif self.buffer:
            data = self.buffer + data
            self.buffer = b""
        end = len(data)
        offset = 0
        now = time.monotonic()
        while end - offset >= 2:
            first, length = data[offset], data[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == 127:
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            stop = start + length
            if stop > end:
                break
            offset = stop
            opcode = first & 0x0F
            if opcode == OP_BINARY:
                self.binary(data, start, stop, now)
            elif opcode == OP_TEXT:
                self.text(data[start:stop])
            elif opcode == OP_PING:
                self.transport.write(masked_frame(data[start:stop], OP_PONG))
            elif opcode == OP_CLOSE:
                if stop - start >= 2:
                    self.close_code = int.from_bytes(data[start : start + 2], "big")
                self.transport.write(masked_frame(data[start:stop], OP_CLOSE))
                self.transport.close()
                return
        if offset < end:
            self.buffer = data[offset:]

    def binary(self, data, start, stop, now):
        self.frames += 1
        kind = data[start]
        if kind == protocol.FRAME_UPDATE:
            position = start + 1
            arrived = self.worker.arrived if self.timed else None
            while position < stop:
                _, before, count = RUN_HEADER.unpack_from(data, position)
                position += RUN_HEADER.size + 4 * count
                if before + count > self.top:
                    self.top = before + count
                if arrived:
                    arrived(before, count, now)
            self.log += memoryview(data)[start + 1 : stop]
        elif kind == protocol.FRAME_RESULT:
            self.results(data[start + protocol.RESULT_HEADER.size : stop])
        if self.frames - self.acked >= ACK_EVERY:
            self.ack()

    def results(self, entries):
        worker = self.worker
        for _, _, status, version in RESULT_ENTRY.iter_unpack(entries):
            sent_at = self.in_flight.popleft()
            worker.statuses[status] += 1
            if status == APPLIED:
                worker.applied[version] = sent_at

    def text(self, payload):
        self.frames += 1
        message = json.loads(payload)
        kind = message.get("type")
        if kind == "hello":
            if not self.opened.done():
                self.opened.set_result(message)
            else:
                self.resync()
        elif kind == "resync":
            self.resync()
        elif kind == "error":
            self.errors += 1
            self.error_codes[str(message.get("code"))] += 1

    def ack(self):
        if self.closed:
            return
        self.acked = self.frames
        self.transport.write(masked_frame(protocol.encode_ack(self.frames)))

    # -- sending ---------------------------------------------------------------

    def send_set(self, index, value, now):
        if self.closed:
            # The server closed this sender (a limit, a fault): its socket is
            # gone and the run's figures show it as unconverged, not a crash.
            return
        self.in_flight.append(now)
        self.transport.write(masked_frame(protocol.encode_set(index, value)))

    # -- after the window --------------------------------------------------------

    def caught_up(self, version):
        if self.closed or (self.fetching is not None and not self.fetching.done()):
            return False
        return max(self.top, self.state[2]) >= version

    def replica_digest(self):
        """What the replica is rebuilt from: clients with equal digests end with equal bitsets."""
        bits, epoch, version = self.state
        digest = hashlib.blake2b(bits, digest_size=16)
        digest.update(f"{epoch}:{version}:".encode())
        digest.update(self.log)
        return digest.digest()

    def rebuild(self, size):
        bits, epoch, version = self.state
        replica = Replica(size)
        replica.load(bits, epoch, version)
        if self.log:
            replica.update(bytes([protocol.FRAME_UPDATE]) + bytes(self.log))
        return replica


class Worker:
    """One generator process's share of the clients."""

    def __init__(self, conn, spec):
        self.conn = conn
        self.spec = spec
        self.clients = []
        self.senders = []
        self.runs = {}  # run's from-version -> [changes, first arrival, last arrival, timed clients]
        self.applied = {}  # version -> when the SET that made it was sent
        self.statuses = [0] * 8
        self.sent = 0
        self.values = {}
        self.rng = random.Random(spec["seed"])

    def arrived(self, before, count, now):
        entry = self.runs.get(before)
        if entry is None:
            self.runs[before] = [count, now, now, 1]
        else:
            entry[2] = now
            entry[3] += 1

    async def command(self):
        return await asyncio.to_thread(self.conn.recv)

    async def run(self):
        await self.command()  # join
        cpu = own_cpu_seconds()
        await self.join_all()
        self.conn.send(("joined", {"clients": len(self.clients), "join_cpu_s": own_cpu_seconds() - cpu}))
        _, start_at, duration = await self.command()
        sweeper = asyncio.ensure_future(self.sweep_acks())
        cpu = own_cpu_seconds()
        await self.window(start_at, duration)
        window_cpu = own_cpu_seconds() - cpu
        await self.await_results()
        self.conn.send(("sent", self.sent_report(window_cpu)))
        _, final = await self.command()
        await self.catch_up(final)
        sweeper.cancel()
        self.conn.send(("report", self.final_report(final)))

    # -- joining -------------------------------------------------------------

    async def join_all(self):
        spec = self.spec
        for number, url, sender, slow in spec["clients"]:
            host, port = url.removeprefix("http://").split(":")
            client = Client(self, number, host, int(port), spec["slug"], sender=sender, slow=slow)
            self.clients.append(client)
            if sender:
                self.senders.append(client)
        gate = asyncio.Semaphore(spec["join_concurrency"])

        async def join(client):
            async with gate:
                await client.join()

        await asyncio.gather(*(join(client) for client in self.clients))

    async def sweep_acks(self):
        """ACK within a second whatever arrived since the last ACK, as the protocol asks."""
        while True:
            await asyncio.sleep(ACK_SWEEP_SECONDS)
            for client in self.clients:
                if client.frames != client.acked and not client.paused:
                    client.ack()

    # -- the timed window ------------------------------------------------------

    async def window(self, start_at, duration):
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        for client in self.clients:
            if client.slow:
                client.paused = True
                client.transport.pause_reading()
        rate, boxes = self.spec["rate"], self.spec["boxes"]
        senders, rng, values = self.senders, self.rng, self.values
        end = start_at + duration
        while (now := time.monotonic()) < end and senders and rate:
            due = int((now - start_at) * rate) - self.sent
            for _ in range(due):
                index = rng.randrange(boxes)
                value = 1 - values.get(index, 0)
                values[index] = value
                senders[self.sent % len(senders)].send_set(index, value, now)
                self.sent += 1
            await asyncio.sleep(0.005)
        await asyncio.sleep(max(0.0, end - time.monotonic()))

    async def await_results(self, timeout=30):
        deadline = time.monotonic() + timeout
        while any(sender.in_flight for sender in self.senders) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def sent_report(self, window_cpu):
        return {
            "sent": self.sent,
            "unanswered": sum(len(sender.in_flight) for sender in self.senders),
            "statuses": self.statuses,
            "window_cpu_s": window_cpu,
        }

    # -- after the window --------------------------------------------------------

    async def catch_up(self, final):
        """Slow clients read again (and resync); everyone gets ``grace_s`` to reach the final version."""
        for client in self.clients:
            if client.slow:
                client.paused = False
                client.transport.resume_reading()
                client.ack()
        returning = {}
        deadline = time.monotonic() + final["grace_s"]
        while time.monotonic() < deadline:
            for client in self.clients:
                # The server closes a socket whose pings went unanswered; the
                # close is only read once the client reads again. Come back.
                if client.slow and client.closed and client not in returning:
                    returning[client] = asyncio.ensure_future(self.come_back(client))
            if all(client.caught_up(final["version"]) for client in self.clients):
                break
            await asyncio.sleep(0.1)
        await asyncio.gather(*returning.values(), return_exceptions=True)
        for client in self.clients:
            if client.fetching is not None:
                await asyncio.gather(client.fetching, return_exceptions=True)

    async def come_back(self, client):
        client.reconnects += 1
        await client.connect()
        await client.fetch_state()

    def final_report(self, final):
        verdicts = {}
        converged = {"timed": 0, "slow": 0}
        behind = 0  # the most versions a client that did not converge was short of the final one
        for client in self.clients:
            digest = client.replica_digest()
            if digest not in verdicts:
                replica = client.rebuild(final["size"])
                verdicts[digest] = replica.bits == final["bits"] and not replica.behind
            if verdicts[digest]:
                converged["timed" if client.timed else "slow"] += 1
            else:
                short = final["version"] - max(client.top, client.state[2])
                behind = max(behind, short)
        return {
            "runs": [(before, *entry) for before, entry in self.runs.items()],
            "applied": self.applied,
            "timed_clients": sum(client.timed for client in self.clients),
            "slow_clients": sum(client.slow for client in self.clients),
            "converged": converged,
            "behind": behind,
            "resyncs": {
                "timed": sum(client.resyncs for client in self.clients if client.timed),
                "slow": sum(client.resyncs for client in self.clients if client.slow),
            },
            "reconnects": sum(client.reconnects for client in self.clients),
            "closed": sum(client.closed for client in self.clients),
            "errors": sum(client.errors for client in self.clients),
            "error_codes": sum((client.error_codes for client in self.clients), Counter()),
            "close_codes": Counter(str(client.close_code) for client in self.clients if client.closed),
            "unavailable": sum(client.unavailable for client in self.clients),
            "cpu_s": own_cpu_seconds(),
        }


def loop_factory(wanted):
    """uvloop where installed: its event loop costs the generator about half as much per frame."""
    if not wanted:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def worker_main(conn, spec):
    """Entry point of a generator process."""
    raise_open_files_limit()
    try:
        with asyncio.Runner(loop_factory=loop_factory(spec.get("uvloop", True))) as runner:
            runner.run(Worker(conn, spec).run())
    except Exception as error:
        conn.send(("failed", f"{type(error).__name__}: {error}"))
        raise
