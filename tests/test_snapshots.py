"""Taking snapshots, the interval claim, retention, and recovery from the newest snapshot."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from board import moderation
from board.models import Board, Snapshot
from board.store import snapshots, state

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

Reason = Snapshot.Reason


def live_bits(board):
    return state.read(board)[0]


def test_a_snapshot_holds_the_live_bits_count_and_version(small_board):
    state.apply(small_board, [(0, 1), (7, 1), (99, 1)])
    snapshot = snapshots.take(small_board, Reason.MANUAL, note="before the party")
    snapshot.refresh_from_db()
    assert snapshot.bits() == live_bits(small_board)
    assert (snapshot.count, snapshot.version, snapshot.size) == (3, 3, 100)
    assert snapshot.reason == "manual"
    assert snapshot.note == "before the party"


def test_the_bitset_is_stored_compressed(main_board):
    state.apply(main_board, [(5, 1)])
    snapshot = snapshots.take(main_board, Reason.MANUAL)
    assert len(bytes(snapshot.data)) < 1_000 < len(snapshot.bits()) == 12_500


def test_an_unchanged_board_is_not_snapshotted_again(small_board):
    state.apply(small_board, [(1, 1)])
    assert snapshots.take_if_changed(small_board, Reason.PERIODIC) is not None
    assert snapshots.take_if_changed(small_board, Reason.PERIODIC) is None
    assert small_board.snapshots.count() == 1


def test_a_changed_board_is_snapshotted_again(small_board):
    state.apply(small_board, [(1, 1)])
    snapshots.take_if_changed(small_board, Reason.PERIODIC)
    state.apply(small_board, [(2, 1)])
    second = snapshots.take_if_changed(small_board, Reason.PERIODIC)
    assert second.version == 2
    assert small_board.snapshots.count() == 2


def test_a_board_changed_back_to_its_snapshot_counts_as_unchanged(small_board):
    state.apply(small_board, [(1, 1)])
    snapshots.take_if_changed(small_board, Reason.PERIODIC)
    state.apply(small_board, [(2, 1), (2, 0)])
    assert snapshots.take_if_changed(small_board, Reason.PERIODIC) is None


def test_an_empty_board_that_never_had_a_snapshot_needs_none(small_board):
    assert snapshots.take_if_changed(small_board, Reason.PERIODIC) is None
    assert not Snapshot.objects.exists()


def test_a_snapshot_while_redis_is_down_raises_state_unavailable(small_board, redis_server):
    redis_server.stop()
    with pytest.raises(state.StateUnavailable):
        snapshots.take(small_board, Reason.MANUAL)
    assert not Snapshot.objects.exists()


# -- the interval claim ------------------------------------------------------


def test_only_the_first_process_to_claim_an_interval_wins_it():
    first = async_to_sync(snapshots.claim_interval)("main", 86_400)
    second = async_to_sync(snapshots.claim_interval)("main", 86_400)
    assert first[0] is True
    assert second[0] is False
    assert 0 < second[1] <= 86_400


def test_each_board_has_its_own_intervals():
    assert async_to_sync(snapshots.claim_interval)("main", 86_400)[0] is True
    assert async_to_sync(snapshots.claim_interval)("other", 86_400)[0] is True


def test_the_next_interval_can_be_claimed_once_it_starts():
    won, wait = async_to_sync(snapshots.claim_interval)("main", 1)
    assert won
    assert wait <= 1
    # Redis's own clock says where intervals start: a claim after the wait is a new interval.
    time.sleep(wait + 0.01)
    assert async_to_sync(snapshots.claim_interval)("main", 1)[0] is True


# -- retention ---------------------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def history(minutes_apart, count, reason=Reason.PERIODIC):
    """``count`` snapshots as ``keep`` sees them, newest first, ``minutes_apart`` apart, ending at NOW."""
    return [(pk, NOW - timedelta(minutes=minutes_apart * pk), reason) for pk in range(count)]


def test_retention_keeps_the_newest_n():
    rows = history(1, 30)
    kept = snapshots.keep(rows, NOW, newest=10, hours=0, days=0)
    assert kept == set(range(10))


def test_retention_always_keeps_the_newest_even_when_told_to_keep_none():
    rows = history(1, 5)
    assert 0 in snapshots.keep(rows, NOW, newest=0, hours=0, days=0)


def test_retention_keeps_the_newest_of_each_hour_within_the_window():
    rows = history(10, 6 * 30)  # every 10 minutes for 30 hours
    kept = snapshots.keep(rows, NOW, newest=1, hours=24, days=0)
    hours = {created.replace(minute=0) for pk, created, _ in rows if pk in kept}
    assert len(hours) == len(kept)
    # One per hour for the last 24 hours (plus the hour just begun), none older.
    assert 24 <= len(kept) <= 26
    assert all(created >= NOW - timedelta(hours=24) for pk, created, _ in rows if pk in kept)


def test_retention_keeps_one_a_day_for_the_daily_window():
    rows = history(60 * 6, 4 * 40)  # every 6 hours for 40 days
    kept = snapshots.keep(rows, NOW, newest=1, hours=0, days=30)
    days = {created.date() for pk, created, _ in rows if pk in kept}
    assert len(days) == len(kept)
    assert 30 <= len(kept) <= 31


def test_retention_never_deletes_a_snapshot_taken_by_hand():
    rows = history(60 * 24, 100, reason=Reason.MANUAL)
    assert snapshots.keep(rows, NOW, newest=1, hours=0, days=0) == set(range(100))


@pytest.mark.parametrize("reason", sorted(Snapshot.UNDO_REASONS))
def test_retention_keeps_undo_points_as_long_as_the_log_on_a_busy_board(settings, reason):
    settings.HISTORY_RETENTION_HOURS = settings.BOARD_UNDO_KEEP_HOURS = 24
    rows = history(1, 60 * 30)  # a snapshot a minute for 30 hours
    pk, created, _ = rows[60 * 23]  # 23 hours ago, long past the 60 newest
    rows[60 * 23] = (pk, created, reason)
    older = rows[60 * 25]
    rows[60 * 25] = (older[0], older[1], reason)
    kept = snapshots.keep(rows, NOW, newest=60, hours=0, days=0)
    assert pk in kept
    assert older[0] not in kept


def test_an_undo_point_is_promised_until_the_undo_retention_ends(small_board, settings):
    settings.BOARD_UNDO_KEEP_HOURS = 36
    before = moderation.clear(small_board).before
    assert snapshots.undo_kept_until(before) == before.created + timedelta(hours=36)


def test_prune_keeps_a_clears_snapshots_until_the_undo_retention_ends(small_board, settings):
    settings.BOARD_SNAPSHOT_KEEP, settings.BOARD_SNAPSHOT_KEEP_HOURS, settings.BOARD_SNAPSHOT_KEEP_DAYS = 1, 0, 0
    state.apply(small_board, [(3, 1)])
    done = moderation.clear(small_board)
    for index in range(4):
        state.apply(small_board, [(index, 1)])
        snapshots.take(small_board, Reason.PERIODIC)
    undo = {done.before.pk, done.after.pk}
    assert snapshots.prune(small_board) == (3, 3)
    assert undo <= set(small_board.snapshots.values_list("pk", flat=True))
    later = snapshots.undo_kept_until(done.before) + timedelta(minutes=1)
    snapshots.prune(small_board, now=later)
    assert not undo & set(small_board.snapshots.values_list("pk", flat=True))


def test_prune_deletes_what_retention_does_not_keep(small_board, settings):
    settings.BOARD_SNAPSHOT_KEEP, settings.BOARD_SNAPSHOT_KEEP_HOURS, settings.BOARD_SNAPSHOT_KEEP_DAYS = 3, 0, 0
    manual = snapshots.take(small_board, Reason.MANUAL)
    for index in range(6):
        state.apply(small_board, [(index, 1)])
        snapshots.take(small_board, Reason.PERIODIC)
    newest_three = list(small_board.snapshots.values_list("pk", flat=True)[:3])
    assert snapshots.prune(small_board) == (4, 3)
    assert set(small_board.snapshots.values_list("pk", flat=True)) == set(newest_three) | {manual.pk}


def test_a_dry_run_prune_deletes_nothing(small_board, settings):
    settings.BOARD_SNAPSHOT_KEEP, settings.BOARD_SNAPSHOT_KEEP_HOURS, settings.BOARD_SNAPSHOT_KEEP_DAYS = 1, 0, 0
    for index in range(4):
        state.apply(small_board, [(index, 1)])
        snapshots.take(small_board, Reason.PERIODIC)
    assert snapshots.prune(small_board, dry_run=True) == (1, 3)
    assert small_board.snapshots.count() == 4


# -- recovery ----------------------------------------------------------------


def test_a_board_without_snapshots_starts_empty(small_board):
    assert small_board.initial_state() is None


def test_a_lost_live_state_comes_back_as_the_newest_snapshot(small_board):
    state.apply(small_board, [(3, 1), (4, 1)])
    snapshots.take(small_board, Reason.PERIODIC)
    state.apply(small_board, [(5, 1)])
    newest = snapshots.take(small_board, Reason.PERIODIC)
    state.sync_client().flushall()

    bits, meta = state.read(small_board)

    assert bits == newest.bits()
    assert (meta.count, meta.version) == (3, 3)


def test_a_change_after_the_loss_lands_on_the_restored_board(small_board):
    state.apply(small_board, [(3, 1)])
    snapshots.take(small_board, Reason.PERIODIC)
    state.sync_client().flushall()

    applied = state.apply(small_board, [(9, 1)])

    assert applied.statuses == [state.Status.APPLIED]
    assert applied.from_version == 1
    bits, meta = state.read(small_board)
    assert state.sync_client().getbit(state.keys("small")[0], 3) == 1
    assert meta.count == 2


def test_recovery_ignores_a_snapshot_of_another_size(small_board):
    state.apply(small_board, [(3, 1)])
    snapshots.take(small_board, Reason.PERIODIC)
    Board.objects.filter(pk=small_board.pk).update(size=200)
    small_board.refresh_from_db()
    state.sync_client().flushall()
    assert small_board.initial_state() is None
    assert state.meta(small_board).count == 0


@pytest.mark.django_db(transaction=True)
def test_several_processes_noticing_the_loss_at_once_restore_it_exactly_once(small_board):
    state.apply(small_board, [(3, 1)])
    snapshots.take(small_board, Reason.PERIODIC)
    state.sync_client().flushall()
    start = threading.Barrier(8)
    results = []

    def notice():
        board = Board.objects.get(pk=small_board.pk)
        start.wait()
        try:
            results.append(state.ensure(board))
        finally:
            connection.close()

    threads = [threading.Thread(target=notice) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(True) == 1
    assert state.meta(small_board).count == 1
