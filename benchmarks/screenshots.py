"""
Take the README's screenshots: desktop light, desktop dark, a 360×740 phone,
the board zoomed out to a picture, the map, and a jump on a 1280×900 desktop.

    .venv/bin/python benchmarks/screenshots.py [NAME.png …]

Starts its own redis-server, SQLite database and daphne (nothing you run is
touched), fills the default board with a made-up afternoon of play, opens it
in the system Chromium and writes desktop-light.png, desktop-dark.png,
phone.png, zoomed-out.png, map.png and box-identity.png into docs/screenshots/
(only the ones named, if any are).
"""

import asyncio
import math
import random
import sys
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


# A picture drawn in boxes, to be seen zoomed out: a smiling face and a word.
WORD = """
#...#.####.#....#.....###.
#...#.#....#....#....#...#
#####.###..#....#....#...#
#...#.#....#....#....#...#
#...#.####.####.####..###.
"""
ZOOM_PX = 4
ZOOMED = "window.checkboxes.zoom && window.checkboxes.zoom.active"
# Where the picture goes: its top row, in the zoomed-out layout's rows.
PICTURE_ROW = 120


def draw_picture(board, columns, top_row=PICTURE_ROW):
    """A ring, two eyes, a smile and HELLO, in rows of ``columns`` boxes (the zoomed-out layout's)."""
    from board.store import state

    cx, cy, radius = columns // 2, top_row + 44, 40
    marks = set()
    for row in range(cy - radius - 3, cy + radius + 4):
        for column in range(cx - radius - 3, cx + radius + 4):
            distance = math.hypot(column - cx, row - cy)
            ring = radius - 3 <= distance <= radius
            eye = min(math.hypot(column - (cx + side * 14), row - (cy - 12)) for side in (-1, 1)) <= 5
            smile = 23 <= distance <= 27 and row > cy + 9
            if ring or eye or smile:
                marks.add(row * columns + column)
    word = WORD.strip().splitlines()
    left, top = cx - len(word[0]) * 3 // 2, cy + radius + 10
    for row, line in enumerate(word):
        for column, mark in enumerate(line):
            if mark == "#":
                for dy in range(3):
                    for dx in range(3):
                        marks.add((top + 3 * row + dy) * columns + left + 3 * column + dx)
    first, last = (top_row - 4) * columns, (top + 3 * len(word) + 4) * columns
    state.apply(board, [(index, 1 if index in marks else 0) for index in range(first, last)])


async def shoot_zoom(browser, base, board, shots):
    """The picture at ZOOM_PX px per box, and the map with the player's own and others' changes."""
    page = await open_page(browser, base + f"#0@{ZOOM_PX}", viewport=DESKTOP, color_scheme="light")
    await page.wait_for_function(ZOOMED)
    columns = await page.evaluate("window.checkboxes.zoom.columns")
    await asyncio.to_thread(draw_picture, board, columns)
    top = (PICTURE_ROW - 8) * columns
    await page.goto(base + f"#{top}@{ZOOM_PX}")
    await page.reload()
    await page.wait_for_function(f"{ZOOMED} && window.checkboxes.sync.ready")
    if "zoomed-out.png" in shots:
        await settle(page)
        await page.screenshot(path=SHOTS / "zoomed-out.png")
        print(f"wrote {SHOTS / 'zoomed-out.png'}")
    if "map.png" not in shots:
        return
    # At the top in real boxes: a few of the player's own changes, then someone else's far away.
    page = await open_page(browser, base + "#31000", viewport=DESKTOP, color_scheme="light")
    for index in (31_005, 31_040, 31_300, 31_310):
        await page.get_by_role("checkbox", name=f"Box {index:,}", exact=True).click()
    other = await open_page(browser, base + "#88000", viewport=DESKTOP, color_scheme="light")
    for index in (88_001, 88_050, 88_400, 63_010):
        await other.fill("#jump-to", str(index))
        await other.click("#jump button")
        await other.get_by_role("checkbox", name=f"Box {index:,}", exact=True).click()
    await page.wait_for_function("window.checkboxes.minimap.others.size > 0")
    await page.mouse.move(0, 0)
    await page.locator(".overview").screenshot(path=SHOTS / "map.png")
    print(f"wrote {SHOTS / 'map.png'}")


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


async def shoot(base, shots):
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
            if name not in shots:
                continue
            await settle(page)
            await page.screenshot(path=SHOTS / name)
            print(f"wrote {SHOTS / name}")
        await shoot_zoom(browser, base, board, shots)
        if "box-identity.png" in shots:
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


ALL = ("desktop-light.png", "desktop-dark.png", "phone.png", "zoomed-out.png", "map.png", "box-identity.png")


def main():
    shots = sys.argv[1:] or ALL
    unknown = set(shots) - set(ALL)
    if unknown:
        sys.exit(f"no such screenshot: {', '.join(sorted(unknown))} (one of {', '.join(ALL)})")
    with local_site() as url:
        from board.models import Board
        from board.store import state

        board = Board.objects.default()
        state.replace(board, afternoon_of_play(board.size))
        asyncio.run(shoot(url + "/", shots))


if __name__ == "__main__":
    main()
