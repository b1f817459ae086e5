"""A box's history in the admin reads a bounded part of the log and its archives per page (HISTORY_SCAN_ENTRIES).

Box 7 is changed twice long ago (archived, in a day file of its own) and
once lately (in the live log), with many changes of other boxes in between.
"""

import html
import re
import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from board.history import archive, queries
from board.store import changelog, state
from board.store.state import Author

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ALICE = Author("198.51.100.1/32", "198.51.100.1", "a1a1a1a1a1a1")
BOB = Author("198.51.100.2/32", "198.51.100.2", "b2b2b2b2b2b2")


@pytest.fixture
def busy(main_board):
    state.apply(main_board, [(7, 1), (7, 0)], [ALICE] * 2)
    state.apply(main_board, [(box, 1) for box in range(100, 130)], [BOB] * 30)
    time.sleep(1.05)
    call_command("archivelog", "--older-than", "1s", verbosity=0)
    assert changelog.length("main") == 0 and archive.days("main")
    state.apply(main_board, [(box, 1) for box in range(200, 230)], [BOB] * 30)
    state.apply(main_board, [(7, 1)], [ALICE])
    state.apply(main_board, [(box, 1) for box in range(300, 330)], [BOB] * 30)
    return main_board


def pages(client, board, **query):
    """Every page of box 7's history from the first, following "Older changes": (rows, html) of each."""
    found = []
    url = reverse("admin:board_board_boxes", args=[board.pk])
    address = f"{url}?box=7"
    while address:
        text = client.get(address).content.decode()
        rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(\w+)</td>", text, re.S)
        found.append((rows, text))
        more = re.search(r'<p id="box-history-more"><a href="([^"]+)"', text)
        address = url + html.unescape(more[1]) if more else None
        assert len(found) < 50, "the pages never reached the start"
    return found


def test_one_page_reads_no_more_than_its_budget_and_says_there_is_more(moderator_client, busy, settings):
    settings.HISTORY_SCAN_ENTRIES = 10
    (rows, text), *rest = pages(moderator_client, busy)
    # The 30 newest entries are other boxes': ten read, nothing found yet.
    assert rows == []
    assert "No changes of box 7 in this part of the history." in text
    assert rest


def test_following_older_changes_finds_the_whole_history_in_order(moderator_client, busy, settings):
    settings.HISTORY_SCAN_ENTRIES = 10
    found = [row for rows, _ in pages(moderator_client, busy) for row in rows]
    assert [value for _, value in found] == ["checked", "unchecked", "checked", "unchecked"]
    whole = queries.box_history(busy, 7, 500)
    assert [event.value for event in whole] == [1, 0, 1, 0]  # the last: the board's creation


def test_a_page_that_finds_its_limit_goes_on_after_the_last_one_shown(moderator_client, busy, settings):
    settings.HISTORY_SCAN_ENTRIES = 1000
    url = reverse("admin:board_board_boxes", args=[busy.pk])
    text = moderator_client.get(url, {"box": 7, "limit": 2}).content.decode()
    assert len(re.findall(r"<tr>\s*<td>", text)) == 2
    more = html.unescape(re.search(r'<p id="box-history-more"><a href="([^"]+)"', text)[1])
    rest = moderator_client.get(url + more).content.decode()
    assert re.findall(r"<tr>\s*<td>.*?</td>\s*<td>(\w+)</td>", rest, re.S) == ["checked", "unchecked"]


def test_with_the_default_budget_one_page_has_it_all(moderator_client, busy):
    ((rows, text),) = pages(moderator_client, busy)
    assert len(rows) == 4
    assert "box-history-more" not in text


def test_a_malformed_place_to_go_on_from_is_refused(moderator_client, busy):
    url = reverse("admin:board_board_boxes", args=[busy.pk])
    text = moderator_client.get(url, {"box": 7, "before": "not-an-id"}).content.decode()
    assert 'id="box-history"' not in text
    assert "That link to older changes is broken; search again." in text
