"""The board under test, from async code, and a box's bit as Redis holds it."""

from asgiref.sync import sync_to_async

from board.models import Board
from board.store import state


async def default_board():
    return await sync_to_async(Board.objects.default)()


def bit(slug, index):
    return state.sync_client().getbit(state.keys(slug)[0], index)
