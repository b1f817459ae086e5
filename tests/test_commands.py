"""The operators' manage.py commands: each one's happy path and its bad inputs."""

import getpass
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image

from board import pictures
from board.models import Ban, Board, Snapshot
from board.store import snapshots, state
from tests.boards import bit

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# Who a command acts as without --user (tests/test_audit.py).
OS_USER = f"os.{getpass.getuser()}"


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def live_bits(board):
    return state.read(board)[0]


# -- every command that names a board -------------------------------------------------

BOARD_COMMANDS = [
    ["snapshot"],
    ["boardstats"],
    ["clearboard", "--yes"],
    ["freezeboard"],
    ["unfreezeboard"],
    ["listsnapshots"],
    ["exportboard", "--format", "bin", "-"],
    ["importboard", "/dev/null"],
]


@pytest.mark.parametrize("command", BOARD_COMMANDS, ids=lambda c: c[0])
def test_an_unknown_board_is_an_error_listing_the_boards(command, small_board):
    with pytest.raises(CommandError, match=r"There is no board 'nope'\. Boards: small\."):
        run(*command, "--board", "nope")


@pytest.mark.parametrize("command", BOARD_COMMANDS[:3], ids=lambda c: c[0])
def test_redis_being_down_is_an_error_saying_what_to_check(command, main_board, redis_server):
    redis_server.stop()
    with pytest.raises(CommandError, match="Redis did not answer at .*Check that it is running"):
        run(*command)


# -- snapshot ---------------------------------------------------------------------------


def test_snapshot_takes_one_and_prints_its_id_count_and_version(main_board):
    state.apply(main_board, [(1, 1), (2, 1)])
    output = run("snapshot", "--note", "before the stream")
    snapshot = Snapshot.objects.get()
    assert f"Snapshot #{snapshot.pk} of main: 2 of 100,000 checked, version 2." in output
    assert (snapshot.reason, snapshot.note, snapshot.taken_by) == ("manual", "before the stream", None)


def test_snapshot_of_another_board(small_board):
    run("snapshot", "--board", "small")
    assert Snapshot.objects.get().board == small_board


# -- restoresnapshot -------------------------------------------------------------------


def test_restoresnapshot_with_yes_restores_and_saves_the_board_before(main_board):
    state.apply(main_board, [(1, 1)])
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    state.apply(main_board, [(2, 1)])
    output = run("restoresnapshot", str(saved.pk), "--yes")
    assert live_bits(main_board) == saved.bits()
    before = Snapshot.objects.get(reason="before-restore")
    assert f"The board before it is snapshot #{before.pk} (kept until at least" in output
    assert before.count == 2


def test_restoresnapshot_asks_and_restores_on_yes(main_board, tty):
    state.apply(main_board, [(1, 1)])
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    state.apply(main_board, [(2, 1)])
    output = run("restoresnapshot", str(saved.pk))
    assert f"Restore snapshot #{saved.pk} of main" in output
    assert bit("main", 2) == 0


def test_restoresnapshot_changes_nothing_when_the_answer_is_no(main_board, tty):
    tty.answer = "no"
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    state.apply(main_board, [(2, 1)])
    with pytest.raises(CommandError, match="Nothing was changed"):
        run("restoresnapshot", str(saved.pk))
    assert bit("main", 2) == 1
    assert Snapshot.objects.count() == 1


def test_restoresnapshot_without_a_terminal_needs_yes(main_board):
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    state.apply(main_board, [(2, 1)])
    with pytest.raises(CommandError, match="pass --noinput"):
        run("restoresnapshot", str(saved.pk))
    assert bit("main", 2) == 1


def test_restoresnapshot_of_a_missing_snapshot_says_how_to_find_one(main_board):
    with pytest.raises(CommandError, match="There is no snapshot #999; listsnapshots shows"):
        run("restoresnapshot", "999", "--yes")


def test_restoresnapshot_needs_a_numeric_id():
    with pytest.raises(CommandError, match="invalid int value"):
        run("restoresnapshot", "latest", "--yes")


# -- boardstats --------------------------------------------------------------------------


def test_boardstats_as_json_has_every_figure(main_board):
    state.apply(main_board, [(1, 1), (2, 1), (2, 0)])
    snapshot = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    Snapshot.objects.filter(pk=snapshot.pk).update(created=timezone.now() - timedelta(seconds=90))
    state.set_frozen(main_board, True)
    stats = json.loads(run("boardstats", "--json"))
    assert stats["board"] == "main"
    assert (stats["size"], stats["checked"], stats["version"], stats["frozen"]) == (100_000, 1, 3, True)
    assert stats["players"] == 0
    assert stats["last_snapshot_id"] == snapshot.pk
    assert 90 <= stats["last_snapshot_age_seconds"] < 120


def test_boardstats_for_people_reads_as_a_table(main_board):
    output = run("boardstats")
    assert "size                   100,000" in output
    assert "last snapshot id       none" in output
    assert "frozen                 no" in output


# -- clearboard -------------------------------------------------------------------------


def test_clearboard_snapshots_then_clears(main_board):
    state.apply(main_board, [(1, 1), (2, 1)])
    output = run("clearboard", "--yes")
    assert state.meta(main_board).count == 0
    before = Snapshot.objects.get(reason="before-clear")
    assert before.count == 2
    assert f"Cleared main. The board before it is snapshot #{before.pk} (kept until at least" in output


def test_clearboard_changes_nothing_when_the_answer_is_no(main_board, tty):
    tty.answer = "n"
    state.apply(main_board, [(1, 1)])
    with pytest.raises(CommandError, match="Nothing was changed"):
        run("clearboard")
    assert state.meta(main_board).count == 1
    assert not Snapshot.objects.exists()


def test_clearboard_without_a_terminal_needs_yes(main_board):
    state.apply(main_board, [(1, 1)])
    with pytest.raises(CommandError, match="pass --noinput"):
        run("clearboard")
    assert state.meta(main_board).count == 1


# -- exportboard and importboard ---------------------------------------------------------


def test_exportboard_writes_the_raw_bitset(main_board, tmp_path):
    state.apply(main_board, [(0, 1), (99_999, 1)])
    output = run("exportboard", "--format", "bin", str(tmp_path / "board.bin"))
    assert (tmp_path / "board.bin").read_bytes() == live_bits(main_board)
    assert "Exported main at version 2 (2 checked): 12,500 bytes" in output


def test_exportboard_writes_a_png_with_a_pixel_per_box(main_board, tmp_path):
    state.apply(main_board, [(401, 1)])
    run("exportboard", str(tmp_path / "board.png"))
    img = Image.open(tmp_path / "board.png").convert("RGB")
    assert img.size == (400, 250)
    assert img.getpixel((1, 1)) == pictures.CHECKED


def test_exportboard_to_standard_output_keeps_progress_off_it(main_board, capfdbinary):
    state.apply(main_board, [(0, 1)])
    call_command("exportboard", "--format", "bin", "-", stdout=io.StringIO(), stderr=io.StringIO())
    assert capfdbinary.readouterr().out == live_bits(main_board)


def test_exportboard_needs_a_format_it_can_tell(main_board, tmp_path):
    with pytest.raises(CommandError, match="pass --format png or --format bin"):
        run("exportboard", str(tmp_path / "board.txt"))


def test_exportboard_refuses_an_unknown_format(main_board, tmp_path):
    with pytest.raises(CommandError, match="invalid choice: 'jpg'"):
        run("exportboard", "--format", "jpg", str(tmp_path / "board.jpg"))


def test_exportboard_into_a_missing_directory_says_so(main_board, tmp_path):
    with pytest.raises(CommandError, match="Could not write .*No such file or directory"):
        run("exportboard", str(tmp_path / "missing" / "board.png"))


def test_an_exported_png_imports_back_exactly(main_board, tmp_path):
    state.apply(main_board, [(index, 1) for index in range(0, 100_000, 7)])
    run("exportboard", str(tmp_path / "board.png"))
    exported = live_bits(main_board)
    run("clearboard", "--yes")

    output = run("importboard", str(tmp_path / "board.png"), "--noinput")

    assert live_bits(main_board) == exported
    assert "Imported board.png into main: 14,286 checked" in output
    assert Snapshot.objects.filter(reason="before-import").get().count == 0
    assert Snapshot.objects.filter(reason="imported").get().note == "After import of board.png"


def test_importboard_reads_a_raw_bitset(small_board, tmp_path):
    (tmp_path / "board.bin").write_bytes(bytes([0x80]) + bytes(12))
    run("importboard", "--board", "small", str(tmp_path / "board.bin"), "--noinput")
    assert bit("small", 0) == 1
    assert state.meta(small_board).count == 1


def test_importboard_refuses_a_bitset_of_the_wrong_length_and_leaves_the_board(main_board, tmp_path):
    state.apply(main_board, [(5, 1)])
    (tmp_path / "short.bin").write_bytes(bytes(100))
    with pytest.raises(CommandError, match="needs exactly 12,500 bytes and the file has 100. The board was not"):
        run("importboard", str(tmp_path / "short.bin"))
    assert (state.meta(main_board).count, bit("main", 5)) == (1, 1)
    assert not Snapshot.objects.exists()


def test_importboard_refuses_a_png_of_the_wrong_size(main_board, tmp_path):
    state.apply(main_board, [(5, 1)])
    Image.new("L", (100, 100), 0).save(tmp_path / "small.png")
    with pytest.raises(CommandError, match="100×100 pixels; a board of 100,000 boxes needs 400×250"):
        run("importboard", str(tmp_path / "small.png"))
    assert state.meta(main_board).count == 1


def test_importboard_refuses_a_broken_png(main_board, tmp_path):
    (tmp_path / "broken.png").write_bytes(pictures.PNG_SIGNATURE + b"garbage" * 10)
    with pytest.raises(CommandError, match="not a PNG picture that can be read.*The board was not changed"):
        run("importboard", str(tmp_path / "broken.png"))
    assert state.meta(main_board).count == 0


def test_importboard_of_a_missing_file_says_so(main_board, tmp_path):
    with pytest.raises(CommandError, match="Could not read .*No such file or directory"):
        run("importboard", str(tmp_path / "nowhere.png"))


# -- prunesnapshots ---------------------------------------------------------------------


def many_snapshots(board, count):
    for index in range(count):
        state.apply(board, [(index, 1)])
        snapshots.take(board, Snapshot.Reason.PERIODIC)


def test_prunesnapshots_applies_the_retention_policy(main_board, small_board, settings):
    settings.BOARD_SNAPSHOT_KEEP, settings.BOARD_SNAPSHOT_KEEP_HOURS, settings.BOARD_SNAPSHOT_KEEP_DAYS = 2, 0, 0
    many_snapshots(main_board, 5)
    many_snapshots(small_board, 3)
    newest = main_board.snapshots.first()
    output = run("prunesnapshots")
    assert main_board.snapshots.count() == small_board.snapshots.count() == 2
    assert main_board.snapshots.first() == newest
    assert "main: kept 2, deleted 3" in output
    assert "Deleted 4 snapshots." in output


def test_prunesnapshots_dry_run_deletes_nothing(main_board, settings):
    settings.BOARD_SNAPSHOT_KEEP, settings.BOARD_SNAPSHOT_KEEP_HOURS, settings.BOARD_SNAPSHOT_KEEP_DAYS = 1, 0, 0
    many_snapshots(main_board, 3)
    output = run("prunesnapshots", "--dry-run")
    assert main_board.snapshots.count() == 3
    assert "Would delete 2 snapshots." in output


def test_prunesnapshots_of_an_unknown_board_is_an_error(main_board):
    with pytest.raises(CommandError, match="There is no board 'nope'"):
        run("prunesnapshots", "--board", "nope")


# -- freezeboard and unfreezeboard ------------------------------------------------------


def test_freezeboard_and_unfreezeboard(main_board):
    assert "Board main is frozen" in run("freezeboard")
    main_board.refresh_from_db()
    assert main_board.frozen is True
    assert state.meta(main_board).frozen is True
    assert "Board main was already frozen." in run("freezeboard")
    run("unfreezeboard")
    assert state.meta(main_board).frozen is False


# -- ban, unban, listbans, listsnapshots ------------------------------------------------


def test_ban_for_a_week(db):
    output = run("ban", "203.0.113.9", "--reason", "scribbled rude words", "--for", "7d")
    ban = Ban.objects.get()
    assert (ban.network, ban.reason, ban.banned_by.username) == ("203.0.113.9/32", "scribbled rude words", OS_USER)
    assert timedelta(days=6, hours=23) < ban.expires - timezone.now() <= timedelta(days=7)
    assert f"Banned 203.0.113.9/32 until {ban.expires:%Y-%m-%d %H:%M} UTC" in output


def test_ban_for_ninety_seconds_as_the_history_tools_write_it(db):
    run("ban", "203.0.113.9", "--reason", "a burst", "--for", "90s")
    assert timedelta(seconds=80) < Ban.objects.get().expires - timezone.now() <= timedelta(seconds=90)


def test_ban_forever(db):
    run("ban", "2001:db8::5", "--reason", "bot", "--for", "forever")
    assert (Ban.objects.get().network, Ban.objects.get().expires) == ("2001:db8::/64", None)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["banana", "--reason", "x"], "is not an IP address or network"),
        (["0.0.0.0/0", "--reason", "x"], "at most a /16"),
        (["203.0.113.9", "--reason", "x", "--for", "soon"], "is not a duration: write 90s, 30m, 12h"),
        (["203.0.113.9", "--reason", "x", "--for", "0d"], "is not a duration"),
        (["203.0.113.9", "--reason", "x", "--for", "9999999d"], "longer than 100 years"),
        (["203.0.113.9", "--reason", "  "], "--reason is empty"),
    ],
)
def test_ban_refuses_bad_input(db, args, error):
    with pytest.raises(CommandError, match=error):
        run("ban", *args)
    assert not Ban.objects.exists()


def test_ban_needs_a_reason(db):
    with pytest.raises(CommandError, match="the following arguments are required: --reason"):
        run("ban", "203.0.113.9")


def test_unban_lifts_the_active_ban(db):
    run("ban", "203.0.113.9", "--reason", "x")
    assert "Lifted the ban on 203.0.113.9/32." in run("unban", "203.0.113.9")
    assert not Ban.objects.active().exists()
    assert Ban.objects.count() == 1


def test_unban_of_a_network_without_a_ban_is_an_error(db):
    with pytest.raises(CommandError, match="There is no active ban on 203.0.113.9/32"):
        run("unban", "203.0.113.9")


def test_listbans_shows_active_bans_and_with_all_the_ended_ones(db):
    run("ban", "203.0.113.9", "--reason", "still on")
    Ban.objects.create(network="203.0.113.10", reason="long over", expires=timezone.now() - timedelta(days=1))
    active = run("listbans")
    assert "203.0.113.9/32" in active
    assert "long over" not in active
    assert "long over" in run("listbans", "--all")


def test_listsnapshots_lists_the_newest_first(main_board):
    first = snapshots.take(main_board, Snapshot.Reason.MANUAL, note="first")
    second = snapshots.take(main_board, Snapshot.Reason.MANUAL, note="second")
    output = run("listsnapshots")
    assert output.index(f"{second.pk:>6}") < output.index(f"{first.pk:>6}")
    assert "manual" in output


def test_listsnapshots_of_a_board_without_any(small_board):
    assert "small has no snapshots yet." in run("listsnapshots", "--board", "small")


def test_listsnapshots_refuses_a_limit_below_one(main_board):
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        run("listsnapshots", "--limit", "0")


def test_boards_other_than_the_default_are_left_alone(main_board, small_board):
    state.apply(small_board, [(1, 1)])
    run("clearboard", "--yes")
    assert state.meta(small_board).count == 1
    assert Board.objects.count() == 2
