"""boxhistory, revertchanges, timelapse and archivelog: each one's happy path and its bad arguments."""

import getpass
import io
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image

from board import pictures
from board.history import archive
from board.models import Board, Snapshot
from board.store import changelog, snapshots, state
from board.store.state import Author

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ALICE = Author("198.51.100.1/32", "198.51.100.1", "a1a1a1a1a1a1")
VANDAL = Author("203.0.113.9/32", "203.0.113.9", "bad0bad0bad0")
PHONE = Author("2001:db8:1:2::/64", "2001:db8:1:2::beef", "f0f0f0f0f0f0")


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def bits(board):
    return state.read(board)[0]


def pause():
    time.sleep(0.005)


@pytest.fixture
def vandalised(main_board):
    """Alice draws, a snapshot is taken, the vandal wipes the drawing: ``(board, since)``."""
    state.apply(main_board, [(box, 1) for box in range(100, 120)], [ALICE] * 20)
    snapshots.take(main_board, Snapshot.Reason.PERIODIC)
    pause()
    since = timezone.now()
    pause()
    state.apply(main_board, [(box, 0) for box in range(100, 120)], [VANDAL] * 20)
    pause()
    return main_board, since


# -- every one of them ------------------------------------------------------------------------

COMMANDS = [
    ["boxhistory", "5"],
    ["revertchanges", "--ip", "203.0.113.9", "--since", "1h", "--yes"],
    ["timelapse", "--since", "1h", "out.gif"],
    ["archivelog"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_unknown_board_is_an_error_listing_the_boards(command, small_board):
    with pytest.raises(CommandError, match=r"There is no board 'nope'\. Boards: small\."):
        run(*command, "--board", "nope")


@pytest.mark.parametrize("command", COMMANDS[:2] + COMMANDS[3:], ids=lambda c: c[0])
def test_redis_being_down_is_an_error_saying_what_to_check(command, main_board, redis_server):
    redis_server.stop()
    with pytest.raises(CommandError, match="Redis did not answer at .*Check that it is running"):
        run(*command)


# -- boxhistory ----------------------------------------------------------------------------------


def test_boxhistory_lists_a_boxs_changes_newest_first_with_who_made_them(main_board):
    state.apply(main_board, [(51_234, 1), (7, 1)], [ALICE, ALICE])
    state.apply(main_board, [(51_234, 0)], [PHONE])

    lines = run("boxhistory", "51234").splitlines()

    assert lines[0] == "Box 51,234 of main, newest first:"
    assert "unchecked" in lines[1] and "2001:db8:1:2::/64 (2001:db8:1:2::beef)  connection f0f0f0f0f0f0" in lines[1]
    assert "checked" in lines[2] and "198.51.100.1/32  connection a1a1a1a1a1a1  (version 1)" in lines[2]
    assert "board created by the server" in lines[3]
    assert lines[1].endswith("(version 3)")
    assert lines[1][:4].isdigit() and " UTC " in lines[1]


def test_boxhistory_shows_at_most_the_limit(main_board):
    for value in (1, 0, 1, 0, 1):
        state.apply(main_board, [(9, value)], [ALICE])
    assert len(run("boxhistory", "9", "--limit", "3").splitlines()) == 4


def test_boxhistory_shows_a_restore_with_the_value_it_gave_the_box(main_board):
    state.apply(main_board, [(9, 1)], [ALICE])
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    state.apply(main_board, [(9, 0)], [VANDAL])
    call_command("restoresnapshot", str(saved.pk), "--yes", stdout=io.StringIO())

    newest = run("boxhistory", "9").splitlines()[1]

    assert "checked" in newest and f"board restored by admin:os.{getpass.getuser()}" in newest


def test_boxhistory_of_a_box_nobody_changed_says_so(main_board):
    state.apply(main_board, [(1, 1)], [ALICE])
    state.sync_client().delete(state.changelog_key("main"))
    state.apply(main_board, [(2, 1)], [ALICE])
    assert "Box 1 of main has no changes on record" in run("boxhistory", "1")


@pytest.mark.parametrize(
    "args, message",
    [
        (["100000"], r"Box 100,000 does not exist on main: its boxes are 0 to 99,999\."),
        (["--", "-1"], r"Box -1 does not exist on main"),
        (["five"], "invalid int value: 'five'"),
        (["5", "--limit", "0"], "--limit 0 shows nothing"),
    ],
)
def test_boxhistory_refuses_bad_arguments(args, message, main_board):
    with pytest.raises(CommandError, match=message):
        run("boxhistory", *args)


# -- revertchanges -------------------------------------------------------------------------------


def test_revertchanges_undoes_the_vandal_and_says_what_it_did(vandalised):
    board, since = vandalised

    output = run("revertchanges", "--ip", "203.0.113.9", "--since", since.isoformat(), "--yes")

    assert bits(board)[12:15] == bytes([0x0F, 0xFF, 0xFF])
    before = Snapshot.objects.get(reason=Snapshot.Reason.BEFORE_REVERT)
    assert "203.0.113.9/32 made 20 changes to main since" in output
    assert "Reverting changes 20 boxes (20 checked again, 0 unchecked again)" in output
    assert f"Reverted 20 boxes of main. The board before it is snapshot #{before.pk} (kept until at least" in output


def test_the_dry_run_changes_nothing(vandalised):
    board, since = vandalised
    before = (bits(board), state.meta(board), changelog.length("main"))

    output = run("revertchanges", "--ip", "203.0.113.9", "--since", since.isoformat(), "--dry-run")

    assert "Reverting changes 20 boxes" in output
    assert "Dry run: nothing was changed." in output
    assert (bits(board), state.meta(board), changelog.length("main")) == before
    assert not Snapshot.objects.filter(reason=Snapshot.Reason.BEFORE_REVERT).exists()


def test_revertchanges_asks_first_and_a_no_changes_nothing(vandalised, tty):
    board, since = vandalised
    before = bits(board)
    tty.answer = "no"
    with pytest.raises(CommandError, match="Nothing was changed"):
        run("revertchanges", "--ip", "203.0.113.9", "--since", since.isoformat())
    assert bits(board) == before


def test_revertchanges_without_a_terminal_needs_yes(vandalised):
    board, since = vandalised
    before = bits(board)
    with pytest.raises(CommandError, match="pass --noinput"):
        run("revertchanges", "--ip", "203.0.113.9", "--since", since.isoformat())
    assert bits(board) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ip", "203.0.113.300", "--since", "1h"], "--ip: 203.0.113.300 is not an IP address or network"),
        (["--ip", "10.0.0.0/8", "--since", "1h"], "--ip: 10.0.0.0/8 covers 16,777,216 addresses"),
        (["--ip", "203.0.113.9", "--since", "yesterday"], "--since: 'yesterday' is not a time"),
        (["--ip", "203.0.113.9", "--since", "2999-01-01T00:00"], "--since 2999-01-01T00:00 is in the future"),
        (["--ip", "198.51.100.77", "--since", "1h"], "198.51.100.77/32 changed nothing on main since"),
    ],
)
def test_revertchanges_refuses_bad_arguments_and_changes_nothing(args, message, vandalised):
    board, _ = vandalised
    before = (bits(board), changelog.length("main"))
    with pytest.raises(CommandError, match=message):
        run("revertchanges", *args, "--yes")
    assert (bits(board), changelog.length("main")) == before
    assert not Snapshot.objects.filter(reason=Snapshot.Reason.BEFORE_REVERT).exists()


# -- timelapse -----------------------------------------------------------------------------------


def first_and_last(path):
    animation = Image.open(path)
    first = animation.convert("RGB")
    animation.seek(animation.n_frames - 1)
    return first, animation.convert("RGB")


@pytest.mark.parametrize("name", ["last-hour.gif", "last-hour.apng"])
def test_timelapse_writes_an_animation_from_the_windows_start_to_its_end(name, vandalised, tmp_path):
    board, since = vandalised
    drawing = Snapshot.objects.get().bits()
    output = tmp_path / name

    printed = run("timelapse", "--since", since.isoformat(), "--frames", "5", "--fps", "2", str(output))

    first, last = first_and_last(output)
    assert first.tobytes() == pictures.picture(drawing, board.size).convert("RGB").tobytes()
    assert last.tobytes() == pictures.picture(bits(board), board.size).convert("RGB").tobytes()
    assert f"Wrote {output}" in printed and "in 5 frames at 2 per second" in printed


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "1h", "{tmp}/out.mp4"], r"out.mp4 should end in .gif, .png or .apng"),
        (["--since", "1h", "{tmp}/missing/out.gif"], r"there is no directory .*missing"),
        (["--since", "1h", "{tmp}/folder.gif"], "it is a directory"),
        (["--since", "soon", "{tmp}/out.gif"], "--since: 'soon' is not a time"),
        (["--since", "1h", "--until", "2h", "{tmp}/out.gif"], r"The window ends .* before it starts"),
        (["--since", "1h", "--frames", "1", "{tmp}/out.gif"], "has 2 to 1,000 frames, not 1"),
        (["--since", "1h", "--fps", "99", "{tmp}/out.gif"], "from 1 to 50, not 99"),
    ],
)
def test_timelapse_refuses_bad_arguments_and_writes_nothing(args, message, vandalised, tmp_path):
    (tmp_path / "folder.gif").mkdir()
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    with pytest.raises(CommandError, match=message):
        run("timelapse", *args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.gif"]


def test_timelapse_of_a_window_with_no_changes_is_an_error_and_writes_nothing(vandalised, tmp_path):
    output = tmp_path / "quiet.gif"
    state.apply(vandalised[0], [(1, 1)], [ALICE])
    later = timezone.now() + timedelta(milliseconds=2)
    time.sleep(0.05)
    with pytest.raises(CommandError, match="Nothing changed on main between .* Nothing was written"):
        run("timelapse", "--since", later.isoformat(), str(output))
    assert not output.exists()


# -- archivelog ----------------------------------------------------------------------------------


def test_archivelog_moves_older_changes_to_a_day_file(vandalised, history_archives):
    board, _ = vandalised
    live = list(changelog.read("main"))
    # --older-than counts whole seconds at least: wait one, so every entry is older.
    time.sleep(1.05)

    output = run("archivelog", "--older-than", "1s")

    assert changelog.length("main") == 0
    assert list(archive.read("main")) == live
    assert f"{len(live)} entries archived in {history_archives / 'main'}" in output
    assert len(list((history_archives / "main").iterdir())) == 1


def test_archivelog_leaves_newer_changes_in_redis(vandalised):
    before = changelog.length("main")
    output = run("archivelog", "--older-than", "1h")
    assert changelog.length("main") == before
    assert "0 entries archived" in output


def test_archivelog_all_boards_archives_every_board(vandalised, small_board, history_archives):
    state.apply(small_board, [(1, 1)], [ALICE])
    time.sleep(1.05)
    output = run("archivelog", "--all-boards", "--older-than", "1s")
    assert changelog.length("main") == changelog.length("small") == 0
    assert "archived in" in output and sorted(p.name for p in history_archives.iterdir()) == ["main", "small"]


def test_archivelog_drops_entries_past_retention_from_every_boards_live_log(main_board, small_board, settings):
    settings.HISTORY_RETENTION_HOURS = 24
    state.ensure(small_board)
    state.sync_client().delete(state.changelog_key("small"))
    now_ms = int(time.time() * 1000)
    for slug, hours in (("small", 30), ("small", 2)):
        fields = {"box": 1, "value": 1, "version": 1, "network": "", "address": "", "connection": ""}
        state.sync_client().xadd(state.changelog_key(slug), fields, id=f"{now_ms - hours * 3_600_000}-{hours}")

    output = run("archivelog", "--older-than", "48h")

    assert [entry.id.endswith("-2") for entry in changelog.read("small")] == [True]
    assert "1 entries dropped from the live logs" in output


def test_archivelog_refuses_a_malformed_duration(main_board):
    with pytest.raises(CommandError, match="--older-than: 'an hour' is not a duration"):
        run("archivelog", "--older-than", "an hour")


def test_archivelog_into_a_directory_it_cannot_make_is_an_error_and_the_log_stays(vandalised, settings, tmp_path):
    (tmp_path / "a-file").write_text("")
    settings.HISTORY_ARCHIVE_DIR = tmp_path / "a-file" / "history"
    before = changelog.length("main")
    time.sleep(1.05)
    with pytest.raises(CommandError, match="Cannot write history archives in"):
        run("archivelog", "--older-than", "1s")
    assert changelog.length("main") == before


def test_archivelog_refuses_to_run_twice_at_once(vandalised, settings):
    lock = state.sync_client().lock(f"{settings.REDIS_PREFIX}:archivelog", timeout=60)
    lock.acquire()
    before = changelog.length("main")
    try:
        with pytest.raises(CommandError, match="Another archivelog is running; nothing was changed"):
            run("archivelog", "--older-than", "1s")
    finally:
        lock.release()
    assert changelog.length("main") == before


def test_a_board_is_found_by_slug(small_board):
    state.apply(small_board, [(3, 1)], [ALICE])
    assert "Box 3 of small, newest first" in run("boxhistory", "--board", "small", "3")
    assert Board.objects.count() == 1


def test_timelapse_with_redis_down_is_an_error_and_writes_nothing(vandalised, redis_server, tmp_path):
    redis_server.stop()
    with pytest.raises(CommandError, match="Redis did not answer at"):
        run("timelapse", "--since", "1h", str(tmp_path / "out.gif"))
    assert not (tmp_path / "out.gif").exists()
