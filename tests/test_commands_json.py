"""Every command that lists or reports, with --json: one JSON document with the keys docs/operations.md lists."""

import io
import json
from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from board.models import Ban, Snapshot
from board.store import changelog, snapshots, state
from board.store.state import Author

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ALICE = Author("198.51.100.1/32", "198.51.100.1", "a1a1a1a1a1a1")
VANDAL = Author("203.0.113.9/32", "203.0.113.9", "bad0bad0bad0")


def run_json(*args):
    out = io.StringIO()
    call_command(*args, "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def moment(text):
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def test_listsnapshots(main_board, admin_user):
    first = snapshots.take(main_board, Snapshot.Reason.PERIODIC)
    second = snapshots.take(main_board, Snapshot.Reason.MANUAL, note="before the event", user=admin_user)

    listed = run_json("listsnapshots")

    assert [row["id"] for row in listed] == [second.pk, first.pk]
    assert listed[0] == {
        "id": second.pk,
        "board": "main",
        "taken": second.created.isoformat(),
        "reason": "manual",
        "note": "before the event",
        "taken_by": admin_user.get_username(),
        "size": 100_000,
        "checked": 0,
        "version": 0,
    }
    assert listed[1]["taken_by"] is None
    moment(listed[1]["taken"])


def test_listsnapshots_of_a_board_without_any_is_an_empty_list(small_board):
    assert run_json("listsnapshots", "--board", "small") == []


def test_listbans(db):
    Ban.objects.create(network="203.0.113.9", reason="still on", expires=timezone.now() + timedelta(days=1))
    Ban.objects.create(network="203.0.113.10", reason="long over", expires=timezone.now() - timedelta(days=1))

    (active,) = run_json("listbans")
    every = run_json("listbans", "--all")

    assert active == {
        "network": "203.0.113.9/32",
        "reason": "still on",
        "created": active["created"],
        "expires": active["expires"],
        "active": True,
        "banned_by": None,
    }
    assert moment(active["expires"]) > moment(active["created"])
    assert {ban["network"]: ban["active"] for ban in every} == {"203.0.113.9/32": True, "203.0.113.10/32": False}


def test_boxhistory(main_board):
    state.apply(main_board, [(9, 1)], [ALICE])
    state.apply(main_board, [(9, 0)], [VANDAL])

    history = run_json("boxhistory", "9")

    assert history["board"] == "main" and history["box"] == 9
    newest, older, created = history["changes"]
    assert newest == {
        "time": newest["time"],
        "value": 0,
        "version": 2,
        "who": "203.0.113.9/32",
        "kind": "change",
        "reason": None,
        "network": "203.0.113.9/32",
        "address": "203.0.113.9",
        "connection": "bad0bad0bad0",
    }
    assert moment(newest["time"]) >= moment(older["time"])
    assert (older["value"], older["network"]) == (1, "198.51.100.1/32")
    assert created["kind"] == "reset" and created["reason"] == "created" and created["network"] is None
    assert created.keys() == newest.keys()


def test_boxhistory_of_a_box_nobody_changed_is_an_empty_list(main_board):
    state.apply(main_board, [(1, 1)], [ALICE])
    state.sync_client().delete(state.changelog_key("main"))
    state.apply(main_board, [(2, 1)], [ALICE])
    assert run_json("boxhistory", "1")["changes"] == []


def test_revertchanges_dry_run_prints_the_plan_and_changes_nothing(main_board):
    state.apply(main_board, [(box, 1) for box in range(10)], [ALICE] * 10)
    since = timezone.now() - timedelta(seconds=1)
    state.apply(main_board, [(box, 0) for box in range(8)], [VANDAL] * 8)
    state.apply(main_board, [(0, 1)], [ALICE])
    before = (state.read(main_board), changelog.length("main"))

    plan = run_json("revertchanges", "--ip", "203.0.113.9", "--since", since.isoformat(), "--dry-run")

    assert plan == {
        "board": "main",
        "network": "203.0.113.9/32",
        "since": plan["since"],
        "changes": 8,
        "boxes": 7,
        "checks": 7,
        "unchecks": 0,
        "kept": 1,
        "unchanged": 0,
    }
    assert abs(moment(plan["since"]) - since) < timedelta(seconds=1)
    assert (state.read(main_board), changelog.length("main")) == before


def test_revertchanges_json_of_a_network_that_changed_nothing_is_a_plan_of_nothing(main_board):
    plan = run_json("revertchanges", "--ip", "203.0.113.9", "--since", "1h", "--dry-run")
    assert (plan["changes"], plan["boxes"]) == (0, 0)


def test_revertchanges_json_needs_dry_run(main_board):
    with pytest.raises(CommandError, match="--json prints a plan: give --dry-run too"):
        run_json("revertchanges", "--ip", "203.0.113.9", "--since", "1h", "--yes")


def test_boardstats(main_board):
    stats = run_json("boardstats")
    assert set(stats) == {
        "board",
        "size",
        "checked",
        "version",
        "epoch",
        "frozen",
        "players",
        "last_snapshot_id",
        "last_snapshot_age_seconds",
    }
