"""
What the change log costs (docs/history.md, "Cost").

1. Redis time per change of the APPLY script, with the log off and on, for
   batches of several sizes, from Redis's own accounting (INFO commandstats):
   the hot path's added cost is the difference. "trimming" runs with the log
   already at HISTORY_MAX_ENTRIES, so every batch also trims the log's oldest
   entries (the steady state of a busy board).
2. Redis memory per logged change, for IPv4 and IPv6 players.
3. How fast the tools read the log back, and archive it and read the archive.
4. With --end-to-end: players on distinct loopback addresses change boxes
   through one daphne as fast as their RESULTs come back (one change in
   flight each), with HISTORY_ENABLED off and on, twice each: changes per
   second, SET-to-RESULT p50 and p99, and the CPU daphne and Redis spent per
   change.

In 1-3 every change is a real one (it flips its box), as on a busy board.
Runs a redis-server (and daphne) and an SQLite database of its own; nothing
else.

    .venv/bin/python benchmarks/history.py [--changes 100000]
    .venv/bin/python benchmarks/history.py --end-to-end [--players 50] [--seconds 15]
"""

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "checkboxes_project.settings")
# A database and data directory of the benchmark's own, gone afterwards.
DATA_DIR = Path(tempfile.mkdtemp(prefix="checkboxes-history-"))
os.environ["CHECKBOXES_DATA_DIR"] = str(DATA_DIR)
os.environ["HISTORY_ARCHIVE_DIR"] = str(DATA_DIR / "history")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from benchmarks.stack import cpu_seconds  # noqa: E402
from board.history import archive, queries  # noqa: E402
from board.management.serving import LocalRedis  # noqa: E402
from board.models import Board  # noqa: E402
from board.store import changelog, state  # noqa: E402

BOXES = 1_000_000
SOCKETS_PER_BATCH = 20


def authors(count, ipv6=False):
    if ipv6:
        return [
            state.Author(f"2001:db8:{k:x}:1::/64", f"2001:db8:{k:x}:1:a1b2:c3d4:e5f6:{k:x}", f"{k:012x}")
            for k in range(count)
        ]
    addresses = [f"198.51.{k // 256}.{k % 256}" for k in range(count)]
    return [state.Author(f"{address}/32", address, f"{k:012x}") for k, address in enumerate(addresses)]


class Flips:
    """Batches of changes that each flip their box, from a replica of the board."""

    def __init__(self, seed=1):
        self.bits = bytearray(BOXES)
        self.rng = random.Random(seed)

    def batch(self, size):
        changes, seen = [], set()
        while len(changes) < size:
            box = self.rng.randrange(BOXES)
            if box in seen:
                continue
            seen.add(box)
            self.bits[box] ^= 1
            changes.append((box, self.bits[box]))
        return changes


def script_usec():
    stats = state.sync_client().info("commandstats")
    return sum(stats.get(name, {}).get("usec", 0) for name in ("cmdstat_evalsha", "cmdstat_eval"))


def run(board, flips, batch, total, people):
    """Apply ``total`` changes in batches; Redis µs per change and changes per second at the client."""
    before, started = script_usec(), time.perf_counter()
    for _ in range(total // batch):
        changes = flips.batch(batch)
        who = [people[k % SOCKETS_PER_BATCH] for k in range(len(changes))]
        applied = state.apply(board, changes, who)
        assert applied.statuses.count(state.Status.APPLIED) == len(changes)
    wall = time.perf_counter() - started
    return (script_usec() - before) / total, total / wall


def fresh_board():
    state.sync_client().flushall()
    board = Board.objects.default()
    state.ensure(board)
    return board


def cost(options):
    print(f"## Redis time per change, board of {BOXES:,} boxes, {SOCKETS_PER_BATCH} players per batch\n")
    print("| batch | log off | log on | log on, trimming | added by the log | changes/s off | on |")
    print("|---|---|---|---|---|---|---|")
    people = authors(SOCKETS_PER_BATCH)
    for batch in (1, 20, 200, 2048):
        total = min(options.changes, batch * 2000)
        figures = {}
        for name, enabled in (("off", False), ("on", True), ("trimming", True)):
            settings.HISTORY_ENABLED = enabled
            settings.HISTORY_MAX_ENTRIES = 10**9
            board, flips = fresh_board(), Flips()
            if name == "trimming":
                run(board, flips, 2048, max(total, 50_000), people)
                settings.HISTORY_MAX_ENTRIES = max(1000, changelog.length(board.slug) - 1000)
            figures[name] = run(board, flips, batch, total, people)
        added = figures["trimming"][0] - figures["off"][0]
        print(
            f"| {batch:,} | {figures['off'][0]:.2f} µs | {figures['on'][0]:.2f} µs | {figures['trimming'][0]:.2f} µs "
            f"| {added:+.2f} µs | {figures['off'][1]:,.0f} | {figures['on'][1]:,.0f} |"
        )
    settings.HISTORY_ENABLED = True
    settings.HISTORY_MAX_ENTRIES = 10**9


def memory(options):
    print(f"\n## Redis memory per logged change ({options.changes:,} changes)\n")
    print("| players | bytes per change |")
    print("|---|---|")
    for label, ipv6 in (("IPv4", False), ("IPv6", True)):
        board = fresh_board()
        used = state.sync_client().info("memory")["used_memory"]
        run(board, Flips(), 200, options.changes, authors(SOCKETS_PER_BATCH, ipv6))
        grown = state.sync_client().info("memory")["used_memory"] - used
        print(f"| {label} | {grown / changelog.length(board.slug):.1f} |")


def reading(options):
    print(f"\n## Reading the log back ({options.changes:,} changes)\n")
    print("| what | changes/s |")
    print("|---|---|")
    board = fresh_board()
    run(board, Flips(), 2048, options.changes, authors(SOCKETS_PER_BATCH))
    entries = changelog.length(board.slug)
    timed("every entry, from Redis", entries, lambda: sum(1 for _ in queries.entries(board)))
    timed("one box's history, from Redis", entries, lambda: queries.box_history(board, 7, 20))
    now = datetime.now(UTC)
    later, earlier = now + timedelta(seconds=1), now - timedelta(days=1)
    timed("archivelog", entries, lambda: archive.archive(board.slug, later, earlier))
    timed("every entry, from the archive", entries, lambda: sum(1 for _ in queries.entries(board)))
    size = sum(file.stat().st_size for file in archive.directory(board.slug).iterdir())
    print(f"\nThe archive holds them in {size:,} bytes: {size / entries:.1f} bytes per change.")


def timed(name, count, job):
    started = time.perf_counter()
    job()
    print(f"| {name} | {count / (time.perf_counter() - started):,.0f} |")


async def end_to_end(options, redis_server, directory):
    from harness.players import play_timed
    from harness.servers import CHANGE_LIMITS_OFF, Daphne

    # The players are bots, each far past a person's 7 changes a second: the
    # change limits are off to measure the log, not the refusals.
    print(
        f"{options.players} players, one change in flight each, {options.seconds:g} s per run, one daphne, "
        "change limits off\n"
    )
    print("| log | changes/s | SET to RESULT p50 | p99 | daphne CPU per change | Redis CPU per change |")
    print("|---|---|---|---|---|---|")
    for enabled in ("0", "1", "0", "1"):
        state.sync_client().flushall()
        server = Daphne(directory, REDIS_URL=redis_server.url, HISTORY_ENABLED=enabled, **CHANGE_LIMITS_OFF).start()
        try:
            daphne, redis_cpu = cpu_seconds(server.process.pid), cpu_seconds(redis_server.process.pid)
            times = await play_timed(server.url, options.players, options.seconds)
            daphne = cpu_seconds(server.process.pid) - daphne
            redis_cpu = cpu_seconds(redis_server.process.pid) - redis_cpu
        finally:
            server.stop()
        count = len(times)
        p50, p99 = times[count // 2] * 1000, times[int(count * 0.99)] * 1000
        print(
            f"| {'on' if enabled == '1' else 'off'} | {count / options.seconds:,.0f} | {p50:.1f} ms | {p99:.1f} ms "
            f"| {daphne / count * 1e6:.0f} µs | {redis_cpu / count * 1e6:.1f} µs |"
        )


def main(options):
    call_command("migrate", verbosity=0)
    with tempfile.TemporaryDirectory() as directory:
        server = LocalRedis(directory).start()
        try:
            settings.REDIS_URL = server.url
            state.reset_clients()
            if options.end_to_end:
                # The daphne reads the benchmark's database: the default board is made there.
                Board.objects.default()
                asyncio.run(end_to_end(options, server, directory))
                return
            settings.BOARD_DEFAULT_SIZE = BOXES
            cost(options)
            memory(options)
            reading(options)
        finally:
            server.stop()


if __name__ == "__main__":
    import shutil

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--changes", type=int, default=100_000, help="changes per measurement (default 100000)")
    parser.add_argument("--end-to-end", action="store_true", help="through daphne, log off and on")
    parser.add_argument("--players", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    try:
        main(parser.parse_args())
    finally:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
