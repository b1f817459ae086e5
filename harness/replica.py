"""
A reference client replica of a board, following docs/protocol.md: the state
fetched over HTTP plus UPDATE runs applied strictly in version order.

Tests and benchmarks use it to check that what a client ends up with is exactly
what Redis holds; it is also the shortest complete description of the client
side of the protocol in Python.
"""

from board import bitset
from board.live import protocol


class Replica:
    def __init__(self, size):
        self.size = size
        self.bits = None
        self.epoch = None
        self.version = 0
        self.pending = []

    @property
    def ready(self):
        return self.bits is not None

    @property
    def behind(self):
        """True while runs wait for an earlier one (or for the state)."""
        return bool(self.pending)

    def load(self, bits, epoch, version):
        """Take a state fetched over HTTP; runs it already contains are skipped."""
        self.bits = bytearray(bits)
        self.epoch = epoch
        self.version = version
        self.pending = [run for run in self.pending if run[0] == epoch]
        self.drain()

    def update(self, frame):
        self.pending.extend(protocol.decode_update(frame))
        if self.ready:
            self.drain()

    def drain(self):
        waiting = []
        for run in sorted(self.pending, key=lambda run: run[1]):
            epoch, start, changes = run
            if epoch != self.epoch or start > self.version:
                waiting.append(run)
            elif start + len(changes) > self.version:
                self._apply(start, changes)
        self.pending = waiting

    def _apply(self, start, changes):
        for index, value in changes[self.version - start :]:
            self.set(index, value)
        self.version = start + len(changes)

    def set(self, index, value):
        bitset.put(self.bits, index, value)

    def get(self, index):
        return bitset.get(self.bits, index)

    @property
    def count(self):
        return int.from_bytes(self.bits, "big").bit_count()
