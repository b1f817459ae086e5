"""The log throttle that keeps an outage from burying the log, and the JSON format."""

import json
import logging
import os
import sys

from board.logs import JsonFormatter, Throttle


def record(message, *args, level=logging.ERROR, name="channels_redis.pubsub"):
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def throttle(seconds=60):
    clock = Clock()
    return Throttle(seconds, clock=clock), clock


def test_a_message_repeated_within_the_interval_is_let_through_once():
    gate, _ = throttle()
    passed = [gate.filter(record("Unexpected exception in receive task")) for _ in range(30)]
    assert passed == [True] + [False] * 29


def test_after_the_interval_it_passes_again_and_says_how_many_were_held_back():
    gate, clock = throttle()
    for _ in range(5):
        gate.filter(record("Unexpected exception in receive task"))
    clock.now += 61
    again = record("Unexpected exception in receive task")
    assert gate.filter(again)
    assert again.getMessage() == "Unexpected exception in receive task (and 4 more like it in the last 60 s)"


def test_different_messages_are_throttled_separately():
    gate, _ = throttle()
    assert gate.filter(record("%s: %s", "Service Unavailable", "/healthz"))
    assert gate.filter(record("%s: %s", "Service Unavailable", "/b/main/state"))
    assert not gate.filter(record("%s: %s", "Service Unavailable", "/healthz"))


def test_the_throttle_is_on_the_handler_so_every_logger_is_throttled():
    from django.conf import settings

    config = settings.LOGGING
    assert config["filters"]["throttle"]["()"] == "board.logs.Throttle"
    assert all("throttle" in config["handlers"][name]["filters"] for name in config["root"]["handlers"])


def test_a_traceback_is_logged_once_then_one_line():
    gate, clock = throttle()

    def failure():
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            return logging.LogRecord("board.live.hub", logging.ERROR, __file__, 1, "Loop failed", (), sys.exc_info())

    first = failure()
    assert gate.filter(first) and first.exc_info
    clock.now += 61
    second = failure()
    assert gate.filter(second)
    assert second.exc_info is None and "traceback as before" in second.getMessage()


def test_records_of_one_kind_are_throttled_together_whatever_their_message():
    gate, _ = throttle()
    first = record("Closed a socket: too_many_frames. Network %s.", "127.0.0.1/32", name="board.live.consumers")
    first.throttle = "too_many_frames"
    second = record("Closed a socket: too_many_frames. Network %s.", "127.0.0.2/32", name="board.live.consumers")
    second.throttle = "too_many_frames"
    assert gate.filter(first)
    assert not gate.filter(second)


def test_the_json_format_is_one_object_with_the_context_and_the_traceback_as_a_field():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        entry = logging.LogRecord(
            "board.live.hub", logging.ERROR, __file__, 1, "Loop %s failed", ("tick",), sys.exc_info()
        )
    entry.board, entry.network = "main", "127.0.0.1/32"
    line = JsonFormatter().format(entry)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "Loop tick failed"
    assert (parsed["level"], parsed["logger"], parsed["pid"]) == ("ERROR", "board.live.hub", os.getpid())
    assert (parsed["board"], parsed["network"]) == ("main", "127.0.0.1/32")
    assert parsed["traceback"].startswith("Traceback") and "RuntimeError: boom" in parsed["traceback"]


def test_the_json_format_leaves_out_context_a_record_does_not_have():
    parsed = json.loads(JsonFormatter().format(record("Service Unavailable")))
    assert "board" not in parsed and "network" not in parsed and "traceback" not in parsed
