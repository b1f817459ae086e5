"""--dry-run on the destructive commands: each says what it would do, asks nothing, and changes nothing.

"Nothing" is checked where it would show: the board's bits and meta in Redis,
its change log, the snapshots, the users (no ``os.<login>`` account made), the
admin's history, and the archive files.
"""

import io
import time

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from board.history import archive
from board.models import Snapshot
from board.store import changelog, snapshots, state
from board.store.state import Author

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

VANDAL = Author("203.0.113.9/32", "203.0.113.9", "bad0bad0bad0")


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def everything(board):
    """What a destructive command could change, in Redis and the database."""
    bits, meta = state.read(board)
    return (
        bits,
        meta,
        [entry.id for entry in changelog.read(board.slug)],
        list(Snapshot.objects.values_list("pk", "reason")),
        get_user_model().objects.count(),
        LogEntry.objects.count(),
    )


@pytest.fixture
def drawn(main_board):
    """Five boxes checked by the vandal, and one snapshot of an empty board."""
    snapshot = snapshots.take(main_board, Snapshot.Reason.PERIODIC)
    state.apply(main_board, [(box, 1) for box in range(10, 15)], [VANDAL] * 5)
    return main_board, snapshot


def test_clearboard_dry_run_says_how_many_boxes_and_clears_nothing(drawn):
    board, _ = drawn
    before = everything(board)
    output = run("clearboard", "--dry-run")
    assert "Would clear main: uncheck all 5 checked boxes, saving it first. Nothing was changed (--dry-run)." in output
    assert everything(board) == before


def test_restoresnapshot_dry_run_says_how_many_boxes_would_change_and_restores_nothing(drawn):
    board, snapshot = drawn
    before = everything(board)
    output = run("restoresnapshot", str(snapshot.pk), "--dry-run")
    assert f"Would restore snapshot #{snapshot.pk} of main" in output
    assert "(0 checked), over the live board (5 checked): 5 boxes would change" in output
    assert "Nothing was changed (--dry-run)." in output
    assert everything(board) == before


def test_restoresnapshot_dry_run_of_a_snapshot_that_does_not_fit_is_the_same_error(drawn, small_board):
    _, snapshot = drawn
    Snapshot.objects.filter(pk=snapshot.pk).update(board=small_board)
    with pytest.raises(CommandError, match="cannot be restored onto it. Nothing was changed"):
        run("restoresnapshot", str(snapshot.pk), "--dry-run")


def test_importboard_dry_run_reads_the_file_and_imports_nothing(drawn, tmp_path):
    board, _ = drawn
    path = tmp_path / "board.bin"
    # Box 0 checked, nothing else: box 0 would be checked and boxes 10-14 unchecked.
    path.write_bytes(bytes([0x80]) + bytes(len(state.read(board)[0]) - 1))
    before = everything(board)
    output = run("importboard", str(path), "--dry-run")
    assert "Would replace main (5 checked) with board.bin (1 checked): 6 boxes would change" in output
    assert everything(board) == before


def test_importboard_dry_run_still_refuses_a_file_that_does_not_fit(drawn, tmp_path):
    path = tmp_path / "short.bin"
    path.write_bytes(b"\x00")
    with pytest.raises(CommandError, match="neither a PNG nor a raw bitset"):
        run("importboard", str(path), "--dry-run")


def test_archivelog_dry_run_counts_what_it_would_archive_and_writes_no_file(drawn, history_archives):
    board, _ = drawn
    time.sleep(1.05)  # --older-than counts whole seconds: every entry is older than 1 s
    before = everything(board)
    entries = changelog.length("main")  # the vandal's five and the board's first reset entry
    output = run("archivelog", "--older-than", "1s", "--dry-run")
    assert f"Would archive {entries} entries of main before" in output
    assert "would drop 0 entries from the live logs" in output
    assert "Nothing was changed (--dry-run)." in output
    assert everything(board) == before
    assert not history_archives.exists() or not any(history_archives.iterdir())
    # The run itself does what the dry run said.
    assert f"{entries} entries archived" in run("archivelog", "--older-than", "1s")


def test_archivelog_dry_run_counts_the_entries_retention_would_drop(main_board, small_board, settings):
    settings.HISTORY_RETENTION_HOURS = 24
    state.ensure(small_board)
    state.sync_client().delete(state.changelog_key("small"))  # the reset entry ensure wrote
    now_ms = int(time.time() * 1000)
    fields = {"box": 1, "value": 1, "version": 1, "network": "", "address": "", "connection": ""}
    state.sync_client().xadd(state.changelog_key("small"), fields, id=f"{now_ms - 30 * 3_600_000}-1")
    output = run("archivelog", "--dry-run")
    assert "would drop 1 entries from the live logs" in output
    assert changelog.length("small") == 1


def test_archivelog_dry_run_counts_archive_files_it_would_delete(main_board, history_archives, settings):
    settings.HISTORY_ARCHIVE_DAYS = 30
    state.apply(main_board, [(1, 1)], [VANDAL])
    time.sleep(1.05)
    run("archivelog", "--older-than", "1s")
    (day_file,) = (history_archives / "main").iterdir()
    settings.HISTORY_ARCHIVE_DAYS = 1
    # Made to look 40 days old by its name: the day it holds.
    old = day_file.with_name("2000-01-01" + archive.SUFFIX)
    day_file.rename(old)
    output = run("archivelog", "--dry-run")
    assert "and delete 1." in output
    assert old.exists()
