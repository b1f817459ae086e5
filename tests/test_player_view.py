"""Which box is which, in a real Chromium against real daphne: the number of the
box under the pointer or focused, the range in view, where a jump or an empty
spot lands (ringed, focused, said, clear of the header), why a jump went
nowhere, and a phone's compact header."""

import re

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from board.store import state
from tests.boards import default_board
from tests.pages import box, open_board
from tests.test_experience import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("hubs")]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
ON_A_PHONE = {"viewport": PHONE, "is_mobile": True, "has_touch": True}

# The boxes at least half inside the board's scrolled area, as the player sees them.
BOXES_IN_VIEW = """() => {
    const view = document.getElementById("viewport").getBoundingClientRect();
    const shown = Array.from(document.querySelectorAll("#rows .box"))
        .filter((box) => !box.hidden)
        .filter((box) => {
            const at = box.getBoundingClientRect();
            const middle = at.top + at.height / 2;
            return middle >= view.top && middle < view.bottom;
        })
        .map((box) => Number(box.dataset.index));
    return [Math.min(...shown), Math.max(...shown)];
}"""


async def open_desktop(browser, server, path="/"):
    return await open_board(browser, server.url, path, viewport=DESKTOP)


async def open_phone(browser, server, path="/"):
    return await open_board(browser, server.url, path, **ON_A_PHONE)


async def jump(page, text):
    await page.fill("#jump-to", text)
    await page.press("#jump-to", "Enter")


async def focused_name(page):
    return await page.evaluate("document.activeElement.getAttribute('aria-label')")


async def assert_the_range_matches_the_rows(page):
    first, last = await page.evaluate(BOXES_IN_VIEW)
    await expect(page.locator("#place")).to_have_text(f"Boxes {first:,}–{last:,} of 100,000")
    return first, last


async def assert_clear_of_the_header(page, target):
    """The box and the ring around it are inside the board's area, below the header."""
    header = await page.locator("header.bar").bounding_box()
    view = await page.locator("#viewport").bounding_box()
    area = await target.bounding_box()
    ring = 5  # 3 px of outline, 2 px from the box (board.css, .is-target)
    assert area["y"] - ring >= header["y"] + header["height"]
    assert area["y"] - ring >= view["y"]
    assert area["y"] + area["height"] + ring <= view["y"] + view["height"]
    middle = [area["x"] + area["width"] / 2, area["y"] + area["height"] / 2]
    assert await page.evaluate("([x, y]) => document.elementFromPoint(x, y).dataset.index", middle) == (
        await target.get_attribute("data-index")
    )


# -- the number of a box ------------------------------------------------------------------------


async def test_hovering_a_box_shows_its_number_next_to_it(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_desktop(browser, server)
    label = page.locator("#box-label")
    await expect(label).to_be_hidden()

    target = box(page, 140)
    await target.hover()

    await expect(label).to_be_visible()
    await expect(label).to_have_text("Box 140")
    await expect(label).to_have_attribute("aria-hidden", "true")
    near, there = await label.bounding_box(), await target.bounding_box()
    assert abs((near["x"] + near["width"] / 2) - (there["x"] + there["width"] / 2)) < 2
    assert 0 <= there["y"] - (near["y"] + near["height"]) <= 10

    await page.mouse.move(5, 5)
    await expect(label).to_be_hidden()


async def test_the_label_of_a_box_in_the_top_row_sits_under_it_inside_the_board(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_desktop(browser, server)
    target = box(page, 3)
    await target.hover()
    near, there = await page.locator("#box-label").bounding_box(), await target.bounding_box()
    view = await page.locator("#viewport").bounding_box()
    assert near["y"] >= there["y"] + there["height"]
    assert near["y"] + near["height"] <= view["y"] + view["height"]


async def test_the_focused_box_shows_its_number_and_its_name_says_it(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_desktop(browser, server)
    label = page.locator("#box-label")
    await page.focus("#find-empty")
    await page.keyboard.press("Tab")
    await expect(label).to_have_text("Box 0")
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    await expect(label).to_have_text("Box 3")
    assert await focused_name(page) == "Box 3"
    # Scrolled a screen on, the label follows the focus to its new box.
    await page.keyboard.press("PageDown")
    await expect(label).to_have_text(f"Box {await page.evaluate('window.checkboxes.grid.active'):,}")
    assert await label.text_content() != "Box 3"


async def test_hovering_says_nothing_to_screen_readers(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_desktop(browser, server)
    for index in (10, 11, 12, 80):
        await box(page, index).hover()
    await expect(page.locator("#box-label")).to_have_text("Box 80")
    live = await page.evaluate(
        "Array.from(document.querySelectorAll('[aria-live], [role=status]')).map((region) => region.textContent.trim())"
    )
    assert not any("Box 80" in text for text in live)


# -- the range in view ----------------------------------------------------------------------------


async def test_the_range_in_view_matches_the_rows_and_follows_a_scroll(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_desktop(browser, server)
    first, _ = await assert_the_range_matches_the_rows(page)
    assert first == 0

    await page.locator("#viewport").hover()
    await page.mouse.wheel(0, 2_000)
    await page.wait_for_function("document.getElementById('viewport').scrollTop > 1500")
    moved, _ = await assert_the_range_matches_the_rows(page)
    assert moved > first


async def test_the_range_in_view_is_shown_on_a_phone_too(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_phone(browser, server, "/#50000")
    await expect(page.locator("#place")).to_be_visible()
    first, last = await assert_the_range_matches_the_rows(page)
    assert first <= 50_000 <= last


# -- where a jump lands ---------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{"viewport": DESKTOP}, ON_A_PHONE], ids=["desktop", "phone"])
async def test_a_jump_rings_focuses_and_announces_its_box_clear_of_the_header(browser, daphnes, options):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, **options)
    await jump(page, "51234")

    target = box(page, 51_234)
    await expect(target).to_have_class(re.compile(r"\bis-target\b"))
    await expect(target).to_be_focused()
    await expect(page.locator("#landed")).to_have_text("Box 51,234")
    await expect(page.locator("#box-label")).to_have_text("Box 51,234")
    await assert_clear_of_the_header(page, target)
    # The ring fades: the mark is for a moment.
    await expect(target).not_to_have_class(re.compile(r"\bis-target\b"), timeout=10_000)


async def test_a_jump_reads_a_number_written_with_commas(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_desktop(browser, server)
    await jump(page, "77,777")
    await expect(box(page, 77_777)).to_be_focused()
    await expect(page.locator("#jump-message")).to_be_hidden()


async def test_jumping_to_the_same_box_again_announces_it_again(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_desktop(browser, server)
    await page.evaluate(
        """() => {
            window.said = [];
            new MutationObserver(() => {
                const text = document.getElementById("landed").textContent;
                if (text) window.said.push(text);
            }).observe(document.getElementById("landed"), { childList: true, characterData: true, subtree: true });
        }"""
    )
    await jump(page, "500")
    await expect(page.locator("#landed")).to_have_text("Box 500")
    await jump(page, "500")
    await page.wait_for_function("window.said.length === 2")
    assert await page.evaluate("window.said") == ["Box 500", "Box 500"]


async def test_an_empty_spot_is_ringed_focused_and_announced(browser, daphnes):
    board = await default_board()
    # The first 30,000 boxes checked: the empty spot is somewhere past them.
    await sync_to_async(state.apply)(board, [(index, 1) for index in range(30_000)])
    (server,) = daphnes(1)
    page = await open_desktop(browser, server)

    await page.click("#find-empty")

    index = await page.evaluate("window.checkboxes.grid.active")
    assert index >= 30_000
    target = box(page, index)
    await expect(target).to_be_focused()
    await expect(target).to_have_class(re.compile(r"\bis-target\b"))
    await expect(page.locator("#landed")).to_have_text(f"Box {index:,}")
    await assert_clear_of_the_header(page, target)


# -- a jump that goes nowhere ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Type a box number from 0 to 99,999."),
        ("   ", "Type a box number from 0 to 99,999."),
        ("100000", "There is no box 100,000: boxes are numbered from 0 to 99,999."),
        ("4000000000", "There is no box 4,000,000,000: boxes are numbered from 0 to 99,999."),
        ("-5", "“-5” is not a box number: type one from 0 to 99,999."),
        ("1.5", "“1.5” is not a box number: type one from 0 to 99,999."),
        ("lots", "“lots” is not a box number: type one from 0 to 99,999."),
    ],
    ids=["empty", "blank", "past-the-end", "far-past-the-end", "negative", "fraction", "words"],
)
async def test_a_jump_that_goes_nowhere_says_why_in_the_form(browser, daphnes, typed, says):
    (server,) = daphnes(1)
    page = await open_desktop(browser, server, "/#40000")
    before = await page.evaluate("document.getElementById('viewport').scrollTop")
    await jump(page, typed)

    message = page.locator("#jump-message")
    await expect(message).to_be_visible()
    await expect(message).to_have_text(says)
    await expect(page.locator("#jump-to")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#jump-to")).to_be_focused()
    assert "jump-message" in await page.locator("#jump-to").get_attribute("aria-describedby")
    assert await page.evaluate("document.getElementById('viewport').scrollTop") == before
    await expect(page.locator("#landed")).to_have_text("")


async def test_typing_again_clears_the_message_and_a_good_jump_goes(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_desktop(browser, server)
    await jump(page, "100000")
    await expect(page.locator("#jump-message")).to_be_visible()
    await page.fill("#jump-to", "99999")
    await expect(page.locator("#jump-message")).to_be_hidden()
    await expect(page.locator("#jump-to")).not_to_have_attribute("aria-invalid", "true")
    await page.press("#jump-to", "Enter")
    await expect(box(page, 99_999)).to_be_focused()


# -- a phone --------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 1920])
async def test_the_default_boards_title_is_shown_whole_on_a_desktop(browser, daphnes, width):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, "/", viewport={"width": width, "height": 900})
    await expect(page.locator(".title-text")).to_have_text("One Hundred Thousand Checkboxes")
    cut = await page.evaluate("(t => t.scrollWidth > t.clientWidth)(document.querySelector('.title-text'))")
    assert not cut


async def test_a_phone_header_is_compact_and_shows_the_count_with_its_total(browser, daphnes):
    board = await default_board()
    await sync_to_async(state.apply)(board, [(index, 1) for index in range(1_234)])
    (server,) = daphnes(1)
    page = await open_phone(browser, server)
    header = await page.locator("header.bar").bounding_box()
    assert header["height"] <= 0.12 * PHONE["height"]
    await expect(page.locator(".stat-count")).to_have_text("1,234 of 100,000 checked")
    # Shortened on the screen, the total kept.
    await expect(page.locator(".stat-count")).to_have_text("1,234 of 100,000", use_inner_text=True)
    for part in ("#count", "#board-size"):
        await expect(page.locator(part)).to_be_visible()
        area = await page.locator(part).bounding_box()
        assert area["x"] >= 0 and area["x"] + area["width"] <= PHONE["width"]
    await expect(page.locator("h1")).to_be_visible()


async def test_a_phone_header_has_buttons_with_words(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_phone(browser, server)
    # The words drawn on each button: what is shown, less what only a screen reader gets.
    words = await page.evaluate(
        """() => Array.from(document.querySelectorAll("header .button")).map((button) => {
            const shown = button.cloneNode(true);
            const parts = Array.from(button.querySelectorAll("*"));
            Array.from(shown.querySelectorAll("*")).forEach((part, k) => {
                const hidden = parts[k].getClientRects().length === 0 || parts[k].matches(".visually-hidden");
                if (hidden) part.remove();
            });
            const area = button.getBoundingClientRect();
            return [shown.textContent.trim(), area.left >= 0 && area.right <= innerWidth];
        })"""
    )
    assert words == [["Go", True], ["Link", True], ["Boards", True], ["Empty spot", True]]
    # The empty-spot button says what it does: no magnifier that reads as "search".
    assert await page.locator("#find-empty svg").is_hidden()
    await expect(page.get_by_role("button", name="Empty spot", exact=True)).to_be_visible()


async def test_a_phone_has_no_sideways_scroll_even_with_a_message_shown(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_phone(browser, server)
    await jump(page, "a box number that is far too long to fit in one line of a phone")
    await expect(page.locator("#jump-message")).to_be_visible()
    widths = await page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]")
    assert widths[0] <= widths[2] and widths[1] <= widths[2]
    bubble = await page.locator("#jump-message").bounding_box()
    assert bubble["x"] >= 0 and bubble["x"] + bubble["width"] <= PHONE["width"]


async def test_a_phone_header_keeps_the_title_and_the_count_apart_while_reconnecting(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_phone(browser, server)
    server.kill()
    await expect(page.locator("#connection")).to_have_text("Reconnecting…")
    title, count = await page.locator("h1").bounding_box(), await page.locator(".stat-count").bounding_box()
    status = await page.locator("#connection").bounding_box()
    assert title["x"] + title["width"] <= count["x"]
    assert status["x"] + status["width"] <= PHONE["width"]
    await expect(page.locator("#board-size")).to_be_visible()


async def test_tapping_a_box_on_a_phone_shows_its_number(browser, daphnes):
    (server,) = daphnes(1)
    page = await open_phone(browser, server)
    await box(page, 12).tap()
    await expect(box(page, 12)).to_be_checked()
    await expect(page.locator("#box-label")).to_have_text("Box 12")
    await expect(page.locator("#box-label")).to_be_visible()


# -- axe ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{"viewport": DESKTOP}, ON_A_PHONE], ids=["desktop", "phone"])
async def test_axe_finds_nothing_serious_with_a_label_a_ring_and_a_message_shown(browser, daphnes, options):
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, **options)
    await jump(page, "2000")
    await expect(box(page, 2_000)).to_have_class(re.compile(r"\bis-target\b"))
    await jump(page, "nowhere")
    await expect(page.locator("#jump-message")).to_be_visible()
    await box(page, 2_001).hover()
    await expect(page.locator("#box-label")).to_have_text("Box 2,001")
    assert await axe_violations(page) == []
