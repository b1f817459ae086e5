"""Reverting a vandal: their changes undone from the log, everyone else's kept, every player seeing it live."""

import asyncio
import ipaddress

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from board import moderation
from board.history import queries
from board.models import Snapshot
from board.store import changelog, snapshots, state
from board.store.changelog import Change
from tests.boards import bit, default_board
from tests.players import Player

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs")]

ALICE, BOB, VANDAL = "198.51.100.1", "198.51.100.2", "203.0.113.9"
VANDALS = ipaddress.ip_network("203.0.113.9/32")
DRAWING = range(100, 140)


async def sets(player, changes):
    for index, value in changes:
        await player.send_set(index, value)
    for _ in changes:
        await player.receive_result()


async def moment():
    """Now, then a few milliseconds: the log keeps milliseconds, and a change in since's own one counts as before."""
    now = timezone.now()
    await asyncio.sleep(0.005)
    return now


async def vandalised_drawing():
    """Alice draws; the vandal wipes the drawing and scribbles; Bob changes some boxes after them."""
    board = await default_board()
    alice, bob, vandal = [await Player(address=a).join(board) for a in (ALICE, BOB, VANDAL)]
    await sets(alice, [(box, 1) for box in DRAWING])
    since = await moment()
    await sets(vandal, [(box, 0) for box in DRAWING] + [(box, 1) for box in range(200, 210)])
    # Bob wants 105 unchecked after all; he checks box 110 again, which the vandal then unchecks once more.
    await sets(bob, [(105, 1), (105, 0), (110, 1)])
    await sets(vandal, [(110, 0)])
    for player in (alice, bob, vandal):
        await player.leave()
    return board, since


async def test_a_revert_restores_the_vandalised_drawing_and_keeps_a_later_honest_change():
    board, since = await vandalised_drawing()

    done = await sync_to_async(moderation.revert)(board, VANDALS, since)

    assert [bit("main", box) for box in DRAWING if box != 105] == [1] * 39
    assert bit("main", 105) == 0  # Bob's change, made after the vandal's, stays.
    assert [bit("main", box) for box in range(200, 210)] == [0] * 10
    assert done.changed == 49
    assert done.plan.kept == {105}
    assert (await state.ameta(board)).count == 39


async def test_a_revert_saves_the_board_first():
    board, since = await vandalised_drawing()
    vandalised = state.sync_client().get(state.keys("main")[0])

    done = await sync_to_async(moderation.revert)(board, VANDALS, since, None)

    before = await Snapshot.objects.aget(pk=done.before.pk)
    assert before.reason == Snapshot.Reason.BEFORE_REVERT
    assert before.bits() == vandalised
    assert before.note.startswith("Before reverting 203.0.113.9/32 since ")


async def test_connected_players_see_the_revert_live():
    board, since = await vandalised_drawing()
    watcher = await Player(address="198.51.100.3").join(board)
    version = watcher.replica.version

    await sync_to_async(moderation.revert)(board, VANDALS, since)

    await watcher.wait_for_version(version + 49)
    assert watcher.replica.bits == bytearray(state.sync_client().get(state.keys("main")[0]))
    assert watcher.replica.get(100) == 1
    await watcher.leave()


async def test_the_revert_is_in_the_log_as_changes_by_the_moderator(admin_user):
    board, since = await vandalised_drawing()

    await sync_to_async(moderation.revert)(board, VANDALS, since, admin_user)

    reverted = [e for e in changelog.read("main") if isinstance(e, Change) and e.connection.startswith("revert")]
    assert len(reverted) == 49
    assert {(e.network, e.connection) for e in reverted} == {("", "revert by admin:admin")}


async def test_reverting_twice_finds_nothing_left_to_revert():
    board, since = await vandalised_drawing()
    await sync_to_async(moderation.revert)(board, VANDALS, since)

    with pytest.raises(moderation.ModerationError, match="Nothing to revert"):
        await sync_to_async(moderation.revert)(board, VANDALS, since)

    assert not await Snapshot.objects.filter(reason=Snapshot.Reason.BEFORE_REVERT).acount() > 1


async def test_a_frozen_board_is_reverted_too():
    board, since = await vandalised_drawing()
    await sync_to_async(moderation.freeze)(board, True)

    await sync_to_async(moderation.revert)(board, VANDALS, since)

    assert bit("main", 100) == 1
    assert (await state.ameta(board)).frozen is True


async def test_a_revert_only_looks_at_changes_since_the_time_given():
    board, _ = await vandalised_drawing()
    vandal = await Player(address=VANDAL).join(board)
    since = await moment()
    await sets(vandal, [(300, 1)])

    done = await sync_to_async(moderation.revert)(board, VANDALS, since)

    assert (done.changed, bit("main", 300), bit("main", 100)) == (1, 0, 0)
    await vandal.leave()


async def test_a_network_reverts_every_address_inside_it():
    board, since = await vandalised_drawing()
    accomplice = await Player(address="203.0.113.77").join(board)
    await sets(accomplice, [(400, 1)])

    done = await sync_to_async(moderation.revert)(board, ipaddress.ip_network("203.0.113.0/24"), since)

    assert (bit("main", 400), bit("main", 100), done.changed) == (0, 1, 50)
    await accomplice.leave()


async def test_changes_a_restore_already_replaced_are_not_reverted():
    board, _ = await vandalised_drawing()
    saved = await sync_to_async(snapshots.take)(board, Snapshot.Reason.MANUAL)
    since = await moment()
    vandal = await Player(address=VANDAL).join(board)
    await sets(vandal, [(500, 1)])
    await sync_to_async(moderation.restore)(saved)

    plan = await sync_to_async(queries.revert_plan)(board, VANDALS, since)

    assert (plan.changes, plan.restore) == (0, {})
    await vandal.leave()


async def test_the_plan_counts_what_the_revert_would_do_and_changes_nothing():
    board, since = await vandalised_drawing()
    version = (await state.ameta(board)).version

    plan = await sync_to_async(queries.revert_plan)(board, VANDALS, since)

    assert plan.changes == 51
    assert (len(plan.restore), plan.checks, plan.unchecks) == (49, 39, 10)
    assert (plan.kept, plan.unchanged) == ({105}, set())
    assert (await state.ameta(board)).version == version
    assert not await Snapshot.objects.aexists()
