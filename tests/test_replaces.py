"""Replacing a board (restore, clear) while players on two processes change it loses nothing.

Each replace's "before" snapshot must be exactly the board its change log
replays to at that version, its "after" snapshot exactly what the replace put
there, and the log's versions must run on without a gap across it.
"""

import asyncio
import random
import time

import pytest
from asgiref.sync import sync_to_async

from board import bitset, moderation
from board.models import Board, Snapshot
from board.store import changelog, state
from board.store.state import Status
from harness.players import NetPlayer

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("hubs")]

SIZE = 4096
WRITERS = 8
REPLACES = 40


async def write(player, rng, stop):
    """Change random boxes at about 5 a second (within the per-socket limit) until ``stop`` is set."""
    applied = 0
    while not stop.is_set():
        await player.send_set(rng.randrange(SIZE), rng.randrange(2))
        status = (await player.receive_result(timeout=10))[2]
        assert status in (Status.APPLIED, Status.UNCHANGED)
        applied += status == Status.APPLIED
        await player.ack()
        await asyncio.sleep(0.2)
    return applied


def replace_now(board, rng):
    """A clear, or a restore of one of the board's snapshots."""
    earlier = list(Snapshot.objects.filter(board=board).values_list("pk", flat=True))
    if earlier and rng.random() < 0.5:
        return moderation.restore(Snapshot.objects.get(pk=rng.choice(earlier)))
    return moderation.clear(board)


def replay(slug, done):
    """Walk the board's log, checking every replace in ``done`` against it; the bits and version at the end."""
    by_version = {replaced.after.version: replaced for replaced in done}
    bits, version, checked = None, None, 0
    for entry in changelog.read(slug):
        if isinstance(entry, changelog.Reset) and entry.reason == "created":
            bits, version = bytearray(bitset.byte_length(SIZE)), entry.version
        elif isinstance(entry, changelog.Reset):
            replaced = by_version.pop(entry.version)
            assert replaced.before.version == version == entry.version - 1
            assert replaced.before.bits() == bytes(bits), f"before snapshot #{replaced.before.pk} misses changes"
            assert replaced.after.digest == entry.digest
            assert replaced.after.count == int.from_bytes(replaced.after.bits(), "big").bit_count()
            bits, version = bytearray(replaced.after.bits()), entry.version
            checked += 1
        else:
            assert entry.version == version + 1, f"the log skips from version {version} to {entry.version}"
            bitset.put(bits, entry.box, entry.value)
            version = entry.version
    assert checked == len(done) and not by_version
    return bytes(bits), version


async def test_replaces_under_concurrent_writers_on_two_processes_lose_nothing(daphnes):
    first, second = daphnes(2)
    board = await Board.objects.acreate(slug="race", size=SIZE)
    players = [
        await NetPlayer(server.url, slug="race", local_address=f"127.0.0.{20 + k}").join()
        for k, server in enumerate([first, second] * (WRITERS // 2))
    ]
    stop = asyncio.Event()
    writers = [asyncio.ensure_future(write(player, random.Random(k), stop)) for k, player in enumerate(players)]
    await asyncio.sleep(1)

    rng, done = random.Random(40), []
    deadline = time.monotonic() + 60
    while len(done) < REPLACES and time.monotonic() < deadline:
        done.append(await sync_to_async(replace_now)(board, rng))
        await asyncio.sleep(rng.uniform(0.05, 0.3))
    await asyncio.sleep(0.5)
    stop.set()
    applied = await asyncio.gather(*writers)
    for player in players:
        await player.leave()

    assert len(done) == REPLACES
    assert sum(applied) > 2 * REPLACES  # changes really were made between the replaces
    bits, version = await sync_to_async(replay)("race", done)
    live_bits, live = await sync_to_async(state.read)(board)
    assert (bits, version) == (live_bits, live.version)
