"""
What the rate limits cost on the hot path (docs/reliability.md).

1. The network check alone: many sockets check changes against the shared
   network budget at once, the way a busy process does; the batched check
   (board.limits.NetworkBudget: checks waiting together go to Redis in one
   Lua call) against one Lua call per change.
2. End to end (--end-to-end): players on distinct loopback addresses
   (127.0.0.2, .3, …, so distinct networks) change boxes through one daphne
   with every limit on, then with every limit off; the time from SET to
   RESULT and daphne's CPU time, compared.

Runs a redis-server (and daphne, SQLite) of its own on 127.0.0.1; nothing else.

    .venv/bin/python benchmarks/limits.py [--sockets 200] [--changes 50]
    .venv/bin/python benchmarks/limits.py --end-to-end [--players 100] [--rate 5] [--seconds 10]
"""

import argparse
import asyncio
import ipaddress
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "checkboxes_project.settings")
# A database and data directory of the benchmark's own, gone afterwards.
DATA_DIR = Path(tempfile.mkdtemp(prefix="checkboxes-limits-"))
os.environ["CHECKBOXES_DATA_DIR"] = str(DATA_DIR)
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from benchmarks.stack import cpu_seconds  # noqa: E402
from board.live import limits  # noqa: E402
from board.management.serving import LocalRedis  # noqa: E402
from board.store import state  # noqa: E402


def networks(count):
    return [ipaddress.ip_network(f"198.51.{k // 256}.{k % 256}/32") for k in range(count)]


async def batched(nets, changes):
    budget = limits.NetworkBudget()

    async def socket(net):
        for _ in range(changes):
            assert await budget.wait(net) == 0

    await asyncio.gather(*(socket(net) for net in nets))


async def one_call_each(nets, changes):
    script = limits._script("changes", limits.CHANGES_LUA)
    args = list(settings.BOARD_NETWORK_CHANGE_BUCKET)
    # The client's pool holds 64 connections; more calls at once would fail
    # with MaxConnectionsError instead of waiting.
    pool = asyncio.Semaphore(48)

    async def socket(net):
        for _ in range(changes):
            async with pool:
                assert (await script(keys=[limits.key("changes", str(net))], args=args)) == [0]

    await asyncio.gather(*(socket(net) for net in nets))


async def script_calls():
    stats = await state.async_client().info("commandstats")
    return sum(stats.get(name, {}).get("calls", 0) for name in ("cmdstat_evalsha", "cmdstat_eval"))


async def measure(name, run, nets, changes):
    await state.async_client().flushall()
    calls = await script_calls()
    wall, cpu = time.perf_counter(), time.process_time()
    await run(nets, changes)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    calls = await script_calls() - calls
    total = len(nets) * changes
    print(
        f"| {name} | {total:,} | {total / wall:,.0f} | {cpu / total * 1e6:.0f} µs | {calls:,} | {total / calls:.1f} |"
    )


async def end_to_end(options, redis_url, directory):
    from asgiref.sync import sync_to_async
    from django.core.management import call_command

    from harness.players import play_timed
    from harness.servers import LIMITS_OFF, Daphne

    await sync_to_async(call_command)("migrate", verbosity=0)

    # "on" is the shipped defaults; "off" turns every limit off, to measure what they cost.
    print(f"{options.players} players, {options.rate} changes/s each for {options.seconds} s, one daphne\n")
    print("| limits | changes | SET to RESULT p50 | p99 | daphne CPU per change |")
    print("|---|---|---|---|---|")
    for name, env in (("off", LIMITS_OFF), ("on", {}), ("off", LIMITS_OFF), ("on", {})):
        server = Daphne(directory, REDIS_URL=redis_url, **env).start()
        try:
            cpu = cpu_seconds(server.process.pid)
            times = await play_timed(server.url, options.players, options.seconds, options.rate)
            cpu = cpu_seconds(server.process.pid) - cpu
        finally:
            server.stop()
        p50, p99 = times[len(times) // 2] * 1000, times[int(len(times) * 0.99)] * 1000
        print(f"| {name} | {len(times):,} | {p50:.1f} ms | {p99:.1f} ms | {cpu / len(times) * 1e6:.0f} µs |")


async def main(options):
    with tempfile.TemporaryDirectory() as directory:
        if options.end_to_end:
            server = LocalRedis(directory).start()
            try:
                await end_to_end(options, server.url, directory)
            finally:
                server.stop()
            return
        server = LocalRedis(directory).start()
        try:
            settings.REDIS_URL = server.url
            state.reset_clients()
            # Limits no socket reaches: every check is counted and passes.
            settings.BOARD_NETWORK_CHANGE_BUCKET = (10**9, 10**9)
            nets = networks(options.sockets)
            print(f"{options.sockets} sockets on distinct networks, {options.changes} changes each, one token bucket\n")
            print("| check | changes | changes/s | client CPU per change | Lua calls | changes per call |")
            print("|---|---|---|---|---|---|")
            await measure("batched (NetworkBudget)", batched, nets, options.changes)
            await measure("one Lua call per change", one_call_each, nets, options.changes)
            await state.close_async_client()
        finally:
            server.stop()


if __name__ == "__main__":
    import shutil

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--players", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    try:
        asyncio.run(main(parser.parse_args()))
    finally:
        shutil.rmtree(DATA_DIR, ignore_errors=True)
