"""
How fast a change reaches every player, and what it costs the servers.

Starts Redis and ``--processes`` daphne servers sharing it (or uses running
servers given with ``--url``), opens ``--clients`` WebSocket clients spread over
the servers, and has ``--senders`` of them set random boxes at ``--rate``
changes per second in total for ``--duration`` seconds. For every applied change
it measures the time from the SET leaving its sender until the last client has
it. ``--slow-clients`` clients stop reading for the whole window (and catch up
afterwards) to show that they neither grow the servers nor slow the others.

Progress goes to stderr; the last line on stdout is one JSON object.

    .venv/bin/python benchmarks/broadcast.py --clients 1000 --rate 100 --duration 60 --processes 2
"""

import argparse
import json
import math
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import loadgen, stack  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100, help="WebSocket clients (default 100)")
    parser.add_argument("--processes", type=int, default=2, help="daphne processes to start (default 2)")
    parser.add_argument("--senders", type=int, default=10, help="clients that send changes (default 10)")
    parser.add_argument("--rate", type=float, default=50, help="changes per second, all senders together")
    parser.add_argument("--duration", type=float, default=10, help="seconds of sending (default 10)")
    parser.add_argument("--slow-clients", type=int, default=0, help="clients that stop reading during the run")
    parser.add_argument("--boxes", type=int, default=100_000, help="size of the board (default 100000)")
    parser.add_argument("--url", action="append", default=[], help="a running server instead of starting some")
    parser.add_argument("--redis-url", help="with --url: the servers' Redis, to compare clients with at the end")
    parser.add_argument("--slug", default="main", help="board to play on (default main)")
    parser.add_argument("--workers", type=int, help="load generator processes (default by --clients)")
    parser.add_argument("--grace", type=float, default=15, help="seconds clients get to catch up after the run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--join-concurrency", type=int, default=25, help="clients joining at once per worker")
    parser.add_argument("--no-uvloop", action="store_true", help="run the generator on asyncio's own loop")
    parser.add_argument("--sample-seconds", type=float, default=1.0, help="server CPU/RSS sampling interval")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="NAME=VALUE", help="a setting for started servers"
    )
    options = parser.parse_args(argv)
    check(parser, options)
    return options


def check(parser, options):
    if options.clients < 1:
        parser.error("--clients must be at least 1")
    if not 0 <= options.senders <= options.clients:
        parser.error("--senders must be between 0 and --clients")
    if not 0 <= options.slow_clients <= options.clients - options.senders:
        parser.error("--slow-clients must leave room for the senders")
    if options.rate < 0 or options.duration <= 0:
        parser.error("--rate must be 0 or more and --duration above 0")
    if options.url and not options.url[0].startswith("http://"):
        parser.error("--url takes a server's http:// address")
    for item in options.server_env:
        if "=" not in item:
            parser.error(f"--server-env {item!r} is not NAME=VALUE")


def progress(message):
    print(f"[broadcast {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- planning ---------------------------------------------------------------


def default_workers(clients):
    return 1 if clients < 200 else 2 if clients <= 2000 else 4


def plan(options, urls):
    """Each worker's spec: its clients (number, server, sender?, slow?) and its share of the rate."""
    count = options.workers or default_workers(options.clients)
    # The first S clients send, so senders alternate over servers and workers;
    # the last K are the slow ones.
    senders = options.senders
    slow_from = options.clients - options.slow_clients
    specs = [
        {
            "clients": [],
            "rate": 0.0,
            "boxes": options.boxes,
            "slug": options.slug,
            "seed": options.seed * 1000 + number,
            "join_concurrency": options.join_concurrency,
            "uvloop": not options.no_uvloop,
        }
        for number in range(count)
    ]
    for number in range(options.clients):
        spec = specs[number % count]
        spec["clients"].append((number, urls[number % len(urls)], number < senders, number >= slow_from))
    for spec in specs:
        mine = sum(1 for client in spec["clients"] if client[2])
        spec["rate"] = options.rate * mine / senders if senders else 0.0
    return [spec for spec in specs if spec["clients"]]


# -- measuring the servers --------------------------------------------------


class Meter:
    """CPU and RSS of the server processes (and Redis) over the run."""

    def __init__(self, server_pids, redis_pid=None):
        self.server_pids = server_pids
        self.redis_pid = redis_pid
        self.samples = []
        self.started = None

    def cpu(self):
        return sum(stack.cpu_seconds(pid) for pid in self.server_pids)

    def redis_cpu(self):
        return stack.cpu_seconds(self.redis_pid) if self.redis_pid else 0.0

    def rss_mb(self):
        return [stack.rss_bytes(pid) / 2**20 for pid in self.server_pids]

    def sample(self):
        now = time.monotonic()
        self.started = self.started or now
        self.samples.append({"t_s": round(now - self.started, 1), "rss_mb": [round(mb, 1) for mb in self.rss_mb()]})

    def peak_rss_mb(self):
        return max((sum(sample["rss_mb"]) for sample in self.samples), default=0.0)


class NoMeter(Meter):
    """Servers started elsewhere: their CPU and memory are not ours to read."""

    def __init__(self):
        super().__init__([])


# -- running ----------------------------------------------------------------


class Generator:
    """The worker processes and the pipes to them."""

    def __init__(self, specs):
        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        for spec in specs:
            ours, theirs = context.Pipe()
            process = context.Process(target=loadgen.worker_main, args=(theirs, spec), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    def send(self, *message):
        for pipe in self.pipes:
            pipe.send(message)

    def gather(self, expected, timeout):
        replies, deadline = [], time.monotonic() + timeout
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            while not pipe.poll(0.2):
                if not process.is_alive():
                    raise RuntimeError(f"a generator process died (exit code {process.exitcode})")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"generator processes did not answer {expected!r} within {timeout} s")
            kind, payload = pipe.recv()
            if kind == "failed":
                raise RuntimeError(f"a generator process failed: {payload}")
            assert kind == expected, (kind, expected)
            replies.append(payload)
        return replies

    def stop(self):
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def run(options, on_sample=None):
    """Run one benchmark and return its figures as a dict (the JSON line)."""
    if options.url:
        return measure(options, options.url, NoMeter(), options.redis_url)
    env = dict(item.split("=", 1) for item in options.server_env)
    progress(f"starting Redis and {options.processes} daphne process(es)")
    with stack.Stack(options.processes, options.boxes, env) as servers:
        meter = Meter(servers.server_pids, servers.redis_pid())
        figures = measure(options, servers.urls, meter, servers.redis.url, on_sample)
        figures["limits_off"] = servers.limits_off()
        return figures


def measure(options, urls, meter, redis_url, on_sample=None, on_window_end=None):
    """Run the timed window and return its figures.

    ``on_sample`` is called with each sample, ``on_window_end`` once the window
    is over, before the final state is read.
    """
    stack.raise_open_files_limit()
    baseline_rss = sum(meter.rss_mb())
    specs = plan(options, urls)
    generator = Generator(specs)
    try:
        return drive(options, urls, meter, redis_url, generator, baseline_rss, on_sample, on_window_end)
    finally:
        generator.stop()


def drive(options, urls, meter, redis_url, generator, baseline_rss, on_sample, on_window_end=None):
    cpu_before = stack.own_cpu_seconds()
    progress(f"{len(generator.processes)} generator process(es) joining {options.clients} clients")
    joined_at = time.monotonic()
    generator.send("join")
    generator.gather("joined", timeout=120 + options.clients / 10)
    progress(f"joined in {time.monotonic() - joined_at:.1f} s; sending for {options.duration:g} s")
    start_at = time.monotonic() + 1.0
    generator.send("go", start_at, options.duration)
    time.sleep(max(0.0, start_at - time.monotonic()))
    server_cpu, redis_cpu = meter.cpu(), meter.redis_cpu()
    end = start_at + options.duration
    while (now := time.monotonic()) < end:
        meter.sample()
        if on_sample:
            on_sample(meter.samples[-1])
        time.sleep(min(options.sample_seconds, max(0.0, end - now)))
    meter.sample()
    server_cpu, redis_cpu = meter.cpu() - server_cpu, meter.redis_cpu() - redis_cpu
    if on_window_end:
        on_window_end()
    sent = generator.gather("sent", timeout=60)
    final = final_state(options, urls, redis_url)
    progress(f"board at version {final['version']}; waiting up to {options.grace:g} s for every client")
    final["grace_s"] = options.grace
    generator.send("finish", final)
    reports = generator.gather("report", timeout=options.grace + 120 + options.clients / 20)
    figures = summarise(options, sent, reports, final)
    figures.update(
        processes=len(urls),
        server_cpu_s=round(server_cpu, 2),
        server_cpu_pct=round(100 * server_cpu / options.duration, 1),
        redis_cpu_s=round(redis_cpu, 2),
        server_rss_mb=round(meter.peak_rss_mb(), 1),
        server_rss_baseline_mb=round(baseline_rss, 1),
        rss_per_client_kb=round(meter.peak_rss_mb() * 1024 / options.clients, 1) if meter.server_pids else None,
        rss_per_client_marginal_kb=(
            round((meter.peak_rss_mb() - baseline_rss) * 1024 / options.clients, 1) if meter.server_pids else None
        ),
        rss_samples=meter.samples,
        generator_cpu_s=round(sum(item["window_cpu_s"] for item in sent), 2),
        generator_cpu_total_s=round(sum(item["cpu_s"] for item in reports) + stack.own_cpu_seconds() - cpu_before, 2),
        generator_workers=len(generator.processes),
        machine=stack.machine(),
    )
    return figures


def final_state(options, urls, redis_url):
    """The board as Redis holds it once every RESULT is in."""
    if redis_url:
        import redis

        # Key names as board.state.keys() makes them with the default prefix.
        bits_key, meta_key = f"cb:{{{options.slug}}}:bits", f"cb:{{{options.slug}}}:meta"
        with redis.Redis.from_url(redis_url) as client:
            pipe = client.pipeline(transaction=True)
            bits, (size, epoch, version) = pipe.get(bits_key).hmget(meta_key, "size", "epoch", "version").execute()
        return {"bits": bits, "size": int(size), "epoch": int(epoch), "version": int(version)}
    import asyncio

    host, port = urls[0].removeprefix("http://").split(":")
    status, headers, body = asyncio.run(loadgen.http_get(host, int(port), f"/b/{options.slug}/state"))
    return {
        "bits": body,
        "size": int(headers["x-board-size"]),
        "epoch": int(headers["x-board-epoch"]),
        "version": int(headers["x-board-version"]),
    }


# -- summarising ------------------------------------------------------------


def percentile(values, fraction):
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, math.ceil(fraction * len(values)) - 1))]


def summarise(options, sent, reports, final):
    applied = {}
    for report in reports:
        applied.update(report["applied"])
    timed = sum(report["timed_clients"] for report in reports)
    last, first, received = arrivals(reports)
    every, earliest, timeline = [], [], []
    for version, sent_at in applied.items():
        if received.get(version, 0) >= timed and version in last:
            every.append(1000 * (last[version] - sent_at))
            earliest.append(1000 * (first[version] - sent_at))
            timeline.append((sent_at, every[-1]))
    every.sort()
    earliest.sort()
    expected = len(applied) * timed
    got = sum(min(received.get(version, 0), timed) for version in applied)
    statuses = [sum(item["statuses"][k] for item in sent) for k in range(8)]
    converged = {kind: sum(report["converged"][kind] for report in reports) for kind in ("timed", "slow")}
    slow = sum(report["slow_clients"] for report in reports)

    def ms(value):
        return None if value is None else round(value, 1)

    return {
        "clients": options.clients,
        "senders": options.senders,
        "slow_clients": options.slow_clients,
        "boxes": options.boxes,
        "rate": options.rate,
        "duration_s": options.duration,
        "changes_sent": sum(item["sent"] for item in sent),
        "changes_applied": len(applied),
        "changes_unchanged": statuses[1],
        "changes_refused": sum(statuses[2:]),
        "changes_unanswered": sum(item["unanswered"] for item in sent),
        "achieved_rate": round(sum(item["sent"] for item in sent) / options.duration, 1),
        "updates_expected": expected,
        "updates_received": got,
        "lost": expected - got,
        "duplicates": sum(max(0, received.get(version, 0) - timed) for version in applied),
        "p50_ms": ms(percentile(every, 0.50)),
        "p90_ms": ms(percentile(every, 0.90)),
        "p99_ms": ms(percentile(every, 0.99)),
        "max_ms": ms(every[-1] if every else None),
        "window_p99_ms": [ms(value) for value in window_percentiles(timeline, WINDOW_SECONDS, 0.99)],
        "first_p50_ms": ms(percentile(earliest, 0.50)),
        "first_p99_ms": ms(percentile(earliest, 0.99)),
        "final_version": final["version"],
        "converged": converged["timed"] == timed and converged["slow"] == slow,
        "converged_clients": converged["timed"] + converged["slow"],
        "behind_versions": max(report["behind"] for report in reports),
        "resyncs": sum(report["resyncs"]["timed"] for report in reports),
        "slow_resyncs": sum(report["resyncs"]["slow"] for report in reports),
        "slow_reconnects": sum(report["reconnects"] for report in reports),
        "error_frames": sum(report["errors"] for report in reports),
        "closed_clients": sum(report["closed"] for report in reports),
        "error_codes": dict(sum((Counter(report["error_codes"]) for report in reports), Counter())),
        "close_codes": dict(sum((Counter(report["close_codes"]) for report in reports), Counter())),
        "state_503s": sum(report["unavailable"] for report in reports),
    }


# The width of the windows ``window_p99_ms`` reports, from the first change sent.
WINDOW_SECONDS = 10


def window_percentiles(timeline, seconds, fraction):
    """The ``fraction`` percentile of the latencies of the changes sent in each ``seconds`` of the run.

    ``timeline`` holds (sent at, latency) pairs; it shows when a tail happened,
    which one percentile of the whole run cannot.
    """
    if not timeline:
        return []
    start = min(sent_at for sent_at, _ in timeline)
    windows = {}
    for sent_at, latency in timeline:
        windows.setdefault(int((sent_at - start) // seconds), []).append(latency)
    return [percentile(sorted(windows.get(k, [])), fraction) for k in range(max(windows) + 1)]


def arrivals(reports):
    """Per version: when the last and the first timed client had it, and how many had it."""
    last, first, received = {}, {}, {}
    for report in reports:
        for before, count, earliest, latest, clients in report["runs"]:
            for version in range(before + 1, before + count + 1):
                if latest > last.get(version, 0.0):
                    last[version] = latest
                if earliest < first.get(version, math.inf):
                    first[version] = earliest
                received[version] = received.get(version, 0) + clients
    return last, first, received


def main(argv=None):
    options = parse_args(argv)
    figures = run(options)
    samples = figures.pop("rss_samples")
    curve = [round(sum(sample["rss_mb"])) for sample in samples[:: max(1, len(samples) // 12)]]
    progress(f"server RSS over the run (MB): {curve}")
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
