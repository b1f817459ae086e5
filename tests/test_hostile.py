"""Hostile clients against the stack as shipped (issue 12; docs/protocol.md, "Limits").

Two real daphne processes started as ``manage.py serve`` starts them, DEBUG
off, every limit at its shipped default, one redis-server, and raw sockets
(harness/raw.py) where a client library would be too polite. Each attacker
connects from a 127.x address of its own, so it is its own network.

Every test ends the same way: a bystander on the attacked process, there all
along, changes a box; the change is answered, applied, and seen by a player on
the other process and by a player who joined after the attack.
"""

import asyncio
import http.client
import itertools
import shutil
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import websockets
from asgiref.sync import sync_to_async
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from board import bitset, moderation
from board.live import protocol
from board.management.serving import LocalRedis, free_port
from board.models import Ban, Board, Snapshot
from board.store.state import Status
from harness import raw
from harness.players import ConnectionClosed, NetPlayer, fetch_state
from harness.servers import Daphne, server_environment
from tests.conftest import use_redis

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

# The switches harness/servers.py uses to turn the abuse limits off: left out here.
LIMIT_SWITCHES = (
    "BOARD_CHANGE_BUCKET",
    "BOARD_NETWORK_CHANGE_BUCKET",
    "BOARD_MAX_SOCKETS_PER_NETWORK",
    "BOARD_NEW_SOCKETS_PER_MINUTE",
)
# Faster background work, so recovery shows within seconds. No limit is among them.
QUICKER = {"BOARD_SNAPSHOT_SECONDS": "2", "BOARD_BEACON_SECONDS": "2", "BOARD_BAN_REFRESH_SECONDS": "2"}
MAX_SOCKETS = 20

# Each attacker and each player gets an address, and so a network, of its own.
_addresses = (f"127.10.{k // 250}.{k % 250 + 1}" for k in itertools.count())
# Each check changes a box no one changed before.
_boxes = itertools.count(1000)


def address():
    return next(_addresses)


@dataclass
class Stack:
    redis: LocalRedis
    servers: list
    directory: Path

    @property
    def attacked(self):
        return self.servers[0]

    @property
    def other(self):
        return self.servers[1]

    def client(self):
        return redis.Redis.from_url(self.redis.url)


def shipped_environment():
    env = server_environment(**QUICKER)
    for name in LIMIT_SWITCHES:
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def db(django_db_setup, django_db_blocker):
    """Database access for the whole module, outside any test's transaction; flushed at its end.

    The daphne processes share the database for the whole module, so no test
    may hold a transaction open or flush when it ends. Named ``db`` because that
    name is what makes pytest-django create the test database.
    """
    with django_db_blocker.unblock():
        yield
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def stack(db, tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    server = LocalRedis(directory / "redis").start()
    use_redis(server.url)
    Board.objects.default()
    servers = []
    try:
        environment = shipped_environment()
        servers += [Daphne(directory, name=f"daphne{k}", environment=environment).start() for k in range(2)]
        fetch_state(servers[0].url)
        yield Stack(server, servers, directory)
    finally:
        for daphne in servers:
            daphne.stop()
        server.stop()


@pytest.fixture(autouse=True)
def clean_redis(stack):
    """The module's Redis is shared by its tests, and never flushed under the running servers."""
    use_redis(stack.redis.url)


@pytest.fixture(autouse=True)
def answering_servers(stack, clean_redis):
    """Each test starts on processes that answer and fan out changes.

    A process an earlier attack stopped is restarted, so every test fails for
    its own reason rather than for the one before it.
    """
    for daphne in stack.servers:
        if not answers_changes(daphne):
            daphne.stop()
            daphne.start()


def answers_changes(daphne, timeout=5):
    """Whether a new player on ``daphne`` gets a change answered and sees it in an UPDATE."""
    try:
        sock = open_player(daphne.port, address())
        sock.send(raw.set_frame(next(_boxes), 1))
        kinds, deadline = set(), time.monotonic() + timeout
        while kinds != {protocol.FRAME_RESULT, protocol.FRAME_UPDATE}:
            message = sock.read_message(max(deadline - time.monotonic(), 0.001))
            if isinstance(message, bytes):
                kinds.add(message[0])
        sock.close()
        return True
    except (OSError, TimeoutError, raw.HandshakeRefused):
        return False


class Player:
    """A NetPlayer reading in the background as the page does: acks, and fetches the state when told to."""

    def __init__(self, player):
        self.player = player
        self.closed = None
        self.task = asyncio.ensure_future(self._read())

    @classmethod
    async def join(cls, url):
        player = await NetPlayer(url, local_address=address()).join()
        await player.load()
        return cls(player)

    async def _read(self):
        try:
            while True:
                frame = await self.player.next_frame(timeout=3600)
                if self.player.frames % 10 == 0:
                    await self.player.ack()
                if isinstance(frame, dict) and frame["type"] == "resync":
                    await self.player.load()
        except ConnectionClosed as closed:
            self.closed = closed.code

    @property
    def replica(self):
        return self.player.replica

    def result_for(self, index):
        return next((entry for entry in reversed(self.player.results) if entry[0] == index), None)

    async def change(self, index, value=1, timeout=10):
        """Send a change; its RESULT entry (index, value, status, version)."""
        self.player.results.clear()
        await self.player.send_set(index, value)
        await until(lambda: self.result_for(index) or self.closed, timeout, f"a RESULT for box {index}")
        assert self.closed is None, f"the player's socket was closed with {self.closed}"
        return self.result_for(index)

    def beacons(self):
        return [control for control in self.player.controls if control["type"] == "beacon"]

    async def leave(self):
        """Stop reading and close, however the socket is; bounded, so a stalled server cannot hang teardown."""
        self.task.cancel()
        await asyncio.wait([self.task], timeout=5)
        try:
            async with asyncio.timeout(5):
                await self.player.leave()
        except (TimeoutError, OSError, websockets.WebSocketException):
            pass


async def until(predicate, timeout, what):
    """Wait for ``predicate`` to hold, polling; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.05)


@dataclass
class Bystanders:
    alice: Player  # on the attacked process
    bob: Player  # on the other one


@pytest.fixture
async def bystanders(stack):
    alice = await Player.join(stack.attacked.url)
    bob = await Player.join(stack.other.url)
    yield Bystanders(alice, bob)
    await alice.leave()
    await bob.leave()


async def assert_the_board_still_works(stack, bystanders):
    """Alice's change is answered, applied, seen on the other process and by a newcomer on hers."""
    newcomer = await Player.join(stack.attacked.url)
    try:
        assert newcomer.player.hello["type"] == "hello"
        index = next(_boxes)
        index, _, status, version = await bystanders.alice.change(index)
        assert status == Status.APPLIED
        bits, _, _ = await asyncio.to_thread(fetch_state, stack.attacked.url)
        assert bitset.get(bits, index) == 1
        for watcher in (newcomer, bystanders.bob):
            await until(lambda w=watcher: w.replica.version >= version, 10, "UPDATE with the bystander's change")
            assert watcher.replica.get(index) == 1
        assert newcomer.player.updates >= 1
    finally:
        await newcomer.leave()


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


async def peak_rss_mb(pid, seconds):
    """The highest RSS over ``seconds``: the server works through what it was sent after it was sent."""
    peak = rss_mb(pid)
    for _ in range(int(seconds / 0.25)):
        await asyncio.sleep(0.25)
        peak = max(peak, rss_mb(pid))
    return peak


def log_since(daphne, offset):
    return daphne.log_path.read_text(errors="replace")[offset:]


def log_size(daphne):
    return len(daphne.log_path.read_text(errors="replace"))


def hello_or_refusal(sock, timeout=10):
    """``"hello"``, or the close code of a socket refused right after its handshake."""
    message = sock.read_message(timeout)
    while message is not None and not (isinstance(message, dict) and message["type"] in ("hello", "error")):
        message = sock.read_message(timeout)
    if message is not None and message["type"] == "hello":
        return "hello"
    code, _ = sock.read_until_closed(timeout)
    return code


def closing(sock, timeout=20, answer=False):
    """``(code, messages)`` of a socket the server must be closing; AssertionError if it stays open."""
    try:
        return sock.read_until_closed(timeout, answer)
    except TimeoutError:
        raise AssertionError(f"the server kept the socket open for {timeout} s more") from None


def open_player(port, source):
    sock = raw.RawSocket(port, source).open()
    assert sock.read_message()["type"] == "hello"
    return sock


# -- sockets that end badly ---------------------------------------------------


async def test_sockets_closed_4429_with_changes_in_flight_harm_no_one(stack, bystanders):
    def attack():
        sock = open_player(stack.attacked.port, address())
        # Far past 7 changes a second: most are refused, and the socket is
        # closed while RESULTs are still queued for it. Answering the close at
        # once ends the connection before the hub has sent them.
        sock.send(*(raw.set_frame(index, 1) for index in range(150)))
        return closing(sock, answer=True)

    def attacks():
        with ThreadPoolExecutor(5) as pool:
            return list(pool.map(lambda _: attack(), range(5)))

    for code, messages in await asyncio.to_thread(attacks):
        assert code == protocol.CLOSE_TOO_MANY
        assert raw.errors(messages)[-1] in ("rate_limited", "too_many_frames")
    await assert_the_board_still_works(stack, bystanders)


async def test_a_socket_closed_4400_that_never_answers_the_close_harms_no_one(stack, bystanders):
    # Changes fanned out all along, so some reach the socket while its close is under way.
    drivers = [await Player.join(stack.attacked.url) for _ in range(2)]
    stop = threading.Event()
    driving = [asyncio.ensure_future(drive(d, stop, 10_000 + 1000 * k)) for k, d in enumerate(drivers)]

    source = address()

    def attack():
        sock = open_player(stack.attacked.port, source)
        # 51 bad frames, slower than the frame limit, so the bad-frame limit (50) closes it.
        for _ in range(51):
            sock.send(raw.frame(raw.TEXT, "not json"))
            time.sleep(0.03)
        # Past the server's wait for an answer to its close.
        time.sleep(3)
        return sock

    try:
        sock = await asyncio.to_thread(attack)
    finally:
        stop.set()
        await asyncio.gather(*driving)
    try:
        await assert_the_board_still_works(stack, bystanders)
        code, messages = await asyncio.to_thread(closing, sock)
    finally:
        sock.abort()
        for driver in drivers:
            await driver.leave()
    assert code == protocol.CLOSE_TOO_MANY_BAD_FRAMES
    assert raw.errors(messages).count("bad_frame") == 51
    # Logged with its board and network (docs/operations.md, "Logs").
    assert (
        "Closed a socket: too many bad frames, the last bad_frame (4400). "
        f"Board main, network {source}/32." in stack.attacked.log_path.read_text()
    )


def ledger_count(stack, source):
    """This address's sockets, as every process's ledger in Redis counts them."""
    client, total = stack.client(), 0
    for key in client.scan_iter(match="*{limits}:sockets:*"):
        if client.type(key) == b"hash":
            total += int(client.hget(key, f"{source}/32") or 0)
    return total


async def assert_the_network_can_open_its_full_share(stack, source):
    """Once the server noticed the drops, ``source`` opens 20 sockets again, and a 21st is refused."""
    # Not asserted: the ledger's layout is the server's business, the 20 sockets are the contract.
    deadline = time.monotonic() + 10
    while ledger_count(stack, source) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)

    def reopen():
        sockets = [raw.RawSocket(stack.servers[k % 2].port, source).open() for k in range(MAX_SOCKETS + 1)]
        outcomes = [hello_or_refusal(sock) for sock in sockets]
        for sock in sockets:
            sock.close()
        return outcomes

    outcomes = await asyncio.to_thread(reopen)
    assert outcomes[:MAX_SOCKETS] == ["hello"] * MAX_SOCKETS
    assert outcomes[MAX_SOCKETS] == protocol.CLOSE_TOO_MANY


async def test_a_ping_and_a_close_in_one_segment_leak_nothing(stack, bystanders):
    source = address()

    def attack():
        for k in range(25):
            sock = raw.RawSocket(stack.attacked.port, source).open()
            if k % 2:
                sock.read_message()  # the hello: the socket is in the hub by now
            sock.send(raw.text_frame({"type": "ping"}), raw.frame(raw.PING, b"x"), raw.close_frame())
            try:
                sock.read_until_closed(5)
            finally:
                sock.close()

    await asyncio.to_thread(attack)
    await assert_the_network_can_open_its_full_share(stack, source)
    await assert_the_board_still_works(stack, bystanders)


async def test_sockets_dropped_right_after_the_handshake_leak_nothing(stack, bystanders):
    source = address()

    def attack():
        for k in range(25):
            sock = raw.RawSocket(stack.attacked.port, source).open()
            if k % 2:
                sock.abort()
            else:
                sock.close()

    await asyncio.to_thread(attack)
    await assert_the_network_can_open_its_full_share(stack, source)
    await assert_the_board_still_works(stack, bystanders)


async def test_sockets_opened_together_from_one_network_are_counted_exactly(stack, bystanders):
    source, count = address(), MAX_SOCKETS + 5

    def attack():
        sockets = [raw.RawSocket(stack.servers[k % 2].port, source).connect() for k in range(count)]
        # Every request is out before any answer is read: the opens race.
        for sock in sockets:
            sock.sock.sendall(sock.request())
        outcomes = [hello_or_refusal(sock.finish_handshake()) for sock in sockets]
        for sock in sockets:
            sock.close()
        return outcomes

    outcomes = await asyncio.to_thread(attack)
    assert outcomes.count("hello") == MAX_SOCKETS
    assert outcomes.count(protocol.CLOSE_TOO_MANY) == count - MAX_SOCKETS
    await assert_the_board_still_works(stack, bystanders)


# -- clients that do not read ---------------------------------------------------


async def test_a_socket_flooding_pings_without_reading_is_closed_and_costs_bounded_memory(stack, bystanders):
    pid = stack.attacked.pid
    before = rss_mb(pid)

    def attack():
        sock = raw.RawSocket(stack.attacked.port, address(), receive_buffer=4096).open()
        pings = raw.text_frame({"type": "ping"}) * 1000
        deadline = time.monotonic() + 15
        for _ in range(150):
            if time.monotonic() > deadline or not sock.try_send(pings, timeout=2):
                break
        return sock

    sock = await asyncio.to_thread(attack)
    try:
        growth = await peak_rss_mb(pid, seconds=10) - before
        assert growth < 30, f"daphne grew by {growth:.1f} MB"
        code, messages = await asyncio.to_thread(closing, sock)
    finally:
        sock.abort()
    assert code in (protocol.CLOSE_TOO_MANY, protocol.CLOSE_TOO_MANY_BAD_FRAMES)
    assert "too_many_pings" in raw.errors(messages) or "too_many_frames" in raw.errors(messages)
    await assert_the_board_still_works(stack, bystanders)


def dropped_within(sock, seconds):
    """Whether the server ends the TCP connection within ``seconds`` (whatever it still sends is read)."""
    sock.sock.settimeout(seconds)
    try:
        while sock.sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        pass  # reset: dropped
    return True


def counted(daphne, name):
    """The value of counter ``name`` (a sample name, ``checkboxes_…_total``) on ``daphne``'s /metrics."""
    with urllib.request.urlopen(f"{daphne.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def held_sockets(daphne):
    return counted(daphne, "checkboxes_held_sockets_total")


async def test_a_socket_sending_faster_than_the_board_takes_its_frames_is_no_longer_read(stack, bystanders):
    # daphne parsed all a socket sent, 3,000 pings per 64 KB read, each loop
    # turn, and queued them without bound while the consumer took one a turn:
    # five such floods filled both processes for 10 s (docs/reliability.md).
    held = await asyncio.to_thread(held_sockets, stack.attacked)

    def attack():
        sock = raw.RawSocket(stack.attacked.port, address(), receive_buffer=4096).open()
        pings = raw.text_frame({"type": "ping"}) * 10_000
        for _ in range(100):
            if not sock.try_send(pings, timeout=2):
                return sock, False
        return sock, True

    sock, took_everything = await asyncio.to_thread(attack)
    try:
        assert not took_everything, "the server read 22 MB of pings from a socket it had closed"
        code, messages = await asyncio.to_thread(closing, sock)
        # Closed for abuse, it is not read again, its answering Close neither:
        # the connection is dropped once the close handshake times out (1 s).
        assert await asyncio.to_thread(dropped_within, sock, 5), "the connection stayed open 5 s after the Close"
    finally:
        sock.abort()
    assert code in (protocol.CLOSE_TOO_MANY, protocol.CLOSE_TOO_MANY_BAD_FRAMES)
    assert await asyncio.to_thread(held_sockets, stack.attacked) > held
    await assert_the_board_still_works(stack, bystanders)


async def drive(player, stop, first_box, rate=5):
    """An honest player changing boxes ``rate`` times a second until ``stop`` is set."""
    for k in itertools.count():
        if stop.is_set():
            return
        await player.player.send_set(first_box + k % 500, 1 - k // 500 % 2)
        await asyncio.sleep(1 / rate)


async def test_a_socket_that_never_reads_its_results_is_closed(stack, bystanders):
    """Its RESULTs, UPDATEs, pongs and beacons pile up unacknowledged until the server lets it go."""
    drivers = [await Player.join(stack.other.url) for _ in range(3)]
    stop = threading.Event()
    driving = [asyncio.ensure_future(drive(d, stop, 20_000 + 1000 * k)) for k, d in enumerate(drivers)]

    def attack():
        sock = raw.RawSocket(stack.attacked.port, address(), receive_buffer=4096).open()
        deadline = time.monotonic() + 60
        # About 6 changes a second: a few more than the socket's sustained
        # 80 per 15 s, so some are refused, far fewer than would close it 4429.
        for k in itertools.count():
            frames = raw.set_frame(30_000 + k, 1) + (raw.text_frame({"type": "ping"}) if k % 10 == 0 else b"")
            if time.monotonic() > deadline or not sock.try_send(frames, timeout=2):
                return sock, time.monotonic() < deadline
            time.sleep(0.16)

    try:
        sock, dropped = await asyncio.to_thread(attack)
    finally:
        stop.set()
        await asyncio.gather(*driving)
    try:
        assert dropped, "the server kept a socket that never reads open for 60 s"
        code, messages = await asyncio.to_thread(closing, sock)
    finally:
        sock.abort()
    assert code in (4408, raw.ABNORMAL)
    if code == 4408:
        assert "not_reading" in raw.errors(messages)
    # The server's close may not reach a client that does not read: it sees the connection end (1006).
    log = stack.attacked.log_path.read_text()
    assert "Closed a socket: not_reading (4408)." in log or "Dropped a socket: more than 1048576 bytes unread." in log
    await assert_the_board_still_works(stack, bystanders)
    for driver in drivers:
        await driver.leave()


# -- refused senders -------------------------------------------------------------


async def test_a_banned_network_flooding_changes_is_closed(stack, bystanders):
    source = address()
    await sync_to_async(moderation.ban)(source, "hostile-client test")

    def attack():
        sock = open_player(stack.attacked.port, source)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sock.send(raw.set_frame(40_000, 1))
            if refused_as_banned(sock.read_message()):
                break
            time.sleep(0.2)
        # Paced under the frame limit: it is the refusals that must close it.
        for k in range(300):
            if not sock.try_send(raw.set_frame(40_001 + k, 1), timeout=2):
                break
            time.sleep(0.025)
        return closing(sock)

    try:
        code, messages = await asyncio.to_thread(attack)
    finally:
        await sync_to_async(lift_bans)(source)
    assert code == protocol.CLOSE_TOO_MANY
    assert "banned" in raw.errors(messages)
    assert f"Closed a socket: banned (4429). Board main, network {source}/32." in stack.attacked.log_path.read_text()
    await assert_the_board_still_works(stack, bystanders)


def refused_as_banned(message):
    if not isinstance(message, bytes) or message[0] != protocol.FRAME_RESULT:
        return False
    _, entries = protocol.decode_results(message)
    return entries[0][2] == Status.BANNED


def lift_bans(source):
    Ban.objects.filter(network=f"{source}/32").delete()
    Ban.objects.filter(network=source).delete()
    moderation.announce_bans()


async def test_a_state_request_flood_leaves_the_page_and_changes_answered(stack, bystanders):
    source, statuses, done = address(), [], threading.Event()

    def flood():
        connection = http.client.HTTPConnection(
            "127.0.0.1", stack.attacked.port, timeout=10, source_address=(source, 0)
        )
        for _ in range(60):
            if done.is_set():
                break
            connection.request("GET", "/b/main/state", headers={"Accept-Encoding": "gzip"})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        connection.close()

    flooders = [threading.Thread(target=flood) for _ in range(16)]
    for thread in flooders:
        thread.start()
    try:
        with urllib.request.urlopen(f"{stack.attacked.url}/", timeout=10) as page:
            assert page.status == 200
        index, _, status, _ = await bystanders.alice.change(next(_boxes))
        assert status == Status.APPLIED
    finally:
        done.set()
        await asyncio.to_thread(lambda: [thread.join(30) for thread in flooders])
    # The per-network budget of the state endpoint (limits-spec: state requests 429).
    assert 429 in statuses
    await assert_the_board_still_works(stack, bystanders)


# -- Redis refusing writes -------------------------------------------------------


@contextmanager
def out_of_memory(stack):
    client = stack.client()
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", 1)
    try:
        yield
    finally:
        client.config_set("maxmemory", 0)


@contextmanager
def failed_save(stack):
    """MISCONF: an RDB save fails (its directory is gone) while saving is configured."""
    client = stack.client()
    client.config_set("stop-writes-on-bgsave-error", "yes")
    client.config_set("save", "3600 1")
    shutil.rmtree(stack.redis.directory)
    try:
        client.bgsave()
        deadline = time.monotonic() + 10
        while client.info("persistence")["rdb_last_bgsave_status"] == "ok" and time.monotonic() < deadline:
            time.sleep(0.05)
        yield
    finally:
        client.config_set("save", "")
        stack.redis.directory.mkdir(parents=True, exist_ok=True)


@contextmanager
def read_only(stack):
    """READONLY: the Redis becomes a replica of a primary that is not there, then a primary again.

    With no primary to sync from, it keeps its data and refuses every write.
    """
    client = stack.client()
    client.replicaof("127.0.0.1", free_port())
    try:
        yield
    finally:
        client.replicaof("NO", "ONE")


def tally_networks(stack):
    client, networks = stack.client(), set()
    for key in client.scan_iter(match="*{main}:tally:*"):
        networks.update(name.decode() for name in client.hkeys(key))
    return networks


def log_noise(text):
    """Warning and error lines, and tracebacks, in a stretch of a daphne log."""
    lines = [line for line in text.splitlines() if " WARNING " in line or " ERROR " in line or " CRITICAL " in line]
    return lines, text.count("Traceback")


@pytest.mark.parametrize("failure", [out_of_memory, failed_save, read_only], ids=["OOM", "MISCONF", "READONLY"])
async def test_redis_refusing_writes_for_a_few_seconds_then_recovering(stack, bystanders, failure):
    alice = bystanders.alice
    offsets = [log_size(daphne) for daphne in stack.servers]
    with failure(stack):
        _, _, status, _ = await alice.change(next(_boxes))
        assert status == Status.UNAVAILABLE
        # Not ready (a load balancer sends newcomers elsewhere), but alive.
        assert await asyncio.to_thread(http_status, stack.attacked.url + "/readyz") == 503
        assert await asyncio.to_thread(http_status, stack.attacked.url + "/healthz") == 200
        # Through a few beacons, periodic snapshots and a tally flush.
        await asyncio.sleep(6)
        _, _, status, _ = await alice.change(next(_boxes))
        assert status == Status.UNAVAILABLE
    # Alice's socket stayed open; her next change lands once Redis writes again.
    index = next(_boxes)
    deadline = time.monotonic() + 15
    while (entry := await alice.change(index))[2] != Status.APPLIED and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert entry[2] == Status.APPLIED
    assert await asyncio.to_thread(http_status, stack.attacked.url + "/readyz") == 200
    version = entry[3]
    await until(lambda: any(b["version"] >= version for b in alice.beacons()), 15, "beacon after the outage")
    newer = sync_to_async(lambda: Snapshot.objects.filter(board__slug="main", version__gte=version).exists())
    deadline = time.monotonic() + 15
    while not await newer() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await newer(), "no periodic snapshot after the outage"
    network = f"{alice.player.local_address}/32"
    await until(lambda: network in tally_networks(stack), 20, "tally of the change after the outage")
    for daphne, offset in zip(stack.servers, offsets, strict=True):
        lines, tracebacks = log_noise(log_since(daphne, offset))
        assert len(lines) <= 8, "\n".join(lines)
        assert tracebacks <= 1
    await assert_the_board_still_works(stack, bystanders)


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# -- handshakes refused ------------------------------------------------------------


@pytest.mark.parametrize("scheme_port", ["http://127.0.0.1:{other}", "https://127.0.0.1:{port}"])
async def test_a_socket_from_another_origin_is_refused(stack, bystanders, scheme_port):
    port = stack.attacked.port
    origin = scheme_port.format(port=port, other=free_port())
    with pytest.raises(raw.HandshakeRefused) as refused:
        await asyncio.to_thread(raw.RawSocket(port, address(), origin=origin).open)
    assert refused.value.status == 403
    same_origin = await asyncio.to_thread(open_player, port, address())
    same_origin.close()
    await assert_the_board_still_works(stack, bystanders)


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/b/", "/ws/b/main/extra/", "/nope"])
async def test_an_unroutable_socket_path_is_refused_quietly(stack, bystanders, path):
    offset = log_size(stack.attacked)

    def attack():
        for _ in range(5):
            try:
                raw.RawSocket(stack.attacked.port, address(), path=path).open()
            except raw.HandshakeRefused as refused:
                yield refused.status
            else:
                yield 101

    statuses = await asyncio.to_thread(lambda: list(attack()))
    assert set(statuses) <= {403, 404}, statuses
    assert "Traceback" not in log_since(stack.attacked, offset)
    await assert_the_board_still_works(stack, bystanders)


# -- the door ---------------------------------------------------------------------


async def test_a_network_refused_twenty_times_is_turned_away_at_accept_by_that_process_only(stack, bystanders):
    port, source = stack.attacked.port, address()

    def attack():
        statuses = []
        for _ in range(20):
            try:
                raw.RawSocket(port, source, origin=f"http://127.0.0.1:{free_port()}").open()
            except raw.HandshakeRefused as refused:
                statuses.append(refused.status)
        return statuses

    def turned_away():
        # Closed as it is accepted: no answer at all, not even a 403.
        with pytest.raises((raw.HandshakeRefused, OSError)) as refused:
            raw.RawSocket(port, source).open()
        assert getattr(refused.value, "status", None) is None
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
        with pytest.raises((http.client.HTTPException, OSError)):
            connection.request("GET", "/")
            connection.getresponse()
        connection.close()

    shuts = await asyncio.to_thread(counted, stack.attacked, "checkboxes_door_shuts_total")
    away = await asyncio.to_thread(counted, stack.attacked, "checkboxes_door_turned_away_total")
    assert await asyncio.to_thread(attack) == [403] * 20
    await asyncio.to_thread(turned_away)
    # Counted for the operator: one more shut, and the two connections turned away.
    assert await asyncio.to_thread(counted, stack.attacked, "checkboxes_door_shuts_total") == shuts + 1
    assert await asyncio.to_thread(counted, stack.attacked, "checkboxes_door_turned_away_total") >= away + 2
    # Logged (at most once a minute per process: earlier tests' attackers may have shut it too).
    assert "Shut the door to" in log_since(stack.attacked, 0)
    # The other process saw no refusal: it serves the same network.
    (await asyncio.to_thread(open_player, stack.other.port, source)).close()
    # And another network on the attacked process is served.
    (await asyncio.to_thread(open_player, port, address())).close()
    await assert_the_board_still_works(stack, bystanders)
