"""What a real serving process logs about abuse and refusals, in either format (docs/operations.md, "Logs").

One daphne started as ``manage.py serve`` starts it, DEBUG off, the shipped
limits on, and raw sockets (harness/raw.py) from 127.x addresses of their own.
"""

import itertools
import json
import time
import urllib.error
import urllib.request

import pytest

from board.models import Board
from harness import raw

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

_addresses = (f"127.30.{k // 250}.{k % 250 + 1}" for k in itertools.count())


def address():
    return next(_addresses)


def records(server):
    """Every line of the server's output, each parsed as JSON (ValueError naming a line that is not)."""
    lines = server.log_path.read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return parsed


def wait_for(server, predicate, timeout=15):
    """The JSON records of ``server`` once one matches ``predicate``; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = records(server)
        if any(predicate(entry) for entry in found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"no matching log line within {timeout} s:\n{server.log()}")


def flood_frames(server, source):
    """A socket that sends more frames in a second than the shipped limit (50/1): closed with 4429.

    Its close code and the last error it was sent (pings past theirs are answered with errors first).
    """
    sock = raw.RawSocket(server.port, source).open()
    sock.read_message()  # hello
    sock.send(*[raw.text_frame({"type": "ping", "token": "x"})] * 60)
    code, messages = sock.read_until_closed()
    sock.close()
    return code, raw.errors(messages)[-1]


def refused_origin(server, source):
    with pytest.raises(raw.HandshakeRefused) as refused:
        raw.RawSocket(server.port, source, origin="https://elsewhere.example").open()
    return refused.value.status


@pytest.fixture
def json_server(daphnes):
    Board.objects.default()
    return daphnes(LOG_FORMAT="json")[0]


def test_with_log_format_json_every_line_is_a_json_object_with_the_pid(json_server):
    source = address()
    assert flood_frames(json_server, source) == (4429, "too_many_frames")
    assert refused_origin(json_server, address()) == 403
    found = wait_for(json_server, lambda entry: "origin" in entry["message"])
    assert {entry["pid"] for entry in found} == {json_server.pid}
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in found)
    closed = next(entry for entry in found if "too_many_frames" in entry["message"])
    assert closed["level"] == "WARNING"
    assert closed["logger"] == "board.live.consumers"
    assert (closed["board"], closed["network"]) == ("main", f"{source}/32")


def test_a_refused_origin_is_logged_with_its_network(json_server):
    source = address()
    refused_origin(json_server, source)
    found = wait_for(json_server, lambda entry: entry.get("network") == f"{source}/32")
    refused = next(entry for entry in found if entry.get("network") == f"{source}/32")
    assert refused["level"] == "INFO"
    assert "https://elsewhere.example" in refused["message"]


def test_a_socket_for_a_path_with_no_board_is_refused_and_logged(json_server):
    with pytest.raises(raw.HandshakeRefused) as refused:
        raw.RawSocket(json_server.port, address(), path="/ws/nowhere/").open()
    assert refused.value.status == 403
    wait_for(json_server, lambda entry: "no board" in entry["message"] and "/ws/nowhere/" in entry["message"])


def test_a_network_past_its_sockets_is_refused_and_logged(json_server):
    source = address()
    sockets = [raw.RawSocket(json_server.port, source).open() for _ in range(20)]
    extra = raw.RawSocket(json_server.port, source).open()
    code, messages = extra.read_until_closed()
    assert (code, raw.errors(messages)) == (4429, ["too_many_sockets"])
    found = wait_for(json_server, lambda entry: "too_many_sockets" in entry["message"])
    refused = next(entry for entry in found if "too_many_sockets" in entry["message"])
    assert (refused["board"], refused["network"]) == ("main", f"{source}/32")
    for sock in [*sockets, extra]:
        sock.close()


def test_a_flood_of_200_refusals_from_200_networks_gives_a_handful_of_lines(json_server):
    for _ in range(200):
        refused_origin(json_server, address())
    # One more of another kind, logged after the flood: the flood's lines are all in by then.
    with pytest.raises(raw.HandshakeRefused):
        raw.RawSocket(json_server.port, address(), path="/ws/after-the-flood/").open()
    found = wait_for(json_server, lambda entry: "/ws/after-the-flood/" in entry["message"])
    about_origins = [entry for entry in found if "another site's page" in entry["message"]]
    assert 1 <= len(about_origins) <= 3


def test_the_plain_format_names_the_process_too(daphnes):
    Board.objects.default()
    server = daphnes()[0]
    assert flood_frames(server, address())[0] == 4429
    deadline = time.monotonic() + 15
    while "too_many_frames" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    line = next(line for line in server.log().splitlines() if "too_many_frames" in line)
    assert f"WARNING board.live.consumers [{server.pid}]: Closed a socket: too_many_frames (4429)." in line


def test_a_traceback_is_one_field_of_its_line_and_a_repeat_is_held_back(daphnes, tmp_path):
    # A database without its tables: every page fails with OperationalError, which Django logs at ERROR.
    server = daphnes(LOG_FORMAT="json", DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")[0]
    for path in ("/", "/", "/b/other/"):
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{server.url}{path}", timeout=10)
    found = wait_for(server, lambda entry: entry["message"] == "Internal Server Error: /b/other/")
    errors = [entry for entry in found if entry["message"].startswith("Internal Server Error")]
    assert [entry["message"] for entry in errors] == ["Internal Server Error: /", "Internal Server Error: /b/other/"]
    assert all(entry["logger"] == "django.request" for entry in errors)
    assert all("OperationalError: no such table" in entry["traceback"] for entry in errors)
