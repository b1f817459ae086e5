"""Zooming out to a pixel canvas, and the map, in a real Chromium against real daphne."""

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from board.models import Board
from board.store import state
from harness.players import NetPlayer
from tests.boards import default_board
from tests.pages import READY, box, open_board
from tests.test_experience import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("hubs")]

# The light theme's colours (board.css): a checked box, an empty one, the
# player's own mark on the map and the map's empty cell.
PHONE = {"width": 360, "height": 740}
CHECKED = (228, 87, 46)
EMPTY = (255, 255, 255)
OWN = (11, 125, 117)

ZOOMED = "window.checkboxes.zoom && window.checkboxes.zoom.active"

CANVAS_PIXEL = """([selector, point]) => {
    const canvas = document.querySelector(selector);
    const ratio = canvas.width / canvas.clientWidth;
    const x = Math.floor(point.x * ratio), y = Math.floor(point.y * ratio);
    return Array.from(canvas.getContext("2d").getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


async def check(board, indices):
    await sync_to_async(state.apply)(board, [(index, 1) for index in indices])


async def zoom_modules(page):
    return await page.evaluate(
        "performance.getEntriesByType('resource').map((entry) => entry.name).filter((name) => name.includes('zoom'))"
    )


async def zoom_level(page):
    return await page.evaluate("window.checkboxes.zoom ? window.checkboxes.zoom.px : 0")


async def zoomed_pixel(page, index):
    """The colour the zoomed-out canvas shows for box ``index``."""
    point = await page.evaluate(f"window.checkboxes.zoom.pointOf({index})")
    return tuple(await page.evaluate(CANVAS_PIXEL, [".zoomed-canvas", point]))


async def map_pixel(page, index):
    """The colour the map shows at the centre of the cell holding box ``index``."""
    point = await page.evaluate(f"window.checkboxes.minimap.pointOf({index})")
    return tuple(await page.evaluate(CANVAS_PIXEL, ["#minimap", point]))


async def map_pixel_when(page, index, wanted, seconds=3):
    """The map's colour at box ``index`` once ``wanted(colour)`` holds, or the last one read.

    The map repaints on an animation frame after the change it shows.
    """
    for _ in range(int(seconds / 0.05)):
        colour = await map_pixel(page, index)
        if wanted(colour):
            break
        await asyncio.sleep(0.05)
    return colour


def near(colour, expected, tolerance=24):
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


async def wait_for_pixel(page, index, expected):
    await page.wait_for_function(
        """([index, expected]) => {
            const zoom = window.checkboxes.zoom;
            if (!zoom || !zoom.active) return false;
            const point = zoom.pointOf(index);
            const canvas = document.querySelector(".zoomed-canvas");
            const ratio = canvas.width / canvas.clientWidth;
            const pixel = canvas.getContext("2d").getImageData(
                Math.floor(point.x * ratio), Math.floor(point.y * ratio), 1, 1).data;
            return expected.every((value, k) => Math.abs(pixel[k] - value) <= 24);
        }""",
        arg=[index, list(expected)],
    )


async def zoom_out(page, times=1):
    for _ in range(times):
        await page.get_by_role("button", name="Zoom out").click()
    await page.wait_for_function(ZOOMED)


# -- zooming out ------------------------------------------------------------------------------------


async def test_the_zoom_control_draws_checked_boxes_as_pixels(browser, daphnes):
    board = await default_board()
    await check(board, [12_345, 12_400])
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#12000")
    # A first visit doesn't load the zoom: the control loads it, by its hashed name.
    assert await zoom_modules(page) == []

    await zoom_out(page)

    assert await zoom_level(page) == 8
    (module,) = await zoom_modules(page)
    assert re.search(r"/static/board/zoom\.[0-9a-f]{12}\.js$", module)
    await expect(page.locator(".zoomed")).to_be_visible()
    assert near(await zoomed_pixel(page, 12_345), CHECKED)
    assert near(await zoomed_pixel(page, 12_346), EMPTY)
    await zoom_out(page, times=3)
    assert await zoom_level(page) == 1
    await expect(page.get_by_role("button", name="Zoom out")).to_be_disabled()
    assert near(await zoomed_pixel(page, 12_400), CHECKED)
    assert near(await zoomed_pixel(page, 12_401), EMPTY)


async def test_ctrl_and_the_wheel_zoom_out_and_back_in(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#50000")
    area = await page.locator("#viewport").bounding_box()
    x, y = area["x"] + area["width"] / 2, area["y"] + area["height"] / 2
    await page.mouse.move(x, y)
    under = "([x, y]) => Number(document.elementFromPoint(x, y).dataset.index)"
    pointed = await page.evaluate(under, [x, y])

    await page.keyboard.down("Control")
    await page.mouse.wheel(0, 100)
    await page.wait_for_function(ZOOMED)
    assert await zoom_level(page) == 8
    # Around the pointer: the box under it stays under it, to a row or so.
    columns = await page.evaluate("window.checkboxes.zoom.columns")
    canvas = await page.locator(".zoomed-canvas").bounding_box()
    at = await page.evaluate("([x, y]) => window.checkboxes.zoom.indexAt(x, y)", [x - canvas["x"], y - canvas["y"]])
    assert abs(at - pointed) <= 2 * columns
    await page.mouse.wheel(0, 100)
    await page.wait_for_function("window.checkboxes.zoom.px === 4")
    await page.mouse.wheel(0, -100)
    await page.wait_for_function("window.checkboxes.zoom.px === 8")
    await page.mouse.wheel(0, -100)
    await page.keyboard.up("Control")

    await page.wait_for_function("!window.checkboxes.zoom.active")
    await expect(page.locator(".zoomed")).to_be_hidden()
    # Back in, the box that was under the pointer is under it again, to a row.
    await expect(box(page, pointed)).to_be_in_viewport()
    columns = await page.evaluate("window.checkboxes.grid.columns")
    assert abs(await page.evaluate(under, [x, y]) - pointed) <= 2 * columns


async def test_a_change_by_another_player_appears_on_the_canvas_live(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#0@4")
    await page.wait_for_function(ZOOMED)
    assert near(await zoomed_pixel(page, 777), EMPTY)

    bob = await NetPlayer(server.url).join()
    await bob.send_set(777, 1)
    await bob.receive_result()

    await wait_for_pixel(page, 777, CHECKED)
    await bob.send_set(777, 0)
    await bob.receive_result()
    await wait_for_pixel(page, 777, EMPTY)
    await bob.leave()


async def test_a_click_on_the_canvas_zooms_in_to_real_boxes_at_that_box(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#40000@2")
    await page.wait_for_function(ZOOMED)
    point = await page.evaluate("window.checkboxes.zoom.pointOf(54321)")
    canvas = await page.locator(".zoomed-canvas").bounding_box()

    await page.mouse.click(canvas["x"] + point["x"], canvas["y"] + point["y"])

    await expect(page.locator(".zoomed")).to_be_hidden()
    await expect(box(page, 54_321)).to_be_in_viewport()
    await expect(box(page, 54_321)).to_have_class(re.compile(r"\bis-target\b"))
    await expect(page).to_have_url(re.compile(r"#\d+$"))


async def test_the_url_keeps_the_zoom_with_the_place(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#30000@4")
    await page.wait_for_function(ZOOMED)
    assert await zoom_level(page) == 4
    shown = await page.evaluate("window.checkboxes.zoom.rangeInView()")
    assert shown["first"] <= 30_000 <= shown["last"]

    await page.locator(".zoomed-scroller").evaluate("element => { element.scrollTop += 200; }")
    top = await page.evaluate("window.checkboxes.zoom.topLeftBox()")
    assert top > shown["last"] - shown["first"]
    await expect(page).to_have_url(re.compile(rf"#{top}@4$"))
    await page.get_by_role("button", name="Copy link").click()
    await expect(page.locator("#toast")).to_contain_text(f"#{top}@4")

    await page.reload()
    await page.wait_for_function(READY)
    await page.wait_for_function(ZOOMED)
    assert await zoom_level(page) == 4
    assert await page.evaluate("window.checkboxes.zoom.topLeftBox()") == top


async def test_an_old_link_without_a_zoom_opens_real_boxes(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#30000")
    await expect(box(page, 30_000)).to_be_in_viewport()
    assert await zoom_level(page) == 0
    await expect(page.get_by_role("button", name="Zoom in")).to_be_disabled()


async def test_the_zoom_works_from_the_keyboard_and_leads_back_to_real_boxes(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#20000")
    await page.locator("#zoom-level").focus()

    await page.keyboard.press("ArrowLeft")
    await page.wait_for_function(ZOOMED)
    assert await zoom_level(page) == 8
    await expect(page.locator("#zoom-level")).to_have_attribute("aria-valuetext", "8 px per box")
    await page.keyboard.press("ArrowLeft")
    await page.wait_for_function("window.checkboxes.zoom.px === 4")

    # The canvas is hidden from screen readers; the view says what it shows.
    await expect(page.locator(".zoomed-canvas")).to_have_attribute("aria-hidden", "true")
    region = page.get_by_role("region", name="The board, zoomed out")
    await expect(region).to_have_accessible_description(re.compile(r"Boxes [\d,]+ to [\d,]+, 4 px per box"))
    # The real checkboxes under it are out of reach while it covers them.
    assert await page.evaluate("document.getElementById('viewport').inert")

    middle = await page.evaluate("window.checkboxes.zoom.middleBox()")
    await page.get_by_role("button", name="Back to boxes").focus()
    await page.keyboard.press("Enter")

    await expect(page.locator(".zoomed")).to_be_hidden()
    name = await page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert name is not None and name.startswith("Box ")
    index = int(name.removeprefix("Box ").replace(",", ""))
    assert index == middle
    await expect(box(page, index)).to_be_in_viewport()
    await page.keyboard.press("Space")
    await expect(box(page, index)).to_be_checked()


@pytest.mark.parametrize(
    ("px", "options"),
    [
        (8, {}),
        (4, {}),
        (2, {}),
        (1, {}),
        (4, {"color_scheme": "dark"}),
        (4, {"viewport": PHONE, "is_mobile": True, "has_touch": True}),
    ],
    ids=["8px", "4px", "2px", "1px", "4px-dark", "4px-phone"],
)
async def test_axe_finds_nothing_serious_zoomed_out(browser, daphnes, px, options):
    board = await default_board()
    await check(board, range(0, 3_000, 7))
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, f"/#0@{px}", **options)
    await page.wait_for_function(ZOOMED)
    assert await zoom_level(page) == px
    assert await axe_violations(page) == []


# -- the map ----------------------------------------------------------------------------------------


async def test_a_sparse_million_box_board_shows_every_checked_box_on_the_map(browser, daphnes):
    board = await Board.objects.acreate(slug="million", size=1_000_000)
    # Box 40 is in view, under the band that marks it.
    sparse = [40, 123_457, 640_000, 999_000]
    await check(board, sparse)
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/b/million/")
    await page.wait_for_function("window.checkboxes.minimap.counts.some((count) => count > 0)")

    empty = await map_pixel(page, 500_000)
    for index in sparse:
        pixel = await map_pixel(page, index)
        assert max(abs(a - b) for a, b in zip(pixel, empty, strict=True)) > 60, (index, pixel, empty)


async def test_your_own_change_stands_out_on_the_map(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await box(page, 3).click()
    await expect(page.locator("#tally-checked")).to_have_text("1")
    await page.wait_for_function("window.checkboxes.minimap.mine.size === 1")

    colour = await map_pixel_when(page, 3, lambda colour: near(colour, OWN, tolerance=40), seconds=5)
    assert near(colour, OWN, tolerance=40)


async def test_others_changes_glow_on_the_map_for_a_moment(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    before = await map_pixel(page, 60_000)
    bob = await NetPlayer(server.url).join()
    await bob.send_set(60_000, 1)
    await bob.receive_result()

    await page.wait_for_function("window.checkboxes.minimap.others.size === 1")
    # The glow lasts 4 s; the map shows it from its next animation frame.
    glowing = await map_pixel_when(page, 60_000, lambda colour: colour != before)
    assert glowing != before
    assert await page.evaluate("window.checkboxes.minimap.mine.size") == 0
    # The glow fades; the checked box stays shaded.
    await page.wait_for_function("window.checkboxes.minimap.others.size === 0", timeout=20_000)
    assert near(await map_pixel(page, 60_000), EMPTY, tolerance=40) is False
    await bob.leave()


async def test_the_map_has_scale_marks_with_box_numbers(browser, daphnes):
    await Board.objects.acreate(slug="million", size=1_000_000)
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/b/million/")
    marks = await page.evaluate("window.checkboxes.minimap.marks")
    labels = [mark["label"] for mark in marks]
    assert len(labels) >= 4
    assert labels[0] == "0"
    assert all(re.fullmatch(r"\d+(\.\d)?[kM]", label) for label in labels[1:])
    # The labels are drawn: ink in the left margin, where no cell is.
    inked = await page.evaluate(
        """() => {
            const map = window.checkboxes.minimap;
            const canvas = document.getElementById("minimap");
            const ratio = canvas.width / canvas.clientWidth;
            const margin = Math.floor((map.left - 6) * ratio);
            const data = canvas.getContext("2d").getImageData(0, 0, margin, canvas.height).data;
            let inked = 0;
            for (let k = 3; k < data.length; k += 4) if (data[k] > 0) inked++;
            return inked;
        }"""
    )
    assert inked > 50


async def pinch(page, centre, start, end, steps=6):
    """Two fingers on ``centre`` (x, y), ``start`` px apart, moved to ``end`` px apart."""
    cdp = await page.context.new_cdp_session(page)
    x, y = centre

    def points(spread):
        return [{"x": x, "y": y - spread / 2, "id": 1}, {"x": x, "y": y + spread / 2, "id": 2}]

    await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(start)})
    for step in range(1, steps + 1):
        spread = start + (end - start) * step / steps
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(spread)})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def test_a_pinch_on_a_touch_screen_zooms_out_and_back_in(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#20000", viewport=PHONE, is_mobile=True, has_touch=True)
    area = await page.locator("#viewport").bounding_box()
    centre = (area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)

    # The first pinch loads the zoom; fingers keep moving, so a second one is sure to be seen.
    await pinch(page, centre, 300, 120)
    await pinch(page, centre, 300, 200)
    await page.wait_for_function(ZOOMED)
    # Fingers closing by about 1.45 times step a level out, so how far depends on when the zoom loaded.
    assert await zoom_level(page) in (8, 4, 2, 1)

    for _ in range(6):
        if not await page.evaluate(ZOOMED):
            break
        await pinch(page, centre, 120, 300)
    await page.wait_for_function(f"!({ZOOMED})")
    await expect(page.locator(".zoomed")).to_be_hidden()
