"""
Take the README's screenshots: desktop light, desktop dark, a jump on a 1280×900
desktop and a 360×740 phone.

    .venv/bin/python benchmarks/screenshots.py

Starts its own redis-server, SQLite database and daphne (nothing you run is
touched), fills the default board with a made-up afternoon of play, opens it
in the system Chromium and writes desktop-light.png, desktop-dark.png,
box-identity.png and phone.png into docs/screenshots/.
"""

import asyncio
import random
from pathlib import Path

from local_site import local_site

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
TALL_DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
# Where each shot opens: the top of the board for the desktop, a busy stretch for the phone.
DESKTOP_PLACE = "#0"
PHONE_PLACE = "#41000"
JUMP_TO = "41234"


def afternoon_of_play(size, seed=6):
    """A board the way people leave it: busy near the top, patches here and there, wide empty stretches."""
    rng = random.Random(seed)
    checked = set()
    for index in range(3_000):
        if rng.random() < 0.3 * (1 - index / 3_000) + 0.02:
            checked.add(index)
    patches = [(41_400, 1_600, 0.45)]
    patches += [(rng.randrange(size), rng.randint(150, 1_800), rng.uniform(0.1, 0.6)) for _ in range(30)]
    for centre, spread, density in patches:
        for index in range(max(0, centre - spread), min(size, centre + spread)):
            if rng.random() < density * (1 - abs(index - centre) / spread):
                checked.add(index)
    bits = bytearray((size + 7) // 8)
    for index in checked:
        bits[index >> 3] |= 0x80 >> (index & 7)
    return bytes(bits)


MARK = """
...............##
..............###
.............###.
............###..
##.........###...
###.......###....
.###.....###.....
..###...###......
...###.###.......
....#####........
.....###.........
"""


def draw_mark(board, columns, top_row=2):
    """A big check mark in boxes, in an emptied patch, drawn for the desktop's column count."""
    from board.store import state

    shape = MARK.strip().splitlines()
    left = max(0, columns - len(shape[0]) - 3)
    changes = []
    for row in range(top_row - 2, top_row + len(shape) + 2):
        for column in range(left - 5, columns):
            changes.append((row * columns + column, 0))
    for row, line in enumerate(shape):
        for column, mark in enumerate(line):
            if mark == "#":
                changes.append(((top_row + row) * columns + left + column, 1))
    state.apply(board, changes)


async def open_page(browser, url, **options):
    from playwright.async_api import expect

    page = await browser.new_page(**options)
    await page.goto(url)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await page.wait_for_function("window.checkboxes && window.checkboxes.sync.ready")
    return page


async def settle(page):
    # Let the beacon bring the player count and the map catch up before the shot.
    await page.wait_for_timeout(1_800)
    await page.mouse.move(0, 0)


async def shoot(base):
    from playwright.async_api import async_playwright

    from board.models import Board
    from harness.browser import launch

    board = await asyncio.to_thread(Board.objects.default)
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        light = await open_page(browser, base + DESKTOP_PLACE, viewport=DESKTOP, color_scheme="light")
        columns = await light.evaluate("window.checkboxes.grid.columns")
        await asyncio.to_thread(draw_mark, board, columns)
        await light.reload()
        await light.wait_for_function("window.checkboxes && window.checkboxes.sync.ready")
        for index in (1, 2, 4):
            await light.get_by_role("checkbox", name=f"Box {index:,}", exact=True).click()
        await light.get_by_role("checkbox", name="Box 2", exact=True).click()
        dark = await open_page(browser, base + DESKTOP_PLACE, viewport=DESKTOP, color_scheme="dark")
        # Show the keyboard's focus ring: Tab into the board, then a few arrows.
        await dark.focus("#find-empty")
        for key in ["Tab"] + ["ArrowDown"] * 4 + ["ArrowRight"] * 6:
            await dark.keyboard.press(key)
        phone = await open_page(
            browser,
            base + PHONE_PLACE,
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            color_scheme="light",
        )
        await phone.get_by_role("checkbox", name="Box 41,003", exact=True).tap()
        for page, name in ((light, "desktop-light.png"), (dark, "desktop-dark.png"), (phone, "phone.png")):
            await settle(page)
            await page.screenshot(path=SHOTS / name)
            print(f"wrote {SHOTS / name}")
        await shoot_a_jump(browser, base)
        await browser.close()


async def shoot_a_jump(browser, base):
    """A jump just landed: the box ringed and focused, its number beside it, the range under the board."""
    page = await open_page(browser, base + DESKTOP_PLACE, viewport=TALL_DESKTOP, color_scheme="light")
    await settle(page)
    await page.fill("#jump-to", JUMP_TO)
    await page.press("#jump-to", "Enter")
    # Inside the ring's 2.4 s, once its first pulse has spread.
    await page.wait_for_timeout(500)
    await page.screenshot(path=SHOTS / "box-identity.png")
    print(f"wrote {SHOTS / 'box-identity.png'}")


def main():
    with local_site() as url:
        from board.models import Board
        from board.store import state

        board = Board.objects.default()
        state.replace(board, afternoon_of_play(board.size))
        asyncio.run(shoot(url + "/"))


if __name__ == "__main__":
    main()
