"""The shipped change limits are fair to people and not to bots (docs/protocol.md, "Limits").

Against real daphne with the default limits, over TCP, each sender from a
loopback address of its own (its own network). Senders keep a schedule by
the clock, as a person's clicks do, and read and acknowledge everything they
are sent while they click, as the browser does.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from board.live import protocol
from board.models import Board
from board.store.state import Status
from harness.players import ConnectionClosed, NetPlayer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(200)]

PEOPLE_SHARING_A_NETWORK = "127.0.0.31"


class Clicker:
    """A sender of ``per_second`` changes for ``count`` changes, from box ``first`` on."""

    def __init__(self, player, per_second, count, first):
        self.player = player
        self.per_second = per_second
        self.count = count
        self.first = first
        self.closed = None

    async def run(self):
        """Every RESULT entry, in order; fewer if the server closed the socket (then ``closed`` is its code)."""
        reader = asyncio.ensure_future(self._read())
        try:
            await self._send()
            await asyncio.wait_for(asyncio.shield(reader), 30)
        except ConnectionClosed as closed:
            self.closed = closed.code
        finally:
            reader.cancel()
        return self.player.results

    async def _send(self):
        loop = asyncio.get_running_loop()
        start = loop.time()
        for k in range(self.count):
            await asyncio.sleep(max(0.0, start + k / self.per_second - loop.time()))
            if self.closed is not None:
                return
            await self.player.send_set(self.first + k, 1)

    async def _read(self):
        player = self.player
        try:
            while len(player.results) < self.count:
                await player.next_frame(timeout=30)
                if player.frames % 16 == 0:
                    await player.ack()
        except ConnectionClosed as closed:
            self.closed = closed.code


async def clicker(server, per_second, seconds, first, address=None):
    player = await NetPlayer(server.url, local_address=address).join()
    return Clicker(player, per_second, int(per_second * seconds), first)


def statuses(results):
    return [status for _, _, status, _ in results]


@pytest.fixture
async def server(daphnes):
    await sync_to_async(Board.objects.default)()
    (server,) = daphnes(1)
    return server


async def test_a_fast_person_is_never_refused_while_a_bot_beside_them_is(server):
    person = await clicker(server, per_second=12, seconds=3, first=0)
    bot = await clicker(server, per_second=20, seconds=30, first=10_000)
    person_results, bot_results = await asyncio.gather(person.run(), bot.run())
    # 36 clicks in 3 s: every one applied, none refused.
    assert statuses(person_results) == [Status.APPLIED] * 36
    assert person.closed is None
    # The bot gets its burst of 40 and is refused within a few seconds (20 a
    # second against a refill of 6: by its 58th change, 100 at the latest).
    bot_statuses = statuses(bot_results)
    first_refusal = bot_statuses.index(Status.RATE_LIMITED)
    assert 40 <= first_refusal <= 100
    assert set(bot_statuses[:first_refusal]) == {Status.APPLIED}
    # Past that it is held to about the refill, and keeps going: 4429.
    assert bot_statuses.count(Status.RATE_LIMITED) > bot_statuses[first_refusal:].count(Status.APPLIED)
    assert bot.closed == protocol.CLOSE_TOO_MANY
    assert [c["code"] for c in bot.player.controls if c["type"] == "error"] == ["rate_limited"]


async def test_a_bots_refusals_say_how_long_to_wait_for_the_next_token(server):
    bot = await clicker(server, per_second=20, seconds=10, first=20_000)
    waits = [wait for _, _, status, wait in await bot.run() if status == Status.RATE_LIMITED]
    assert waits
    # One change in 1/6 s: never longer than that to wait, never 0.
    assert all(0 < wait <= 167 for wait in waits)


async def test_a_few_people_on_one_network_clicking_fast_together_are_never_refused(server):
    people = [
        await clicker(server, per_second=12, seconds=3, first=30_000 + 100 * k, address=PEOPLE_SHARING_A_NETWORK)
        for k in range(3)
    ]
    results = await asyncio.gather(*(person.run() for person in people))
    assert [statuses(each) for each in results] == [[Status.APPLIED] * 36] * 3


async def test_a_steady_person_clicking_5_a_second_for_a_minute_is_never_refused(server):
    person = await clicker(server, per_second=5, seconds=60, first=40_000)
    results = await person.run()
    assert statuses(results) == [Status.APPLIED] * 300
    assert person.closed is None
