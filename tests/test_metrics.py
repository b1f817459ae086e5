"""Prometheus metrics (board/metrics.py): what two real processes count matches what their players did."""

import asyncio
import ipaddress
import json
import re
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from asgiref.sync import sync_to_async
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from board import metrics
from board.live import protocol
from board.models import Board, Snapshot
from board.store import state
from board.store.state import Status
from harness.players import NetPlayer, fetch_state

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("hubs")]

ROOT = Path(__file__).resolve().parent.parent
OUTCOMES = {status: status.name.lower() for status in Status}


def fetch_metrics(server, headers=None):
    """``(status, text)`` of GET /metrics on ``server``, asked from 127.0.0.1."""
    request = urllib.request.Request(f"{server.url}/metrics", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(server, headers=None):
    """Every sample of the server's /metrics: ``{(name, ((label, value), …)): value}``."""
    status, text = fetch_metrics(server, headers)
    assert status == 200, text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


async def eventually(server, check, timeout=20):
    """Scrape until ``check(samples)`` holds (the server counts a close after the client saw it)."""
    async with asyncio.timeout(timeout):
        while True:
            samples = await asyncio.to_thread(scrape, server)
            if check(samples):
                return samples
            await asyncio.sleep(0.2)


class Tally:
    """What one process's players were told: the statuses of their changes, the errors, the closes."""

    def __init__(self):
        self.outcomes = Counter()
        self.state_requests = 0
        self.state_bytes = 0

    async def results(self, player, count):
        for _ in range(count):
            self.outcomes[(player.slug, OUTCOMES[(await player.receive_result())[2]])] += 1

    async def load(self, player):
        await player.load()
        self.state_requests += 1
        self.state_bytes += len(player.replica.bits)

    def batched(self):
        """Changes the writer sent to Redis: applied, unchanged, refused by a frozen board or by Redis."""
        sent = ("applied", "unchanged", "frozen", "unavailable")
        return sum(n for (_, outcome), n in self.outcomes.items() if outcome in sent)


async def play_sequentially(player, tally, boxes):
    """One change at a time: each is a batch of its own, and a batch of its own on the channel layer."""
    for index in boxes:
        await player.send_set(index, 1)
        await tally.results(player, 1)


async def test_two_processes_count_exactly_what_their_players_did(daphnes):
    first, second = daphnes(2)
    await Board.objects.acreate(slug="ice", size=50, frozen=True)
    a, b = Tally(), Tally()

    alice = await NetPlayer(first.url).join()
    carol = await NetPlayer(first.url, slug="ice").join()
    bob = await NetPlayer(second.url).join()
    for player, tally in ((alice, a), (bob, b)):
        await tally.load(player)

    # Both processes see their own sockets while they are open.
    samples = await eventually(first, lambda s: value(s, "checkboxes_sockets", board="ice") == 1)
    assert value(samples, "checkboxes_sockets", board="main") == 1
    assert value(await asyncio.to_thread(scrape, second), "checkboxes_sockets", board="main") == 1

    # Process A: five new boxes, one again (unchanged), one past the end, one of value 2, one frozen board.
    await play_sequentially(alice, a, [10, 11, 12, 13, 14])
    await play_sequentially(alice, a, [10])
    await alice.send_set(1_000_000, 1)
    await alice.send_set(7, 2)
    errors = [await alice.receive_control("error"), await alice.receive_control("error")]
    assert [error["code"] for error in errors] == ["index_out_of_range", "bad_value"]
    a.outcomes[("main", "out_of_range")] += 1
    a.outcomes[("main", "bad_value")] += 1
    await play_sequentially(carol, a, [3])
    assert a.outcomes[("ice", "frozen")] == 1
    # A burst past the socket's bucket (45 at once, past its 40 tokens but within the 50 frames a
    # second, in a second of its own): some are refused before they reach the board.
    await asyncio.sleep(1.1)
    for index in range(100, 145):
        await alice.send_set(index, 1)
    await a.results(alice, 45)
    assert a.outcomes[("main", "rate_limited")] > 0
    # A malformed frame, which is not a change.
    await alice.send(b"\x09")
    bad = await alice.receive_control("error")

    # Process B: three boxes, then one while Redis is full.
    await play_sequentially(bob, b, [20, 21, 22])
    client = state.async_client()
    await client.config_set("maxmemory", 1)
    try:
        await play_sequentially(bob, b, [23])
    finally:
        await client.config_set("maxmemory", 0)
    assert b.outcomes[("main", "unavailable")] == 1

    # Everyone has every applied change: every UPDATE frame A handed out was read.
    applied = a.outcomes[("main", "applied")] + b.outcomes[("main", "applied")]
    await alice.wait_for_version(applied, timeout=20)
    await bob.wait_for_version(applied, timeout=20)

    # A socket that is refused with a known code: an unknown board (4404), on B.
    stranger = NetPlayer(second.url, slug="nowhere")
    await stranger.open()
    assert await stranger.closed_with() == protocol.CLOSE_BOARD_NOT_FOUND

    samples_a = await asyncio.to_thread(scrape, first)
    samples_b = await asyncio.to_thread(scrape, second)
    for samples, tally in ((samples_a, a), (samples_b, b)):
        counted = {
            (board, outcome): value(samples, "checkboxes_changes_total", board=board, outcome=outcome)
            for board in ("main", "ice")
            for outcome in OUTCOMES.values()
        }
        assert {key: n for key, n in counted.items() if n} == dict(tally.outcomes)
        assert value(samples, "checkboxes_batch_size_sum") == tally.batched()
        assert value(samples, "checkboxes_lua_apply_seconds_count") == value(samples, "checkboxes_batch_size_count")
        assert value(samples, "checkboxes_state_requests_total", status="200") == tally.state_requests
        assert value(samples, "checkboxes_state_bytes_total") == tally.state_bytes
    assert value(samples_a, "checkboxes_bad_frames_total", code=bad["code"]) == 1
    assert value(samples_b, "checkboxes_redis_errors_total", kind="OOM") >= 1
    assert value(samples_a, "checkboxes_redis_errors_total", kind="OOM") == 0
    # Each change on B was a batch of its own, and each was published once.
    assert value(samples_b, "checkboxes_batch_size_count") == 4
    assert value(samples_b, "checkboxes_channel_messages_total", direction="sent", type="board.batch") == 3
    # Every process hears every published batch, its own included.
    published = sum(
        value(s, "checkboxes_channel_messages_total", direction="sent", type="board.batch")
        for s in (samples_a, samples_b)
    )
    for samples in (samples_a, samples_b):
        assert value(samples, "checkboxes_channel_messages_total", direction="received", type="board.batch") == (
            published
        )
    assert value(samples_a, "checkboxes_update_frames_total") == alice.updates
    assert value(samples_a, "checkboxes_joins_total", board="main") == 1
    assert value(samples_a, "checkboxes_joins_total", board="ice") == 1
    assert value(samples_b, "checkboxes_joins_total", board="main") == 1
    assert value(samples_b, "checkboxes_closes_total", code="4404") == 1

    for player in (alice, carol, bob):
        await player.leave()
    samples_a = await eventually(first, lambda s: value(s, "checkboxes_closes_total", code="1000") == 2)
    samples_b = await eventually(second, lambda s: value(s, "checkboxes_closes_total", code="1000") == 1)
    assert value(samples_a, "checkboxes_sockets", board="main") == value(samples_a, "checkboxes_sockets", board="ice")
    assert value(samples_a, "checkboxes_sockets", board="ice") == 0
    assert value(samples_b, "checkboxes_sockets", board="main") == 0
    assert value(samples_b, "checkboxes_closes_total", code="4404") == 1
    assert value(samples_a, "checkboxes_closes_total", code="4404") == 0


async def test_a_redis_outage_is_counted_as_connection_errors_4503_closes_and_503_states(daphnes, own_redis):
    (server,) = daphnes(1, REDIS_URL=own_redis.url, BOARD_BEACON_SECONDS=1)
    alice = await NetPlayer(server.url).join()
    own_redis.stop()
    try:
        assert await alice.closed_with(timeout=15) == protocol.CLOSE_UNAVAILABLE
        with pytest.raises(urllib.error.HTTPError) as refused:
            await asyncio.to_thread(fetch_state, server.url)
        assert refused.value.code == 503
        samples = await eventually(server, lambda s: value(s, "checkboxes_closes_total", code="4503") == 1)
    finally:
        own_redis.start()
    assert value(samples, "checkboxes_redis_errors_total", kind="ConnectionError") >= 1
    assert value(samples, "checkboxes_state_requests_total", status="503") == 1
    assert value(samples, "checkboxes_sockets", board="main") == 0


async def test_the_snapshot_age_is_counted_from_the_newest_snapshot_in_the_database(daphnes):
    board = await sync_to_async(Board.objects.default)()
    bits, meta = await state.aread(board)
    snapshot = Snapshot.of(board, bits, meta.version, meta.count, reason=Snapshot.Reason.MANUAL)
    snapshot.created = timezone.now() - timedelta(hours=2)
    await snapshot.asave()
    (server,) = daphnes(1)
    alice = await NetPlayer(server.url).join()
    samples = await eventually(server, lambda s: ("checkboxes_snapshot_age_seconds", (("board", "main"),)) in s)
    age = value(samples, "checkboxes_snapshot_age_seconds", board="main")
    assert 2 * 3600 <= age < 2 * 3600 + 600
    await alice.leave()


async def test_metrics_are_refused_outside_the_allowed_networks_and_served_with_the_token(daphnes):
    (server,) = daphnes(1, METRICS_ALLOWED_NETWORKS="10.0.0.0/8", METRICS_TOKEN="scrape-me-42")
    status, text = await asyncio.to_thread(fetch_metrics, server)
    assert status == 403
    assert "checkboxes_" not in text
    status, _ = await asyncio.to_thread(fetch_metrics, server, {"Authorization": "Bearer guessed"})
    assert status == 403
    status, text = await asyncio.to_thread(fetch_metrics, server, {"Authorization": "Bearer scrape-me-42"})
    assert status == 200
    assert "checkboxes_changes_total" in text


async def test_a_request_through_a_proxy_needs_the_token_even_from_an_allowed_network(daphnes):
    (server,) = daphnes(1)
    assert (await asyncio.to_thread(fetch_metrics, server))[0] == 200
    status, _ = await asyncio.to_thread(fetch_metrics, server, {"X-Forwarded-For": "203.0.113.9"})
    assert status == 403


async def test_through_the_shipped_nginx_metrics_need_the_token(daphnes, nginx):
    (server,) = daphnes(1, METRICS_TOKEN="scrape-me-42")
    proxy = nginx([server.port])
    assert (await asyncio.to_thread(fetch_metrics, proxy))[0] == 403
    status, text = await asyncio.to_thread(fetch_metrics, proxy, {"Authorization": "Bearer scrape-me-42"})
    assert status == 200
    assert "checkboxes_sockets" in text


async def test_with_metrics_disabled_nothing_is_counted(daphnes):
    (server,) = daphnes(1, METRICS_ENABLED="0")
    alice = await NetPlayer(server.url).join()
    await alice.send_set(5, 1)
    assert (await alice.receive_result())[2] == Status.APPLIED
    samples = await asyncio.to_thread(scrape, server)
    assert not [key for key in samples if key[0] == "checkboxes_changes_total"]
    assert value(samples, "checkboxes_batch_size_count") == 0
    await alice.leave()


# -- who may read them, and how errors are named ------------------------------

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1")]


@pytest.mark.parametrize(
    "client, headers, token, allowed",
    [
        ("127.0.0.1", [], "", True),
        ("::1", [], "", True),
        ("::ffff:127.0.0.1", [], "", True),
        ("192.0.2.7", [], "", False),
        ("", [], "", False),
        ("127.0.0.1", [(b"x-forwarded-for", b"203.0.113.9")], "", False),
        ("127.0.0.1", [(b"forwarded", b"for=203.0.113.9")], "", False),
        ("192.0.2.7", [(b"authorization", b"Bearer s3cret")], "s3cret", True),
        ("192.0.2.7", [(b"authorization", b"bearer s3cret")], "s3cret", True),
        ("192.0.2.7", [(b"authorization", b"Bearer wrong")], "s3cret", False),
        ("192.0.2.7", [(b"authorization", b"Basic s3cret")], "s3cret", False),
        # No token set: an empty bearer lets nobody in.
        ("192.0.2.7", [(b"authorization", b"Bearer ")], "", False),
        ("127.0.0.1", [(b"x-forwarded-for", b"203.0.113.9"), (b"authorization", b"Bearer s3cret")], "s3cret", True),
    ],
)
def test_who_may_read_the_metrics(client, headers, token, allowed):
    assert metrics.allowed(client, headers, LOOPBACK, token) is allowed


@pytest.mark.parametrize(
    "error, kind",
    [
        (redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."), "OOM"),
        (redis.exceptions.ReadOnlyError("You can't write against a read only replica."), "READONLY"),
        (redis.ResponseError("MISCONF Redis is configured to save RDB snapshots"), "MISCONF"),
        (redis.ResponseError("BUSY Redis is busy running a script."), "BUSY"),
        (redis.ResponseError("wrong number of arguments for 'get' command"), "ResponseError"),
        (redis.ConnectionError("Connection refused"), "ConnectionError"),
        (redis.TimeoutError("Timeout reading from socket"), "TimeoutError"),
    ],
)
def test_redis_errors_are_named_by_their_reply_prefix_or_class(error, kind):
    assert metrics.redis_error_kind(error) == kind


def test_a_redis_error_is_counted_once_however_many_layers_see_it():
    def counted():
        return metrics.REGISTRY.get_sample_value("checkboxes_redis_errors_total", {"kind": "ConnectionError"}) or 0

    before = counted()
    try:
        try:
            raise redis.ConnectionError("Connection refused")
        except redis.ConnectionError as error:
            metrics.redis_error(error)
            raise state.StateUnavailable(str(error)) from error
    except state.StateUnavailable as unavailable:
        metrics.redis_error(unavailable)
        metrics.redis_error(unavailable)
    assert counted() == before + 1


# -- what the dashboard and the docs name --------------------------------------

METRIC_NAME = re.compile(r"\bcheckboxes_[a-z_]+[a-z]\b")


def names_in_dashboard():
    dashboard = json.loads((ROOT / "deploy/grafana/checkboxes.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert expressions
    return {name for expression in expressions for name in METRIC_NAME.findall(expression)}


def names_in_docs():
    text = (ROOT / "docs/operations.md").read_text() + (ROOT / "docs/performance.md").read_text()
    return set(METRIC_NAME.findall(text)) - {"checkboxes_project"}


def exposed_names(text):
    """Sample names, and the names of families with no sample yet (a labelled counter before its first inc)."""
    names = {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return names


async def test_every_metric_the_dashboard_and_the_docs_name_is_in_a_real_scrape(daphnes):
    (server,) = daphnes(1)
    alice = await NetPlayer(server.url).join()
    status, text = await asyncio.to_thread(fetch_metrics, server)
    await alice.leave()
    assert status == 200
    exposed = exposed_names(text)
    assert not names_in_dashboard() - exposed
    documented = names_in_docs()
    assert len(documented) >= 15
    assert not documented - exposed


def test_every_metric_is_documented():
    text = metrics.exposition()[0].decode()
    documented = {name.removesuffix("_total") for name in names_in_docs()}
    # prometheus-client's _created sample of a histogram parses as a family of its own.
    families = {family.name for family in text_string_to_metric_families(text)} - set(re.findall(r"\S+_created", text))
    assert len(families) >= 15
    assert not families - documented


def test_prometheus_scrapes_every_process_the_systemd_target_starts():
    target = (ROOT / "deploy/systemd/checkboxes.target").read_text()
    ports = set(re.findall(r"checkboxes@(\d+)\.service", target))
    config = (ROOT / "deploy/prometheus/prometheus.yml").read_text()
    scraped = set(re.findall(r"^\s*- 127\.0\.0\.1:(\d+)\s*$", config, re.MULTILINE))
    assert ports
    assert scraped == ports
