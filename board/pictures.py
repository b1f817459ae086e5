"""
Pictures of a board, and boards from pictures.

A picture shows one box per pixel, box 0 at the top left, in rows of a round
number of boxes (:func:`layout`): on a board of 1,000,000 boxes in rows of 1,000,
box 51,234 is row 51, column 234. Checked boxes are orange-red, unchecked ones
off-white, and the pixels after the last box a light grey. The admin shows an
overview that fits its page, where every block holding a checked box is marked
however sparse the board, and any region of it zoomed to 1 to 8 pixels per box.

The functions take a raw bitset (as in Redis and snapshots) and return Pillow
images, so other features (timelapses, exports) can reuse them. Pillow unpacks
the bitset directly (the raw ``P;1`` mode reads bits most significant first,
like Redis), so a million boxes take milliseconds.

Pillow is imported by the functions that draw, not by this module: every
serving process imports this one (the admin does), and most never draw a
picture; Pillow would add about 5 MB to each (docs/performance.md, "Memory").
"""

import io
import math
import warnings
from dataclasses import dataclass

from .bitset import byte_length, mask_padding

UNCHECKED = (255, 253, 248)
# Dark enough that importing a picture reads it back as checked (luminance < 128).
CHECKED = (200, 62, 24)
BEYOND = (217, 211, 196)

# Widths of a row, in boxes: round numbers, multiples of 8 so that each row
# starts on a byte of the bitset.
ROW_WIDTHS = (8, 16, 40, 80, 200, 400, 800, 1000, 2000, 4000, 8000, 10_000, 20_000, 40_000)

# Beyond this many boxes the admin shows a density picture instead of one
# pixel per box (a browser would struggle with 100 million pixels).
PICTURE_MAX_BOXES = 4_000_000
# The snapshot list shows thumbnails at their own size (admin.css): one pixel of the picture per pixel on screen.
THUMBNAIL_SIDE = 96
# The admin's overview fits the width its pages give a picture (admin.css).
OVERVIEW_SIDE = 800
# A block holding a single checked box is at least this far from unchecked to
# checked, so that a few boxes on a board of millions still show.
MINIMUM_MARK = 0.4
# A zoomed region: 1 to 8 pixels per box, at most this many pixels a side.
MAX_SCALE = 8
REGION_MAX_SIDE = 1600

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PictureError(ValueError):
    """A picture that cannot become a board, with a sentence saying why."""


def layout(size):
    """``(width, height)`` of a one-pixel-per-box picture: the narrowest round width giving a squarish picture."""
    width = next((w for w in ROW_WIDTHS if w * w >= size), ROW_WIDTHS[-1])
    return width, math.ceil(size / width)


def image(bits, size):
    """The board as a palette image, one pixel per box."""
    from PIL import Image

    width, height = layout(size)
    rows = bytes(bits[: byte_length(size)]).ljust(width * height // 8, b"\0")
    picture = Image.frombytes("P", (width, height), rows, "raw", "P;1")
    picture.putpalette(UNCHECKED + CHECKED + BEYOND)
    if size % width:
        picture.paste(2, (size % width, height - 1, width, height))
    return picture


def density(bits, size, side):
    """The board shrunk to at most ``side`` pixels across: each pixel shows how full its block of boxes is.

    A block with any checked box is marked at least :data:`MINIMUM_MARK` of the way to the checked colour.
    """
    from PIL import Image

    width, height = layout(size)
    factor = shrink_factor(size, side)
    shares = Image.new("L", (math.ceil(width / factor), math.ceil(height / factor)))
    # Band by band, so a board of 100 million boxes never needs 400 MB of float pixels.
    band = factor * max(1, PICTURE_MAX_BOXES // (width * factor))
    row_bytes = width // 8
    for top in range(0, height, band):
        rows = min(band, height - top)
        chunk = bytes(bits[top * row_bytes : (top + rows) * row_bytes]).ljust(rows * row_bytes, b"\0")
        # In mode "1" a set bit is 255: a block's average is its share of checked boxes, times 255. In
        # floats, so that one box in a block of thousands is not rounded away; the offset (truncated by
        # the conversion) lifts any share above nothing to at least level 1.
        strip = Image.frombytes("1", (width, rows), chunk).convert("F").reduce(factor)
        shares.paste(strip.point(lambda level: level * 254 / 255 + 0.999).convert("L"), (0, top // factor))
    shares.putpalette(_gradient())
    return shares


def shrink_factor(size, side):
    """How many boxes across one pixel of a picture at most ``side`` pixels across stands for."""
    width, height = layout(size)
    return max(1, math.ceil(max(width, height) / side))


def _gradient():
    # Level 0 is an empty block; any other is at least the minimum mark, then a square-root ramp.
    palette = list(UNCHECKED)
    for level in range(1, 256):
        share = MINIMUM_MARK + (1 - MINIMUM_MARK) * math.sqrt((level - 1) / 254)
        palette += [round(a + (b - a) * share) for a, b in zip(UNCHECKED, CHECKED, strict=True)]
    return palette


def picture(bits, size):
    """What the admin shows: one pixel per box, or a density picture for very large boards."""
    if size <= PICTURE_MAX_BOXES:
        return image(bits, size)
    return density(bits, size, math.isqrt(PICTURE_MAX_BOXES))


def picture_size(size):
    """``(width, height)`` of :func:`picture` for a board of ``size`` boxes."""
    width, height = layout(size)
    if size <= PICTURE_MAX_BOXES:
        return width, height
    factor = shrink_factor(size, math.isqrt(PICTURE_MAX_BOXES))
    return math.ceil(width / factor), math.ceil(height / factor)


def overview(bits, size):
    """What an admin page shows: one pixel per box if that fits :data:`OVERVIEW_SIDE`, else a density picture."""
    if max(layout(size)) <= OVERVIEW_SIDE:
        return image(bits, size)
    return density(bits, size, OVERVIEW_SIDE)


def overview_factor(size):
    """Boxes across one pixel of :func:`overview`."""
    return 1 if max(layout(size)) <= OVERVIEW_SIDE else shrink_factor(size, OVERVIEW_SIDE)


def overview_size(size):
    """``(width, height)`` of :func:`overview` for a board of ``size`` boxes."""
    width, height = layout(size)
    factor = overview_factor(size)
    return math.ceil(width / factor), math.ceil(height / factor)


@dataclass(frozen=True)
class Region:
    """``columns`` by ``rows`` boxes from column ``left`` of row ``top`` of a picture, ``scale`` pixels per box.

    Raises :class:`PictureError` unless it lies on the board and is at most :data:`REGION_MAX_SIDE` pixels a side.
    """

    size: int
    left: int
    top: int
    columns: int
    rows: int
    scale: int = 1

    def __post_init__(self):
        width, height = layout(self.size)
        if not 1 <= self.scale <= MAX_SCALE:
            raise PictureError(f"A region is drawn at 1 to {MAX_SCALE} pixels per box, not {self.scale}.")
        if self.columns < 1 or self.rows < 1:
            raise PictureError("A region is at least one box wide and one box tall.")
        if max(self.columns, self.rows) * self.scale > REGION_MAX_SIDE:
            most = REGION_MAX_SIDE // self.scale
            raise PictureError(f"At {self.scale} pixels per box a region is at most {most:,} boxes a side.")
        if self.left < 0 or self.top < 0 or self.left + self.columns > width or self.top + self.rows > height:
            raise PictureError(f"The region goes past the board's picture of {width:,} by {height:,} boxes.")
        if self.first >= self.size:
            raise PictureError(f"The region starts past the board's last box, {self.size - 1:,}.")

    @property
    def width(self):
        """Boxes in a row of the board's picture."""
        return layout(self.size)[0]

    @property
    def first(self):
        return self.top * self.width + self.left

    @property
    def last(self):
        """The region's last box on the board (only a picture's bottom row may be short of boxes)."""
        bottom = self.top + self.rows - 1
        last = bottom * self.width + self.left + self.columns - 1
        if last < self.size:
            return last
        if self.size - 1 >= bottom * self.width + self.left:
            return self.size - 1
        return last - self.width

    @property
    def label(self):
        """``Boxes 40,000–49,999``, and which part of each row when the region is narrower than the picture."""
        text = f"Boxes {self.first:,}–{self.last:,}"
        if self.columns == self.width:
            return text
        return f"{text}: {self.columns:,} boxes of each row of {self.width:,}, {self.rows:,} rows"


def zoom(bits, region):
    """The boxes of ``region`` (a :class:`Region`), ``region.scale`` pixels per box."""
    from PIL import Image

    # Only the region's own bytes are unpacked: a region of a board of 100 million boxes costs what it shows.
    first_byte, end_byte = region.left // 8, (region.left + region.columns + 7) // 8
    row_bytes = region.width // 8
    rows = b"".join(
        bytes(bits[(region.top + row) * row_bytes + first_byte : (region.top + row) * row_bytes + end_byte]).ljust(
            end_byte - first_byte, b"\0"
        )
        for row in range(region.rows)
    )
    packed = Image.frombytes("P", ((end_byte - first_byte) * 8, region.rows), rows, "raw", "P;1")
    offset = region.left - first_byte * 8
    picture = packed.crop((offset, 0, offset + region.columns, region.rows))
    picture.putpalette(UNCHECKED + CHECKED + BEYOND)
    on_the_board = region.size - (region.top + region.rows - 1) * region.width - region.left
    if on_the_board < region.columns:
        picture.paste(2, (max(0, on_the_board), region.rows - 1, region.columns, region.rows))
    return picture.resize((region.columns * region.scale, region.rows * region.scale), Image.Resampling.NEAREST)


def legend(size):
    """How to read :func:`picture` of a board of ``size`` boxes, in a sentence or two."""
    row = f"Box 0 at the top left, rows of {layout(size)[0]:,} boxes."
    if size > PICTURE_MAX_BOXES:
        return f"{row} Shrunk to fit: each pixel is a square block of boxes, the redder the fuller."
    return f"{row} One pixel per box."


def overview_legend(size):
    """How to read :func:`overview` of a board of ``size`` boxes."""
    factor = overview_factor(size)
    if factor == 1:
        return legend(size)
    return (
        f"Box 0 at the top left, rows of {layout(size)[0]:,} boxes. Shrunk to fit: each pixel is a block of "
        f"{factor}×{factor} boxes, marked if any of them is checked, the redder the fuller."
    )


def thumbnail(bits, size, side=THUMBNAIL_SIDE):
    width, height = layout(size)
    if max(width, height) <= side:
        return image(bits, size)
    return density(bits, size, side)


def thumbnail_size(size, side=THUMBNAIL_SIDE):
    """``(width, height)`` of :func:`thumbnail` for a board of ``size`` boxes."""
    width, height = layout(size)
    factor = shrink_factor(size, side)
    return math.ceil(width / factor), math.ceil(height / factor)


def png(img):
    """PNG bytes of a picture, favouring speed over the last few percent of size."""
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


def bits_from_png(data, size):
    """The bitset a PNG shows: dark pixels are checked boxes. Raises :class:`PictureError`."""
    from PIL import Image, UnidentifiedImageError

    width, height = layout(size)
    try:
        with warnings.catch_warnings():
            # Board-sized pictures may exceed Pillow's guard against huge images;
            # the size is checked against the board's before any pixel is read.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=["PNG"])
        if img.size != (width, height):
            raise PictureError(
                f"The picture is {img.width}×{img.height} pixels; a board of {size:,} boxes needs "
                f"{width}×{height} (one pixel per box, in rows of {width:,})."
            )
        img.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as error:
        raise PictureError(f"The file is not a PNG picture that can be read ({error}).") from None
    checked = _luminance(img).point(lambda level: 255 if level < 128 else 0, mode="1")
    return mask_padding(checked.tobytes()[: byte_length(size)], size)


def _luminance(img):
    """Grey levels, with transparent pixels counting as white (unchecked)."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        backdrop = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(backdrop, img.convert("RGBA")).convert("L")
    return img.convert("L")
