"""Logging helpers: keep an outage or a flood from burying the log under repeats, and lines a machine reads."""

import json
import logging
import time
from datetime import UTC, datetime

# What a record may carry (``extra=``) beside its message: the JSON format gives them fields of their own.
CONTEXT_FIELDS = ("board", "network")


class Throttle(logging.Filter):
    """Let a given message through at most once per ``seconds``.

    While Redis is away, channels-redis logs a traceback every second and every
    health check logs a 503; one of each per minute says as much. The next
    message let through says how many were held back.
    """

    MAX_KEYS = 1000

    def __init__(self, seconds=60, clock=time.monotonic):
        super().__init__()
        self.seconds = seconds
        self.clock = clock
        self.seen = {}
        self.tracebacks = set()

    def filter(self, record):
        # A record may name its kind (``extra={"throttle": "too_many_frames"}``),
        # so that a flood from many networks counts as one message, not one per network.
        key = (record.name, record.levelno, getattr(record, "throttle", None) or record.getMessage())
        now = self.clock()
        if record.exc_info and record.exc_info[0] is not None:
            # A traceback once per process and kind of failure; after that, one line.
            failure = (*key, record.exc_info[0])
            if failure in self.tracebacks:
                record.exc_info = record.exc_text = None
                record.msg = f"{record.msg} (traceback as before)"
            elif len(self.tracebacks) < self.MAX_KEYS:
                self.tracebacks.add(failure)
        last, held = self.seen.get(key, (None, 0))
        if last is not None and now - last < self.seconds:
            self.seen[key] = (last, held + 1)
            return False
        if len(self.seen) >= self.MAX_KEYS:
            self.seen.clear()
        self.seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it in the last {self.seconds} s)"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, pid, and board and network where a record has them.

    A traceback is the ``traceback`` field, so a log shipper never sees it as lines of its own.
    """

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        entry.update({name: getattr(record, name) for name in CONTEXT_FIELDS if getattr(record, name, None)})
        if record.exc_info and record.exc_info[0] is not None:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)
