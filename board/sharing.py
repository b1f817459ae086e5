"""
What a board shows the world outside its page: the public list of boards, and
the preview image a link to a board unfurls into (``og:image``).

The list reads every board's live figures from Redis in one pipelined round
trip: its checked count from the state's meta, its players from the presence
hash every serving process writes (board/live/hub.py). Every board is public:
a board has no visibility of its own, and anyone with its address can open it
anyway.

A preview is 1200×630 (the size link previews are drawn at) and costs a read
of the whole bitset and a few milliseconds of Pillow, so each process keeps
the latest one per board and draws it again only when the board's epoch
changed, or when its version changed and the one held is older than
:data:`PREVIEW_SECONDS`.
"""

import asyncio
import dataclasses
import math
import time

from . import pictures
from .store import state

PREVIEW_SIZE = (1200, 630)
PREVIEW_SECONDS = 60
BACKGROUND = (244, 241, 234)
INK = (31, 34, 40)
MARGIN = 40
TEXT_BAND = 130


@dataclasses.dataclass(frozen=True)
class Listed:
    """One board in the public list; ``checked`` and ``players`` are None when Redis could not say."""

    board: object
    checked: int | None
    players: int | None


def listed(boards):
    """Every board with its checked count and players now, from one round trip to Redis."""
    boards = list(boards)
    try:
        with state.sync_client().pipeline(transaction=False) as pipe:
            for board in boards:
                pipe.hmget(state.keys(board.slug)[1], state.META_FIELDS)
                pipe.hgetall(state.presence_key(board.slug))
            replies = pipe.execute()
    except state.REDIS_ERRORS:
        return [Listed(board, None, None) for board in boards]
    now = time.time()
    rows = []
    for board, meta, presence in zip(boards, replies[::2], replies[1::2], strict=True):
        rows.append(Listed(board, _checked(board, meta), state.live_players(presence, now)))
    return rows


def _checked(board, values):
    if values[0] is not None:
        return int(values[state.META_FIELDS.index("count")])
    # Never opened since Redis started: load it as its page would.
    try:
        return state.meta(board).count
    except state.StateUnavailable:
        return None


@dataclasses.dataclass(frozen=True)
class Preview:
    epoch: int
    version: int
    png: bytes
    made: float

    @property
    def etag(self):
        return f'"preview-{self.epoch}-{self.version}"'

    def serves(self, meta, now):
        """Whether this preview may stand for the board at ``meta``."""
        if meta.epoch != self.epoch:
            return False
        return meta.version == self.version or now - self.made < PREVIEW_SECONDS


# The latest preview of each board drawn by this process. Race: two requests
# at the same moment may both draw it; the second one's picture is kept. OK
# for a picture at most a minute old anyway.
_previews = {}


async def preview(board):
    """The board's preview, drawn again only when the one held is out of date. Raises StateUnavailable."""
    meta = await state.ameta(board)
    held = _previews.get(board.slug)
    if held is not None and held.serves(meta, time.monotonic()):
        return held
    bits, meta = await state.aread(board)
    png = await asyncio.to_thread(draw, bits, meta.size, board.display_title, meta.count)
    held = Preview(meta.epoch, meta.version, png, time.monotonic())
    _previews[board.slug] = held
    return held


def forget_previews():
    _previews.clear()


def draw(bits, size, title, checked):
    """A 1200×630 PNG: the board's picture (box 0 at the top left), its title and its count."""
    from PIL import Image, ImageDraw, ImageFont

    canvas = Image.new("RGB", PREVIEW_SIZE, BACKGROUND)
    picture = pictures.picture(bits, size).convert("RGB")
    room = (PREVIEW_SIZE[0] - 2 * MARGIN, PREVIEW_SIZE[1] - MARGIN - TEXT_BAND)
    picture = _fit(picture, room)
    left, top = (PREVIEW_SIZE[0] - picture.width) // 2, MARGIN + (room[1] - picture.height) // 2
    canvas.paste(picture, (left, top))
    pen = ImageDraw.Draw(canvas)
    pen.rectangle((left - 1, top - 1, left + picture.width, top + picture.height), outline=pictures.BEYOND)
    bottom = PREVIEW_SIZE[1] - TEXT_BAND + 20
    pen.text((MARGIN, bottom), title, fill=INK, font=ImageFont.load_default(size=44))
    line = f"{checked:,} of {size:,} checked"
    pen.text((MARGIN, bottom + 58), line, fill=pictures.CHECKED, font=ImageFont.load_default(size=30))
    return pictures.png(canvas)


def _fit(picture, room):
    """Scaled to fill ``room``: boxes grow as sharp squares (a pixel apart at most), or are averaged when shrunk."""
    from PIL import Image

    scale = min(room[0] / picture.width, room[1] / picture.height)
    size = (max(1, math.floor(picture.width * scale)), max(1, math.floor(picture.height * scale)))
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
    return picture.resize(size, resample)
