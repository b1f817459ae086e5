"""Real serving processes for tests and benchmarks, started the way production starts them.

Each is ``manage.py serve`` on a free port of 127.0.0.1, which builds the daphne
command line (board/management/serving.py) and, with ``REDIS_URL`` given,
becomes daphne itself: its pid is daphne's, for signals and measurements.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from board.management.serving import free_port

BASE_DIR = Path(__file__).resolve().parent.parent


def database_url():
    """The URL of the database Django is configured with here (a test run's test database)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# The change limits off: for a benchmark whose senders are bots, faster than a
# person clicks (a socket's bucket refills 6 changes a second, a network's 15). Whoever uses it
# says why, and a benchmark says so in its output.
CHANGE_LIMITS_OFF = {
    "BOARD_CHANGE_BUCKET": "",
    "BOARD_NETWORK_CHANGE_BUCKET": "",
    "BOARD_WIDE_NETWORK_CHANGE_BUCKET": "",
}
# Every abuse limit off, the socket and frame limits too: for volume no set of
# people makes. Never the only way a path is tested.
LIMITS_OFF = {
    **CHANGE_LIMITS_OFF,
    "BOARD_MAX_SOCKETS_PER_NETWORK": "0",
    "BOARD_MAX_SOCKETS_PER_WIDE_NETWORK": "0",
    "BOARD_NEW_SOCKETS_PER_MINUTE": "0",
    "BOARD_FRAME_LIMITS": "",
    "BOARD_PING_LIMITS": "",
}


def server_environment(**extra):
    """A production-like environment sharing this process's Redis and database; ``extra`` adds settings.

    The abuse limits are the shipped defaults, as a client meets them in
    production; ``**LIMITS_OFF`` is the explicit way out.
    """
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="checkboxes_project.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="tests-only-secret-key-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        REDIS_URL=settings.REDIS_URL,
        DATABASE_URL=database_url(),
        WHITENOISE_USE_FINDERS="1",
        # The tests' collectstatic copy: pages link its hashed names, as in production.
        DJANGO_STATIC_ROOT=str(settings.STATIC_ROOT),
        PYTHONUNBUFFERED="1",
        # Plain http on 127.0.0.1: cookies marked Secure would never come back.
        DJANGO_SECURE_COOKIES="0",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def serve_command(port, host="127.0.0.1"):
    return [sys.executable, "manage.py", "serve", "--host", host, "--port", str(port)]


def wait_until_healthy(url, process=None, timeout=20, describe=lambda: ""):
    """Poll ``url``/healthz until it answers 200; RuntimeError if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited early (status {process.returncode}):\n{describe()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server at {url} did not answer within {timeout} s:\n{describe()}")


def terminate(process, timeout=10):
    """SIGTERM a server process and wait for it; SIGKILL it if it takes longer than ``timeout``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Daphne:
    """One ``manage.py serve`` on a free port of 127.0.0.1.

    ``environment`` is the whole environment it runs in; without it,
    :func:`server_environment` with ``env`` added.
    """

    def __init__(self, log_dir, name="daphne", port=None, environment=None, **env):
        self.port = port or free_port()
        self.log_path = Path(log_dir) / f"{name}-{self.port}.log"
        self.environment = environment if environment is not None else server_environment(**env)
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.process.pid

    def start(self, timeout=30):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                serve_command(self.port), cwd=BASE_DIR, env=self.environment, stdout=log, stderr=subprocess.STDOUT
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout):
        wait_until_healthy(self.url, self.process, timeout, self.log)

    def stop(self):
        terminate(self.process)

    def kill(self):
        self.process.kill()
        self.process.wait()

    def log(self):
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""
