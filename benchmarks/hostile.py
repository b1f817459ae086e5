"""
Honest players while hostile clients attack (issue 12): does anyone honest notice?

Two daphne processes with every limit at its shipped default, ``--clients``
honest players (500) changing boxes at ``--rate`` changes per second in all
(benchmarks/broadcast.py drives them, each from a 127.1.x.y of its own, so each
stays inside its limits), and ``--hostile`` attackers (50) cycling through the
attacks of tests/test_hostile.py for ``--seconds`` (300): bursts closed 4429,
bad frames closed 4400 without answering the close, a ping and a Close in one
segment, drops right after the handshake, 25 opens at once from one network,
ping floods and changes from sockets that never read, a banned network's flood,
state-request floods on keep-alive connections, foreign Origins and unroutable
paths, from the moment every honest player has joined. Redis failing is left
to the tests: it refuses honest changes by design. Then the same run again on
fresh servers, without the attackers.

Afterwards a probe player on each process must get a change answered: a process
that cannot is stalled. The last line on stdout is one JSON object: ``lost``
and ``converged`` of the attacked run, ``honest_p50_ms``/``honest_p99_ms``
against ``clean_p50_ms``/``clean_p99_ms``, ``rss_growth_mb`` (both processes,
from the start of the attacked window to its end), ``stalled_processes``, the
servers' CPU, and the attacks made.

    .venv/bin/python benchmarks/hostile.py                 # 5 minutes each run
    .venv/bin/python benchmarks/hostile.py --seconds 60
"""

import argparse
import http.client
import itertools
import json
import multiprocessing
import os
import random
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import broadcast, stack  # noqa: E402
from board.live import protocol  # noqa: E402
from harness import raw  # noqa: E402
from harness.nginx import Nginx  # noqa: E402

BANNED = "127.99.0.0/24"
# Switches benchmarks/stack.py sets to turn the change limits off; left out here.
LIMIT_SWITCHES = ("BOARD_CHANGE_BUCKET", "BOARD_NETWORK_CHANGE_BUCKET")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300, help="length of each run (default 300)")
    parser.add_argument("--clients", type=int, default=500, help="honest players (default 500)")
    parser.add_argument("--rate", type=float, default=100, help="honest changes per second in all (default 100)")
    parser.add_argument("--hostile", type=int, default=50, help="hostile clients (default 50)")
    parser.add_argument("--processes", type=int, default=2, help="daphne processes (default 2)")
    parser.add_argument(
        "--attacker-nice",
        type=int,
        default=0,
        help="run the attackers' process at this nice level (19: their CPU no longer competes with the servers', "
        "as bots on machines of their own; default 0, equal shares)",
    )
    parser.add_argument(
        "--through-nginx",
        action="store_true",
        help="everyone (players and attackers) through the shipped nginx site, as deployed",
    )
    parser.add_argument(
        "--per-attack",
        action="store_true",
        help="instead: the servers' CPU while the attackers make one kind of attack at a time (12 s each), no players",
    )
    parser.add_argument(
        "--attacks",
        type=lambda text: [ATTACKS_BY_NAME[name] for name in text.split(",")],
        default=None,
        help="with --per-attack: only these attacks, comma-separated (default: every one)",
    )
    return parser.parse_args(argv)


class ShippedStack(stack.Stack):
    """The benchmark stack with the change limits left at their shipped defaults too.

    With ``through_nginx``, the shipped nginx site runs in front of the
    processes, and ``front_urls`` / ``front_ports`` are its own.
    """

    def __init__(self, processes, through_nginx=False):
        super().__init__(processes)
        self.through_nginx = through_nginx
        self.nginx = None

    def env(self):
        env = super().env()
        for name in LIMIT_SWITCHES:
            env.pop(name, None)
        if self.through_nginx:
            env["TRUSTED_PROXIES"] = "127.0.0.1/32"
        return env

    def start(self):
        super().start()
        if self.through_nginx:
            front = self.directory / "nginx"
            self.nginx = Nginx(front, self.ports, front / "static", worker_connections=16384).start()
        return self

    def stop(self):
        if self.nginx is not None:
            self.nginx.stop()
        super().stop()

    @property
    def front_urls(self):
        return [self.nginx.url] if self.nginx else self.urls

    @property
    def front_ports(self):
        return [self.nginx.port] if self.nginx else self.ports


# -- the attacks, each from a network of its own --------------------------------------


def opened(port, source, **options):
    sock = raw.RawSocket(port, source, **options).open()
    sock.read_message()
    return sock


def burst(port, source):
    sock = opened(port, source)
    sock.send(*(raw.set_frame(random.randrange(100_000), 1) for _ in range(150)))
    sock.read_until_closed(10)


def bad_frames(port, source):
    sock = opened(port, source)
    for _ in range(51):
        sock.send(raw.frame(raw.TEXT, "not json"))
        time.sleep(0.03)
    sock.abort()


def ping_and_close(port, source):
    sock = raw.RawSocket(port, source).open()
    sock.send(raw.text_frame({"type": "ping"}), raw.frame(raw.PING, b"x"), raw.close_frame())
    sock.close()


def early_drop(port, source):
    raw.RawSocket(port, source).open().abort()


def many_opens(port, source):
    sockets = [raw.RawSocket(port, source).connect() for _ in range(25)]
    for sock in sockets:
        sock.sock.sendall(sock.request())
    for sock in sockets:
        try:
            sock.finish_handshake()
        except raw.HandshakeRefused:
            pass
        sock.close()


def ping_flood(port, source):
    sock = raw.RawSocket(port, source, receive_buffer=4096).open()
    pings = raw.text_frame({"type": "ping"}) * 1000
    until = time.monotonic() + 5
    while time.monotonic() < until and sock.try_send(pings, timeout=1):
        pass
    sock.abort()


def not_reading(port, source):
    sock = raw.RawSocket(port, source, receive_buffer=4096).open()
    until = time.monotonic() + 10
    while time.monotonic() < until and sock.try_send(raw.set_frame(random.randrange(100_000), 1), timeout=1):
        time.sleep(0.16)
    sock.abort()


def banned_flood(port, source):
    sock = opened(port, f"127.99.0.{source.rsplit('.', 1)[1]}")
    for _ in range(200):
        if not sock.try_send(raw.set_frame(random.randrange(100_000), 1), timeout=1):
            break
        time.sleep(0.025)
    sock.abort()


def state_flood(port, source):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    for _ in range(30):
        connection.request("GET", "/b/main/state", headers={"Accept-Encoding": "gzip"})
        connection.getresponse().read()
    connection.close()


def foreign_origin(port, source):
    try:
        raw.RawSocket(port, source, origin=f"http://127.0.0.1:{port + 1}").open().close()
    except raw.HandshakeRefused:
        pass


def unroutable(port, source):
    try:
        raw.RawSocket(port, source, path="/ws/nope/").open().close()
    except raw.HandshakeRefused:
        pass


ATTACKS = [
    burst,
    bad_frames,
    ping_and_close,
    early_drop,
    many_opens,
    ping_flood,
    not_reading,
    banned_flood,
    state_flood,
    foreign_origin,
    unroutable,
]
ATTACKS_BY_NAME = {attack.__name__: attack for attack in ATTACKS}


def attacker(number, ports, stop, counts, attacks=ATTACKS):
    """One hostile client: each of ``attacks`` in turn, on the processes in turn, until ``stop``.

    A client is one network (one address), as 50 bots on 50 machines would be:
    the per-network limits meet it as they would meet them. Its banned flood
    comes from the banned network.
    """
    source = f"127.66.{number // 250}.{number % 250 + 1}"
    for k in itertools.count(number):
        if stop.is_set():
            return
        attack = attacks[k % len(attacks)]
        try:
            attack(ports[k % len(ports)], source)
            counts[attack.__name__] += 1
        except (OSError, TimeoutError, raw.HandshakeRefused, http.client.HTTPException):
            counts[f"{attack.__name__}_failed"] += 1


def hostile_main(count, ports, conn, nice=0):
    """A process of ``count`` attackers, until the coordinator says stop; sends back what they did."""
    os.nice(nice)
    stop, counts = threading.Event(), Counter()
    threads = [threading.Thread(target=attacker, args=(n, ports, stop, counts), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    conn.recv()
    stop.set()
    for thread in threads:
        thread.join(30)
    # Their CPU, every thread's: what the attackers took of the shared cores.
    counts["cpu_s"] = round(time.process_time(), 1)
    conn.send(dict(counts))


# -- one run --------------------------------------------------------------------------


def probe(url, number):
    """Whether a new player on ``url`` gets a change applied and answered."""
    port = int(url.rsplit(":", 1)[1])
    try:
        sock = opened(port, f"127.77.0.{number + 1}")
        sock.send(raw.set_frame(99_000 + number, 1 - number % 2))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = sock.read_message(deadline - time.monotonic())
            if isinstance(message, bytes) and message[0] == protocol.FRAME_RESULT:
                sock.close()
                _, entries = protocol.decode_results(message)
                return entries[0][2] in (0, 1)  # applied, or already so
    except (OSError, TimeoutError, raw.HandshakeRefused):
        pass
    return False


DOOR_COUNTERS = {
    "door_shuts": "checkboxes_door_shuts_total",
    "turned_away": "checkboxes_door_turned_away_total",
    "held_sockets": "checkboxes_held_sockets_total",
}


def door_figures(urls):
    """What the processes' doors and back-pressure did, summed from their /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    totals = dict.fromkeys(DOOR_COUNTERS, 0)
    for url in urls:
        try:
            with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
                text = response.read().decode()
        except OSError:
            continue
        values = {
            sample.name: sample.value for family in text_string_to_metric_families(text) for sample in family.samples
        }
        for figure, name in DOOR_COUNTERS.items():
            totals[figure] += int(values.get(name, 0))
    return totals


def healthy(url):
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def run(options, hostile):
    broadcast.progress(f"{'attacked' if hostile else 'clean'} run: {options.clients} players, {hostile} attackers")
    played = broadcast.parse_args(
        ["--clients", str(options.clients), "--senders", str(options.clients), "--rate", str(options.rate)]
        + ["--duration", str(options.seconds), "--processes", str(options.processes)]
    )
    with ShippedStack(options.processes, options.through_nginx) as servers:
        servers.manage("ban", BANNED, "--reason", "hostile benchmark", "--for", "forever")
        meter = broadcast.Meter(servers.server_pids, servers.redis_pid())
        here, there = multiprocessing.Pipe()
        attackers = multiprocessing.Process(
            target=hostile_main, args=(hostile, servers.front_ports, there, options.attacker_nice)
        )
        attacks = {}

        def attack_once_playing(_sample):
            # The first sample comes once every honest player has joined: the
            # attack meets players at play (and new joiners meet it in the tests).
            if hostile and attackers.pid is None:
                attackers.start()

        def stop_attacking():
            # Before the final state is read: a change made after it would
            # reach every player and make none of them match it.
            if attackers.pid is not None and not attacks:
                here.send("stop")
                attacks.update(here.recv() if here.poll(60) else {})
                attackers.join(10)
                if attackers.is_alive():
                    attackers.kill()

        try:
            figures = broadcast.measure(
                played, servers.front_urls, meter, servers.redis.url, attack_once_playing, stop_attacking
            )
        finally:
            stop_attacking()
        door = door_figures(servers.urls)
        stalled = [
            url
            for number, (url, process) in enumerate(zip(servers.urls, servers.servers, strict=True))
            if process.poll() is not None or not healthy(url) or not probe(url, number)
        ]
    samples = figures.pop("rss_samples")
    totals = [sum(sample["rss_mb"]) for sample in samples]
    figures.update(rss_growth_mb=round(totals[-1] - totals[0], 1), stalled=stalled, attacks=attacks, door=door)
    return figures


def per_attack(options, seconds=12):
    """One JSON line per kind of attack: the servers' CPU while every attacker makes only that one."""
    with ShippedStack(options.processes) as servers:
        servers.manage("ban", BANNED, "--reason", "hostile benchmark", "--for", "forever")
        for attack in options.attacks or ATTACKS:
            stop, counts = threading.Event(), Counter()
            threads = [
                threading.Thread(target=attacker, args=(n, servers.ports, stop, counts, [attack]), daemon=True)
                for n in range(options.hostile)
            ]
            before, started = sum(stack.cpu_seconds(pid) for pid in servers.server_pids), time.monotonic()
            for thread in threads:
                thread.start()
            time.sleep(seconds)
            stop.set()
            for thread in threads:
                thread.join(30)
            cpu = sum(stack.cpu_seconds(pid) for pid in servers.server_pids) - before
            share = round(100 * cpu / (time.monotonic() - started), 1)
            print(json.dumps({"attack": attack.__name__, "server_cpu_pct": share, **counts}), flush=True)
            time.sleep(3)


def main(argv=None):
    options = parse_args(argv)
    if options.per_attack:
        per_attack(options)
        return
    attacked = run(options, options.hostile)
    clean = run(options, 0)
    figures = {
        "clients": options.clients,
        "hostile": options.hostile,
        "attacker_nice": options.attacker_nice,
        "seconds": options.seconds,
        "lost": attacked["lost"],
        "converged": attacked["converged"],
        "honest_p50_ms": attacked["p50_ms"],
        "honest_p99_ms": attacked["p99_ms"],
        "clean_p50_ms": clean["p50_ms"],
        "clean_p99_ms": clean["p99_ms"],
        "p99_ratio": round(attacked["p99_ms"] / clean["p99_ms"], 2) if attacked["p99_ms"] and clean["p99_ms"] else None,
        # Each 10 s of the run: when the attacked tail happened.
        "honest_window_p99_ms": attacked["window_p99_ms"],
        "clean_window_p99_ms": clean["window_p99_ms"],
        "rss_growth_mb": attacked["rss_growth_mb"],
        "clean_rss_growth_mb": clean["rss_growth_mb"],
        "stalled_processes": len(attacked["stalled"]),
        "server_cpu_pct": attacked["server_cpu_pct"],
        "attacker_cpu_pct": round(100 * attacked["attacks"].get("cpu_s", 0) / options.seconds, 1),
        "clean_server_cpu_pct": clean["server_cpu_pct"],
        "clean_lost": clean["lost"],
        "clean_converged": clean["converged"],
        "converged_clients": attacked["converged_clients"],
        "closed_clients": attacked["closed_clients"],
        "resyncs": attacked["resyncs"],
        "error_frames": attacked["error_frames"],
        "error_codes": attacked["error_codes"],
        "close_codes": attacked["close_codes"],
        "changes_applied": attacked["changes_applied"],
        "changes_refused": attacked["changes_refused"],
        # Honest changes never answered: ``lost`` counts only UPDATEs of applied ones.
        "changes_unanswered": attacked["changes_unanswered"],
        "attacks": attacked["attacks"],
        "door": attacked["door"],
        "machine": attacked["machine"],
    }
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
