"""Pictures of boards: layout, colours, thumbnails, and reading boards back from PNGs."""

import io
import os

import pytest
from PIL import Image

from board import pictures
from board.bitset import byte_length, mask_padding


def bits_with(size, *checked):
    bits = bytearray(byte_length(size))
    for index in checked:
        bits[index >> 3] |= 0x80 >> (index & 7)
    return bytes(bits)


def random_bits(size):
    return mask_padding(os.urandom(byte_length(size)), size)


@pytest.mark.parametrize(
    ("size", "shape"),
    [(1, (8, 1)), (100, (16, 7)), (100_000, (400, 250)), (1_000_000, (1000, 1000)), (100_000_000, (10_000, 10_000))],
)
def test_rows_are_a_round_number_of_boxes_giving_a_squarish_picture(size, shape):
    assert pictures.layout(size) == shape


def test_box_i_is_the_pixel_at_its_row_and_column():
    img = pictures.image(bits_with(1_000_000, 0, 51_234, 999_999), 1_000_000)
    rgb = img.convert("RGB")
    assert rgb.getpixel((0, 0)) == pictures.CHECKED
    assert rgb.getpixel((234, 51)) == pictures.CHECKED
    assert rgb.getpixel((999, 999)) == pictures.CHECKED
    assert rgb.getpixel((233, 51)) == pictures.UNCHECKED
    assert rgb.getpixel((1, 0)) == pictures.UNCHECKED


def test_pixels_after_the_last_box_are_marked_as_beyond_the_board():
    img = pictures.image(bits_with(100, 99), 100).convert("RGB")
    assert img.size == (16, 7)
    assert img.getpixel((99 % 16, 99 // 16)) == pictures.CHECKED
    assert img.getpixel((100 % 16, 6)) == pictures.BEYOND
    assert img.getpixel((15, 6)) == pictures.BEYOND


def test_a_png_round_trips_to_the_same_bitset():
    bits = random_bits(100_000)
    png = pictures.png(pictures.image(bits, 100_000))
    assert png.startswith(pictures.PNG_SIGNATURE)
    assert pictures.bits_from_png(png, 100_000) == bits


def test_a_hand_drawn_black_on_white_picture_reads_as_checked_where_dark():
    drawing = Image.new("RGB", (16, 7), "white")
    drawing.putpixel((3, 0), (0, 0, 0))
    drawing.putpixel((4, 1), (40, 40, 90))
    out = io.BytesIO()
    drawing.save(out, "PNG")
    assert pictures.bits_from_png(out.getvalue(), 100) == bits_with(100, 3, 20)


def test_transparent_pixels_read_as_unchecked():
    drawing = Image.new("RGBA", (16, 7), (0, 0, 0, 0))
    drawing.putpixel((1, 0), (0, 0, 0, 255))
    out = io.BytesIO()
    drawing.save(out, "PNG")
    assert pictures.bits_from_png(out.getvalue(), 100) == bits_with(100, 1)


def test_a_png_of_the_wrong_size_is_refused_with_the_size_it_needs():
    out = io.BytesIO()
    Image.new("L", (300, 300), 255).save(out, "PNG")
    with pytest.raises(pictures.PictureError, match=r"300×300 pixels; a board of 100,000 boxes needs 400×250"):
        pictures.bits_from_png(out.getvalue(), 100_000)


@pytest.mark.parametrize("data", [b"", b"not a picture", pictures.PNG_SIGNATURE + b"\0" * 40])
def test_garbage_is_refused_as_not_a_readable_png(data):
    with pytest.raises(pictures.PictureError, match="not a PNG picture that can be read"):
        pictures.bits_from_png(data, 100)


def test_a_truncated_png_is_refused():
    png = pictures.png(pictures.image(random_bits(100_000), 100_000))
    with pytest.raises(pictures.PictureError):
        pictures.bits_from_png(png[: len(png) // 2], 100_000)


def test_a_gif_is_refused_even_of_the_right_size():
    out = io.BytesIO()
    Image.new("L", (16, 7), 255).save(out, "GIF")
    with pytest.raises(pictures.PictureError):
        pictures.bits_from_png(out.getvalue(), 100)


@pytest.mark.parametrize("size", [100_000, 1_000_000, 10_000_000])
def test_a_thumbnail_fits_its_side(size):
    thumb = pictures.thumbnail(random_bits(size), size)
    assert max(thumb.size) <= pictures.THUMBNAIL_SIDE
    assert max(thumb.size) > pictures.THUMBNAIL_SIDE * 0.8


def test_a_thumbnail_shows_a_lone_checked_box_in_its_block():
    thumb = pictures.thumbnail(bits_with(1_000_000, 500_500), 1_000_000).convert("RGB")
    factor = 7  # 1000 pixels into at most 160
    assert thumb.getpixel((500 // factor, 500 // factor)) != pictures.UNCHECKED
    assert thumb.getpixel((0, 0)) == pictures.UNCHECKED


def test_a_full_board_thumbnail_is_the_checked_colour():
    size = 1_000_000
    thumb = pictures.thumbnail(b"\xff" * byte_length(size), size).convert("RGB")
    assert thumb.getpixel((10, 10)) == pictures.CHECKED


def test_a_small_board_thumbnail_is_its_full_picture():
    assert pictures.thumbnail(bits_with(100, 1), 100).size == (16, 7)


def test_a_very_large_board_gets_a_density_picture_a_browser_can_show():
    size = 100_000_000
    img = pictures.picture(bits_with(size, 0), size)
    assert max(img.size) <= 2_000
    assert img.convert("RGB").getpixel((0, 0)) != pictures.UNCHECKED
