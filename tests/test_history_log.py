"""The change log: exactly the applied changes, with who made them, kept within retention (board/changelog.py)."""

import asyncio
import random
import time

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from board import bitset, moderation
from board.models import Ban, Board, Snapshot
from board.store import changelog, snapshots, state
from board.store.changelog import Change, Reset
from board.store.state import Author, Status
from harness.players import NetPlayer
from tests.players import Player

ALICE = Author("203.0.113.9/32", "203.0.113.9", "a1a1a1a1a1a1")
BOB = Author("2001:db8:1:2::/64", "2001:db8:1:2::beef", "b0b0b0b0b0b0")
HOUR_MS = 3_600_000


def changes(slug="main"):
    return [entry for entry in changelog.read(slug) if isinstance(entry, Change)]


def resets(slug="main"):
    return [entry for entry in changelog.read(slug) if isinstance(entry, Reset)]


def replay(entries, size):
    bits = bytearray(bitset.byte_length(size))
    for entry in entries:
        mask = 0x80 >> (entry.box & 7)
        bits[entry.box >> 3] = bits[entry.box >> 3] | mask if entry.value else bits[entry.box >> 3] & ~mask
    return bytes(bits)


def old_entry(slug, hours_ago, box):
    """An entry written ``hours_ago`` hours ago, as if the log had been running then."""
    ms = int(time.time() * 1000) - int(hours_ago * HOUR_MS)
    fields = {"box": box, "value": 1, "version": box, "network": "198.51.100.7/32", "address": "198.51.100.7"}
    state.sync_client().xadd(state.changelog_key(slug), {**fields, "connection": "old"}, id=f"{ms}-0")


# -- what the log holds ------------------------------------------------------------


@pytest.mark.django_db
def test_each_applied_change_is_logged_with_its_box_value_version_and_author(main_board):
    state.apply(main_board, [(51_234, 1), (7, 1), (51_234, 0)], [ALICE, BOB, ALICE])

    logged = changes()

    assert [(c.box, c.value, c.version) for c in logged] == [(51_234, 1, 1), (7, 1, 2), (51_234, 0, 3)]
    assert [(c.network, c.address, c.connection) for c in logged] == [ALICE, BOB, ALICE]
    assert [changelog.id_key(c.id) for c in logged] == sorted(changelog.id_key(c.id) for c in logged)


@pytest.mark.django_db
def test_a_change_to_the_value_a_box_already_has_is_not_logged(main_board):
    state.apply(main_board, [(5, 1)], [ALICE])
    state.apply(main_board, [(5, 1), (6, 0)], [BOB, BOB])
    assert [(c.box, c.network) for c in changes()] == [(5, ALICE.network)]


@pytest.mark.django_db
def test_changes_refused_by_a_frozen_board_are_not_logged(main_board):
    state.set_frozen(main_board, True)
    result = state.apply(main_board, [(5, 1)], [ALICE])
    assert result.statuses == [Status.FROZEN]
    assert changes() == []


@pytest.mark.django_db
def test_nothing_is_logged_with_the_log_turned_off(main_board, settings):
    settings.HISTORY_ENABLED = False
    state.apply(main_board, [(5, 1), (6, 1)], [ALICE, BOB])
    assert state.meta(main_board).version == 2
    assert not state.sync_client().exists(state.changelog_key("main"))


@pytest.mark.django_db
def test_a_new_board_starts_its_log_with_the_empty_board(main_board):
    state.ensure(main_board)
    (created,) = resets()
    assert (created.reason, created.version) == ("created", 0)
    assert created.digest == bitset.digest(bytes(12_500))


@pytest.mark.django_db
def test_a_board_recovered_from_a_snapshot_logs_which_board_it_starts_from(main_board):
    state.apply(main_board, [(3, 1)], [ALICE])
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    state.sync_client().delete(*state.keys("main"))

    state.ensure(main_board)

    recovered = resets()[-1]
    assert (recovered.reason, recovered.version, recovered.digest) == ("recovered", 1, saved.digest)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", ["restore", "clear", "import"])
def test_replacing_the_board_logs_the_new_board_by_its_digest_and_who_did_it(operation, main_board, admin_user):
    state.apply(main_board, [(3, 1)], [ALICE])
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    state.apply(main_board, [(4, 1)], [ALICE])
    if operation == "restore":
        done = moderation.restore(saved, user=admin_user)
    elif operation == "clear":
        done = moderation.clear(main_board)
    else:
        done = moderation.import_bits(main_board, bytes([0xFF]) + bytes(12_499))

    reset = resets()[-1]
    assert reset.reason == {"restore": "restored", "clear": "cleared", "import": "imported"}[operation]
    assert reset.digest == done.after.digest
    assert reset.version == done.meta.version == 3
    assert reset.epoch == done.meta.epoch
    assert reset.by == ("admin:admin" if operation == "restore" else "command")


@pytest.mark.django_db
def test_deleting_a_board_deletes_its_log(main_board):
    state.apply(main_board, [(3, 1)], [ALICE])
    state.forget(main_board)
    assert not state.sync_client().exists(state.changelog_key("main"))


# -- retention ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_log_is_trimmed_to_about_its_length_keeping_the_newest(main_board, settings):
    settings.HISTORY_MAX_ENTRIES = 1000
    for start in range(0, 5000, 100):
        state.apply(main_board, [(box, 1) for box in range(start, start + 100)], [ALICE] * 100)

    logged = changes()

    # Trimming removes whole stream nodes (at most 100 entries each), so a node's worth may stay.
    assert 1000 <= len(logged) <= 1100
    assert logged[-1].box == 4999
    assert [c.version for c in logged] == list(range(logged[0].version, 5001))


@pytest.mark.django_db
def test_entries_older_than_retention_are_trimmed_and_younger_ones_kept(main_board, settings):
    settings.HISTORY_RETENTION_HOURS = 24
    state.ensure(main_board)
    state.sync_client().delete(state.changelog_key("main"))
    old_entry("main", 25, box=1)
    old_entry("main", 23, box=2)

    state.apply(main_board, [(3, 1)], [ALICE])

    assert [c.box for c in changes()] == [2, 3]


@pytest.mark.django_db
def test_an_idle_log_expires_as_a_whole_once_its_newest_entry_is_past_retention(main_board, settings):
    settings.HISTORY_RETENTION_HOURS = 2
    state.apply(main_board, [(3, 1)], [ALICE])
    ttl = state.sync_client().pttl(state.changelog_key("main"))
    assert 2 * HOUR_MS - 60_000 < ttl <= 2 * HOUR_MS


def test_trimming_drops_entries_written_before_a_moment(main_board):
    state.ensure(main_board)
    state.sync_client().delete(state.changelog_key("main"))
    old_entry("main", 30, box=1)
    old_entry("main", 2, box=2)

    dropped = changelog.trim("main", changelog.retention_cutoff(timezone.now()))

    assert dropped == 1
    assert [c.box for c in changes()] == [2]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hubs")
async def test_each_serving_process_trims_its_boards_logs_even_when_nobody_changes_a_box(monkeypatch):
    monkeypatch.setattr(changelog, "TRIM_SECONDS", 0.05)
    await sync_to_async(Board.objects.default)()
    watcher = await Player().join()
    state.sync_client().delete(state.changelog_key("main"))
    await sync_to_async(old_entry)("main", 30, box=1)

    async with asyncio.timeout(5):
        while await sync_to_async(changelog.length)("main"):
            await asyncio.sleep(0.05)
    await watcher.leave()


# -- under load, from two processes -----------------------------------------------------


async def play(player, rng, count):
    """Send ``count`` changes to boxes 0-199 (many of them no-ops); every RESULT that comes back.

    Five a second, a quick person's pace: within the shipped limit of 7 per socket.
    """
    for _ in range(count):
        await player.send_set(rng.randrange(200), rng.randrange(2))
        await asyncio.sleep(0.2)
    return [await player.receive_result(timeout=20) for _ in range(count)]


@pytest.mark.slow
@pytest.mark.usefixtures("hubs")
async def test_the_log_holds_exactly_the_applied_changes_of_concurrent_writers_on_two_processes(daphnes):
    await Ban.objects.acreate(network="127.0.0.5", reason="scribbles")
    first, second = daphnes(2)
    players = [
        await NetPlayer(server.url, local_address=f"127.0.0.{2 + k}").join()
        for k, server in enumerate((first, second, first, second))
    ]
    rngs = [random.Random(k) for k in range(len(players))]

    results = await asyncio.gather(*(play(p, rng, 40) for p, rng in zip(players, rngs, strict=True)))
    board = await sync_to_async(Board.objects.default)()
    await sync_to_async(moderation.freeze)(board, True)
    frozen = await asyncio.gather(*(play(p, rng, 10) for p, rng in zip(players, rngs, strict=True)))

    statuses = {status for result in results + frozen for _, _, status, _ in result}
    assert {Status.APPLIED, Status.UNCHANGED, Status.BANNED, Status.FROZEN} <= statuses
    applied = [
        {(index, value, version) for index, value, status, version in result if status == Status.APPLIED}
        for result in results
    ]
    logged = changes()
    # Every applied change once, in version order, and nothing else.
    assert [c.version for c in logged] == list(range(1, sum(map(len, applied)) + 1))
    assert {(c.box, c.value, c.version) for c in logged} == set().union(*applied)
    # Each socket's changes under its own connection id and network.
    by_connection = {}
    for change in logged:
        by_connection.setdefault(change.connection, set()).add((change.box, change.value, change.version))
    assert sorted(by_connection.values(), key=min) == sorted(filter(None, applied), key=min)
    assert {c.network for c in logged} == {"127.0.0.2/32", "127.0.0.3/32", "127.0.0.4/32"}
    assert all(c.address == c.network.removesuffix("/32") for c in logged)
    # So the log rebuilds the board.
    assert replay(logged, board.size) == state.sync_client().get(state.keys("main")[0])
    for player in players:
        await player.leave()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hubs")
async def test_a_players_changes_are_logged_under_their_network_address_and_connection():
    await sync_to_async(Board.objects.default)()
    alice = await Player(address="2001:db8:5:6::77").join()
    await alice.send_set(42, 1)
    await alice.receive_result()
    await alice.send_set(42, 1)
    await alice.receive_result()

    (change,) = changes()

    assert (change.box, change.value, change.network, change.address) == (
        42,
        1,
        "2001:db8:5:6::/64",
        "2001:db8:5:6::77",
    )
    assert len(change.connection) == 12
    await alice.leave()
