"""
The real stack for a benchmark: one redis-server and P daphne processes sharing
it (each started as ``manage.py serve`` starts it: harness/servers.py), on free
ports of 127.0.0.1, with a fresh SQLite database and collected static files in
a scratch directory. Also how to read a process's CPU time and RSS.

Servers run as in production: DEBUG off, static files served by whitenoise from
the compressed copies collectstatic made.
"""

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from board.management.serving import LocalRedis, find_redis_server, free_port  # noqa: E402
from harness.servers import serve_command, wait_until_healthy  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def raise_open_files_limit():
    """Thousands of sockets need thousands of descriptors: take the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def cpu_seconds(pid):
    """User plus system CPU time of a process so far, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Stack:
    """Redis plus ``processes`` daphne servers; ``env`` adds settings for the servers."""

    def __init__(self, processes=2, boxes=100_000, env=None, directory=None):
        self.processes = processes
        self.boxes = boxes
        self.extra_env = dict(env or {})
        self.owns_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="checkboxes-bench-"))
        self.redis = None
        self.servers = []
        self.ports = []

    def env(self):
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="checkboxes_project.settings",
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY="benchmark-only-secret-key-" + "x" * 40,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            CHECKBOXES_DATA_DIR=str(self.directory / "data"),
            REDIS_URL=self.redis.url,
            BOARD_DEFAULT_SIZE=str(self.boxes),
            WHITENOISE_USE_FINDERS="0",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            # The standard set measures fan-out, not the abuse policy: its senders
            # are bots (200 senders at 2,000 changes/s is 10 a second each, past
            # a real player's 7/s, and a minute of it past a network's 600/60 s).
            # The change limits are off; the socket limits stay on (every client
            # connects from its own 127.1.x.y). benchmarks/limits.py measures
            # what the limits cost; --server-env turns them back on.
            BOARD_RATE_LIMITS="",
            BOARD_NETWORK_RATE_LIMITS="",
        )
        env.update({key: str(value) for key, value in self.extra_env.items()})
        return env

    @property
    def urls(self):
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def server_pids(self):
        return [server.pid for server in self.servers]

    def start(self):
        raise_open_files_limit()
        self.redis = LocalRedis(self.directory / "redis").start()
        self.manage("migrate", "--noinput", "--verbosity", "0")
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        for _ in range(self.processes):
            self.start_server()
        # The first request creates the default board and its live state; one
        # server does it before the others race for it.
        for url in self.urls:
            with urllib.request.urlopen(f"{url}/b/main/state", timeout=30) as response:
                response.read()
        return self

    def manage(self, *args):
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env(), check=True, stdout=subprocess.DEVNULL
        )

    def server_command(self, port):
        return serve_command(port)

    def start_server(self):
        port = free_port()
        log = open(self.directory / f"daphne-{port}.log", "ab")  # noqa: SIM115 (kept open for the child)
        process = subprocess.Popen(
            self.server_command(port), cwd=BASE_DIR, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        self.servers.append(process)
        self.ports.append(port)
        wait_until_healthy(f"http://127.0.0.1:{port}", process, 30, lambda: f"see {self.directory}/daphne-{port}.log")

    def redis_pid(self):
        return self.redis.process.pid

    def stop(self):
        for process in self.servers:
            if process.poll() is None:
                process.terminate()
        for process in self.servers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.redis is not None:
            self.redis.stop()
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


def machine():
    """What the figures were measured on."""
    redis_version = subprocess.run([find_redis_server(), "--version"], capture_output=True, text=True).stdout.split()
    version = next((word.split("=", 1)[1] for word in redis_version if word.startswith("v=")), "unknown")
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "redis": version,
        "load_1m": round(os.getloadavg()[0], 2),
    }
