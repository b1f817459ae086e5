"""A moderator in a real Chromium: logs into the admin, freezes the board, restores yesterday's snapshot and bans
a vandal, while a player's page shows each effect live."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from playwright.async_api import expect

from board.models import Ban, Board, Snapshot
from board.store import snapshots, state
from tests.boards import bit
from tests.pages import box, open_board

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("hubs")]

PASSWORD = "erin-moderates-42"  # the moderator fixture's


async def yesterdays_snapshot(*checked):
    board = await sync_to_async(Board.objects.default)()
    await sync_to_async(state.apply)(board, [(index, 1) for index in checked])
    snapshot = await sync_to_async(snapshots.take)(board, Snapshot.Reason.PERIODIC)
    await Snapshot.objects.filter(pk=snapshot.pk).aupdate(created=timezone.now() - timedelta(days=1))
    await sync_to_async(state.apply)(board, [(index, 0) for index in checked])
    return snapshot


async def log_in(browser, url, username):
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(url + "/admin/")
    await page.fill("#id_username", username)
    await page.fill("#id_password", PASSWORD)
    await page.click("input[type=submit]")
    await expect(page.locator("#site-name")).to_be_visible()
    return page


async def run_action(page, url, changelist, pk, label):
    await page.goto(f"{url}/admin/board/{changelist}/")
    await page.check(f"input.action-select[value='{pk}']")
    await page.select_option("select[name=action]", label=label)
    await page.click("button[name=index]")


async def test_a_moderator_freezes_restores_and_bans_while_a_player_watches(browser, daphnes, moderator):
    saved = await yesterdays_snapshot(1, 2, 3)
    board = await sync_to_async(Board.objects.default)()
    (server,) = daphnes(1)
    player = await open_board(browser, server.url)
    mod = await log_in(browser, server.url, "erin")

    # Freeze: the player sees the banner and can't change boxes.
    await run_action(mod, server.url, "board", board.pk, "Freeze the selected boards")
    await expect(mod.locator(".messagelist")).to_contain_text("Froze main")
    await expect(player.locator("#frozen-banner")).to_be_visible()
    await expect(box(player, 0)).to_be_disabled()

    await run_action(mod, server.url, "board", board.pk, "Unfreeze the selected boards")
    await expect(player.locator("#frozen-banner")).to_be_hidden()

    # A vandal (the player, as it happens) unchecks nothing and scribbles on box 10.
    await box(player, 10).click()
    await expect(box(player, 10)).to_be_checked()

    # Restore yesterday's snapshot from its page: the player's board switches to it.
    await mod.goto(f"{server.url}/admin/board/snapshot/{saved.pk}/change/")
    await expect(mod.locator("img.board-picture")).to_be_visible()
    await mod.click("text=Restore this snapshot…")
    await expect(mod.locator("h1")).to_contain_text(f"Restore snapshot #{saved.pk} onto main?")
    await mod.click(f"input[value='Yes, restore snapshot #{saved.pk}']")
    await expect(mod.locator(".messagelist")).to_contain_text(f"Restored snapshot #{saved.pk}")
    await expect(box(player, 1)).to_be_checked()
    await expect(box(player, 10)).not_to_be_checked()
    await expect(player.locator("#count")).to_have_text("3")

    # Ban the vandal from the board's page, where its network shows among the active ones.
    await box(player, 20).click()
    await expect(box(player, 20)).to_be_checked()
    ban_link = mod.locator("a.ban-link").first
    for _ in range(30):  # the tally reaches Redis every few seconds
        await mod.goto(f"{server.url}/admin/board/board/{board.pk}/change/")
        if await ban_link.count():
            break
        await mod.wait_for_timeout(500)
    await expect(mod.locator(".board-tally")).to_contain_text("127.0.0.1/32")
    await ban_link.click()
    await expect(mod.locator("#id_network")).to_have_value("127.0.0.1/32")
    await mod.select_option("#id_duration", label="For a day")
    await mod.click("input[name=_save]")
    await expect(mod.locator(".messagelist")).to_contain_text("was added successfully")
    assert await Ban.objects.filter(network="127.0.0.1/32", banned_by=moderator).aexists()

    await box(player, 30).click()
    await expect(player.locator("#toast")).to_contain_text("blocked by a moderator")
    await expect(box(player, 30)).not_to_be_checked()
    assert bit("main", 30) == 0
