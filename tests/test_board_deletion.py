"""Deleting a board while players are on it: they are told, and a new board of its name starts clean."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from playwright.async_api import expect

from board.models import Board
from board.store import state
from harness.players import NetPlayer, fetch_state
from tests.pages import open_board

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("hubs")]


def keys_of(slug):
    return sorted(state.sync_client().scan_iter(match=f"*{{{slug}}}*"))


async def test_deleting_a_board_closes_its_sockets_everywhere_and_a_new_one_starts_clean(daphnes):
    first, second = daphnes(2)
    board = await Board.objects.acreate(slug="doomed", size=64)
    alice = await NetPlayer(first.url, slug="doomed").join()
    bob = await NetPlayer(second.url, slug="doomed", local_address="127.0.0.2").join()
    await bob.load()
    await alice.send_set(7, 1)
    await bob.wait_for_version(1)
    assert keys_of("doomed")

    await sync_to_async(board.delete)()

    for player in (alice, bob):
        assert await player.closed_with() == 4410
        assert player.controls[-1]["code"] == "board_deleted"
    assert keys_of("doomed") == []
    with pytest.raises(Exception, match="404"):
        await asyncio.to_thread(fetch_state, first.url, "doomed")

    await Board.objects.acreate(slug="doomed", size=32)
    for server, address in ((first, "127.0.0.3"), (second, "127.0.0.4")):
        player = await NetPlayer(server.url, slug="doomed", local_address=address).join()
        assert (player.hello["size"], player.hello["count"], player.hello["version"]) == (32, 0, 0)
        bits, _, version = await asyncio.to_thread(fetch_state, server.url, "doomed")
        assert (bits, version) == (bytes(4), 0)
        await player.leave()


def test_a_change_that_arrives_after_the_deletion_does_not_bring_the_board_back(db, django_capture_on_commit_callbacks):
    board = Board.objects.create(slug="doomed", size=64)
    state.apply(board, [(1, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        Board.objects.filter(pk=board.pk).delete()
    assert keys_of("doomed") == []
    with pytest.raises(state.BoardGone):
        state.apply(board, [(2, 1)])
    assert keys_of("doomed") == []


@pytest.mark.browser
async def test_the_page_of_a_deleted_board_says_so_and_stops_reconnecting(browser, daphnes):
    (server,) = daphnes(1)
    board = await Board.objects.acreate(slug="doomed", size=64)
    page = await open_board(browser, server.url, "/b/doomed/")
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket))

    await sync_to_async(board.delete)()

    await expect(page.locator("#connection")).to_have_attribute("data-state", "deleted")
    await expect(page.locator("#connection")).to_have_text("This board was deleted")
    await expect(page.locator("#toast")).to_contain_text("This board was deleted by its moderators.")
    await page.wait_for_timeout(3000)  # longer than the first reconnection's backoff
    assert sockets == []
