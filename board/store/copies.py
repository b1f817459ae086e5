"""
The board's state as the state endpoint sends it, read and compressed once per
version in each process, however many requests ask for it at once.

A request that finds the board at a version this process has no copy of joins
the read under way if that read began after the request saw the board's meta
(so it reflects at least that version), and otherwise waits for it and starts,
or joins, the next one. So each board has at most one full read in flight per
process, and a flood of requests costs one read per version, not one per
request. Compression runs in a thread, off the event loop.
"""

import asyncio
import gzip
import weakref
from dataclasses import dataclass

from . import state

# Full reads (and compressions) of different boards under way at once in one
# process; more wait their turn.
MAX_BUILDS = 2
# gzip's usual trade-off (Django's GZipMiddleware uses it too); mtime 0 makes
# every process compress one state to the same bytes.
GZIP_LEVEL = 6


@dataclass(frozen=True)
class Copy:
    meta: state.Meta
    bits: bytes
    gzipped: bytes


def tag(meta):
    return meta.epoch, meta.version


class Copies:
    """The newest copy of each board's state this process has read, and the read under way."""

    def __init__(self):
        self.latest = {}
        self.builds = {}
        self.started = 0
        self.slots = asyncio.Semaphore(MAX_BUILDS)

    async def get(self, board, meta):
        """A copy at least as new as ``meta``, which the caller has just read."""
        since = self.started
        copy = self.latest.get(board.slug)
        if copy is not None and tag(copy.meta) == tag(meta):
            return copy
        if board.slug in self.builds:
            number, build = self.builds[board.slug]
            copy = await asyncio.shield(build)
            if number > since or tag(copy.meta) == tag(meta):
                return copy
        # The read waited for began before ``meta`` was read: the next one will do.
        number, build = self.builds.get(board.slug) or self._start(board)
        return await asyncio.shield(build)

    def _start(self, board):
        self.started += 1
        entry = self.builds[board.slug] = (self.started, asyncio.ensure_future(self._build(board)))
        entry[1].add_done_callback(lambda task: self._finished(board.slug, entry))
        return entry

    def _finished(self, slug, entry):
        if self.builds.get(slug) is entry:
            del self.builds[slug]
        # Every request waiting for it may be gone (clients hang up): the
        # exception is retrieved here so that it is never reported as lost.
        if not entry[1].cancelled():
            entry[1].exception()

    async def _build(self, board):
        async with self.slots:
            bits, meta = await state.aread(board)
            gzipped = await asyncio.to_thread(gzip.compress, bits, compresslevel=GZIP_LEVEL, mtime=0)
        copy = self.latest[board.slug] = Copy(meta, bits, gzipped)
        return copy


_per_loop = weakref.WeakKeyDictionary()


def copies():
    """The running event loop's copies (one loop per process under daphne, one per test in tests)."""
    loop = asyncio.get_running_loop()
    if loop not in _per_loop:
        _per_loop[loop] = Copies()
    return _per_loop[loop]
