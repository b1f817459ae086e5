"""
Take the admin screenshots docs/moderation.md shows: a region of a board's picture zoomed in, and the timelapse
player part way through.

    .venv/bin/python benchmarks/admin_screenshots.py

Starts its own redis-server, SQLite database and daphne (nothing you run is touched), makes a moderator and a
board of 1,000,000 boxes, draws a check mark on it stroke by stroke after a snapshot, logs into the admin in the
system Chromium at 1280 px and writes admin-zoom.png and admin-timelapse.png into docs/screenshots/.
"""

import asyncio
import random
import time
from pathlib import Path
from urllib.parse import urlencode

from local_site import local_site

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "erin-moderates-42"
SIZE = 1_000_000
ROW = 1_000  # the admin picture's rows on a board of a million boxes
STROKES = 30
FRAME = 16  # of 40: the check mark half drawn


def check_mark(strokes):
    """A check mark 5 boxes thick in rows of 1,000, as ``strokes`` lists of boxes drawn one after another."""
    points = [(300 + t, 420 + t) for t in range(120)] + [(420 + t, 540 - 2 * t) for t in range(200)]
    boxes = [(row + dy) * ROW + column + dx for column, row in points for dx in range(5) for dy in range(5)]
    step = -(-len(boxes) // strokes)
    return [boxes[k : k + step] for k in range(0, len(boxes), step)]


def set_up():
    from django.contrib.auth.models import Group, User

    from board.models import Board, Snapshot
    from board.store import snapshots, state
    from board.store.state import Author

    erin = User.objects.create_user("erin", password=PASSWORD, is_staff=True)
    erin.groups.add(Group.objects.get(name="Moderators"))
    board = Board.objects.create(slug="million", size=SIZE)
    rng = random.Random(3)
    state.apply(board, [(rng.randrange(SIZE), 1) for _ in range(40)])  # a few boxes here and there
    snapshots.take(board, Snapshot.Reason.PERIODIC)
    time.sleep(0.05)
    since = time.time()
    artist = Author("198.51.100.0/24", "198.51.100.7", "a1a1a1a1a1a1")
    for stroke in check_mark(STROKES):
        state.apply(board, [(box, 1) for box in stroke], [artist] * len(stroke))
        time.sleep(0.05)
    return board, since, time.time()


async def log_in(browser, base):
    from playwright.async_api import expect

    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(base + "/admin/")
    await page.fill("#id_username", "erin")
    await page.fill("#id_password", PASSWORD)
    await page.click("input[type=submit]")
    await expect(page.locator("#site-name")).to_be_visible()
    return page


async def shoot(base, board, since, until):
    from datetime import UTC, datetime

    from playwright.async_api import async_playwright, expect

    from harness.browser import launch

    async with async_playwright() as playwright:
        browser = await launch(playwright)
        page = await log_in(browser, base)

        await page.goto(f"{base}/admin/board/board/{board.pk}/change/")
        overview = page.locator(".board-live img.board-picture")
        width, height = await overview.evaluate("img => [img.clientWidth, img.clientHeight]")
        # The knee of the check mark: row 540, column 420 of the 1,000 by 1,000 picture.
        await overview.click(position={"x": width * 0.42, "y": height * 0.54})
        zoomed = page.locator(".board-live img.board-zoom-picture")
        await expect(zoomed).to_have_js_property("complete", True)
        await page.locator(".board-live").screenshot(path=SHOTS / "admin-zoom.png")
        print(f"wrote {SHOTS / 'admin-zoom.png'}")

        moment = lambda seconds: datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]  # noqa: E731
        query = urlencode({"since": moment(since), "until": moment(until), "frames": 40, "fps": 10})
        await page.goto(f"{base}/admin/board/board/{board.pk}/timelapse/?{query}")
        await page.locator("#timelapse-scrubber").focus()
        for _ in range(FRAME):
            await page.keyboard.press("ArrowRight")
        await expect(page.locator("#timelapse")).to_have_attribute("data-frame", str(FRAME))
        await page.locator("#timelapse-player").screenshot(path=SHOTS / "admin-timelapse.png")
        print(f"wrote {SHOTS / 'admin-timelapse.png'}")
        await browser.close()


def main():
    with local_site() as url:
        board, since, until = set_up()
        asyncio.run(shoot(url, board, since, until))


if __name__ == "__main__":
    main()
