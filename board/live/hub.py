"""
Per-process fan-out (docs/architecture.md, "A player's change").

Each serving process keeps one :class:`BoardHub` per board that has sockets on
it. The hub is the only member of the board's channel-layer group in this
process, so the group has one member per process, not one per player. It:

- applies its sockets' changes to Redis, as many per Lua call as are waiting
  (the writer), and answers each sender with a RESULT;
- publishes each batch of applied changes once to the group, and relays the
  batches of every process to its local sockets as one binary UPDATE frame per
  tick (the flusher), skipping sockets that have fallen too far behind;
- every few seconds records its player count and its figures for the staff's
  live page (board/live/report.py) in Redis, and tells its sockets the
  board's player total and version (the beacon), so a client that missed a
  frame, or a Redis that came back empty, is noticed even when the board is idle.

When Redis cannot be reached (a batch or a beacon fails), the hub closes its
sockets with 4503: players see "reconnecting", their page refuses changes, and
they resynchronise from a fresh hello once Redis answers again. A Redis that
answers but refuses (full at maxmemory, failing to save, a replica) keeps the
sockets open: changes are answered UNAVAILABLE until it accepts them again. A
Redis that restarted between two beacons (a new ``run_id``) may have lost its
last changes, so every socket is told to resync.

Every loop is supervised (:meth:`BoardHub._supervised`): one socket's failure
never reaches a loop, an unexpected exception is logged and the loop runs
again, and a hub whose loops keep failing or have stopped reports it through
:meth:`BoardHub.problems`, which turns ``/healthz`` to 503.
"""

import asyncio
import contextvars
import logging
import os
import secrets
import socket
import time
import weakref
from collections import Counter, deque

import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from .. import metrics
from ..models import Board
from ..store import changelog, snapshots, state
from ..store.state import Status
from . import bans, events, limits, protocol, report, tally, transport

logger = logging.getLogger(__name__)

# A loop that failed this many times within a minute, or a queue of changes
# untouched for this long, makes the process unready (/healthz 503).
FAILURES_PER_MINUTE = 5
STALL_SECONDS = 30

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

# Hubs by event loop, then by slug: tests run one loop per test.
_hubs = weakref.WeakKeyDictionary()


async def hub_for(slug):
    """The running process's hub for a board, or None if there is no such board."""
    hubs = _hubs.setdefault(asyncio.get_running_loop(), {})
    hub = hubs.get(slug)
    if hub is not None:
        return hub
    board = await _find_board(slug)
    if board is None:
        return None
    hub = hubs.setdefault(slug, BoardHub(board))
    hub.start()
    return hub


def running_board(slug):
    """The board of this loop's running hub for ``slug``, or None: what the socket path serves, with no lookup."""
    hub = _hubs.get(asyncio.get_running_loop(), {}).get(slug)
    return None if hub is None else hub.board


def local_hubs():
    """The hubs of the running event loop."""
    return list(_hubs.get(asyncio.get_running_loop(), {}).values())


async def stop_hubs():
    """Stop every hub of the running loop (process shutdown, end of a test)."""
    hubs = _hubs.pop(asyncio.get_running_loop(), {})
    for hub in hubs.values():
        await hub.stop()


async def _find_board(slug):
    if slug == settings.BOARD_DEFAULT_SLUG:
        return await sync_to_async(Board.objects.default)()
    return await Board.objects.filter(slug=slug).afirst()


def _stop_if_cancelled():
    """Re-raise a cancellation that arrived as another error.

    redis-py, cancelled in the middle of a command to a dead server, may raise
    a ConnectionError instead of CancelledError; a loop that catches it and
    carries on would never stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError()


async def _each(consumer, send, *args):
    """One socket's send: whatever goes wrong with it stays with that socket, which is dropped."""
    try:
        await send(*args)
    except Exception:
        _stop_if_cancelled()
        logger.exception("A send to one socket failed; dropping it")
        consumer.drop()


class BoardHub:
    def __init__(self, board):
        self.board = board
        self.sockets = set()
        self.players_elsewhere = 0
        self._queue = deque()
        self._outbox = []
        self._write_wakeup = asyncio.Event()
        self._flush_wakeup = asyncio.Event()
        self._presence_changed = asyncio.Event()
        self._last_flush = 0.0
        self._last_beacon = None
        self._redis_run = None
        self._tasks = []
        self._failures = {}
        self._progress = time.monotonic()
        self._stopping = None
        self._layer = get_channel_layer()
        self._channel = None
        self.tally = tally.Tally(board.slug)
        self.report = report.Report(board.slug)
        self._outbox_since = 0.0
        # This board's labelled metrics, looked up once (board/metrics.py).
        self.sockets_gauge = metrics.SOCKETS.labels(board.slug)
        self.joins = metrics.JOINS.labels(board.slug)
        self.outcomes = {status: metrics.CHANGES.labels(board.slug, status.name.lower()) for status in Status}
        # labels() costs about ten times an inc(): the channel layer's counters by event type, once each.
        self._published = metrics.CHANNEL_MESSAGES.labels("sent", events.BATCH)
        self._heard = {}
        self._subscriptions = 0

    def start(self):
        if self._tasks:
            return
        jobs = {
            "writer": self._write_loop,
            "flusher": self._flush_loop,
            "relay": self._subscribe_loop,
            "beacon": self._beacon_loop,
            "sweeper": self._sweep_loop,
            # Moderation housekeeping: periodic snapshots, the tally of who changes what, the log's retention.
            "snapshots": lambda: snapshots.periodic(self.board),
            "tally": self.tally.flush_periodically,
            "trim": lambda: changelog.trim_periodically(self.board.slug),
        }
        # The hub's loops call Redis through connections of their own (state.LANE).
        lane = contextvars.copy_context()
        lane.run(state.LANE.set, "hub")
        loop = asyncio.get_running_loop()
        for name, job in jobs.items():
            task = loop.create_task(self._supervised(name, job), context=lane.copy())
            task.set_name(f"hub {self.board.slug} {name}")
            self._tasks.append(task)

    async def _supervised(self, name, job):
        """Run ``job`` for ever: log what escapes it (throttled) and run it again after a pause."""
        while True:
            try:
                await job()
                logger.error("The %s loop of board %s returned; restarting it", name, self.board.slug)
            except asyncio.CancelledError:
                raise
            except Exception:
                _stop_if_cancelled()
                logger.exception("The %s loop of board %s failed; restarting it", name, self.board.slug)
            now = time.monotonic()
            failures = self._failures.setdefault(name, deque(maxlen=FAILURES_PER_MINUTE))
            failures.append(now)
            await asyncio.sleep(1)

    def problems(self):
        """Why this hub cannot do its work, for /healthz; empty when it can."""
        found, now = [], time.monotonic()
        for task in self._tasks:
            if task.done():
                found.append(f"{task.get_name()}: stopped")
        for name, failures in self._failures.items():
            if len(failures) == FAILURES_PER_MINUTE and now - failures[0] < 60:
                found.append(f"hub {self.board.slug} {name}: failed {len(failures)} times in a minute")
        if self._queue and now - self._progress > STALL_SECONDS:
            found.append(f"hub {self.board.slug} writer: no batch for {now - self._progress:.0f} s")
        return found

    async def stop(self):
        # redis-py can finish a command instead of raising the CancelledError
        # that landed during it (the loop then carries on), so cancel until done.
        pending = self._tasks
        while pending:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.5)
            pending = [task for task in pending if not task.done()]
        await asyncio.gather(*self._tasks, return_exceptions=True)  # all done: collects their outcomes
        self._tasks = []
        self.sockets_gauge.set(0)
        if self._channel is not None:
            try:
                await self._layer.group_discard(events.group_name(self.board.slug), self._channel)
            except state.REDIS_ERRORS:
                pass

    @property
    def subscribed(self):
        """Whether this hub hears the other processes' events (its channel joined the board's group)."""
        return self._channel is not None

    @property
    def players(self):
        """Players on this board: this process's sockets now, others' as of the last beat."""
        return self.players_elsewhere + len(self.sockets)

    def attach(self, consumer):
        self.sockets.add(consumer)
        self.sockets_gauge.set(len(self.sockets))
        self._presence_changed.set()

    def detach(self, consumer):
        self.sockets.discard(consumer)
        self.sockets_gauge.set(len(self.sockets))
        self._presence_changed.set()

    def submit(self, consumer, index, value):
        """Queue one validated, allowed change; the sender gets its RESULT after the batch runs.

        Refused changes never come here: their sockets answer them
        (board/live/consumers.py), in order with the ones queued.
        """
        self._queue.append((consumer, index, value))
        self._write_wakeup.set()

    # -- the writer ----------------------------------------------------------

    async def _write_loop(self):
        while True:
            await self._write_wakeup.wait()
            self._write_wakeup.clear()
            while self._queue:
                size = min(len(self._queue), settings.BOARD_MAX_BATCH)
                batch = [self._queue.popleft() for _ in range(size)]
                self._progress = time.monotonic()
                try:
                    await self._write(batch)
                except Exception:
                    _stop_if_cancelled()
                    logger.exception("Applying a batch of changes to board %s failed", self.board.slug)
                    await self._unavailable(batch)
            self._progress = time.monotonic()

    async def _write(self, batch):
        changes = [(index, value) for _, index, value in batch]
        authors = [consumer.author for consumer, _, _ in batch]
        metrics.BATCH_SIZE.observe(len(batch))
        try:
            applied = await state.aapply(self.board, changes, authors)
        except state.StorageRefused as error:
            # Redis answers but will not write: the sockets stay, their changes are refused.
            logger.warning("Redis refuses changes to board %s: %s", self.board.slug, error)
            await self._unavailable(batch)
            return
        except state.StateUnavailable:
            await self._unavailable(batch)
            await self.storage_lost()
            return
        for status, number in Counter(applied.statuses).items():
            self.outcomes[status].inc(number)
        await self._answer(batch, list(zip(applied.statuses, applied.versions(), strict=True)), applied.epoch)
        self.report.applied(applied.to_version - applied.from_version)
        if applied.to_version > applied.from_version:
            await self._broadcast(applied, changes)

    async def _unavailable(self, batch):
        self.outcomes[Status.UNAVAILABLE].inc(len(batch))
        await self._answer(batch, [(Status.UNAVAILABLE, 0)] * len(batch))

    async def _answer(self, batch, outcomes, epoch=0):
        """One RESULT per sender; ``epoch`` is the board's when the changes reached it, else 0."""
        replies = {}
        for (consumer, index, value), (status, version) in zip(batch, outcomes, strict=True):
            replies.setdefault(consumer, []).append((index, value, status, version))
        for consumer, entries in replies.items():
            await _each(consumer, consumer.send_results, entries, epoch)

    async def _broadcast(self, applied, changes):
        run = events.applied_run(applied, changes)
        self._relay(run)
        message = events.batch(PROCESS_ID, run)
        # A second try gets a fresh connection if the pooled one died with a
        # Redis restart; a run that arrives twice is ignored by its version.
        for attempt in range(2):
            try:
                await self._layer.group_send(events.group_name(self.board.slug), message)
                self._published.inc()
                return
            except state.TRANSIENT_ERRORS as error:
                metrics.redis_error(error)
                if attempt:
                    metrics.CHANNEL_FAILURES.inc()
                    # Other processes' clients notice the gap from the next beacon and resync.
                    logger.warning("Could not publish a batch for %s; remote clients will resync", self.board.slug)

    # -- the relay -----------------------------------------------------------

    async def _subscribe_loop(self):
        await self._join_group()
        while True:
            message = await self._layer.receive(self._channel)
            handler = getattr(self, message.get("type", "").replace(".", "_"), None)
            if handler is None:
                metrics.CHANNEL_MESSAGES.labels("received", "unknown").inc()
                logger.warning("Ignoring unknown hub event %r", message.get("type"))
                continue
            self._heard_counter(message["type"]).inc()
            try:
                await handler(message)
            except Exception:
                # The relay's channel stays subscribed: the next event is heard.
                _stop_if_cancelled()
                logger.exception("Handling the hub event %r failed", message.get("type"))

    def _heard_counter(self, kind):
        counter = self._heard.get(kind)
        if counter is None:
            counter = self._heard[kind] = metrics.CHANNEL_MESSAGES.labels("received", kind)
        return counter

    async def _join_group(self):
        self._channel = None  # until the new subscription holds: /readyz says so
        group, failing = events.group_name(self.board.slug), False
        while True:
            try:
                channel = await self._layer.new_channel(prefix="hub.")
                await self._layer.group_add(group, channel)
                self._channel = channel
                self._subscriptions += 1
                if self._subscriptions > 1:
                    metrics.RESUBSCRIPTIONS.inc()
                return
            except state.REDIS_ERRORS as error:
                _stop_if_cancelled()
                metrics.redis_error(error)
                # Once per outage: a line a second would bury everything else.
                if not failing:
                    logger.warning("Cannot subscribe to %s yet; retrying every second", group)
                failing = True
                await asyncio.sleep(1)

    async def board_batch(self, event):
        if event["origin"] != PROCESS_ID:
            self._relay(event["runs"])

    async def board_reset(self, event):
        """The whole bitset was replaced (restore, clear, import): everyone refetches."""
        await self.send_all(protocol.control("resync", reason=event.get("reason", "reset")))

    async def board_frozen(self, event):
        self.board.frozen = event["frozen"]
        await self.send_all(protocol.control("frozen", frozen=event["frozen"]))

    async def board_bans(self, event):
        """A moderator changed the bans: reload this process's list now, not at its next refresh."""
        bans.reload()

    async def board_deleted(self, event):
        """The board was deleted: close its sockets (4410), leave the process's hubs, and stop.

        Stopping cancels this very loop, so it runs as a task of its own; a
        player opening the slug again gets 4404, or a new board of that name.
        """
        hubs = _hubs.get(asyncio.get_running_loop(), {})
        if hubs.get(self.board.slug) is self:
            del hubs[self.board.slug]
        for consumer in list(self.sockets):
            await _each(consumer, consumer.board_deleted)
        self._stopping = asyncio.ensure_future(self.stop())

    def _relay(self, run):
        if not self._outbox:
            self._outbox_since = time.monotonic()  # the fan-out lag counts from here
        self._outbox.append(run)
        self._flush_wakeup.set()

    async def _flush_loop(self):
        loop = asyncio.get_running_loop()
        tick = settings.BOARD_TICK_MS / 1000
        share = settings.BOARD_FANOUT_PERCENT / 100
        gap = tick
        while True:
            await self._flush_wakeup.wait()
            # Idle boards send at once; busy ones at most one frame per `gap`.
            delay = self._last_flush + gap - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._flush_wakeup.clear()
            # Taken with the runs: runs relayed during this fan-out start the next one's lag.
            runs, self._outbox, since = self._outbox, [], self._outbox_since
            self._last_flush = loop.time()
            started, wall = time.thread_time(), time.perf_counter()
            frames = 0
            for frame in protocol.update_frames(runs):
                # Framed once for every socket (board/transport.py).
                wire = transport.frame(frame)
                sockets = list(self.sockets)
                frames += len(sockets)
                for consumer in sockets:
                    await _each(consumer, consumer.send_update, frame, wire)
            if runs:
                self.report.fanned_out(time.monotonic() - since)
            metrics.UPDATE_FRAMES.inc(frames)
            metrics.TICK_SECONDS.observe(time.perf_counter() - wall)
            # With thousands of sockets a fan-out takes a while; frames then
            # come less often than every tick (carrying more changes each), so
            # fanning out stays within its share of the process's CPU and
            # reading changes and ACKs never starves (docs/performance.md).
            # CPU time, not wall time: a machine busy with other work must not
            # stretch the gap.
            gap = max(tick, (time.thread_time() - started) / share)

    async def send_all(self, text):
        wire = transport.frame(text)
        for consumer in list(self.sockets):
            await _each(consumer, consumer.send_control, text, wire)

    async def storage_lost(self):
        """Redis is unreachable: close every socket (4503) so players reconnect and resync later."""
        self._redis_run = None
        for consumer in list(self.sockets):
            await _each(consumer, consumer.storage_lost)

    async def _sweep_loop(self):
        """Drop sockets whose unread bytes passed the bound between two of our sends.

        A client that floods WebSocket pings and never reads makes the server
        queue pongs for it without the hub sending anything.
        """
        while True:
            await asyncio.sleep(1)
            limit = settings.BOARD_MAX_QUEUED_BYTES
            for consumer in list(self.sockets):
                writer = consumer.writer
                if writer is not None and writer.queued_bytes() > limit:
                    consumer.drop()

    # -- the beacon ----------------------------------------------------------

    async def _beacon_loop(self):
        failing = False
        while True:
            try:
                await self._beat()
                if failing:
                    logger.info("Redis is reachable again for board %s", self.board.slug)
                failing = False
            except (state.StateUnavailable, *state.TRANSIENT_ERRORS) as error:
                _stop_if_cancelled()
                metrics.redis_error(error)
                if not failing:
                    logger.warning("Beacon for board %s failed: %s", self.board.slug, error)
                failing = True
                if not (isinstance(error, state.StorageRefused) or state.refused(error)):
                    await self.storage_lost()
            # A player joining or leaving brings the next beat forward, but
            # never to more than one a second.
            await asyncio.sleep(1)
            await self._presence_change(settings.BOARD_BEACON_SECONDS - 1)

    async def _presence_change(self, seconds):
        """Wait up to ``seconds`` for a player to join or leave.

        asyncio.timeout, not wait_for: on Python 3.11, wait_for with a timeout
        of 0 turns the task's own cancellation into a TimeoutError, so stop()
        would wait forever for a beacon that never ends.
        """
        if seconds > 0:
            try:
                async with asyncio.timeout(seconds):
                    await self._presence_changed.wait()
            except TimeoutError:
                pass
        self._presence_changed.clear()

    async def _beat(self):
        # The writes first, each on its own: a Redis refusing writes (full,
        # failing to save) must not stop the beacon players rely on to notice gaps.
        try:
            await limits.ledger().heartbeat()
            self.players_elsewhere = await self._players_elsewhere()
            await self.report.write(PROCESS_ID, len(self.sockets))  # the staff's live page
        except redis.ResponseError as error:
            if not state.refused(error):
                raise
            metrics.redis_error(error)
            logger.warning("Redis refuses the presence of board %s: %s", self.board.slug, error)
        await self._notice_restart()
        meta = await state.ameta(self.board)
        beacon = protocol.control(
            "beacon", players=self.players, epoch=meta.epoch, version=meta.version, frozen=meta.frozen
        )
        if beacon != self._last_beacon:
            self._last_beacon = beacon
            await self.send_all(beacon)

    async def _notice_restart(self):
        """Tell every socket to resync if Redis restarted since the last beat.

        A restart from its append-only file may have lost the last second of
        changes, taking the version back below what players hold; their
        replicas would then skip the next changes as already seen.
        """
        try:
            run = await state.arun_id(self.board.slug)
        except redis.ResponseError:
            # A managed Redis that forbids INFO: restarts go unnoticed until a
            # failed call closes the sockets.
            return
        if self._redis_run is not None and run != self._redis_run:
            logger.warning("Redis restarted under board %s; every player resyncs", self.board.slug)
            await self.send_all(protocol.control("resync", reason="restarted"))
        self._redis_run = run

    async def _players_elsewhere(self):
        """Record this process's sockets; add up every other live process's."""
        key, now = state.presence_key(self.board.slug), time.time()
        stale_after = 3 * settings.BOARD_BEACON_SECONDS
        async with state.async_client().pipeline(transaction=False) as pipe:
            pipe.hset(key, PROCESS_ID, f"{len(self.sockets)} {now:.3f}")
            pipe.expire(key, stale_after * 2)
            pipe.hgetall(key)
            *_, entries = await pipe.execute()
        total, stale = 0, []
        for process, entry in entries.items():
            count, seen = entry.split()
            if now - float(seen) > stale_after:
                stale.append(process)
            elif process.decode() != PROCESS_ID:
                total += int(count)
        if stale:
            await state.async_client().hdel(key, *stale)
        return total
