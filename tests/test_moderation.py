"""Freeze, restore, clear and import reach every connected player (through real Redis and the hubs)."""

import pytest
from asgiref.sync import sync_to_async

from board import moderation
from board.models import Board, Snapshot
from board.store import snapshots, state
from board.store.state import Status
from tests.boards import default_board
from tests.players import Player

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs")]


async def players(board, count=2):
    return [await Player().join(board) for _ in range(count)]


async def test_freezing_tells_every_player_and_refuses_changes():
    board = await default_board()
    alice, bob = await players(board)

    await sync_to_async(moderation.freeze)(board, True)

    assert (await bob.receive_control("frozen"))["frozen"] is True
    assert (await Board.objects.aget(pk=board.pk)).frozen is True
    await alice.send_set(5, 1)
    assert (await alice.receive_result())[2] == Status.FROZEN
    assert state.sync_client().getbit(state.keys("main")[0], 5) == 0
    await alice.leave()
    await bob.leave()


async def test_unfreezing_lets_players_change_boxes_again():
    board = await default_board()
    await sync_to_async(moderation.freeze)(board, True)
    (alice,) = await players(board, 1)
    assert alice.hello["frozen"] is True

    await sync_to_async(moderation.freeze)(board, False)

    assert (await alice.receive_control("frozen"))["frozen"] is False
    await alice.send_set(5, 1)
    assert (await alice.receive_result())[2] == Status.APPLIED
    await alice.leave()


async def test_freezing_a_frozen_board_says_it_changed_nothing():
    board = await default_board()
    assert await sync_to_async(moderation.freeze)(board, True) is True
    assert await sync_to_async(moderation.freeze)(board, True) is False


async def test_a_restore_reaches_every_connected_player():
    board = await default_board()
    alice, bob = await players(board)
    for index in (10, 11, 12):
        await alice.send_set(index, 1)
    await bob.wait_for_version(3)
    saved = await sync_to_async(snapshots.take)(board, Snapshot.Reason.MANUAL)
    # Then a vandal unchecks them and checks others.
    for index, value in ((10, 0), (11, 0), (500, 1), (501, 1)):
        await alice.send_set(index, value)
    await bob.wait_for_version(7)
    old_epoch = bob.replica.epoch

    done = await sync_to_async(moderation.restore)(saved)

    assert (await bob.receive_control("resync"))["reason"] == "restored"
    await bob.load(board)
    assert bob.replica.bits == bytearray(saved.bits())
    assert bob.replica.epoch != old_epoch
    assert (bob.replica.get(10), bob.replica.get(500)) == (1, 0)
    assert done.before.reason == "before-restore"
    assert done.before.count == 3
    assert (await alice.receive_control("resync"))["reason"] == "restored"
    await alice.leave()
    await bob.leave()


async def test_a_restore_saves_the_board_before_and_after():
    board = await default_board()
    await sync_to_async(state.apply)(board, [(1, 1)])
    saved = await sync_to_async(snapshots.take)(board, Snapshot.Reason.MANUAL)
    await sync_to_async(state.apply)(board, [(2, 1)])

    done = await sync_to_async(moderation.restore)(saved)

    assert done.before.bits() != saved.bits()
    assert done.after.bits() == saved.bits()
    assert done.after.reason == "restored"
    # The newest snapshot is the restored board, so a Redis loss now cannot undo the restore.
    assert (await sync_to_async(board.initial_state)())[0] == saved.bits()


async def test_changes_after_a_restore_carry_on_from_the_restored_board():
    board = await default_board()
    alice, bob = await players(board)
    saved = await sync_to_async(snapshots.take)(board, Snapshot.Reason.MANUAL)
    await alice.send_set(3, 1)
    await bob.wait_for_version(1)
    await sync_to_async(moderation.restore)(saved)
    await bob.receive_control("resync")
    await bob.load(board)

    await alice.send_set(4, 1)

    await bob.wait_for_version(bob.replica.version + 1)
    assert (bob.replica.get(3), bob.replica.get(4)) == (0, 1)
    assert bob.replica.bits == bytearray(state.sync_client().get(state.keys("main")[0]))
    await alice.leave()
    await bob.leave()


async def test_a_snapshot_of_another_size_is_not_restored():
    board = await default_board()
    small = await Board.objects.acreate(slug="small", size=100)
    await sync_to_async(state.apply)(small, [(1, 1)])
    other = await sync_to_async(snapshots.take)(small, Snapshot.Reason.MANUAL)
    other.board = board  # as if the board had been recreated with another size
    await sync_to_async(state.apply)(board, [(7, 1)])

    with pytest.raises(moderation.ModerationError, match="holds 100 boxes but board main has 100,000"):
        await sync_to_async(moderation.restore)(other)

    assert state.sync_client().getbit(state.keys("main")[0], 7) == 1


async def test_clearing_reaches_every_player_and_can_be_undone():
    board = await default_board()
    alice, bob = await players(board)
    await alice.send_set(42, 1)
    await bob.wait_for_version(1)

    done = await sync_to_async(moderation.clear)(board)

    assert (await bob.receive_control("resync"))["reason"] == "cleared"
    await bob.load(board)
    assert bob.replica.count == 0
    assert done.before.reason == "before-clear"
    assert done.before.count == 1
    assert done.after.reason == "cleared"
    await alice.leave()
    await bob.leave()


async def test_an_import_reaches_every_player():
    board = await default_board()
    (bob,) = await players(board, 1)
    bits = bytes([0xF0]) + bytes(12_499)

    done = await sync_to_async(moderation.import_bits)(board, bits, source="art.png")

    assert (await bob.receive_control("resync"))["reason"] == "imported"
    await bob.load(board)
    assert bob.replica.count == 4
    assert done.after.note == "After import of art.png"
    await bob.leave()


async def test_an_import_of_the_wrong_length_leaves_the_board_alone():
    board = await default_board()
    await sync_to_async(state.apply)(board, [(7, 1)])
    with pytest.raises(moderation.ModerationError, match="needs a bitset of 12,500 bytes; this one has 3"):
        await sync_to_async(moderation.import_bits)(board, b"abc")
    assert (await state.ameta(board)).count == 1
    assert not await Snapshot.objects.aexists()


@pytest.fixture
def snapshots_refused(db):
    """The database refuses every new snapshot, as a full disk would (a real trigger, SQLite only)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the trigger is written in SQLite's dialect")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER refuse_snapshots BEFORE INSERT ON board_snapshot "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_snapshots")


async def test_a_clear_whose_snapshots_cannot_be_saved_is_rolled_back(snapshots_refused):
    board = await default_board()
    (bob,) = await players(board, 1)
    await sync_to_async(state.apply)(board, [(7, 1), (8, 1)])
    before = await state.ameta(board)

    with pytest.raises(moderation.ModerationError, match="Nothing changed: the snapshots of the clear could not"):
        await sync_to_async(moderation.clear)(board)

    bits, after = await state.aread(board)
    assert after.count == 2 and bits[0] == 0b0000_0001 and bits[1] == 0b1000_0000
    # Two replaces: the clear and the rollback; versions only go up, and the players resync.
    assert after.version == before.version + 2
    assert after.epoch != before.epoch
    assert (await bob.receive_control("resync"))["reason"] == "cleared"
    assert not await Snapshot.objects.aexists()
    await bob.leave()
