"""
Pictures of a board, and boards from pictures.

A picture shows one box per pixel, box 0 at the top left, in rows of a round
number of boxes (:func:`layout`): on a board of 1,000,000 boxes in rows of 1,000,
box 51,234 is row 51, column 234. Checked boxes are dark, unchecked ones light,
and the pixels after the last box a light grey.

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
THUMBNAIL_SIDE = 160

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
    """The board shrunk to at most ``side`` pixels across: each pixel shows how full its block of boxes is."""
    from PIL import Image

    width, height = layout(size)
    factor = max(1, math.ceil(max(width, height) / side))
    shares = Image.new("L", (math.ceil(width / factor), math.ceil(height / factor)))
    # Band by band, so a board of 100 million boxes never needs 100 MB of grey pixels.
    band = factor * max(1, PICTURE_MAX_BOXES // (width * factor))
    row_bytes = width // 8
    for top in range(0, height, band):
        rows = min(band, height - top)
        chunk = bytes(bits[top * row_bytes : (top + rows) * row_bytes]).ljust(rows * row_bytes, b"\0")
        # In mode "1" a set bit is white (255): a block's average is its share of checked boxes.
        strip = Image.frombytes("1", (width, rows), chunk).convert("L").reduce(factor)
        shares.paste(strip, (0, top // factor))
    shares.putpalette(_gradient())
    return shares


def _gradient():
    # A square-root ramp, so a block with a single checked box still shows.
    palette = []
    for level in range(256):
        share = math.sqrt(level / 255)
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
    factor = max(1, math.ceil(max(width, height) / math.isqrt(PICTURE_MAX_BOXES)))
    return math.ceil(width / factor), math.ceil(height / factor)


def legend(size):
    """How to read :func:`picture` of a board of ``size`` boxes, in a sentence or two."""
    row = f"Box 0 at the top left, rows of {layout(size)[0]:,} boxes."
    if size > PICTURE_MAX_BOXES:
        return f"{row} Shrunk to fit: each pixel is a square block of boxes, the darker the fuller."
    return f"{row} One pixel per box."


def thumbnail(bits, size, side=THUMBNAIL_SIDE):
    width, height = layout(size)
    if max(width, height) <= side:
        return image(bits, size)
    return density(bits, size, side)


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
