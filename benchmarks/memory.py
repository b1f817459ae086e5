"""
Where an idle socket's memory goes: the profile behind docs/performance.md,
"Memory per socket".

Starts Redis and one daphne process (with ``--trace``, under ``tracemalloc``),
opens ``--sockets`` idle WebSockets to the default board, each from its own
127.x.y.z address and, unless ``--no-state``, followed by the state request a
browser makes on joining. It reports the server's RSS before and after, and
with ``--trace`` the Python memory the sockets hold, per package. tracemalloc
roughly doubles the process's memory, so RSS figures come from runs without
``--trace``.

Progress goes to stderr; the last line on stdout is one JSON object.

    .venv/bin/python benchmarks/memory.py --sockets 2000
    .venv/bin/python benchmarks/memory.py --sockets 2000 --trace
"""

import argparse
import asyncio
import base64
import collections
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import stack  # noqa: E402
from benchmarks.loadgen import source_address  # noqa: E402

SNAPSHOT_ENV = "CHECKBOXES_MEMORY_SNAPSHOTS"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000, help="idle WebSockets to open (default 2000)")
    parser.add_argument("--no-state", action="store_true", help="open the sockets without the state request")
    parser.add_argument("--trace", action="store_true", help="run the server under tracemalloc; report per package")
    parser.add_argument("--top", type=int, default=12, help="packages to list with --trace (default 12)")
    options = parser.parse_args(argv)
    if options.sockets < 1:
        parser.error("--sockets must be at least 1")
    return options


class TracedStack(stack.Stack):
    """The stack, with its daphne started through ``serve_traced`` below."""

    def server_command(self, port):
        return [sys.executable, __file__, "--serve-traced", str(port)]


def serve_traced(port):
    """daphne, as ``manage.py serve`` runs it, under tracemalloc; each SIGUSR1 writes a snapshot
    into the directory in ``SNAPSHOT_ENV``."""
    import gc
    import tracemalloc

    tracemalloc.start()
    from board.management.serving import daphne_command  # reads only the settings module

    directory = Path(os.environ[SNAPSHOT_ENV])
    taken = []

    def snapshot(signum, frame):
        gc.collect()
        tracemalloc.take_snapshot().dump(str(directory / f"{len(taken)}.snapshot"))
        taken.append(True)
        (directory / f"{len(taken) - 1}.done").touch()

    signal.signal(signal.SIGUSR1, snapshot)
    from board.management.daphne_door import DoorCommandLine

    command = daphne_command("127.0.0.1", port)
    sys.argv = ["daphne", *command[command.index("board.management.daphne_door") + 1 :]]
    DoorCommandLine.entrypoint()


async def open_socket(host, port, number, with_state, sockets):
    """One idle player: the WebSocket upgrade, the hello, then (usually) the state request."""
    source = source_address(number)
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws/b/main/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"socket {number} was refused: {head.splitlines()[0].decode()}")
    await reader.read(1)  # the hello has begun to arrive: the consumer is attached
    sockets.append(writer)
    if with_state:
        state_reader, state_writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        state_writer.write(f"GET /b/main/state HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await state_reader.read()
        state_writer.close()


def take_snapshot(pid, directory, number, timeout=60):
    os.kill(pid, signal.SIGUSR1)
    done = Path(directory) / f"{number}.done"
    deadline = time.monotonic() + timeout
    while not done.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the server wrote no tracemalloc snapshot")
        time.sleep(0.2)
    return Path(directory) / f"{number}.snapshot"


def package_of(filename):
    """``daphne``, ``asyncio`` or ``board`` for a source file; the package a byte of memory is charged to."""
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if str(path).startswith(str(stack.BASE_DIR)):
        return path.relative_to(stack.BASE_DIR).parts[0]
    if len(parts) > 1 and parts[-2].startswith("python3"):
        return parts[-1].removesuffix(".py")  # a standard library module
    return parts[-2] if len(parts) > 1 else filename


def per_package(before, after, sockets, top):
    import tracemalloc

    totals = collections.Counter()
    for stat in tracemalloc.Snapshot.load(str(after)).compare_to(tracemalloc.Snapshot.load(str(before)), "filename"):
        totals[package_of(stat.traceback[0].filename)] += stat.size_diff
    listed = {name: round(size / sockets) for name, size in totals.most_common(top)}
    return round(sum(totals.values()) / sockets), listed


async def measure(options, servers):
    url = servers.urls[0]
    host, port = url.removeprefix("http://").split(":")
    pid = servers.server_pids[0]
    snapshots = servers.extra_env.get(SNAPSHOT_ENV)
    await asyncio.sleep(1)
    rss_before = stack.rss_bytes(pid)
    before = take_snapshot(pid, snapshots, 0) if options.trace else None
    sockets, gate = [], asyncio.Semaphore(20)

    async def one(number):
        async with gate:
            await open_socket(host, int(port), number, not options.no_state, sockets)

    started = time.monotonic()
    await asyncio.gather(*(one(number) for number in range(options.sockets)))
    print(f"[memory] {len(sockets)} sockets open in {time.monotonic() - started:.1f} s", file=sys.stderr)
    await asyncio.sleep(3)  # let the last hellos and state requests finish
    rss_after = stack.rss_bytes(pid)
    figures = {
        "sockets": len(sockets),
        "state_requests": not options.no_state,
        "traced": options.trace,
        "server_rss_baseline_mb": round(rss_before / 2**20, 1),
        "server_rss_mb": round(rss_after / 2**20, 1),
        "rss_per_socket_kb": round((rss_after - rss_before) / 1024 / len(sockets), 1),
    }
    if options.trace:
        after = take_snapshot(pid, snapshots, 1)
        figures["python_bytes_per_socket"], figures["python_bytes_per_socket_by_package"] = per_package(
            before, after, len(sockets), options.top
        )
    for writer in sockets:
        writer.close()
    return figures


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-traced"]:
        serve_traced(int(argv[1]))
        return 0
    options = parse_args(argv)
    stack.raise_open_files_limit()
    with tempfile.TemporaryDirectory(prefix="checkboxes-memory-") as snapshots:
        env = {SNAPSHOT_ENV: snapshots} if options.trace else {}
        servers = (TracedStack if options.trace else stack.Stack)(processes=1, env=env)
        with servers:
            figures = asyncio.run(measure(options, servers))
    figures["machine"] = {"python": sys.version.split()[0], "load_1m": round(os.getloadavg()[0], 2)}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
