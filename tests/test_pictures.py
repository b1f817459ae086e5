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
    factor = pictures.shrink_factor(1_000_000, pictures.THUMBNAIL_SIDE)  # 1000 pixels into at most 96: 11
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


# -- the admin's overview and zoomed regions ------------------------------------------------------


def marked(rgb, xy):
    """Whether a pixel is at least the minimum mark on the way from unchecked to checked."""
    red_drop = pictures.UNCHECKED[1] - rgb.getpixel(xy)[1]
    return red_drop >= round((pictures.UNCHECKED[1] - pictures.CHECKED[1]) * pictures.MINIMUM_MARK)


def test_the_overview_of_a_sparse_board_marks_every_block_holding_a_checked_box():
    size = 1_000_000
    overview = pictures.overview(bits_with(size, 0, 51_234, 999_999), size).convert("RGB")
    assert overview.size == (500, 500)  # blocks of 2×2 boxes: fits the admin's 800 pixels
    for xy in [(0, 0), (234 // 2, 51 // 2), (499, 499)]:
        assert marked(overview, xy), xy
    assert overview.getpixel((1, 1)) == pictures.UNCHECKED
    assert sum(count for count, colour in overview.getcolors() if colour != pictures.UNCHECKED) == 3


def test_one_box_among_a_hundred_million_still_shows_in_the_overview():
    size = 100_000_000
    overview = pictures.overview(bits_with(size, 55_555_555), size).convert("RGB")
    factor = pictures.overview_factor(size)
    assert factor == 13 and max(overview.size) <= pictures.OVERVIEW_SIDE
    assert marked(overview, (5_555 // factor, 5_555 // factor))


def test_a_small_board_overview_is_one_pixel_per_box():
    assert pictures.overview(bits_with(100_000, 401), 100_000).convert("RGB").getpixel((1, 1)) == pictures.CHECKED


def test_a_zoomed_region_shows_its_boxes_at_its_scale():
    size = 1_000_000
    bits = bits_with(size, 51_234, 51_235, 52_234)
    region = pictures.Region(size, left=230, top=50, columns=10, rows=4, scale=8)
    img = pictures.zoom(bits, region).convert("RGB")
    assert img.size == (80, 32)
    for column, row in [(4, 1), (5, 1), (4, 2)]:  # boxes 51,234, 51,235 and 52,234
        assert img.getpixel((column * 8, row * 8)) == pictures.CHECKED
        assert img.getpixel((column * 8 + 7, row * 8 + 7)) == pictures.CHECKED
    assert img.getpixel((6 * 8, 1 * 8)) == pictures.UNCHECKED
    assert img.getpixel((4 * 8, 0)) == pictures.UNCHECKED
    assert region.label == "Boxes 50,230–53,239: 10 boxes of each row of 1,000, 4 rows"


def test_a_region_at_the_end_of_a_board_shows_the_boxes_past_it_grey():
    size = 100_003  # rows of 400: the last row holds 3 boxes
    region = pictures.Region(size, left=0, top=249, columns=400, rows=2, scale=1)
    img = pictures.zoom(bits_with(size, 100_002), region).convert("RGB")
    assert img.getpixel((2, 1)) == pictures.CHECKED
    assert img.getpixel((3, 1)) == pictures.BEYOND
    assert img.getpixel((399, 0)) == pictures.UNCHECKED
    assert region.label == "Boxes 99,600–100,002"


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        ((0, 0, 10, 10, 9), "1 to 8 pixels per box, not 9"),
        ((0, 0, 10, 10, 0), "1 to 8 pixels per box, not 0"),
        ((0, 0, 0, 10, 1), "at least one box wide"),
        ((0, 0, 201, 10, 8), "At 8 pixels per box a region is at most 200 boxes a side."),
        ((-1, 0, 10, 10, 1), "goes past the board's picture of 400 by 250 boxes"),
        ((395, 0, 10, 10, 1), "goes past the board's picture"),
        ((0, 245, 10, 10, 1), "goes past the board's picture"),
    ],
)
def test_a_region_off_the_board_or_too_big_is_refused(numbers, message):
    with pytest.raises(pictures.PictureError, match=message):
        pictures.Region(100_000, *numbers)


@pytest.mark.parametrize("size", [100, 100_000, 1_000_000, 10_000_000])
def test_a_thumbnails_size_is_known_before_it_is_drawn(size):
    assert pictures.thumbnail(bits_with(size), size).size == pictures.thumbnail_size(size)
