"""Error reporting with SENTRY_DSN (docs/operations.md, "Errors"; docs/privacy.md, what is sent).

The DSN points at a small HTTP server of the test's own, which receives what
sentry-sdk sends, as a Sentry server would, at /api/<project>/envelope/.
"""

import gzip
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.servers import BASE_DIR, server_environment

pytestmark = pytest.mark.timeout(120)


class Collector(ThreadingHTTPServer):
    """Keeps every POST it receives as (path, decoded body)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Envelope)
        self.received = []

    @property
    def dsn(self):
        return f"http://public-key@127.0.0.1:{self.server_address[1]}/1"

    def envelopes(self, timeout=20):
        """The POSTs received, once there is at least one; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.received:
            assert time.monotonic() < deadline, "nothing reached the Sentry server"
            time.sleep(0.1)
        return list(self.received)


class Envelope(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.received.append((self.path, body.decode()))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry():
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def events(body):
    """The event items of one envelope (a header line, then item header and payload lines)."""
    lines = body.splitlines()[1:]
    return [
        json.loads(payload) for header, payload in zip(lines[::2], lines[1::2], strict=False) if '"event"' in header
    ]


def manage_py(code, **env):
    """Run ``code`` in ``manage.py shell`` with ``env`` added; the finished process."""
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env=server_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_error_in_a_page_reaches_the_sentry_server_without_the_visitors_cookies(daphnes, sentry, tmp_path):
    # A database without its tables (a DATABASE_URL pointing at the wrong file):
    # the board page fails with OperationalError, a 500.
    server = daphnes(SENTRY_DSN=sentry.dsn, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")[0]
    request = urllib.request.Request(f"{server.url}/", headers={"Cookie": "sessionid=visitors-secret-cookie"})
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request, timeout=10)
    assert failed.value.code == 500
    received = sentry.envelopes()
    assert {path for path, _ in received} == {"/api/1/envelope/"}
    reported = [event for _, body in received for event in events(body)]
    exceptions = [value for event in reported for value in event["exception"]["values"]]
    assert any(value["type"] == "OperationalError" and "no such table" in value["value"] for value in exceptions)
    assert reported[0]["request"]["url"].endswith("/")
    assert reported[0]["environment"] == "production"
    assert all("visitors-secret-cookie" not in body for _, body in received)
    assert all("vars" not in frame for value in exceptions for frame in value["stacktrace"]["frames"])


def test_without_a_dsn_sentry_is_not_started():
    result = manage_py("import sentry_sdk; print(sentry_sdk.get_client().is_active())")
    assert result.stdout.split()[-1] == "False", result.stderr


def test_with_a_dsn_sentry_is_started(sentry):
    result = manage_py("import sentry_sdk; print(sentry_sdk.get_client().is_active())", SENTRY_DSN=sentry.dsn)
    assert result.stdout.split()[-1] == "True", result.stderr


def set_up(before="pass", **env):
    """Run ``before`` and then ``django.setup()`` in a new interpreter with ``env`` added."""
    code = f"{before}; import django; django.setup(); print('set up')"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=server_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_malformed_dsn_is_a_configuration_error():
    result = set_up(SENTRY_DSN="not a dsn")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SENTRY_DSN" in result.stderr


def test_a_dsn_without_sentry_sdk_installed_is_one_warning_and_the_site_goes_on():
    # sentry_sdk set to None in sys.modules: its import fails as if it were not installed.
    result = set_up("import sys; sys.modules['sentry_sdk'] = None", SENTRY_DSN="http://public-key@127.0.0.1:9/1")
    assert result.stdout.strip() == "set up", result.stderr
    warnings = [line for line in result.stderr.splitlines() if "SENTRY_DSN is set" in line]
    assert len(warnings) == 1
    assert "sentry-sdk is not installed" in warnings[0]
