"""Snapshots taken by real serving processes: periodic ones across two daphnes, and the last one at shutdown."""

import asyncio
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from board.models import Snapshot
from board.store.state import Status
from harness.players import NetPlayer
from harness.servers import BASE_DIR, Daphne, server_environment

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.usefixtures("hubs")]


async def keep_changing(player, seconds, first_index=0):
    """Change a box every 200 ms (a person's pace, within the limits) for ``seconds``; every change must apply."""
    index = first_index
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await player.send_set(index, 1)
        assert (await player.receive_result())[2] == Status.APPLIED
        index += 1
        await asyncio.sleep(0.2)
    return index - first_index


async def check(player, indices):
    """Check these boxes one after another; every change must apply."""
    for index in indices:
        await player.send_set(index, 1)
        assert (await player.receive_result())[2] == Status.APPLIED


async def periodic_snapshots():
    return [s async for s in Snapshot.objects.filter(reason="periodic").order_by("created")]


async def test_two_processes_take_one_periodic_snapshot_per_interval(daphnes):
    first, second = daphnes(2, BOARD_SNAPSHOT_SECONDS=1)
    alice = await NetPlayer(first.url).join()
    bob = await NetPlayer(second.url).join()

    started = time.monotonic()
    await asyncio.gather(keep_changing(alice, 4.5), keep_changing(bob, 4.5, first_index=50_000))
    await asyncio.sleep(1.2)  # the interval in which the last changes were made
    elapsed = time.monotonic() - started

    taken = await periodic_snapshots()
    # Both processes run the task and the board changed in every interval, yet
    # there is never more than one snapshot per interval between them.
    assert len(taken) <= math.ceil(elapsed) + 1
    assert len(taken) >= 3
    versions = [snapshot.version for snapshot in taken]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    await alice.leave()
    await bob.leave()


async def test_an_unchanged_board_gets_no_more_periodic_snapshots(daphnes):
    (server,) = daphnes(1, BOARD_SNAPSHOT_SECONDS=1)
    alice = await NetPlayer(server.url).join()
    await check(alice, (0, 1))
    async with asyncio.timeout(10):
        while not await periodic_snapshots():
            await asyncio.sleep(0.2)

    await asyncio.sleep(3)  # three more intervals, with nothing changing

    taken = await periodic_snapshots()
    assert len(taken) == 1
    assert taken[0].count == 2
    await alice.leave()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_stopping_a_server_takes_a_final_snapshot(daphnes, stop_signal):
    (server,) = daphnes(1)
    alice = await NetPlayer(server.url).join()
    for index in (3, 4, 5):
        await alice.send_set(index, 1)
        assert (await alice.receive_result())[2] == Status.APPLIED

    server.process.send_signal(stop_signal)
    assert await asyncio.to_thread(server.process.wait, 15) == 0

    final = await Snapshot.objects.aget()
    assert (final.reason, final.count, final.version) == ("shutdown", 3, 3)
    assert "Final snapshot #" in server.log()


async def test_stopping_a_server_whose_board_is_already_saved_takes_no_snapshot(daphnes):
    from asgiref.sync import sync_to_async

    from board.models import Board
    from board.store import snapshots

    (server,) = daphnes(1)
    alice = await NetPlayer(server.url).join()
    await alice.send_set(3, 1)
    await alice.receive_result()
    board = await sync_to_async(Board.objects.default)()
    await sync_to_async(snapshots.take)(board, Snapshot.Reason.MANUAL)

    await asyncio.to_thread(server.stop)

    assert [s.reason async for s in Snapshot.objects.all()] == ["manual"]
    assert "unchanged since its last snapshot" in server.log()


async def test_make_run_serves_with_periodic_snapshots_and_a_final_one_on_ctrl_c(transactional_db, tmp_path):
    """``manage.py serve`` (what ``make run`` runs) with no extra step; Ctrl+C reaches the whole process group."""
    port = Daphne(tmp_path).port
    env = server_environment(BOARD_SNAPSHOT_SECONDS=1, CHECKBOXES_DATA_DIR=tmp_path / "data")
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        server = Daphne(tmp_path, port=port)
        server.process = serve
        await asyncio.to_thread(server.wait_ready, 20)
        alice = await NetPlayer(server.url).join()
        await check(alice, (0, 1))
        async with asyncio.timeout(10):
            while not await periodic_snapshots():
                await asyncio.sleep(0.2)
        await check(alice, (10, 11))

        os.killpg(serve.pid, signal.SIGINT)
        assert await asyncio.to_thread(serve.wait, 20) == 0
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
        log.close()

    # The board as it was at Ctrl+C is saved. Usually that is the final
    # snapshot; when a periodic one caught the last changes just before the
    # signal, the final one is rightly skipped as unchanged.
    newest = await Snapshot.objects.order_by("-created", "-pk").afirst()
    assert newest.count == 4
    serve_log = (tmp_path / "serve.log").read_text()
    if newest.reason != "shutdown":
        assert newest.reason == "periodic"
        assert "unchanged since its last snapshot" in serve_log
