"""The deployment in deploy/, as shipped: nginx in front of two daphne processes and one Redis."""

import asyncio
import gzip
import http.client
import time
import urllib.error
import urllib.request

import pytest
import redis
import websockets

from board.management.serving import LocalRedis
from board.store import state
from board.store.state import Status
from harness import raw
from harness.nginx import Nginx
from harness.players import ConnectionClosed, NetPlayer
from harness.servers import BASE_DIR

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("hubs")]

REDIS_CONF = BASE_DIR / "deploy" / "redis" / "checkboxes.conf"


@pytest.fixture
def deploy_redis(tmp_path):
    """A Redis started from deploy/redis/checkboxes.conf, on a free port of the test's own."""
    server = LocalRedis(tmp_path / "redis", config=REDIS_CONF).start()
    yield server
    server.stop()


def fetch(url, **headers):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def sockets_by_process(client, servers):
    """Open sockets on the main board per daphne, from the presence hash the hubs keep in Redis."""
    by_pid = {}
    for process, entry in client.hgetall(state.presence_key("main")).items():
        by_pid[int(process.decode().split(":")[1])] = int(entry.split()[0])
    return [by_pid.get(server.process.pid, 0) for server in servers]


async def until(condition, timeout=15):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.1)


async def play(player, indices):
    """Check the boxes at a quick person's pace, within the shipped 7 a second; each must apply."""
    for index in indices:
        await player.send_set(index, 1)
        assert (await player.receive_result())[2] == Status.APPLIED
        await asyncio.sleep(0.2)


async def rejoined_if_dropped(player, url):
    """The player itself if its socket still answers, else a new one joined through ``url``."""
    try:
        await player.send_json({"type": "ping", "token": "still-there"})
        await player.receive_control("pong")
        return player
    except (ConnectionClosed, websockets.ConnectionClosed):
        again = await NetPlayer(url).join()
        await again.load()
        return again


def test_the_shipped_nginx_configuration_is_valid(tmp_path):
    output = Nginx(tmp_path, [8001, 8002], tmp_path).check()
    assert "test is successful" in output


def test_the_shipped_redis_configuration_is_durable_and_never_evicts(deploy_redis):
    with redis.Redis.from_url(deploy_redis.url) as client:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}


async def test_players_through_nginx_share_the_board_and_survive_losing_a_process(daphnes, nginx, deploy_redis):
    servers = daphnes(
        2,
        REDIS_URL=deploy_redis.url,
        TRUSTED_PROXIES="127.0.0.1/32",
        BOARD_BEACON_SECONDS=1,
    )
    proxy = nginx([server.port for server in servers])
    client = redis.Redis.from_url(deploy_redis.url)

    # Players come from 127.0.0.2 and 127.0.0.3, nginx from 127.0.0.1. A forged
    # X-Forwarded-For is ignored: nginx appends the real peer, and the app
    # reads the chain from the right.
    alice = await NetPlayer(proxy.url, headers={"X-Forwarded-For": "192.0.2.1"}, local_address="127.0.0.2").join()
    bob = await NetPlayer(proxy.url, local_address="127.0.0.3").join()
    await alice.load()
    await bob.load()
    # nginx's least_conn put them on different processes.
    await until(lambda: sockets_by_process(client, servers) == [1, 1])
    ledgers = [client.hgetall(name) for name in client.smembers(f"{state.settings.REDIS_PREFIX}:{{limits}}:ledgers")]
    assert sorted(ledgers, key=str) == [{b"127.0.0.2/32": b"1"}, {b"127.0.0.3/32": b"1"}]

    await asyncio.gather(play(alice, range(5)), play(bob, range(10, 15)))
    await alice.catch_up(10)
    await bob.catch_up(10)
    assert alice.replica.bits == bob.replica.bits == bytearray(client.get(state.keys("main")[0]))

    # One daphne dies mid-run; its player reconnects through nginx to the other.
    servers[0].kill()
    before = (alice, bob)
    alice = await rejoined_if_dropped(alice, proxy.url)
    bob = await rejoined_if_dropped(bob, proxy.url)
    assert [old is new for old, new in zip(before, (alice, bob), strict=True)].count(False) == 1
    await until(lambda: sockets_by_process(client, servers)[1] == 2)
    await asyncio.gather(play(alice, range(20, 25)), play(bob, range(30, 35)))
    await alice.catch_up(20)
    await bob.catch_up(20)
    bits = bytearray(client.get(state.keys("main")[0]))
    assert alice.replica.bits == bob.replica.bits == bits
    assert [index for index in range(40) if alice.replica.get(index)] == [*range(5), *range(10, 15)] + [
        *range(20, 25),
        *range(30, 35),
    ]
    await alice.leave()
    await bob.leave()
    client.close()


async def test_nginx_serves_static_files_itself_even_with_every_process_down(daphnes, nginx, static_root):
    servers = daphnes(1)
    proxy = nginx([server.port for server in servers])
    status, headers, body = fetch(f"{proxy.url}/static/board/main.js", **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == (BASE_DIR / "static" / "board" / "main.js").read_bytes()
    assert fetch(f"{proxy.url}/")[0] == 200

    servers[0].kill()
    assert fetch(f"{proxy.url}/static/board/grid.js")[0] == 200
    assert fetch(f"{proxy.url}/")[0] == 502


def get_from(proxy, path, source, **headers):
    """``(status, headers, body)`` of a GET through nginx from the loopback address ``source``."""
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


async def test_nginx_answers_repeats_of_the_state_from_its_cache(daphnes, nginx):
    (server,) = daphnes(1)
    proxy = nginx([server.port])

    first = get_from(proxy, "/b/main/state", "127.0.0.2", **{"Accept-Encoding": "gzip"})
    # Within the second the first one is cached for; bounded, as a loaded machine may be slow.
    again = [get_from(proxy, "/b/main/state", "127.0.0.2", **{"Accept-Encoding": "gzip"}) for _ in range(5)]

    assert first[0] == 200 and first[1]["X-Cache-Status"] == "MISS"
    hits = [reply for reply in again if reply[1]["X-Cache-Status"] == "HIT"]
    assert hits, [reply[1]["X-Cache-Status"] for reply in again]
    assert all(reply[2] == first[2] and reply[1]["ETag"] == first[1]["ETag"] for reply in hits)
    assert gzip.decompress(first[2]) == bytes(12_500)
    assert first[1]["ETag"].startswith('W/"')
    # Another encoding is another cached copy, not the gzip one.
    plain = get_from(proxy, "/b/main/state", "127.0.0.2")
    assert plain[2] == bytes(12_500) and "Content-Encoding" not in plain[1]
    # The weak tag revalidates through the cache too.
    revalidated = get_from(
        proxy, "/b/main/state", "127.0.0.2", **{"Accept-Encoding": "gzip", "If-None-Match": first[1]["ETag"]}
    )
    assert revalidated[0] == 304


async def test_nginx_answers_a_state_flood_429_and_the_page_and_changes_keep_working(daphnes, nginx):
    (server,) = daphnes(1, TRUSTED_PROXIES="127.0.0.1/32")
    proxy = nginx([server.port])

    statuses = []
    for _ in range(300):
        status, _, body = get_from(proxy, "/b/main/state", "127.0.0.4")
        statuses.append(status)
        if status == 429:
            break

    assert statuses[-1] == 429
    assert set(statuses) == {200, 429}
    # nginx's own refusal: the flood never reached daphne.
    assert b"nginx" in body
    # Another address is untouched: its page, its state and its changes.
    assert get_from(proxy, "/", "127.0.0.5")[0] == 200
    assert get_from(proxy, "/b/main/state", "127.0.0.5")[0] == 200
    carol = await NetPlayer(proxy.url, local_address="127.0.0.5").join()
    await carol.send_set(42, 1)
    assert (await carol.receive_result())[2] == state.Status.APPLIED
    await carol.leave()


async def test_nginx_refuses_a_flood_of_socket_openings_before_daphne_and_others_still_play(daphnes, nginx):
    (server,) = daphnes(1, TRUSTED_PROXIES="127.0.0.1/32")
    proxy = nginx([server.port])

    def open_and_close():
        sock = raw.RawSocket(proxy.port, "127.0.0.7")
        try:
            sock.open()
        except raw.HandshakeRefused as refused:
            return refused.status, refused.response
        finally:
            sock.close()
        return 101, b""

    outcomes = []
    for _ in range(100):
        outcomes.append(await asyncio.to_thread(open_and_close))
        if outcomes[-1][0] == 429:
            break
    statuses = [status for status, _ in outcomes]
    # The burst of 30 passes (then daphne's own limit of 60 a minute would
    # follow); past it nginx answers 429 itself, without asking daphne.
    assert statuses[-1] == 429 and statuses.count(101) >= 30
    assert b"nginx" in outcomes[-1][1]
    carol = await NetPlayer(proxy.url, local_address="127.0.0.8").join()
    await carol.send_set(43, 1)
    assert (await carol.receive_result())[2] == state.Status.APPLIED
    await carol.leave()


def log_has(server, text, timeout=10):
    """Whether ``text`` shows up in the server's output within ``timeout`` s (daphne's access log included)."""
    deadline = time.monotonic() + timeout
    while text not in server.log_path.read_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


async def test_the_admin_goes_to_a_process_of_its_own_that_serves_no_sockets(daphnes, nginx):
    (players,) = daphnes(1)
    (admin,) = daphnes(1, CHECKBOXES_SERVE_SOCKETS="0")
    proxy = nginx([players.port], admin_port=admin.port)

    assert fetch(f"{proxy.url}/admin/login/")[0] == 200
    assert fetch(f"{proxy.url}/")[0] == 200
    assert log_has(admin, '"GET /admin/login/"')
    assert log_has(players, '"GET /"')
    assert "/admin/" not in players.log_path.read_text()

    # Sockets through nginx reach the players' process; the admin's refuses them.
    sock = await asyncio.to_thread(raw.RawSocket(proxy.port).open)
    assert (await asyncio.to_thread(sock.read_message))["type"] == "hello"
    sock.close()
    with pytest.raises(raw.HandshakeRefused) as refused:
        await asyncio.to_thread(raw.RawSocket(admin.port).open)
    assert refused.value.status == 403
    assert log_has(admin, "Refused a socket: this process serves no sockets (403).")
    assert fetch(f"{admin.url}/readyz")[0] == 200
