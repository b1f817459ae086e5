"""Logging helpers: keep an outage from burying the log under repeats."""

import logging
import time


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
        key = (record.name, record.levelno, record.getMessage())
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
