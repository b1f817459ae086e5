"""What a person sees when something is wrong: another site's page, Redis away (real Chromium)."""

import asyncio
import os
import re
import signal

import pytest
import redis
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from board.models import Board
from board.store import state
from tests.pages import DESKTOP, READY, box

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("hubs")]

OPEN_SOCKET = """
url => new Promise(resolve => {
  const socket = new WebSocket(url);
  socket.onopen = () => { socket.close(); resolve("open"); };
  socket.onclose = event => resolve("closed " + event.code);
})
"""


@pytest.fixture
def other_site():
    """A page of another site, on its own loopback address (127.0.0.2 is not an allowed host)."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<h1>Totally legit</h1>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.2:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_page_from_another_origin_cannot_open_the_socket(browser, daphnes, other_site):
    (server,) = daphnes(1)
    socket_url = server.url.replace("http", "ws", 1) + "/ws/b/main/"
    page = await browser.new_page()
    await page.goto(other_site)
    assert await page.evaluate(OPEN_SOCKET, socket_url) == "closed 1006"
    async with asyncio.timeout(10):
        while "WSREJECT /ws/b/main/" not in server.log():
            await asyncio.sleep(0.1)

    # The same script on the board's own page opens the socket.
    await page.goto(server.url + "/")
    assert await page.evaluate(OPEN_SOCKET, socket_url) == "open"


async def test_the_page_shows_reconnecting_while_redis_is_away_and_comes_back_live(browser, daphnes, own_redis):
    await sync_to_async(Board.objects.default)()
    (server,) = daphnes(1, REDIS_URL=own_redis.url, BOARD_BEACON_SECONDS=1)
    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(server.url + "/")
    await page.wait_for_function(READY)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await box(page, 5).click()
    await expect(page.locator("#count")).to_have_text("1")

    own_redis.stop()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    await expect(page.locator("#connection")).to_have_text("Reconnecting…")
    # A click while away is refused on the spot, with a message, and not kept.
    await box(page, 6).click()
    await expect(page.locator("#toast")).to_contain_text("can't save changes right now")
    await expect(box(page, 6)).not_to_be_checked()

    own_redis.start()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=30_000)
    await expect(box(page, 5)).to_be_checked()
    await box(page, 7).click()
    await expect(page.locator("#count")).to_have_text("2")
    with redis.Redis.from_url(own_redis.url) as client:
        bits = client.get(state.keys("main")[0])
    assert [(bits[0] >> (7 - index)) & 1 for index in (5, 6, 7)] == [1, 0, 1]


async def test_a_player_clicking_too_fast_is_told_to_slow_down_and_the_box_rolls_back(browser, daphnes):
    await sync_to_async(Board.objects.default)()
    # Two changes at once, then one every 20 s: the third waits up to 20 s.
    (server,) = daphnes(1, BOARD_CHANGE_BUCKET="2/0.05")
    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(server.url + "/")
    await page.wait_for_function(READY)
    for index in (1, 2, 3):
        await box(page, index).click()
    toast = page.locator("#toast")
    await expect(toast).to_have_text(re.compile(r"^Slow down: try again in \d+ s\.$"))
    assert 1 <= int(re.search(r"\d+", await toast.text_content()).group()) <= 20
    await expect(box(page, 3)).not_to_be_checked()
    await expect(page.locator("#count")).to_have_text("2")
    bits = state.sync_client().get(state.keys("main")[0])
    assert [(bits[0] >> (7 - index)) & 1 for index in (1, 2, 3)] == [1, 1, 0]


async def test_a_click_the_server_never_answers_is_shown_as_not_made(browser, daphnes):
    await sync_to_async(Board.objects.default)()
    (server,) = daphnes(1)
    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(server.url + "/")
    await page.wait_for_function(READY)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    os.kill(server.pid, signal.SIGSTOP)  # the socket stays open; nothing answers
    try:
        await box(page, 4).click()
        await expect(box(page, 4)).to_be_checked()
        # Five seconds unanswered: the page stops pretending and starts a new socket.
        await expect(page.locator("#toast")).to_contain_text("can't save changes right now", timeout=10_000)
        await expect(box(page, 4)).not_to_be_checked()
    finally:
        os.kill(server.pid, signal.SIGCONT)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=30_000)
