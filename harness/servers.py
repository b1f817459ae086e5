"""Real daphne processes for tests that need the whole stack over TCP."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from board.localredis import free_port

BASE_DIR = Path(__file__).resolve().parent.parent


def database_url():
    """The URL of the test database this pytest run created (not the dev one)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def server_environment(**extra):
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="checkboxes_project.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="tests-only-secret-key-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        REDIS_URL=settings.REDIS_URL,
        DATABASE_URL=database_url(),
        WHITENOISE_USE_FINDERS="1",
        PYTHONUNBUFFERED="1",
        # Plain http on 127.0.0.1: cookies marked Secure would never come back.
        DJANGO_SECURE_COOKIES="0",
        # As in-process (tests/conftest.py): on only where a test asks.
        BOARD_RATE_LIMITS="",
        BOARD_NETWORK_RATE_LIMITS="",
        BOARD_MAX_SOCKETS_PER_NETWORK="0",
        BOARD_NEW_SOCKETS_PER_MINUTE="0",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


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
    """One daphne serving the project on a free port of 127.0.0.1."""

    def __init__(self, log_dir, name="daphne", port=None, **env):
        self.port = port or free_port()
        self.log_path = Path(log_dir) / f"{name}-{self.port}.log"
        self.env = env
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=20):
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        # As `manage.py serve` runs it: daphne's own cap on message size.
        limit = self.env.get("DAPHNE_MAX_MESSAGE_BYTES", settings.DAPHNE_MAX_MESSAGE_BYTES)
        command += ["--websocket-max-message-size", str(limit), "checkboxes_project.asgi:application"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=BASE_DIR, env=server_environment(**self.env), stdout=log, stderr=subprocess.STDOUT
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"daphne did not answer within {timeout} s:\n{self.log()}")

    def stop(self):
        terminate(self.process)

    def kill(self):
        self.process.kill()
        self.process.wait()

    def log(self):
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""
