"""The staff's live page: who may open it, and its figures against what real servers did under known load."""

import asyncio
import itertools
import json
import re
import time

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.urls import reverse
from playwright.async_api import expect

from board import moderation
from board.live import hub, report, tally
from board.models import Board, Snapshot
from board.store import snapshots, state
from board.store.state import Status
from harness.players import NetPlayer
from tests.conftest import use_redis
from tests.players import Player
from tests.test_experience import axe_violations
from tests.test_moderator_browser import log_in

PAGE = reverse("admin:board_board_live")
FIGURES = reverse("admin:board_board_live_figures")

pytestmark = pytest.mark.usefixtures("hubs")


def figures(client):
    response = client.get(FIGURES)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    return json.loads(response.content)


async def figures_when(client, ready, timeout=30):
    """Poll the endpoint as the page does until ``ready(figures)``; the last figures."""
    deadline = time.monotonic() + timeout
    while True:
        found = await sync_to_async(figures)(client)
        if ready(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


def hour_total(found, outcome):
    return sum(minute[outcome] for minute in found["minutes"])


def board_row(found, slug):
    return next(board for board in found["boards"] if board["slug"] == slug)


# -- who may open it ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [PAGE, FIGURES])
def test_someone_not_logged_in_is_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
@pytest.mark.parametrize("url", [PAGE, FIGURES])
def test_a_player_who_is_not_staff_is_sent_to_log_in(player_client, url):
    response = player_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_a_moderator_opens_the_page_from_the_board_list(moderator_client):
    boards = moderator_client.get(reverse("admin:board_board_changelist"))
    assert f'href="{PAGE}"'.encode() in boards.content
    page = moderator_client.get(PAGE)
    assert page.status_code == 200
    assert f'data-figures-url="{FIGURES}"'.encode() in page.content
    assert b"moderation/live" in page.content


# -- the figures, in process -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_hour_adds_up_every_boards_outcomes_per_minute(moderator_client):
    main, other = tally.Tally("main"), tally.Tally("other")
    main.answered([(1, 1, Status.APPLIED, 1), (2, 1, Status.APPLIED, 2), (3, 1, Status.RATE_LIMITED, 0)])
    other.answered([(1, 1, Status.APPLIED, 1), (1, 0, Status.FROZEN, 0), (5, 1, Status.UNCHANGED, 0)])
    await main.flush()
    await other.flush()

    found = await sync_to_async(figures)(moderator_client)

    assert len(found["minutes"]) == 60
    assert hour_total(found, "applied") == 3
    assert hour_total(found, "refused") == 2  # rate limited and frozen; unchanged is no refusal
    key = f"{settings.REDIS_PREFIX}:{{live}}:outcomes:{int(time.time() // 60)}"
    assert state.sync_client().ttl(key) > 59 * 60


@pytest.mark.django_db(transaction=True)
async def test_a_hubs_report_counts_its_sockets_changes_and_fan_out_lag():
    board = await sync_to_async(Board.objects.default)()
    alice, bob = await Player().join(board), await Player().join(board)
    for index in range(5):
        await alice.send_set(index, 1)
        await alice.receive_result()
    await bob.wait_for_version(5)  # the fan-out wrote bob's frames
    board_hub = await hub.hub_for("main")

    await board_hub.report.write(hub.PROCESS_ID, len(board_hub.sockets))
    (process,) = await sync_to_async(report.processes)()

    figures = process["boards"]["main"]
    assert process["process"] == hub.PROCESS_ID and process["started"] <= time.time()
    assert (figures["sockets"], figures["changes"]) == (2, 5)
    assert 0 < figures["lag"] < 30
    assert (board_hub.report.changes, board_hub.report.lag) == (0, 0)  # counted afresh after the report
    await alice.leave()
    await bob.leave()


@pytest.mark.django_db
def test_redis_memory_is_shown_against_its_limit(moderator_client):
    client = state.sync_client()
    client.config_set("maxmemory", 100 * 2**20)
    try:
        limited = figures(moderator_client)["redis"]
    finally:
        client.config_set("maxmemory", 0)
    unlimited = figures(moderator_client)["redis"]

    assert limited["max"] == 100 * 2**20
    assert 0 < limited["used"] < limited["max"]
    assert unlimited["max"] == 0  # the page says "no limit"


@pytest.mark.django_db
def test_each_board_shows_the_age_of_its_last_snapshot(moderator_client, main_board, small_board):
    state.apply(main_board, [(4, 1)])
    snapshots.take(main_board, Snapshot.Reason.PERIODIC)
    rows = {board["slug"]: board for board in figures(moderator_client)["boards"]}
    assert 0 <= rows["main"]["snapshot_age"] < 60
    assert rows["small"]["snapshot_age"] is None
    assert rows["main"]["url"] == reverse("admin:board_board_change", args=[main_board.pk])


@pytest.mark.django_db
def test_a_redis_that_does_not_answer_leaves_the_page_saying_so(moderator_client, main_board, redis_server):
    use_redis("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    try:
        found = figures(moderator_client)
    finally:
        use_redis(redis_server.url)
    assert found["minutes"] is None and found["processes"] is None and found["redis"] is None
    assert len(found["problems"]) == 3
    assert found["boards"][0]["players"] == 0


# -- against real servers ----------------------------------------------------------------------


async def test_the_figures_count_what_players_did_on_a_real_server(daphnes, moderator_client):
    (server,) = daphnes(1)
    alice, bob = [await NetPlayer(server.url).join() for _ in range(2)]
    for index in range(12):
        await (alice if index % 2 else bob).send_set(index, 1)
        assert (await (alice if index % 2 else bob).receive_result())[2] == Status.APPLIED
    board = await sync_to_async(Board.objects.default)()
    await sync_to_async(moderation.freeze)(board)
    await alice.receive_control("frozen")
    for index in range(20, 23):
        await alice.send_set(index, 1)
        # Frozen, or rate limited: nine changes in a second is past a socket's 7/1; a refusal either way.
        assert (await alice.receive_result())[2] in tally.REFUSALS

    found = await figures_when(
        moderator_client, lambda f: hour_total(f, "applied") == 12 and hour_total(f, "refused") == 3
    )

    assert (hour_total(found, "applied"), hour_total(found, "refused")) == (12, 3)
    assert board_row(found, "main")["players"] == found["players"] == 2
    (process,) = found["processes"]
    assert process["sockets"] == 2 and process["boards"] == {"main": 2}
    assert process["lag_ms"] >= 0 and process["uptime"] > 0
    await alice.leave()
    await bob.leave()


async def test_two_processes_report_their_own_sockets_and_a_dead_ones_report_expires(daphnes, moderator_client):
    first, second = daphnes(2, BOARD_BEACON_SECONDS="1")
    players = [await NetPlayer(server.url).join() for server in (first, second, second)]

    found = await figures_when(moderator_client, lambda f: sorted(p["sockets"] for p in f["processes"] or []) == [1, 2])
    assert sorted(p["sockets"] for p in found["processes"]) == [1, 2]
    assert board_row(found, "main")["players"] == 3

    second.kill()
    found = await figures_when(moderator_client, lambda f: len(f["processes"]) == 1)
    assert [p["sockets"] for p in found["processes"]] == [1]
    assert board_row(found, "main")["players"] == 1
    assert len(report.processes()) == 1
    await players[0].leave()


# -- in a real browser -------------------------------------------------------------------------


async def keep_playing(players, stop):
    """Each player checks the next box in turn, a few a second, until told to stop."""
    for index in itertools.count():
        if stop.is_set():
            return
        player = players[index % len(players)]
        await player.send_set(index, 1)
        await player.receive_result(timeout=10)
        await player.ack()
        await asyncio.sleep(0.25)


@pytest.mark.browser
@pytest.mark.slow
async def test_the_page_shows_the_load_move_in_a_real_browser_without_reloading(browser, daphnes, moderator, tmp_path):
    (server,) = daphnes(1)
    page = await log_in(browser, server.url, "erin")
    await page.click("text=Live")
    await expect(page.locator("h1")).to_have_text("Live")
    await expect(page.locator("#live-players")).to_have_text("0", timeout=15_000)
    await expect(page.locator("#live-changes")).to_have_text("0")
    await page.evaluate("window.sameDocument = true")

    players = [await NetPlayer(server.url).join() for _ in range(2)]
    stop = asyncio.Event()
    playing = asyncio.create_task(keep_playing(players, stop))
    try:
        await expect(page.locator("#live-players")).to_have_text("2", timeout=30_000)
        await expect(page.locator("#live-changes")).to_have_text(re.compile(r"^[1-9]"), timeout=30_000)
        await expect(page.locator("#live-processes tbody")).to_contain_text("main (2)")
        await expect(page.locator("#live-processes tbody")).to_contain_text(re.compile(r"\d ms"))
        await expect(page.locator("#live-memory")).to_contain_text("no limit")
        await expect(page.locator("#live-boards tbody tr").first).to_contain_text("main")
        await expect(page.locator("#live-chart rect.live-applied")).to_have_count(60)
        assert await page.evaluate("window.sameDocument") is True  # moved without a reload
        assert await axe_violations(page) == []
        await page.screenshot(path=tmp_path / "admin-live.png", full_page=False)
    finally:
        stop.set()
        await playing
    for player in players:
        await player.leave()
