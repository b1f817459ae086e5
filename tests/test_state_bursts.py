"""The live state under a burst of concurrent requests from one process."""

import asyncio

import pytest

from board.store import state

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hubs")]


async def test_a_burst_larger_than_the_connection_pool_waits_for_connections_instead_of_failing(small_board):
    await state.aapply(small_board, [(7, 1)])
    burst = 4 * state._client_options()["max_connections"]

    replies = await asyncio.gather(*(state.aread(small_board) for _ in range(burst)))

    assert len(replies) == burst
    assert all(meta.version == 1 and bits[0] == 0x01 for bits, meta in replies)
