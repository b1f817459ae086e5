"""The page in a real Chromium (Debian's, through Playwright), against real daphne."""

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from board.models import Board
from board.store import state
from tests.boards import bit, default_board
from tests.pages import READY, box, open_board

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("hubs")]


async def test_a_click_in_one_browser_appears_in_another(browser, daphnes):
    (server,) = daphnes(1)
    alice = await open_board(browser, server.url)
    bob = await open_board(browser, server.url)
    await expect(alice.locator("#count")).to_have_text("0")

    await box(alice, 5).click()

    await expect(box(alice, 5)).to_be_checked()
    await expect(box(bob, 5)).to_be_checked()
    await expect(bob.locator("#count")).to_have_text("1")
    await expect(alice.locator("#count")).to_have_text("1")
    assert bit("main", 5) == 1

    await box(bob, 5).click()
    await expect(box(alice, 5)).not_to_be_checked()
    await expect(alice.locator("#count")).to_have_text("0")


async def test_the_title_and_player_count_are_shown(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await expect(page).to_have_title("One Hundred Thousand Checkboxes")
    await expect(page.locator("h1")).to_have_text("One Hundred Thousand Checkboxes")
    await expect(page.locator("#players")).to_have_text("1")


async def test_only_the_visible_rows_are_in_the_dom(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    count = await page.locator("input.box").count()
    assert 100 < count < 3_000


async def test_a_million_box_board_loads_and_scrolls_to_the_last_box(browser, daphnes):
    await Board.objects.acreate(slug="million", size=1_000_000)
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/b/million/")
    await expect(page).to_have_title("One Million Checkboxes")
    await page.locator("#viewport").evaluate("element => { element.scrollTop = element.scrollHeight; }")
    last = box(page, 999_999)
    await expect(last).to_be_visible()
    assert await page.locator("input.box").count() < 5_000
    await last.click()
    await expect(last).to_be_checked()
    await expect(page.locator("#count")).to_have_text("1")
    assert bit("million", 999_999) == 1


async def test_jumping_to_a_box_scrolls_to_it_and_keeps_the_place_in_the_url(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await page.fill("#jump-to", "54321")
    await page.click("#jump button")
    await expect(box(page, 54_321)).to_be_in_viewport()
    await expect(page).to_have_url(re.compile(r"#543\d\d$"))
    await page.reload()
    await page.wait_for_function(READY)
    await expect(box(page, 54_321)).to_be_in_viewport()


async def test_a_jump_past_the_end_explains_the_range(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await page.fill("#jump-to", "100000")
    await page.click("#jump button")
    await expect(page.locator("#jump-message")).to_contain_text("0 to 99,999")


async def test_a_refused_change_is_rolled_back_with_a_message(browser, daphnes):
    board = await default_board()
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    # Freeze in Redis only, so the page doesn't know yet and the server refuses.
    await sync_to_async(state.set_frozen)(board, True)
    await box(page, 3).click()
    await expect(page.locator("#toast")).to_contain_text("frozen")
    await expect(box(page, 3)).not_to_be_checked()
    assert bit("main", 3) == 0


async def test_a_frozen_board_shows_a_banner_and_disables_boxes(browser, daphnes):
    board = await default_board()
    await sync_to_async(state.set_frozen)(board, True)
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await expect(page.locator("#frozen-banner")).to_be_visible()
    await expect(box(page, 0)).to_be_disabled()


async def test_the_page_reconnects_and_resyncs_after_a_server_restart(browser, daphnes, tmp_path):
    from harness.servers import Daphne

    board = await default_board()
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    server.kill()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    # While the page is away, the board changes.
    await sync_to_async(state.apply)(board, [(7, 1), (8, 1)])
    restarted = await asyncio.to_thread(Daphne(tmp_path, port=server.port).start)
    try:
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=20_000)
        await expect(box(page, 7)).to_be_checked()
        await expect(page.locator("#count")).to_have_text("2")
    finally:
        await asyncio.to_thread(restarted.stop)


async def test_an_unknown_board_is_a_404_page(browser, daphnes):
    (server,) = daphnes(1)
    page = await browser.new_page()
    response = await page.goto(server.url + "/b/no-such-board/")
    assert response.status == 404
    await expect(page.locator("h1")).to_have_text("No board here")
