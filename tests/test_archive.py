"""History archives: older log entries moved to day files and read back as if they had never left (board/archive.py)."""

import gzip
import ipaddress
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from board import moderation
from board.history import archive, queries, timelapse
from board.models import Snapshot
from board.store import changelog, snapshots, state
from board.store.changelog import Change
from board.store.state import Author

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ALICE = Author("203.0.113.9/32", "203.0.113.9", "a1a1a1a1a1a1")
BOB = Author("2001:db8:1:2::/64", "2001:db8:1:2::beef", "b0b0b0b0b0b0")


def written_at(moment, box, author=ALICE, value=1):
    """An entry as if the log had written it at ``moment`` (the stream must hold nothing newer)."""
    fields = {"box": box, "value": value, "version": box, "network": author.network, "address": author.address}
    ms = changelog.milliseconds(moment)
    state.sync_client().xadd(state.changelog_key("main"), {**fields, "connection": author.connection}, id=f"{ms}-0")


def archive_all(board, forget_before=None):
    now = timezone.now()
    return archive.archive(board.slug, now + timedelta(seconds=1), forget_before or now - timedelta(days=1))


def live_count():
    return changelog.length("main")


@pytest.fixture
def played(main_board):
    """A board with a day's ordinary history: changes by two players and a restore."""
    state.apply(main_board, [(1, 1), (2, 1), (51_234, 1)], [ALICE, BOB, ALICE])
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    state.apply(main_board, [(1, 0), (3, 1)], [BOB, BOB])
    moderation.restore(saved)
    state.apply(main_board, [(4, 1)], [ALICE])
    return main_board


def test_archived_entries_read_back_exactly_as_they_were_live(played):
    live = list(queries.entries(played))

    done = archive_all(played)

    assert live_count() == 0
    assert done.entries == len(live) == 8
    assert list(queries.entries(played)) == live
    assert list(queries.newest_first(played)) == live[::-1]


def test_entries_are_filed_by_the_utc_day_they_were_written(main_board, history_archives):
    days = [datetime(2025, 1, 3, 23, 59, 59, tzinfo=UTC), datetime(2025, 1, 4, 0, 0, 1, tzinfo=UTC)]
    for box, moment in enumerate(days + [days[1] + timedelta(hours=5)]):
        written_at(moment, box)

    done = archive_all(main_board)

    assert done.days == [date(2025, 1, 3), date(2025, 1, 4)]
    assert sorted(p.name for p in (history_archives / "main").iterdir()) == ["2025-01-03.tsv.gz", "2025-01-04.tsv.gz"]
    assert [c.box for c in archive.load("main", date(2025, 1, 4))] == [1, 2]


def test_a_day_file_is_readable_text_with_a_header(played, history_archives):
    archive_all(played)
    (file,) = (history_archives / "main").iterdir()

    lines = gzip.decompress(file.read_bytes()).decode().splitlines()

    assert lines[0].startswith("#checkboxes-history 1 board=main day=")
    assert lines[1].startswith("#id\t")
    first = lines[2].split("\t")
    assert first[1:4] == ["reset", "created", "0"]
    assert lines[3].split("\t")[1:] == ["1", "1", "1", "203.0.113.9/32", "203.0.113.9", "a1a1a1a1a1a1"]


def test_only_entries_older_than_the_cutoff_leave_redis(main_board):
    state.apply(main_board, [(1, 1)], [ALICE])
    time.sleep(0.01)
    cutoff = timezone.now()
    time.sleep(0.01)
    state.apply(main_board, [(2, 1)], [ALICE])

    done = archive.archive("main", cutoff, cutoff - timedelta(days=1))

    assert done.entries == 2  # "created", then box 1
    assert [c.box for c in changelog.read("main")] == [2]
    assert [c.box for c in queries.entries(main_board) if isinstance(c, Change)] == [1, 2]


def test_entries_both_archived_and_still_live_are_written_and_read_once(played):
    # As if archivelog had crashed between writing its files and deleting the entries from Redis.
    saved_log = state.sync_client().dump(state.changelog_key("main"))
    archive_all(played)
    state.sync_client().restore(state.changelog_key("main"), 0, saved_log, replace=True)
    expected = list(changelog.read("main"))

    assert list(queries.entries(played)) == expected
    assert list(queries.newest_first(played)) == expected[::-1]
    archive_all(played)
    assert list(queries.entries(played)) == expected
    assert sum(1 for _ in archive.read("main")) == len(expected)


def test_identities_older_than_retention_are_left_out_of_archives(main_board, settings):
    settings.HISTORY_RETENTION_HOURS = 24
    now = timezone.now()
    written_at(now - timedelta(hours=30), 1)
    written_at(now - timedelta(hours=2), 2)

    archive.archive("main", now, now - timedelta(hours=24))

    old, recent = queries.entries(main_board)
    assert (old.box, old.network, old.address, old.connection) == (1, "", "", "")
    assert (recent.box, recent.network, recent.address, recent.connection) == (2, *ALICE)


def test_tidying_drops_identities_once_they_pass_retention(main_board, settings):
    settings.HISTORY_RETENTION_HOURS = 24
    now = timezone.now()
    written_at(now - timedelta(hours=2), 2)
    archive.archive("main", now, now - timedelta(hours=24))

    assert archive.tidy(now).anonymised == 0
    tidied = archive.tidy(now + timedelta(hours=23))

    (entry,) = queries.entries(main_board)
    assert tidied.anonymised == 1
    assert (entry.box, entry.network, entry.address, entry.connection) == (2, "", "", "")
    assert archive.tidy(now + timedelta(hours=23)).anonymised == 0


def test_tidying_deletes_day_files_older_than_the_archive_days(main_board, settings, history_archives):
    settings.HISTORY_ARCHIVE_DAYS = 30
    now = timezone.now()
    written_at(now - timedelta(days=40), 1)
    written_at(now - timedelta(days=20), 2)
    archive.archive("main", now, now)

    tidied = archive.tidy(now)

    assert tidied.deleted == 1
    assert [c.box for c in queries.entries(main_board)] == [2]


def test_archive_days_of_zero_keep_files_forever(main_board, settings):
    settings.HISTORY_ARCHIVE_DAYS = 0
    now = timezone.now()
    written_at(now - timedelta(days=400), 1)
    archive.archive("main", now, now)
    assert archive.tidy(now).deleted == 0
    assert [c.box for c in queries.entries(main_board)] == [1]


def test_an_archive_directory_that_cannot_be_made_is_an_error_and_the_log_stays(played, settings, tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    settings.HISTORY_ARCHIVE_DIR = tmp_path / "a-file" / "history"
    before = live_count()

    with pytest.raises(archive.ArchiveError, match="Cannot write history archives in"):
        archive_all(played)

    assert live_count() == before


def test_a_damaged_archive_file_is_an_error_naming_it(played, history_archives):
    archive_all(played)
    (file,) = (history_archives / "main").iterdir()
    file.write_bytes(file.read_bytes()[:40])

    with pytest.raises(archive.ArchiveError, match="Could not read the history archive .*tsv.gz"):
        list(queries.entries(played))


def test_box_history_revert_and_timelapse_read_archived_history(main_board):
    state.apply(main_board, [(10, 1), (11, 1)], [ALICE, ALICE])
    snapshots.take(main_board, Snapshot.Reason.PERIODIC)
    time.sleep(0.01)
    since = timezone.now()
    time.sleep(0.01)  # the log keeps milliseconds: a change in since's millisecond counts as before it
    state.apply(main_board, [(10, 0), (12, 1)], [BOB, BOB])
    time.sleep(0.01)
    until = timezone.now()
    archive_all(main_board)

    events = queries.box_history(main_board, 10, 5)
    assert [(event.entry.who, event.value) for event in events] == [
        (BOB.network, 0),
        (ALICE.network, 1),
        ("the server", 0),
    ]
    plan = queries.revert_plan(main_board, ipaddress.ip_network("2001:db8:1:2::/64"), since)
    assert plan.restore == {10: 1, 12: 0}
    boards = list(timelapse.boards(main_board, [since, until]))
    assert boards[-1] == state.read(main_board)[0]


def test_archiving_into_a_damaged_day_file_is_an_error_that_keeps_the_entries_in_redis(played, history_archives):
    archive_all(played)
    (file,) = (history_archives / "main").iterdir()
    file.write_bytes(file.read_bytes()[:40])
    state.apply(played, [(9, 1)], [ALICE])

    with pytest.raises(archive.ArchiveError, match="Could not read the history archive"):
        archive_all(played)

    assert [c.box for c in changelog.read("main")] == [9]
    assert [p.name for p in (history_archives / "main").iterdir()] == [file.name]
