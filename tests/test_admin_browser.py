"""A moderator in a real Chromium at 1280 px: zooms into a sparse board's picture, plays a timelapse whose frames
arrive one by one, and reads lists and pages whose headings fit."""

import io
import re
import time

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from PIL import Image
from playwright.async_api import expect

from board import pictures
from board.models import Board, Snapshot
from board.store import snapshots, state
from board.store.state import Author
from tests.test_experience import axe_violations
from tests.test_moderator_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VANDAL = Author("203.0.113.0/24", "203.0.113.9", "bad0bad0bad0")


@sync_to_async
def sparse_million():
    """A board of 1,000,000 boxes with a small cross around box 51,234, and nothing else."""
    board = Board.objects.create(slug="million", size=1_000_000)
    state.apply(board, [(51_234 + offset, 1) for offset in (-1_000, -1, 0, 1, 1_000)])
    return board


@sync_to_async
def vandalised():
    """The main board drawn on, snapshotted, then wiped by a vandal: ``(board, since, until)``."""
    board = Board.objects.default()
    state.apply(board, [(box, 1) for box in range(100, 140)])
    snapshots.take(board, Snapshot.Reason.PERIODIC)
    time.sleep(0.01)
    since = timezone.now()
    for box in range(100, 140, 4):
        time.sleep(0.01)
        state.apply(board, [(box, 0), (box + 1, 0), (box + 2, 0), (box + 3, 0)], [VANDAL] * 4)
    time.sleep(0.01)
    return board, since, timezone.now()


async def test_pressing_a_sparse_boards_picture_zooms_into_that_region(browser, daphnes, moderator):
    board = await sparse_million()
    (server,) = daphnes(1)
    mod = await log_in(browser, server.url, "erin")
    await mod.goto(f"{server.url}/admin/board/board/{board.pk}/change/")

    overview = mod.locator(".board-live img.board-picture")
    await expect(overview).to_be_visible()
    width, height = await overview.evaluate("img => [img.clientWidth, img.clientHeight]")
    # Box 51,234 is row 51, column 234 of rows of 1,000: pixel (117, 25) of the 500-pixel overview, whose block
    # of 2×2 boxes has its middle at row 51, column 235.
    await overview.click(position={"x": width * 117.5 / 500, "y": height * 25.5 / 500})

    caption = mod.locator(".board-live .board-zoom figcaption")
    await expect(caption).to_have_text("Boxes 1,185–100,284: 100 boxes of each row of 1,000, 100 rows, 8 px per box")
    zoomed = mod.locator(".board-live img.board-zoom-picture")
    await expect(zoomed).to_have_js_property("complete", True)
    assert await zoomed.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [800, 800]
    response = await mod.request.get(server.url + await zoomed.get_attribute("src"))
    rgb = Image.open(io.BytesIO(await response.body())).convert("RGB")
    # Box 51,234 is column 49, row 50 of the region; its neighbours make a cross.
    for column, row in [(49, 50), (48, 50), (50, 50), (49, 49), (49, 51)]:
        assert rgb.getpixel((column * 8 + 4, row * 8 + 4)) == pictures.CHECKED, (column, row)
    assert rgb.getpixel((48 * 8 + 4, 49 * 8 + 4)) == pictures.UNCHECKED

    # From the keyboard: a box number and Enter, at another scale; the board's form is not submitted.
    await mod.locator(".board-zoom-controls select").select_option("2")
    await mod.locator(".board-zoom-box").fill("999999")
    await mod.locator(".board-zoom-box").press("Enter")
    await expect(caption).to_have_text("Boxes 600,600–999,999: 400 boxes of each row of 1,000, 400 rows, 2 px per box")
    assert mod.url.endswith(f"/admin/board/board/{board.pk}/change/")
    assert await axe_violations(mod) == []


async def test_a_snapshots_picture_zooms_on_its_page_and_before_a_restore(browser, daphnes, moderator):
    board, _, _ = await vandalised()
    snapshot = await Snapshot.objects.filter(board=board).afirst()
    (server,) = daphnes(1)
    mod = await log_in(browser, server.url, "erin")

    for path in (f"{snapshot.pk}/change/", f"{snapshot.pk}/restore/"):
        await mod.goto(f"{server.url}/admin/board/snapshot/{path}")
        await mod.locator(".board-zoom-box").first.fill("120")
        await mod.locator(".board-zoom-box").first.press("Enter")
        # Box 120 is row 0, column 120 of rows of 400: the middle of the region's top row.
        caption = mod.locator(".board-zoom figcaption").first
        await expect(caption).to_have_text("Boxes 70–39,769: 100 boxes of each row of 400, 100 rows, 8 px per box")
        zoomed = mod.locator("img.board-zoom-picture").first
        await expect(zoomed).to_have_js_property("complete", True)
        assert await zoomed.evaluate("img => img.naturalWidth") == 800, path
        assert f"/admin/board/snapshot/{snapshot.pk}/zoom.png?" in await zoomed.get_attribute("src")


async def test_the_timelapse_player_fetches_frames_one_by_one_and_steps_through_them(browser, daphnes, moderator):
    board, since, until = await vandalised()
    (server,) = daphnes(1)
    mod = await log_in(browser, server.url, "erin")
    frames = []
    mod.on("request", lambda request: "/timelapse/frame.png" in request.url and frames.append(request.url))

    query = f"since={since.isoformat()}&until={until.isoformat()}&frames=12&fps=20".replace("+", "%2B")
    response = await mod.goto(f"{server.url}/admin/board/board/{board.pk}/timelapse/?{query}")
    html = await response.text()
    assert "data:image" not in html and len(html) < 30_000

    picture, moment = mod.locator("#timelapse"), mod.locator("#timelapse-moment")
    scrubber, play = mod.locator("#timelapse-scrubber"), mod.locator("#timelapse-play")
    await expect(picture).to_have_attribute("data-frame", "0")
    await expect(moment).to_contain_text("Frame 1 of 12: ")
    first_src = await picture.get_attribute("src")

    await scrubber.focus()
    await mod.keyboard.press("End")
    await expect(picture).to_have_attribute("data-frame", "11")
    await expect(moment).to_have_text(re.compile(r"Frame 12 of 12: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC"))
    assert await picture.get_attribute("src") != first_src
    await mod.keyboard.press("ArrowLeft")
    await expect(picture).to_have_attribute("data-frame", "10")
    assert await scrubber.input_value() == "10"

    await mod.keyboard.press("Home")
    await expect(picture).to_have_attribute("data-frame", "0")
    await play.click()
    await expect(play).to_have_text("Pause")
    await expect(picture).to_have_attribute("data-frame", "11", timeout=20_000)
    await expect(play).to_have_text("Play")  # it stops at the last frame
    assert await axe_violations(mod) == []

    asked = {int(re.search(r"frame=(\d+)", url)[1]) for url in frames}
    assert asked == set(range(12))
    assert len(frames) <= 12 + 2  # each frame once (the first also as the page's own picture)


async def overflowing_headers(page):
    """The list's column headings that are cut off, in their cell or by the list's scrolling box."""
    return await page.evaluate(
        """() => {
          const results = document.querySelector('#changelist-form .results');
          const edge = results.getBoundingClientRect().right;
          return [...document.querySelectorAll('#result_list thead th')]
            .filter(th => th.scrollWidth > th.clientWidth || th.getBoundingClientRect().right > edge + 1)
            .map(th => th.textContent.trim());
        }"""
    )


async def test_the_lists_and_pages_fit_at_1280_pixels(browser, daphnes, moderator):
    board, since, _ = await vandalised()
    (server,) = daphnes(1)
    mod = await log_in(browser, server.url, "erin")

    for path in ("board/board/", "board/snapshot/"):
        await mod.goto(f"{server.url}/admin/{path}")
        await expect(mod.locator("#result_list")).to_be_visible()
        assert await overflowing_headers(mod) == [], path
        assert await mod.evaluate(
            "(() => { const r = document.querySelector('#changelist-form .results');"
            " return r.scrollWidth <= r.clientWidth; })()"
        ), path
    headings = [text.strip().lower() for text in await mod.locator("#result_list thead th").all_text_contents()]
    assert headings.count("board") == 1, headings
    assert "taken by" in headings

    await mod.goto(f"{server.url}/admin/board/board/{board.pk}/change/")
    tools = await mod.locator("ul.object-tools").bounding_box()
    for heading in ("#content h1", "#content h2"):
        box = await mod.locator(heading).first.bounding_box()
        assert box["y"] + box["height"] <= tools["y"] or tools["y"] + tools["height"] <= box["y"], heading

    network = "203.0.113.0/24".replace("/", "%2F")
    await mod.goto(f"{server.url}/admin/board/board/{board.pk}/changes/?network={network}&since=1h")
    for link in ("a.revert-link", "a.ban-link"):
        await expect(mod.locator(link)).to_be_visible()
        assert await mod.locator(link).evaluate("a => a.closest('ul, ol, li') === null"), link
    assert "dark" not in (await mod.locator("#content").inner_text()).lower()
