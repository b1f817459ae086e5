"""
What the per-network rate limit costs on the hot path (docs/reliability.md).

Many sockets check changes against the shared network budget at once, the way
a busy process does. Compares the batched check (board.limits.NetworkBudget:
checks waiting together go to Redis in one Lua call) with one Lua call per
change. Runs against a redis-server of its own on 127.0.0.1; nothing else.

    .venv/bin/python benchmarks/limits.py [--sockets 200] [--changes 50]
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

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from board import limits, state  # noqa: E402
from board.localredis import LocalRedis  # noqa: E402


def networks(count):
    return [ipaddress.ip_network(f"198.51.{k // 256}.{k % 256}/32") for k in range(count)]


async def batched(nets, changes):
    budget = limits.NetworkBudget()

    async def socket(net):
        for _ in range(changes):
            assert await budget.allow(net)

    await asyncio.gather(*(socket(net) for net in nets))


async def one_call_each(nets, changes):
    script = limits._script("changes", limits.CHANGES_LUA)
    args = limits._flat(settings.BOARD_NETWORK_RATE_LIMITS)
    # The client's pool holds 64 connections; more calls at once would fail
    # with MaxConnectionsError instead of waiting.
    pool = asyncio.Semaphore(48)

    async def socket(net):
        for _ in range(changes):
            async with pool:
                assert (await script(keys=[limits.key("changes", str(net))], args=args)) == [1]

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


async def main(options):
    with tempfile.TemporaryDirectory() as directory:
        server = LocalRedis(directory).start()
        try:
            settings.REDIS_URL = server.url
            state.reset_clients()
            # Limits no socket reaches: every check is counted and passes.
            settings.BOARD_NETWORK_RATE_LIMITS = [(10**9, 1), (10**9, 15), (10**9, 60)]
            nets = networks(options.sockets)
            print(f"{options.sockets} sockets on distinct networks, {options.changes} changes each, 3 windows\n")
            print("| check | changes | changes/s | client CPU per change | Lua calls | changes per call |")
            print("|---|---|---|---|---|---|")
            await measure("batched (NetworkBudget)", batched, nets, options.changes)
            await measure("one Lua call per change", one_call_each, nets, options.changes)
            await state.close_async_client()
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--changes", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
