"""The admin's history pages: box history, a network's changes, revert and timelapse, for moderators only."""

import base64
import io
import re
import time

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from board import pictures
from board.history.moments import format_moment
from board.models import Board, Snapshot
from board.store import changelog, snapshots, state
from board.store.state import Author

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ALICE = Author("198.51.100.1/32", "198.51.100.1", "a1a1a1a1a1a1")
VANDAL = Author("2001:db8:66:1::/64", "2001:db8:66:1::bad", "bad0bad0bad0")
PAGES = ["boxes", "changes", "revert", "timelapse"]


def url(board, page):
    return reverse(f"admin:board_board_{page}", args=[board.pk])


def pause():
    time.sleep(0.005)


def bits(board):
    return state.read(board)[0]


def inline_image(html, element_id=None):
    """The picture a page shows inline (a data: URI), decoded."""
    pattern = r'src="data:image/(?:png|gif);base64,([^"]+)"'
    if element_id:
        pattern = rf'id="{element_id}" src="data:image/(?:png|gif);base64,([^"]+)"'
    return Image.open(io.BytesIO(base64.b64decode(re.search(pattern, html)[1])))


@pytest.fixture
def vandalised(main_board):
    """Alice draws boxes 100-119, a snapshot is taken, the vandal wipes them: ``(board, since)``."""
    state.apply(main_board, [(box, 1) for box in range(100, 120)], [ALICE] * 20)
    snapshots.take(main_board, Snapshot.Reason.PERIODIC)
    pause()
    since = timezone.now()
    pause()
    state.apply(main_board, [(box, 0) for box in range(100, 120)], [VANDAL] * 20)
    pause()
    return main_board, since


# -- who may see them -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
@pytest.mark.parametrize("page", PAGES)
def test_outsiders_get_the_login_page(who, page, client, player_client, vandalised):
    board, since = vandalised
    visitor = client if who == "anonymous" else player_client
    response = visitor.get(url(board, page), {"box": 100, "network": "2001:db8:66:1::bad", "since": "1h"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    visitor.post(url(board, "revert"), {"network": "2001:db8:66:1::bad", "since": since.isoformat()})
    assert bits(board)[12:15] == bytes([0x00, 0x00, 0x00])


@pytest.mark.parametrize("page", PAGES)
def test_staff_without_the_history_permission_are_refused(page, client, django_user_model, vandalised):
    board, _ = vandalised
    sam = django_user_model.objects.create_user("sam", password="x", is_staff=True)
    sam.user_permissions.add(Permission.objects.get(codename="view_board"))
    client.force_login(sam)
    assert client.get(url(board, page)).status_code == 403


def test_reverting_needs_its_own_permission(client, django_user_model, vandalised):
    board, since = vandalised
    viewer = django_user_model.objects.create_user("vic", password="x", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_board", "view_history"]))
    client.force_login(viewer)

    response = client.post(url(board, "revert"), {"network": "2001:db8:66:1::bad", "since": since.isoformat()})

    assert response.status_code == 403
    assert client.get(url(board, "boxes")).status_code == 200
    assert bits(board)[12:15] == bytes(3)
    board_page = client.get(reverse("admin:board_board_change", args=[board.pk])).content.decode()
    assert url(board, "changes") in board_page and url(board, "revert") not in board_page


def test_the_board_page_links_to_the_history_pages_and_each_active_network(moderator_client, vandalised):
    board, _ = vandalised
    state.sync_client().hincrby(
        f"{state.keys('main')[0][:-5]}:tally:{int(time.time() // 60)}", "2001:db8:66:1::/64", 20
    )

    html = moderator_client.get(reverse("admin:board_board_change", args=[board.pk])).content.decode()

    for page in PAGES:
        assert f'href="{url(board, page)}"' in html
    assert f'href="{url(board, "changes")}?network=2001%3Adb8%3A66%3A1%3A%3A%2F64&amp;since=10m"' in html
    assert f'href="{url(board, "revert")}?network=2001%3Adb8%3A66%3A1%3A%3A%2F64&amp;since=10m"' in html


# -- box history --------------------------------------------------------------------------------


def test_box_history_lists_a_boxs_changes_newest_first_with_who_made_them(moderator_client, vandalised):
    board, _ = vandalised

    html = moderator_client.get(url(board, "boxes"), {"box": 105}).content.decode()

    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(\w+)</td>\s*<td>(.*?)</td>", html, re.S)
    assert [(value, re.sub("<[^>]+>", "", who)) for _, value, who in rows] == [
        ("unchecked", "2001:db8:66:1::/64"),
        ("checked", "198.51.100.1/32"),
        ("unchecked", "board created by the server"),
    ]
    assert "<code>2001:db8:66:1::bad</code>" in html and "<code>bad0bad0bad0</code>" in html
    assert f"{url(board, 'changes')}?network=2001%3Adb8%3A66%3A1%3A%3A%2F64&amp;since=" in html


@pytest.mark.parametrize(
    "query, message",
    [
        ({"box": 100_000}, "Box 100,000 does not exist: this board&#x27;s boxes are 0 to 99,999."),
        ({"box": "x"}, "Enter a whole number."),
    ],
)
def test_box_history_refuses_a_box_that_is_not_there(query, message, moderator_client, vandalised):
    board, _ = vandalised
    html = moderator_client.get(url(board, "boxes"), query).content.decode()
    assert message in html
    assert 'id="box-history"' not in html


def test_box_history_says_when_redis_did_not_answer(moderator_client, vandalised, redis_server):
    board, _ = vandalised
    redis_server.stop()
    html = moderator_client.get(url(board, "boxes"), {"box": 5}).content.decode()
    assert "Redis did not answer; try again in a moment." in html


# -- a network's changes -----------------------------------------------------------------------------


def test_a_networks_changes_page_shows_counts_and_a_picture_of_the_boxes_it_touched(moderator_client, vandalised):
    board, since = vandalised
    state.apply(board, [(300, 1)], [ALICE])

    response = moderator_client.get(url(board, "changes"), {"network": "2001:db8:66:1::1", "since": "1h"})

    html = response.content.decode()
    assert '<dd id="changes-count">20</dd>' in html and '<dd id="changes-boxes">20</dd>' in html
    assert html.count("<code>bad0bad0bad0</code>") == 20
    shown = inline_image(html).convert("RGB")
    expected = pictures.overview(bytes(12) + bytes([0x0F, 0xFF, 0xFF]) + bytes(12_485), board.size)
    assert shown.tobytes() == expected.convert("RGB").tobytes()
    assert "Revert its changes since then…" in html and "Ban it…" in html


def test_a_single_change_on_a_million_boxes_shows_on_the_changes_picture(moderator_client):
    board = Board.objects.create(slug="million", size=1_000_000)
    state.apply(board, [(51_234, 1)], [VANDAL])

    html = moderator_client.get(url(board, "changes"), {"network": "2001:db8:66:1::1", "since": "1h"}).content.decode()

    shown = inline_image(html).convert("RGB")
    assert shown.size == (500, 500)  # the overview: blocks of 2×2 boxes, any checked one marked
    assert shown.getpixel((234 // 2, 51 // 2)) != pictures.UNCHECKED
    assert shown.getpixel((0, 0)) == pictures.UNCHECKED
    assert "Orange-red: the boxes it changed." in html


def test_the_changes_of_a_network_that_changed_nothing_say_so(moderator_client, vandalised):
    board, _ = vandalised
    html = moderator_client.get(url(board, "changes"), {"network": "203.0.113.1", "since": "1h"}).content.decode()
    assert "It changed nothing on this board in that window." in html


@pytest.mark.parametrize(
    "query, message",
    [
        ({"network": "not-an-ip", "since": "1h"}, "not-an-ip is not an IP address or network"),
        ({"network": "10.0.0.0/8", "since": "1h"}, "a ban may cover at most a /16"),
        ({"network": "198.51.100.1", "since": "whenever"}, "&#x27;whenever&#x27; is not a time"),
        ({"network": "198.51.100.1", "since": "1h", "until": "2h"}, "The window ends before it starts."),
        ({"network": "198.51.100.1", "since": "2999-01-01"}, "is in the future"),
        ({"network": "198.51.100.1", "since": "9999999d"}, "longer than 100 years"),
    ],
)
def test_the_changes_page_refuses_bad_input(query, message, moderator_client, vandalised):
    board, _ = vandalised
    html = moderator_client.get(url(board, "changes"), query).content.decode()
    assert message in html
    assert "changes-count" not in html


# -- revert --------------------------------------------------------------------------------------


def test_the_revert_preview_counts_and_shows_the_boxes_and_changes_nothing(moderator_client, vandalised):
    board, since = vandalised
    before = (bits(board), changelog.length("main"))

    html = moderator_client.get(url(board, "revert"), {"network": "2001:db8:66:1::", "since": "1h"}).content.decode()

    assert "Reverting changes <strong>20 boxes</strong>" in html
    assert "(20 checked again, 0 unchecked again)" in html
    assert 'value="Yes, revert 20 boxes"' in html
    assert inline_image(html).convert("RGB").getpixel((100 % 400, 0)) == pictures.CHECKED
    assert (bits(board), changelog.length("main")) == before
    assert not Snapshot.objects.filter(reason=Snapshot.Reason.BEFORE_REVERT).exists()


def test_confirming_a_revert_restores_the_boxes_after_a_snapshot_and_logs_it(moderator_client, moderator, vandalised):
    board, since = vandalised
    vandalised_bits = bits(board)

    response = moderator_client.post(
        url(board, "revert"), {"network": "2001:db8:66:1::/64", "since": since.isoformat()}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:board_board_change", args=[board.pk])
    assert bits(board)[12:15] == bytes([0x0F, 0xFF, 0xFF])
    before = Snapshot.objects.get(reason=Snapshot.Reason.BEFORE_REVERT)
    assert (before.bits(), before.taken_by) == (vandalised_bits, moderator)
    (entry,) = LogEntry.objects.filter(object_id=str(board.pk))
    assert entry.action_flag == CHANGE
    assert entry.change_message.startswith("Reverted 20 boxes changed by 2001:db8:66:1::/64 since ")
    assert f"the board before it was saved as snapshot #{before.pk} (kept until at least " in entry.change_message
    reverted = [c for c in changelog.read("main") if getattr(c, "connection", "") == "revert by admin:erin"]
    assert len(reverted) == 20


def test_a_revert_with_nothing_left_to_revert_says_so_and_changes_nothing(moderator_client, vandalised):
    board, since = vandalised
    state.apply(board, [(box, 1) for box in range(100, 120)], [ALICE] * 20)
    before = bits(board)

    response = moderator_client.post(
        url(board, "revert"), {"network": "2001:db8:66:1::/64", "since": since.isoformat()}
    )

    assert response.status_code == 200
    assert "Nothing to revert" in response.content.decode()
    assert bits(board) == before
    assert not LogEntry.objects.exists()


def test_a_revert_posted_with_a_malformed_network_changes_nothing(moderator_client, vandalised):
    board, since = vandalised
    before = bits(board)
    response = moderator_client.post(url(board, "revert"), {"network": "2001:db8:66:1::zz", "since": since.isoformat()})
    assert "is not an IP address or network" in response.content.decode()
    assert bits(board) == before


# -- timelapse -----------------------------------------------------------------------------------


def player_of(html):
    """The frame address (without ``frame=``) and the frame count of a timelapse page's player."""
    player = re.search(r'id="timelapse-player" data-frame-url="([^"]+)" data-frames="(\d+)"', html)
    return player[1].replace("&amp;", "&"), int(player[2])


def test_the_timelapse_page_gives_a_player_and_inlines_no_frames(moderator_client, vandalised):
    board, since = vandalised
    html = moderator_client.get(
        url(board, "timelapse"), {"since": since.isoformat(), "until": "now", "frames": 1000, "fps": 5}
    ).content.decode()

    frame_url, frames = player_of(html)
    assert frames == 1000
    assert frame_url.startswith(reverse("admin:board_board_timelapse_frame", args=[board.pk]) + "?")
    assert "data:image" not in html
    assert len(html) < 30_000
    assert 'type="range" id="timelapse-scrubber" min="0" max="999"' in html
    assert f"manage.py timelapse --board main --since {since:%Y-%m-%dT%H:%M:%S}" in html


def test_the_timelapse_frames_go_from_the_windows_start_to_its_end(moderator_client, vandalised):
    board, since = vandalised
    drawing = Snapshot.objects.get().bits()
    html = moderator_client.get(
        url(board, "timelapse"), {"since": since.isoformat(), "until": "now", "frames": 4, "fps": 5}
    ).content.decode()
    frame_url, frames = player_of(html)

    first = moderator_client.get(frame_url + "&frame=0")
    last = moderator_client.get(frame_url + f"&frame={frames - 1}")

    assert first["Content-Type"] == "image/png" and first["Cache-Control"] == "private, max-age=3600"
    assert png_of(first).tobytes() == pictures.overview(drawing, board.size).convert("RGB").tobytes()
    assert png_of(last).tobytes() == pictures.overview(bits(board), board.size).convert("RGB").tobytes()
    assert first["Timelapse-Moment"] == format_moment(since.replace(microsecond=since.microsecond // 1000 * 1000))
    assert first["Timelapse-Moment"] < last["Timelapse-Moment"]


def png_of(response):
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def test_each_frame_is_the_board_at_its_own_moment(moderator_client, vandalised):
    board, since = vandalised
    pause()
    snapshots.take(board, Snapshot.Reason.PERIODIC)  # the last frame is replayed from this one
    state.apply(board, [(0, 1)], [ALICE])
    until = timezone.now()
    query = {"since": since.isoformat(), "until": until.isoformat(), "frames": 2}

    wiped = moderator_client.get(url(board, "timelapse_frame"), {**query, "frame": 0})
    now = moderator_client.get(url(board, "timelapse_frame"), {**query, "frame": 1})

    assert png_of(now).getpixel((0, 0)) == pictures.CHECKED
    assert png_of(now).getpixel((100, 0)) == pictures.UNCHECKED
    assert png_of(wiped).getpixel((0, 0)) == pictures.UNCHECKED
    assert png_of(wiped).getpixel((100, 0)) == pictures.CHECKED


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"frames": 4, "frame": 4}, "Frames are numbered 0 to 3, not 4."),
        ({"frames": 4, "frame": -1}, "Ensure this value is greater than or equal to 0."),
        ({"frames": 5000, "frame": 0}, "Ensure this value is less than or equal to 1000."),
        ({"frames": 4}, "This field is required."),
        ({"frames": 4, "frame": 0, "since": "yesterday"}, "is not a time"),
    ],
)
def test_a_frame_outside_the_timelapse_is_refused_with_a_reason(query, message, moderator_client, vandalised):
    board, since = vandalised
    response = moderator_client.get(
        url(board, "timelapse_frame"), {"since": since.isoformat(), "until": timezone.now().isoformat(), **query}
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert message in response.content.decode()


def forget_the_log(board):
    """The log no longer reaches back to the board's creation (as when it was trimmed before archivelog ran)."""
    state.sync_client().delete(state.changelog_key(board.slug))


def test_a_frame_that_cannot_be_rebuilt_says_why(moderator_client, vandalised):
    board, _ = vandalised
    forget_the_log(board)
    query = {"since": "2025-01-01T00:00", "until": "2025-01-01T00:05", "frames": 4, "frame": 1}
    response = moderator_client.get(url(board, "timelapse_frame"), query)
    assert response.status_code == 409
    assert "No snapshot of main was taken before 2025-01-01 00:01:40.000 UTC" in response.content.decode()


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_outsiders_get_the_login_page_for_a_frame(who, client, player_client, vandalised):
    board, since = vandalised
    visitor = client if who == "anonymous" else player_client
    query = {"since": since.isoformat(), "until": timezone.now().isoformat(), "frames": 2, "frame": 1}
    response = visitor.get(url(board, "timelapse_frame"), query)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_history_permission_get_no_frame(client, django_user_model, vandalised):
    board, since = vandalised
    sam = django_user_model.objects.create_user("sam", password="x", is_staff=True)
    sam.user_permissions.add(Permission.objects.get(codename="view_board"))
    client.force_login(sam)
    query = {"since": since.isoformat(), "until": timezone.now().isoformat(), "frames": 2, "frame": 1}
    assert client.get(url(board, "timelapse_frame"), query).status_code == 403


def test_the_timelapse_page_says_why_it_cannot_render(moderator_client, vandalised):
    board, _ = vandalised
    forget_the_log(board)
    html = moderator_client.get(
        url(board, "timelapse"), {"since": "2025-01-01T00:00", "until": "2025-01-01T00:05", "frames": 4, "fps": 5}
    ).content.decode()
    assert "No snapshot of main was taken before 2025-01-01 00:00:00.000 UTC" in html
    assert 'id="timelapse"' not in html


def test_the_timelapse_page_says_when_nothing_changed_in_the_window(moderator_client, vandalised):
    board, _ = vandalised
    pause()
    later = timezone.now()
    html = moderator_client.get(
        url(board, "timelapse"), {"since": later.isoformat(), "until": "now", "frames": 4, "fps": 5}
    ).content.decode()
    assert "Nothing changed on main between" in html
    assert 'id="timelapse"' not in html


def test_the_timelapse_page_refuses_too_many_frames(moderator_client, vandalised):
    board, _ = vandalised
    html = moderator_client.get(url(board, "timelapse"), {"since": "1h", "until": "now", "frames": 5000, "fps": 5})
    assert "Ensure this value is less than or equal to 1000." in html.content.decode()
