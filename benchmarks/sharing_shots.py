"""
Take the screenshots of sharing: the list of boards and a board's link preview.

    .venv/bin/python benchmarks/sharing_shots.py

Starts its own redis-server, SQLite database and daphne (nothing you run is
touched), makes a few boards with some play on them and a few players on
one, and writes boards-list.png and preview.png into docs/screenshots/.
"""

import asyncio
import random
import urllib.request

from local_site import local_site
from screenshots import DESKTOP, SHOTS, afternoon_of_play

BOARDS = [("pixels", "Pixel art", 40_000), ("tiny", "A tiny board", 64)]


def make_boards():
    from board.models import Board
    from board.store import state

    main = Board.objects.default()
    state.replace(main, afternoon_of_play(main.size))
    for slug, title, size in BOARDS:
        board = Board.objects.create(slug=slug, title=title, size=size)
        state.replace(board, some_play(size, seed=len(slug)))


def some_play(size, seed):
    """About a third of the boxes checked, at random, with the bits past the last box clear."""
    rng = random.Random(seed)
    bits = bytearray((size + 7) // 8)
    for index in range(size):
        if rng.random() < 0.33:
            bits[index >> 3] |= 0x80 >> (index & 7)
    return bytes(bits)


async def shoot(base):
    from playwright.async_api import async_playwright

    from harness.browser import launch
    from harness.players import NetPlayer

    # Players on the main board, each from an address of its own, so the list counts them.
    players = [await NetPlayer(base).join() for _ in range(3)]
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        page = await browser.new_page(viewport={**DESKTOP, "height": 520}, color_scheme="light")
        await page.goto(base + "/")
        await page.wait_for_function("window.checkboxes && window.checkboxes.sync.ready")
        # The beacon writes the players into Redis within a few seconds.
        await page.wait_for_timeout(6_000)
        await page.get_by_role("link", name="All boards").click()
        await page.wait_for_url("**/boards/")
        await page.screenshot(path=SHOTS / "boards-list.png")
        print(f"wrote {SHOTS / 'boards-list.png'}")
        await browser.close()
    for player in players:
        await player.leave()
    (SHOTS / "preview.png").write_bytes(urllib.request.urlopen(base + "/b/main/preview.png").read())
    print(f"wrote {SHOTS / 'preview.png'}")


def main():
    with local_site() as url:
        make_boards()
        asyncio.run(shoot(url))


if __name__ == "__main__":
    main()
