"""Sharing a board: the public list of boards, link previews (og: tags and a preview image), the 404 page."""

import io
import re
import time

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from PIL import Image
from playwright.async_api import expect

from board import sharing
from board.models import Board
from board.store import state
from tests.pages import open_board, wait_until_live
from tests.test_experience import axe_violations

pytestmark = pytest.mark.django_db


def calls(command):
    """How many times Redis has run ``command`` since the last reset."""
    return state.sync_client().info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


@pytest.fixture(autouse=True)
def no_previews_held():
    sharing.forget_previews()
    yield
    sharing.forget_previews()


@pytest.fixture
def tiny(db):
    board = Board.objects.create(slug="tiny", title="Tiny", size=24)
    state.apply(board, [(0, 1), (5, 1), (23, 1)])
    return board


def here_now(slug, process, players):
    state.sync_client().hset(state.presence_key(slug), process, f"{players} {timezone.now().timestamp():.3f}")


def row_of(html, title):
    """The list's table row for the board titled ``title``, as its cells' texts."""
    row = re.search(rf"<tr>\s*<th scope=\"row\"><a [^>]*>{re.escape(title)}</a></th>(.*?)</tr>", html, re.S)
    assert row, f"no row for {title}"
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]


# -- the list of boards -------------------------------------------------------------


def test_the_list_shows_every_board_with_its_size_checked_count_and_players_now(client, main_board, tiny):
    state.apply(main_board, [(k, 1) for k in range(1234)])
    here_now("main", "process:a", 3)
    here_now("main", "process:b", 2)
    response = client.get("/boards/")
    assert response.status_code == 200
    html = response.content.decode()
    assert row_of(html, "One Hundred Thousand Checkboxes") == ["100,000", "1,234", "5"]
    assert row_of(html, "Tiny") == ["24", "3", "0"]
    assert 'href="/b/tiny/"' in html and 'href="/"' in html


def test_players_of_a_process_that_stopped_are_not_listed(client, tiny):
    here_now("tiny", "live", 4)
    state.sync_client().hset(state.presence_key("tiny"), "gone", f"9 {time.time() - 600:.3f}")
    assert row_of(client.get("/boards/").content.decode(), "Tiny")[2] == "4"


def test_a_board_not_yet_in_redis_is_listed_with_the_count_it_loads_with(client, tiny):
    state.sync_client().delete(*state.keys("tiny"))
    # No snapshot: it starts empty, as its page would show it.
    assert row_of(client.get("/boards/").content.decode(), "Tiny") == ["24", "0", "0"]
    assert state.meta(tiny).count == 0


def test_the_list_reads_every_boards_figures_in_one_round_trip(client, main_board, tiny):
    for slug in ("a", "b", "c"):
        state.apply(Board.objects.create(slug=slug, size=16), [(1, 1)])
    state.meta(main_board)
    state.sync_client().config_resetstat()
    client.get("/boards/")
    # One HMGET of the meta and one HGETALL of the presence per board, pipelined.
    assert calls("hmget") == 5
    assert calls("hgetall") == 5


def test_the_board_page_links_to_the_list(client, main_board):
    html = client.get("/").content.decode()
    link = re.search(r'<a href="/boards/" class="button">(.*?)</a>', html)
    # "Boards" on a phone (board.css), "All boards" elsewhere.
    assert link and '<span class="label label-long">All boards</span>' in link.group(1)


# -- og: tags ----------------------------------------------------------------------


def meta_tags(html):
    return dict(re.findall(r'<meta (?:property|name)="((?:og|twitter):[a-z:]+)" content="([^"]*)">', html))


def test_a_board_page_has_og_and_twitter_tags_pointing_at_its_preview(client, tiny):
    tags = meta_tags(client.get("/b/tiny/").content.decode())
    assert tags["og:title"] == "Tiny"
    assert "24 checkboxes" in tags["og:description"]
    assert tags["og:url"] == "http://testserver/b/tiny/"
    assert tags["og:image"] == "http://testserver/b/tiny/preview.png"
    assert tags["twitter:card"] == "summary_large_image"


# -- the preview image ------------------------------------------------------------------


def test_the_preview_is_a_1200_by_630_png_showing_the_checked_boxes(client, tiny):
    response = client.get("/b/tiny/preview.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    picture = Image.open(io.BytesIO(response.content))
    assert picture.format == "PNG"
    assert picture.size == (1200, 630)
    # The board's orange-red checked boxes are in it.
    assert (200, 62, 24) in {colour for _, colour in picture.convert("RGB").getcolors(1200 * 630)}


def test_a_second_request_is_served_from_the_held_preview_with_the_same_etag(client, tiny):
    first = client.get("/b/tiny/preview.png")
    state.sync_client().config_resetstat()
    again = client.get("/b/tiny/preview.png")
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]
    assert "max-age=60" in again["Cache-Control"]
    # Only the meta was read; the bitset was not read again.
    assert calls("get") == 0


def test_a_matching_if_none_match_gets_304_without_a_body(client, tiny):
    tag = client.get("/b/tiny/preview.png")["ETag"]
    response = client.get("/b/tiny/preview.png", headers={"if-none-match": tag})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == tag


def test_a_change_within_the_minute_keeps_the_held_preview(client, tiny):
    tag = client.get("/b/tiny/preview.png")["ETag"]
    state.apply(tiny, [(7, 1)])
    assert client.get("/b/tiny/preview.png")["ETag"] == tag


def test_a_preview_older_than_a_minute_is_drawn_again_after_a_change(client, tiny, monkeypatch):
    tag = client.get("/b/tiny/preview.png")["ETag"]
    state.apply(tiny, [(7, 1)])
    monkeypatch.setattr(sharing, "PREVIEW_SECONDS", 0)
    fresh = client.get("/b/tiny/preview.png")
    assert fresh["ETag"] != tag
    meta = state.meta(tiny)
    assert fresh["ETag"] == f'"preview-{meta.epoch}-{meta.version}"'


def test_a_cleared_board_gets_a_new_preview_at_once(client, tiny):
    from board import moderation

    tag = client.get("/b/tiny/preview.png")["ETag"]
    moderation.clear(tiny)
    assert client.get("/b/tiny/preview.png")["ETag"] != tag


def test_previews_count_toward_the_networks_state_budget(client, tiny, settings):
    settings.BOARD_STATE_RATE_LIMITS = [(2, 3600)]
    assert [client.get("/b/tiny/preview.png").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/b/tiny/state").status_code == 429


def test_the_preview_of_an_unknown_board_is_404(client):
    assert client.get("/b/no-such-board/preview.png").status_code == 404


def test_a_large_board_preview_keeps_the_size(main_board):
    bits, meta = state.read(main_board)
    picture = Image.open(io.BytesIO(sharing.draw(bits, meta.size, main_board.display_title, meta.count)))
    assert picture.size == (1200, 630)


# -- the 404 page, DEBUG on or off ----------------------------------------------------


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
@pytest.mark.parametrize("path", ["/b/no-such-board/", "/no/such/page", "/b/no-such-board/preview.png"])
def test_an_unknown_board_or_path_gets_the_projects_own_404_page(client, settings, debug, path):
    settings.DEBUG = debug
    response = client.get(path)
    assert response.status_code == 404
    html = response.content.decode()
    assert '<h1 class="title">No board here</h1>' in html
    assert "Django" not in html and "URLconf" not in html


# -- in a browser -------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("color_scheme", ["light", "dark"])
async def test_a_player_goes_from_the_board_to_the_list_and_on_to_another_board(browser, daphnes, color_scheme):
    await sync_to_async(Board.objects.default)()
    await sync_to_async(Board.objects.create)(slug="art", title="Pixel art", size=400)
    (server,) = daphnes(1)
    page = await open_board(browser, server.url, color_scheme=color_scheme)
    await page.get_by_role("link", name="All boards").click()
    await expect(page).to_have_url(server.url + "/boards/")
    await expect(page.get_by_role("row", name=re.compile("Pixel art"))).to_contain_text("400")
    assert await axe_violations(page) == []
    await page.get_by_role("link", name="Pixel art").click()
    await wait_until_live(page)
    await expect(page.locator("h1")).to_have_text("Pixel art")
