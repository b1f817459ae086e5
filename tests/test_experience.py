"""The player experience in a real Chromium against real daphne: finding your way
(minimap, links, empty spots), presence, your tally, feedback, keyboard and
screen readers, phones, and an axe-core scan."""

import asyncio
import re
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from board import bitset
from board.live import events
from board.models import Board
from board.store import state
from harness.players import NetPlayer
from tests.boards import bit, default_board
from tests.pages import box, open_board, wait_until_live

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("hubs")]

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 360, "height": 740}


async def check(board, indices):
    await sync_to_async(state.apply)(board, [(index, 1) for index in indices])


async def top_left(page):
    return await page.evaluate("window.checkboxes.grid.topLeftBox()")


async def range_in_view(page):
    return await page.evaluate("window.checkboxes.grid.rangeInView()")


async def confirmed(page, changes):
    """Wait until the server has applied this many of the page's own changes."""
    await expect(page.locator("#tally-checked")).to_have_text(str(changes))


async def focused_name(page):
    return await page.evaluate("document.activeElement.getAttribute('aria-label')")


async def minimap_point(page, fraction_x, fraction_y):
    """A point on the minimap (page coordinates) and the box the map puts there."""
    area = await page.locator("#minimap").bounding_box()
    x, y = area["x"] + area["width"] * fraction_x, area["y"] + area["height"] * fraction_y
    index = await page.evaluate(
        """([x, y]) => {
            const canvas = document.getElementById("minimap");
            const box = canvas.getBoundingClientRect();
            return window.checkboxes.minimap.indexAt(x - box.left - canvas.clientLeft, y - box.top - canvas.clientTop);
        }""",
        [x, y],
    )
    return x, y, index


async def wait_for_place_in_url(page):
    await page.wait_for_function("location.hash === '#' + window.checkboxes.grid.topLeftBox()")
    return await top_left(page)


# -- the minimap ------------------------------------------------------------------


@pytest.mark.parametrize("size", [100_000, 1_000_000])
async def test_pressing_the_minimap_jumps_there_and_the_url_follows(browser, daphnes, size):
    await Board.objects.acreate(slug="far", size=size)
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/b/far/")
    x, y, target = await minimap_point(page, 0.5, 0.75)
    assert target > 0.6 * size

    await page.mouse.click(x, y)

    await expect(box(page, target)).to_be_in_viewport()
    shown = await range_in_view(page)
    assert shown["first"] <= target <= shown["last"]
    assert await wait_for_place_in_url(page) == shown["first"]
    await expect(page.locator("#minimap")).to_have_attribute("aria-valuenow", str(shown["first"]))


async def test_dragging_on_the_minimap_moves_the_view_with_the_pointer(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    x, start_y, _ = await minimap_point(page, 0.3, 0.1)
    _, end_y, target = await minimap_point(page, 0.3, 0.9)

    await page.mouse.move(x, start_y)
    await page.mouse.down()
    await page.mouse.move(x, end_y, steps=8)
    await page.mouse.up()

    await expect(box(page, target)).to_be_in_viewport()


async def test_the_minimap_shades_checked_regions_and_follows_live_changes(browser, daphnes):
    board = await default_board()
    await check(board, range(50_000, 50_400))
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    cells = await page.evaluate(
        "[50_100, 10, 90_000].map((index) => window.checkboxes.minimap.cellOf(index))",
    )
    await page.wait_for_function(f"window.checkboxes.minimap.counts[{cells[0]}] > 0")
    assert await page.evaluate(f"window.checkboxes.minimap.counts[{cells[1]}]") == 0
    busy, empty = await page.evaluate(
        """() => [50_100, 10].map((index) => {
            const map = window.checkboxes.minimap;
            const point = map.pointOf(index);
            const canvas = document.getElementById("minimap");
            const ratio = canvas.width / canvas.clientWidth;
            const pixel = canvas.getContext("2d").getImageData(point.x * ratio, point.y * ratio, 1, 1).data;
            return Array.from(pixel.slice(0, 3));
        })"""
    )
    assert busy != empty

    # Another player's change reaches the map without a reload.
    bob = await NetPlayer(server.url).join()
    await bob.send_set(90_000, 1)
    await page.wait_for_function(f"window.checkboxes.minimap.counts[{cells[2]}] === 1")
    await bob.leave()


async def test_the_minimap_is_a_slider_for_the_keyboard(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await page.locator("#minimap").focus()

    await page.keyboard.press("End")
    await expect(box(page, 99_999)).to_be_in_viewport()
    await page.keyboard.press("Home")
    await expect(box(page, 0)).to_be_in_viewport()
    await page.keyboard.press("PageDown")

    first = (await range_in_view(page))["first"]
    assert 9_000 < first <= 10_000
    await expect(page.locator("#minimap")).to_have_attribute("aria-valuenow", str(first))
    await expect(page.locator("#minimap")).to_have_attribute("aria-valuetext", re.compile(r"^Box [\d,]+, 10% "))


async def test_find_an_empty_spot_lands_where_nothing_is_checked(browser, daphnes):
    board = await default_board()
    # Everything checked except boxes 60,000 to 63,999.
    bits = bytearray(b"\xff" * bitset.byte_length(board.size))
    bits[60_000 // 8 : 64_000 // 8] = bytes(4_000 // 8)
    await sync_to_async(state.replace)(board, bits)
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)

    await page.click("#find-empty")

    shown = await range_in_view(page)
    assert shown["first"] >= 60_000 and shown["last"] < 64_000
    checked = await page.evaluate(
        """([first, last]) => {
            let checked = 0;
            for (let index = first; index <= last; index++) checked += window.checkboxes.sync.valueAt(index);
            return checked;
        }""",
        [shown["first"], shown["last"]],
    )
    assert checked == 0
    await expect(page).to_have_url(re.compile(r"#6[0-3]\d{3}$"))


async def test_find_an_empty_spot_on_a_full_board_goes_to_the_emptiest_stretch_and_says_so(browser, daphnes):
    board = await default_board()
    # Every box checked but for boxes 60,000 to 63,999, where only every eighth one is.
    bits = bytearray(b"\xff" * bitset.byte_length(board.size))
    bits[60_000 // 8 : 64_000 // 8] = b"\x80" * (4_000 // 8)
    await sync_to_async(state.replace)(board, bits)
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)

    await page.click("#find-empty")

    shown = await range_in_view(page)
    assert shown["first"] >= 59_000 and shown["last"] < 65_000
    await expect(page.locator("#toast")).to_contain_text("emptiest")


# -- the place in the URL -----------------------------------------------------------


async def test_a_link_to_a_box_opens_with_that_box_in_the_top_row(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#77777")
    await expect(box(page, 77_777)).to_be_in_viewport()
    columns = await page.evaluate("window.checkboxes.grid.columns")
    assert await top_left(page) // columns == 77_777 // columns
    await expect(page).to_have_url(re.compile(r"/#77777$"))


async def test_a_linked_box_stays_in_the_top_row_when_the_window_narrows(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/#50000")
    await page.set_viewport_size({"width": 700, "height": 600})
    await page.wait_for_function("window.checkboxes.grid.columns < 30")

    columns = await page.evaluate("window.checkboxes.grid.columns")
    assert await top_left(page) == 50_000 // columns * columns
    await expect(page).to_have_url(re.compile(r"/#50000$"))


async def test_the_place_survives_a_reload_and_a_server_restart(browser, daphnes, tmp_path):
    from harness.servers import Daphne

    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await page.locator("#viewport").evaluate("element => { element.scrollTop = 40_000; }")
    place = await wait_for_place_in_url(page)
    assert place > 0

    server.kill()
    restarted = await asyncio.to_thread(Daphne(tmp_path, port=server.port).start)
    try:
        await page.reload()
        await wait_until_live(page)
        assert await top_left(page) == place
        await expect(page).to_have_url(re.compile(rf"#{place}$"))
    finally:
        await asyncio.to_thread(restarted.stop)


async def test_copy_link_puts_a_link_to_this_spot_on_the_clipboard(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, permissions=["clipboard-read", "clipboard-write"])
    await page.fill("#jump-to", "12345")
    await page.press("#jump-to", "Enter")
    await expect(box(page, 12_345)).to_be_in_viewport()

    await page.get_by_role("button", name="Copy link to this spot").click()

    await expect(page.locator("#toast")).to_contain_text("Link copied")
    assert await page.evaluate("navigator.clipboard.readText()") == f"{server.url}/#12345"


# -- presence and tally ---------------------------------------------------------------


async def test_a_second_page_raises_the_player_count_to_two_and_leaving_lowers_it(browser, daphnes):
    (server,) = daphnes(1)
    alice = await open_board(browser, server.url)
    await expect(alice.locator("#players")).to_have_text("1")
    await expect(alice.locator(".stat-players")).to_have_text("1 player here")

    bob = await open_board(browser, server.url)

    await expect(bob.locator("#players")).to_have_text("2")
    await expect(alice.locator("#players")).to_have_text("2")
    await expect(alice.locator(".stat-players")).to_have_text("2 players here")
    await bob.context.close()
    await expect(alice.locator("#players")).to_have_text("1")


async def test_your_tally_counts_only_your_own_changes_and_survives_a_reload(browser, daphnes):
    (server,) = daphnes(1)
    alice = await open_board(browser, server.url)
    bob = await open_board(browser, server.url)
    for index in (0, 1, 2):
        await box(alice, index).click()
        await expect(box(alice, index)).to_be_checked()
    await box(alice, 1).click()
    await box(bob, 10).click()
    await expect(box(alice, 10)).to_be_checked()

    await expect(alice.locator("#tally-checked")).to_have_text("3")
    await expect(alice.locator("#tally-unchecked")).to_have_text("1")
    await expect(bob.locator("#tally-checked")).to_have_text("1")
    await alice.reload()
    await wait_until_live(alice)
    await expect(alice.locator("#tally-checked")).to_have_text("3")
    await expect(alice.locator("#tally-unchecked")).to_have_text("1")


# -- feedback -----------------------------------------------------------------------------


async def test_a_change_while_the_server_is_unreachable_rolls_back_and_says_so(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    server.kill()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")

    await box(page, 3).click()

    await expect(page.locator("#toast")).to_contain_text("can't save changes")
    await expect(page.locator("#toast")).to_have_attribute("data-kind", "refused")
    await expect(box(page, 3)).not_to_be_checked()
    await expect(page.locator("#tally-checked")).to_have_text("0")
    assert bit("main", 3) == 0


async def test_a_message_never_blocks_the_box_under_it(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await page.click("#copy-link")
    toast = page.locator("#toast")
    await expect(toast).to_be_visible()
    # A point of the toast with a box under it (not a gap between rounded corners).
    x, y, under = await page.evaluate(
        """() => {
            const area = document.getElementById("toast").getBoundingClientRect();
            for (let y = area.top + area.height / 2; y < area.bottom; y += 3) {
                const x = area.left + area.width / 2;
                const under = document.elementFromPoint(x, y);
                if (under.classList.contains("box")) return [x, y, Number(under.dataset.index)];
            }
            return [0, 0, null];
        }"""
    )
    assert under is not None

    await page.mouse.click(x, y)

    await expect(box(page, under)).to_be_checked()
    await expect(toast).to_be_visible()
    await confirmed(page, 1)
    assert bit("main", under) == 1


async def test_freezing_live_shows_the_banner_and_unfreezing_gives_the_boxes_back(browser, daphnes):
    board = await default_board()
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)

    await sync_to_async(state.set_frozen)(board, True)
    await events.publish("main", events.frozen(True))
    await expect(page.locator("#frozen-banner")).to_be_visible()
    await expect(box(page, 5)).to_be_disabled()
    await box(page, 5).click(force=True)
    await expect(page.locator("#toast")).to_contain_text("frozen")
    await expect(box(page, 5)).not_to_be_checked()

    await sync_to_async(state.set_frozen)(board, False)
    await events.publish("main", events.frozen(False))
    await expect(page.locator("#frozen-banner")).to_be_hidden()
    await box(page, 5).click()
    await expect(box(page, 5)).to_be_checked()
    await expect(page.locator("#count")).to_have_text("1")


# -- keyboard and screen readers ---------------------------------------------------------------


async def test_arrow_keys_move_focus_through_the_grid_and_space_toggles(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    for _ in range(8):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.classList.contains('box')"):
            break
    assert await focused_name(page) == "Box 0"
    columns = await page.evaluate("window.checkboxes.grid.columns")

    await page.keyboard.press("ArrowRight")
    assert await focused_name(page) == "Box 1"
    await page.keyboard.press("ArrowDown")
    assert await focused_name(page) == f"Box {1 + columns}"
    await page.keyboard.press("Space")
    await expect(box(page, 1 + columns)).to_be_checked()
    await page.keyboard.press("End")
    assert await focused_name(page) == f"Box {2 * columns - 1}"

    for _ in range(3):
        await page.keyboard.press("PageDown")
    focused = page.locator(":focus")
    await expect(focused).to_be_in_viewport()
    assert await focused.get_attribute("data-index") != str(2 * columns - 1)
    await page.keyboard.press("Control+End")
    assert await focused_name(page) == "Box 99,999"
    await expect(box(page, 99_999)).to_be_in_viewport()
    await expect(box(page, 99_999)).to_be_focused()
    assert await page.locator("input.box[tabindex='0']").count() == 1
    await confirmed(page, 1)
    assert bit("main", 1 + columns) == 1


async def test_the_focused_box_has_a_visible_ring(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await page.focus("#find-empty")
    await page.keyboard.press("Tab")
    ring = await page.evaluate(
        """() => {
            const style = getComputedStyle(document.activeElement);
            return [document.activeElement.className, style.outlineStyle, parseFloat(style.outlineWidth)];
        }"""
    )
    assert ring[0].startswith("box") and ring[1] == "solid" and ring[2] >= 2


async def test_the_count_is_announced_politely_once_a_burst_of_changes_settles(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await expect(page.locator("#announcer")).to_have_attribute("aria-live", "polite")
    await expect(page.locator("#announcer")).to_be_empty()
    await page.evaluate(
        """() => {
            window.announcements = 0;
            new MutationObserver(() => window.announcements++)
                .observe(document.getElementById("announcer"), { childList: true, characterData: true, subtree: true });
        }"""
    )
    # Five players check six boxes each at once: within each one's 7 a second.
    others = [await NetPlayer(server.url).join() for _ in range(5)]
    for index in range(30):
        await others[index % 5].send_set(index, 1)

    # Said once the burst settles, or (on a slow machine) once the 10 s gap has passed.
    await expect(page.locator("#announcer")).to_have_text("30 of 100,000 boxes checked", timeout=20_000)
    assert 1 <= await page.evaluate("window.announcements") <= 2
    for player in others:
        await player.leave()


# -- phones -----------------------------------------------------------------------------------------


async def test_a_phone_screen_has_no_sideways_scrolling_and_big_enough_targets(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    widths = await page.evaluate(
        "[document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth,"
        " document.getElementById('viewport').scrollWidth, document.getElementById('viewport').clientWidth]"
    )
    assert widths[0] <= widths[2] and widths[1] <= widths[2] and widths[3] <= widths[4]
    sticking_out = await page.evaluate(
        """() => Array.from(document.querySelectorAll("body *"))
            .map((element) => [element, element.getBoundingClientRect()])
            .filter(([element, box]) => box.width > 1 && box.right > innerWidth + 0.5)
            .map(([element]) => element.id || element.className || element.tagName)"""
    )
    assert sticking_out == []
    small = await page.evaluate(
        """() => Array.from(document.querySelectorAll("input, button, canvas"))
            .map((element) => [element, element.getBoundingClientRect()])
            .filter(([element, box]) => box.width > 1 && box.bottom > 0 && box.top < innerHeight && !element.hidden)
            .filter(([element, box]) => box.width < 24 || box.height < 24)
            .map(([element, box]) => `${element.id || element.ariaLabel}: ${box.width}x${box.height}`)"""
    )
    assert small == []

    await box(page, 4).tap()
    await expect(box(page, 4)).to_be_checked()
    await confirmed(page, 1)
    assert bit("main", 4) == 1


async def swipe(touch, x, from_y, to_y, steps=10):
    """A finger on the screen at (x, from_y), moved to (x, to_y), lifted."""
    await touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": from_y}]})
    for step in range(1, steps + 1):
        y = from_y + (to_y - from_y) * step / steps
        await touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    await touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def test_a_phone_scrolls_the_board_by_swiping_and_by_dragging_the_map(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    touch = await page.context.new_cdp_session(page)
    area = await page.locator("#viewport").bounding_box()

    middle = area["x"] + area["width"] / 2
    await swipe(touch, middle, area["y"] + area["height"] * 0.8, area["y"] + area["height"] * 0.2)
    await page.wait_for_function("document.getElementById('viewport').scrollTop > 100")
    await expect(box(page, 0)).not_to_be_in_viewport()

    x, start_y, _ = await minimap_point(page, 0.5, 0.2)
    _, end_y, target = await minimap_point(page, 0.5, 0.7)
    await swipe(touch, x, start_y, end_y, steps=5)
    await expect(box(page, target)).to_be_in_viewport()


# -- axe-core ---------------------------------------------------------------------------------------


async def axe_violations(page):
    """Violations of serious or critical impact, as readable strings."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does).")
    await page.add_script_tag(path=str(AXE))
    results = await page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    violations = results["violations"]
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']]}"
        for violation in violations
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(
    "options",
    [
        {"color_scheme": "light"},
        {"color_scheme": "dark"},
        {"color_scheme": "light", "viewport": PHONE, "is_mobile": True, "has_touch": True},
        {"color_scheme": "dark", "viewport": PHONE, "is_mobile": True, "has_touch": True},
    ],
    ids=["desktop-light", "desktop-dark", "phone-light", "phone-dark"],
)
async def test_axe_finds_nothing_serious_on_the_board(browser, daphnes, options):
    board = await default_board()
    await check(board, range(0, 400, 3))
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, **options)
    await box(page, 1).click()
    await expect(box(page, 1)).to_be_checked()
    await page.fill("#jump-to", "100000")
    await page.click("#jump button")
    await expect(page.locator("#jump-message")).to_be_visible()
    await page.click("#copy-link")
    await expect(page.locator("#toast")).to_be_visible()
    assert await axe_violations(page) == []


async def test_axe_finds_nothing_serious_on_a_frozen_board(browser, daphnes):
    board = await default_board()
    await sync_to_async(state.set_frozen)(board, True)
    (server,) = daphnes(1)
    page = await open_board(browser, server.url)
    await expect(page.locator("#frozen-banner")).to_be_visible()
    assert await axe_violations(page) == []


async def test_axe_finds_nothing_serious_on_the_not_found_page(browser, daphnes):
    (server,) = daphnes(1)
    page = await browser.new_page()
    await page.goto(server.url + "/b/no-such-board/")
    assert await axe_violations(page) == []
