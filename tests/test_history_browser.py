"""A moderator in a real Chromium finds who wiped a drawing, reverts it in one action while a player watches the
drawing come back, keeping the player's own later change, and plays the board's last hour."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from board.models import Board
from harness.players import NetPlayer
from tests.boards import bit
from tests.pages import box, open_board
from tests.test_moderator_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("hubs")]

DRAWING = range(40)


async def sets(player, changes):
    """Make the changes one by one at a quick person's pace, within the shipped 7 a second."""
    for index, value in changes:
        await player.send_set(index, value)
        await player.receive_result()
        await asyncio.sleep(0.15)


async def test_a_moderator_finds_the_vandal_reverts_it_and_plays_the_last_hour(browser, daphnes, moderator):
    board = await sync_to_async(Board.objects.default)()
    (server,) = daphnes(1)
    artist = await NetPlayer(server.url, local_address="127.0.0.2").join()
    await sets(artist, [(index, 1) for index in DRAWING])
    vandal = await NetPlayer(server.url, local_address="127.0.0.3").join()
    await sets(vandal, [(index, 0) for index in DRAWING])
    player = await open_board(browser, server.url)
    # The player, on 127.0.0.1, checks box 7 of the wiped drawing again and box 45 beside it.
    for index in (7, 45):
        await box(player, index).click()
        await expect(box(player, index)).to_be_checked()

    mod = await log_in(browser, server.url, "erin")
    await mod.goto(f"{server.url}/admin/board/board/{board.pk}/boxes/")
    await mod.fill("#id_box", "3")
    await mod.click("input[value=Show]")
    await expect(mod.locator("#box-history")).to_contain_text("127.0.0.3/32")
    await mod.click("#box-history a:has-text('127.0.0.3/32')")
    await expect(mod.locator("#changes-count")).to_have_text("40")
    await mod.click("text=Revert its changes since then…")
    await expect(mod.locator("#revert-summary")).to_contain_text("Reverting changes 39 boxes")
    await mod.click("input[value='Yes, revert 39 boxes']")
    await expect(mod.locator(".messagelist")).to_contain_text("Reverted 39 boxes changed by 127.0.0.3/32")

    for index in (0, 3, 39):
        await expect(box(player, index)).to_be_checked()
    await expect(box(player, 45)).to_be_checked()
    await expect(player.locator("#count")).to_have_text("41")
    assert [bit("main", index) for index in DRAWING] == [1] * 40

    await mod.goto(f"{server.url}/admin/board/board/{board.pk}/timelapse/")
    await mod.fill("#id_since", "1h")
    await mod.fill("#id_frames", "10")
    await mod.click("input[value=Show]")
    await expect(mod.locator("img#timelapse")).to_be_visible()
    assert await mod.locator("img#timelapse").evaluate("img => img.naturalWidth") == 400
    await expect(mod.locator("#timelapse-moment")).to_contain_text("Frame 1 of 10")
    for netplayer in (artist, vandal):
        await netplayer.leave()
