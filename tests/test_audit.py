"""One audit trail: what operators' commands do to a board is in the admin's history, as the admin's actions are."""

import getpass
import io

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from board import moderation
from board.models import Ban, Snapshot
from board.store import snapshots, state

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

OS_USER = f"os.{getpass.getuser()}"


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def history(obj):
    """An object's admin History: (who, flag, message), oldest first."""
    entries = LogEntry.objects.filter(object_id=str(obj.pk), content_type__model=obj._meta.model_name)
    return [(e.user.username, e.action_flag, e.change_message) for e in entries.order_by("id")]


@pytest.fixture
def operator_erin(django_user_model):
    return django_user_model.objects.create_user("erin", password="erin-moderates-42", is_staff=True)


def test_a_command_names_the_user_given_with_user(main_board, operator_erin):
    run("freezeboard", "--user", "erin")
    assert history(main_board) == [("erin", CHANGE, "Froze the board.")]


def test_without_user_a_command_acts_as_an_inactive_account_named_after_the_login(main_board):
    run("freezeboard")
    run("unfreezeboard")
    assert history(main_board) == [(OS_USER, CHANGE, "Froze the board."), (OS_USER, CHANGE, "Unfroze the board.")]
    account = get_user_model().objects.get(username=OS_USER)
    assert not account.is_active and not account.has_usable_password()
    assert get_user_model().objects.filter(username=OS_USER).count() == 1


def test_an_unknown_user_changes_nothing(main_board):
    with pytest.raises(CommandError, match="There is no user 'mallory'; nothing was changed"):
        run("clearboard", "--noinput", "--user", "mallory")
    assert not Snapshot.objects.exists() and not LogEntry.objects.exists()


def test_a_clear_from_the_command_leaves_the_entry_the_admin_leaves(main_board, operator_erin):
    state.apply(main_board, [(5, 1)])
    run("clearboard", "--noinput", "--user", "erin")
    before = Snapshot.objects.get(reason="before-clear")
    assert before.taken_by == operator_erin
    assert history(main_board) == [("erin", CHANGE, f"Cleared the board. It was saved first as {note(before)}.")]


def note(snapshot):
    return moderation.undo_note(snapshot)


def test_a_restore_from_the_command_is_in_the_board_and_the_snapshot_history(main_board):
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    state.apply(main_board, [(5, 1)])
    run("restoresnapshot", str(saved.pk), "--noinput")
    before = Snapshot.objects.get(reason="before-restore")
    assert history(main_board) == [
        (OS_USER, CHANGE, f"Restored snapshot #{saved.pk}; the board before it was saved as {note(before)}.")
    ]
    assert history(saved) == [(OS_USER, CHANGE, "Restored onto board main.")]


def test_an_import_asks_first_and_is_logged(main_board, tmp_path, tty):
    (tmp_path / "art.bin").write_bytes(bytes([0xFF]) + bytes(12_499))
    tty.answer = "no"
    with pytest.raises(CommandError, match="Nothing was changed"):
        run("importboard", str(tmp_path / "art.bin"))
    assert state.meta(main_board).count == 0 and not Snapshot.objects.exists()

    tty.answer = "yes"
    run("importboard", str(tmp_path / "art.bin"))
    before = Snapshot.objects.get(reason="before-import")
    assert state.meta(main_board).count == 8
    assert history(main_board) == [(OS_USER, CHANGE, f"Imported art.bin. It was saved first as {note(before)}.")]


def test_an_import_without_a_terminal_needs_noinput(main_board, tmp_path):
    (tmp_path / "art.bin").write_bytes(bytes([0xFF]) + bytes(12_499))
    with pytest.raises(CommandError, match="pass --noinput"):
        run("importboard", str(tmp_path / "art.bin"))
    run("importboard", str(tmp_path / "art.bin"), "--no-input")
    assert state.meta(main_board).count == 8


def test_a_ban_and_its_lifting_from_the_commands_are_in_the_bans_history(db):
    run("ban", "203.0.113.9", "--reason", "scribbled", "--for", "forever")
    run("unban", "203.0.113.9")
    ban = Ban.objects.get()
    assert history(ban) == [
        (OS_USER, ADDITION, "Banned until lifted: scribbled"),
        (OS_USER, CHANGE, "Lifted the ban."),
    ]


def test_the_admin_and_the_commands_write_the_same_entry(main_board, admin_client, admin_user):
    from django.urls import reverse

    admin_client.post(
        reverse("admin:board_board_changelist"),
        {"action": "freeze", "_selected_action": [main_board.pk]},
    )
    run("unfreezeboard", "--user", admin_user.username)
    run("freezeboard", "--user", admin_user.username)
    entries = history(main_board)
    assert entries[0] == entries[2] == (admin_user.username, CHANGE, "Froze the board.")
