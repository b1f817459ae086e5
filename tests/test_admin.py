"""The admin: what a moderator can do (and is logged), and what anonymous and non-staff users get: the login page."""

import io
import os
from datetime import UTC, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from PIL import Image

from board import bitset, moderation, pictures
from board.live import tally
from board.models import Ban, Board, Snapshot
from board.store import snapshots, state

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

BOARDS = reverse("admin:board_board_changelist")
SNAPSHOTS = reverse("admin:board_snapshot_changelist")
BANS = reverse("admin:board_ban_changelist")


def action(client, url, name, *objects, follow=False, **extra):
    return client.post(url, {"action": name, "_selected_action": [o.pk for o in objects], **extra}, follow=follow)


def snapshot_of(board, *checked, created=None):
    if checked:
        state.apply(board, [(index, 1) for index in checked])
    snapshot = snapshots.take(board, Snapshot.Reason.PERIODIC)
    if created:
        Snapshot.objects.filter(pk=snapshot.pk).update(created=created)
    return snapshot


def kept(snapshot):
    """An undo point as messages name it: kept for the log's 24 hours."""
    until = (snapshot.created + timedelta(hours=24)).astimezone(UTC)
    return f"snapshot #{snapshot.pk} (kept until at least {until:%Y-%m-%d %H:%M} UTC)"


def log_messages(obj):
    return list(
        LogEntry.objects.filter(object_id=str(obj.pk), content_type__model=obj._meta.model_name)
        .order_by("id")
        .values_list("action_flag", "change_message")
    )


def png_of(response):
    assert response["Content-Type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


# -- the Moderators group ----------------------------------------------------------


def test_the_migrations_make_a_moderators_group_with_just_the_moderation_permissions():
    group = Group.objects.get(name="Moderators")
    assert sorted(group.permissions.values_list("codename", flat=True)) == [
        "add_ban",
        "change_ban",
        "clear_board",
        "delete_ban",
        "freeze_board",
        "restore_snapshot",
        "revert_changes",
        "take_snapshot",
        "view_ban",
        "view_board",
        "view_history",
        "view_snapshot",
    ]


# -- anonymous and non-staff users -------------------------------------------------


@pytest.fixture
def some_snapshot(main_board):
    return snapshot_of(main_board, 5)


def private_urls(board, snapshot):
    return [
        BOARDS,
        reverse("admin:board_board_change", args=[board.pk]),
        reverse("admin:board_board_picture", args=[board.pk]),
        reverse("admin:board_board_overview", args=[board.pk]),
        reverse("admin:board_board_zoom", args=[board.pk]) + "?left=0&top=0&columns=10&rows=10&scale=8",
        SNAPSHOTS,
        reverse("admin:board_snapshot_change", args=[snapshot.pk]),
        reverse("admin:board_snapshot_picture", args=[snapshot.pk]),
        reverse("admin:board_snapshot_overview", args=[snapshot.pk]),
        reverse("admin:board_snapshot_zoom", args=[snapshot.pk]) + "?left=0&top=0&columns=10&rows=10&scale=8",
        reverse("admin:board_snapshot_thumbnail", args=[snapshot.pk]),
        reverse("admin:board_snapshot_restore", args=[snapshot.pk]),
        BANS,
        reverse("admin:board_ban_add"),
    ]


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_outsiders_get_the_login_page_for_every_admin_page_and_picture(
    who, client, player_client, main_board, some_snapshot
):
    visitor = client if who == "anonymous" else player_client
    for url in private_urls(main_board, some_snapshot):
        response = visitor.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url
        assert response["Content-Type"] != "image/png"
    login_page = visitor.get(BOARDS, follow=True)
    assert b"<title>Log in" in login_page.content
    assert b"100,000" not in login_page.content
    assert b"field-checked" not in login_page.content


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
@pytest.mark.parametrize("name", ["freeze", "take_snapshot", "clear_board"])
def test_outsiders_cannot_run_board_actions(who, name, client, player_client, main_board):
    visitor = client if who == "anonymous" else player_client
    state.apply(main_board, [(1, 1)])
    response = action(visitor, BOARDS, name, main_board, confirm="yes")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert state.meta(main_board) == state.meta(main_board)
    assert (state.meta(main_board).frozen, state.meta(main_board).count) == (False, 1)
    assert not Snapshot.objects.exists()


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_outsiders_cannot_unfreeze_a_board(who, client, player_client, main_board):
    visitor = client if who == "anonymous" else player_client
    moderation.freeze(main_board, True)
    response = action(visitor, BOARDS, "unfreeze", main_board)
    assert response["Location"].startswith(reverse("admin:login"))
    main_board.refresh_from_db()
    assert (main_board.frozen, state.meta(main_board).frozen) == (True, True)


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_outsiders_cannot_lift_change_or_delete_bans(who, client, player_client):
    visitor = client if who == "anonymous" else player_client
    ban = Ban.objects.create(network="203.0.113.9", reason="scribbling")
    action(visitor, BANS, "lift", ban)
    visitor.post(reverse("admin:board_ban_change", args=[ban.pk]), {"network": "198.51.100.1", "reason": "x"})
    visitor.post(reverse("admin:board_ban_delete", args=[ban.pk]), {"post": "yes"})
    ban.refresh_from_db()
    assert (ban.network, ban.reason, ban.expires) == ("203.0.113.9/32", "scribbling", None)


@pytest.mark.parametrize("who", ["anonymous", "non-staff"])
def test_outsiders_cannot_restore_or_ban(who, client, player_client, main_board, some_snapshot):
    visitor = client if who == "anonymous" else player_client
    state.apply(main_board, [(9, 1)])
    visitor.post(reverse("admin:board_snapshot_restore", args=[some_snapshot.pk]))
    visitor.post(reverse("admin:board_ban_add"), {"network": "203.0.113.9", "reason": "x", "duration": "1d"})
    assert state.meta(main_board).count == 2
    assert not Ban.objects.exists()


def test_a_staff_member_outside_the_group_sees_no_boards(client, django_user_model, main_board):
    client.force_login(django_user_model.objects.create_user("sam", password="x", is_staff=True))
    assert client.get(BOARDS).status_code == 403
    assert action(client, BOARDS, "freeze", main_board).status_code == 403
    assert state.meta(main_board).frozen is False


# -- boards, as a moderator --------------------------------------------------------


def test_the_board_list_shows_live_count_size_players_and_frozen(moderator_client, main_board):
    state.apply(main_board, [(1, 1), (2, 1), (3, 1)])
    state.sync_client().hset(state.presence_key("main"), "elsewhere:1:a", f"7 {timezone.now().timestamp():.3f}")
    state.set_frozen(main_board, True)
    response = moderator_client.get(BOARDS)
    assert response.status_code == 200
    html = response.content.decode()
    assert "100,000" in html
    assert '<td class="field-checked">3</td>' in html
    assert '<td class="field-players">7</td>' in html
    assert f'class="field-frozen_now"><img src="{static("admin/img/icon-yes.svg")}" alt="True">' in html


def test_players_of_processes_that_stopped_are_not_counted(main_board):
    stale = timezone.now().timestamp() - 60
    state.sync_client().hset(
        state.presence_key("main"), mapping={"live:1": f"4 {timezone.now().timestamp():.3f}", "gone:2": f"9 {stale}"}
    )
    assert state.players("main") == 4


def test_a_moderator_freezes_a_board_for_everyone_and_it_is_logged(moderator_client, main_board):
    response = action(moderator_client, BOARDS, "freeze", main_board)
    assert response.status_code == 302
    main_board.refresh_from_db()
    assert main_board.frozen is True
    assert state.meta(main_board).frozen is True
    assert log_messages(main_board) == [(CHANGE, "Froze the board.")]


def test_a_moderator_unfreezes_a_board_and_it_is_logged(moderator_client, main_board):
    action(moderator_client, BOARDS, "freeze", main_board)
    action(moderator_client, BOARDS, "unfreeze", main_board)
    main_board.refresh_from_db()
    assert main_board.frozen is False
    assert state.meta(main_board).frozen is False
    assert log_messages(main_board)[-1] == (CHANGE, "Unfroze the board.")


def test_freezing_a_frozen_board_logs_nothing_new(moderator_client, main_board):
    action(moderator_client, BOARDS, "freeze", main_board)
    response = action(moderator_client, BOARDS, "freeze", main_board, follow=True)
    assert "Board main was already frozen." in response.content.decode()
    assert len(log_messages(main_board)) == 1


def test_a_moderator_takes_a_snapshot_now_and_it_is_logged(moderator_client, moderator, main_board):
    state.apply(main_board, [(4, 1), (5, 1)])
    action(moderator_client, BOARDS, "take_snapshot", main_board)
    snapshot = Snapshot.objects.get()
    assert (snapshot.reason, snapshot.count, snapshot.taken_by) == ("manual", 2, moderator)
    assert log_messages(snapshot) == [(ADDITION, f"Took snapshot #{snapshot.pk} of board main.")]


def test_clearing_asks_first_and_changes_nothing_until_confirmed(moderator_client, main_board):
    state.apply(main_board, [(4, 1)])
    response = action(moderator_client, BOARDS, "clear_board", main_board)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Every box of these boards will be unchecked" in html
    assert 'name="confirm" value="yes"' in html
    assert state.meta(main_board).count == 1
    assert not Snapshot.objects.exists()


def test_a_moderator_clears_a_board_after_a_snapshot_and_it_is_logged(moderator_client, moderator, main_board):
    state.apply(main_board, [(4, 1), (8, 1)])
    response = action(moderator_client, BOARDS, "clear_board", main_board, confirm="yes")
    assert response.status_code == 302
    assert state.meta(main_board).count == 0
    before = Snapshot.objects.get(reason="before-clear")
    assert (before.count, before.taken_by) == (2, moderator)
    assert log_messages(main_board) == [(CHANGE, f"Cleared the board. It was saved first as {kept(before)}.")]


def test_the_board_page_shows_the_live_picture_and_who_is_changing_it(moderator_client, main_board):
    async_to_sync(record_tally)("main", {"198.51.100.7/32": 12, "198.51.100.8/32": 3})
    moderation_ban = Ban.objects.create(network="198.51.100.8", reason="earlier")
    html = moderator_client.get(reverse("admin:board_board_change", args=[main_board.pk])).content.decode()
    assert reverse("admin:board_board_picture", args=[main_board.pk]) in html
    assert "<code>198.51.100.7/32</code>" in html
    assert "?network=198.51.100.7/32&amp;reason=Vandalism%20on%20main" in html
    assert "Banned until lifted" in html
    assert moderation_ban.network == "198.51.100.8/32"


async def record_tally(slug, changes):
    """Changes per network, as a hub records them."""
    counts = tally.Tally(slug)
    for network, times in changes.items():
        for _ in range(times):
            counts.count(network)
    await counts.flush()


def test_the_live_picture_shows_the_board_as_it_is_now(moderator_client, main_board):
    state.apply(main_board, [(401, 1)])
    response = moderator_client.get(reverse("admin:board_board_picture", args=[main_board.pk]))
    img = png_of(response).convert("RGB")
    assert img.size == (400, 250)
    assert img.getpixel((1, 1)) == pictures.CHECKED
    assert img.getpixel((0, 1)) == pictures.UNCHECKED
    assert "no-store" in response["Cache-Control"]


def zoom_url(name, pk, **region):
    return reverse(f"admin:board_{name}_zoom", args=[pk]) + "?" + urlencode(region)


def test_a_zoomed_region_of_the_live_board_shows_its_checked_boxes(moderator_client, main_board):
    state.apply(main_board, [(40_210, 1), (40_611, 1)])  # rows of 400: row 100 column 210, row 101 column 211

    response = moderator_client.get(zoom_url("board", main_board.pk, left=200, top=100, columns=100, rows=50, scale=8))

    img = png_of(response).convert("RGB")
    assert img.size == (800, 400)
    assert img.getpixel((10 * 8 + 3, 0 * 8 + 3)) == pictures.CHECKED
    assert img.getpixel((11 * 8 + 3, 1 * 8 + 3)) == pictures.CHECKED
    assert img.getpixel((11 * 8 + 3, 0 * 8 + 3)) == pictures.UNCHECKED
    assert "no-store" in response["Cache-Control"]


def test_a_zoomed_region_of_a_snapshot_may_be_kept_by_the_browser(moderator_client, main_board):
    snapshot = snapshot_of(main_board, 7)
    response = moderator_client.get(zoom_url("snapshot", snapshot.pk, left=0, top=0, columns=8, rows=1, scale=2))
    img = png_of(response).convert("RGB")
    assert img.size == (16, 2)
    assert [img.getpixel((x, 0)) == pictures.CHECKED for x in range(0, 16, 2)] == [False] * 7 + [True]
    assert response["Cache-Control"] == "private, max-age=86400"


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ({"left": 0, "top": 0, "columns": 1000, "rows": 10, "scale": 8}, "at most 200 boxes a side"),
        ({"left": 0, "top": 0, "columns": 10, "rows": 10, "scale": 16}, "1 to 8 pixels per box"),
        ({"left": 390, "top": 0, "columns": 20, "rows": 10, "scale": 1}, "goes past the board's picture"),
        ({"left": 0, "top": 0, "columns": 10, "rows": 10}, "scale is missing"),
        ({"left": "a", "top": 0, "columns": 10, "rows": 10, "scale": 1}, "are whole numbers"),
    ],
)
def test_a_bad_zoom_region_is_refused_with_a_reason(region, message, moderator_client, main_board):
    response = moderator_client.get(zoom_url("board", main_board.pk, **region))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert message in response.content.decode()


def test_the_overview_of_a_sparse_million_box_board_marks_a_single_checked_box(moderator_client):
    board = Board.objects.create(slug="million", size=1_000_000)
    state.apply(board, [(51_234, 1)])

    html = moderator_client.get(reverse("admin:board_board_change", args=[board.pk])).content.decode()
    img = png_of(moderator_client.get(reverse("admin:board_board_overview", args=[board.pk]))).convert("RGB")

    assert img.size == (500, 500)
    assert img.getpixel((234 // 2, 51 // 2)) != pictures.UNCHECKED
    assert len({img.getpixel((x, y)) for x in range(0, 500, 5) for y in range(0, 500, 5)}) == 1  # all else empty
    assert f'src="{reverse("admin:board_board_overview", args=[board.pk])}" alt="The live board" width="500"' in html
    assert "each pixel is a block of 2×2 boxes, marked if any of them is checked" in html


def test_board_pictures_say_checked_boxes_are_orange_red(moderator_client, main_board):
    html = moderator_client.get(reverse("admin:board_board_change", args=[main_board.pk])).content.decode()
    assert "Checked boxes are orange-red" in html
    assert "are dark" not in html and "Dark:" not in html
    assert f'data-zoom="{reverse("admin:board_board_zoom", args=[main_board.pk])}"' in html


def test_a_moderator_cannot_create_edit_or_delete_boards(moderator_client, main_board):
    assert moderator_client.get(reverse("admin:board_board_add")).status_code == 403
    change = reverse("admin:board_board_change", args=[main_board.pk])
    moderator_client.post(change, {"title": "Defaced", "frozen": "on"})
    assert moderator_client.get(reverse("admin:board_board_delete", args=[main_board.pk])).status_code == 403
    main_board.refresh_from_db()
    assert (main_board.title, main_board.frozen) == ("", False)
    assert Board.objects.filter(pk=main_board.pk).exists()


def test_a_moderator_cannot_see_users_or_groups(moderator_client):
    assert moderator_client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert moderator_client.get(reverse("admin:auth_group_changelist")).status_code == 403


# -- boards, as a superuser --------------------------------------------------------


def test_a_superuser_freezing_through_the_form_reaches_redis(admin_client, main_board):
    change = reverse("admin:board_board_change", args=[main_board.pk])
    response = admin_client.post(change, {"title": "", "frozen": "on"})
    assert response.status_code == 302
    assert state.meta(main_board).frozen is True


def test_deleting_a_board_forgets_its_live_state(admin_client, django_capture_on_commit_callbacks):
    board = Board.objects.create(slug="doomed", size=64)
    state.apply(board, [(1, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:board_board_delete", args=[board.pk]), {"post": "yes"})
    assert not Board.objects.filter(slug="doomed").exists()
    assert state.sync_client().exists(*state.keys("doomed")) == 0


# -- snapshots, as a moderator -----------------------------------------------------


def test_the_snapshot_list_shows_time_reason_count_and_a_thumbnail(moderator_client, main_board):
    snapshot = snapshot_of(main_board, 1, 2)
    html = moderator_client.get(SNAPSHOTS).content.decode()
    assert reverse("admin:board_snapshot_thumbnail", args=[snapshot.pk]) in html
    assert "Periodic" in html
    assert '<td class="field-checked">2</td>' in html
    thumbnail = png_of(moderator_client.get(reverse("admin:board_snapshot_thumbnail", args=[snapshot.pk])))
    assert max(thumbnail.size) <= pictures.THUMBNAIL_SIDE


def test_the_snapshot_page_shows_its_picture_and_a_restore_button(moderator_client, main_board):
    snapshot = snapshot_of(main_board, 1)
    html = moderator_client.get(reverse("admin:board_snapshot_change", args=[snapshot.pk])).content.decode()
    assert reverse("admin:board_snapshot_picture", args=[snapshot.pk]) in html
    assert reverse("admin:board_snapshot_restore", args=[snapshot.pk]) in html
    assert "rows of 400 boxes. One pixel per box." in html


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_the_admin_picture_of_a_snapshot_shows_every_box(moderator_client, size):
    board = Board.objects.create(slug=f"b{size}", size=size)
    bits = bitset.mask_padding(os.urandom(bitset.byte_length(size)), size)
    snapshot = Snapshot.of(board, bits, 1, 0, reason=Snapshot.Reason.IMPORTED)
    snapshot.save()

    response = moderator_client.get(reverse("admin:board_snapshot_picture", args=[snapshot.pk]))

    img = png_of(response)
    assert img.size == pictures.layout(size)
    assert pictures.bits_from_png(response.content, size) == bits
    # A snapshot never changes: the browser may keep its picture.
    assert response["Cache-Control"] == "private, max-age=86400"


def test_restoring_asks_first_showing_both_pictures(moderator_client, main_board):
    snapshot = snapshot_of(main_board, 1)
    state.apply(main_board, [(2, 1)])
    response = moderator_client.get(reverse("admin:board_snapshot_restore", args=[snapshot.pk]))
    html = response.content.decode()
    assert f"Restore snapshot #{snapshot.pk} onto main?" in html
    assert reverse("admin:board_snapshot_picture", args=[snapshot.pk]) in html
    assert reverse("admin:board_board_picture", args=[main_board.pk]) in html
    assert state.meta(main_board).count == 2


def test_a_moderator_restores_yesterdays_snapshot_and_it_is_logged(moderator_client, moderator, main_board):
    yesterday = snapshot_of(main_board, 1, 2, 3, created=timezone.now() - timedelta(days=1))
    state.apply(main_board, [(1, 0), (900, 1)])

    response = moderator_client.post(reverse("admin:board_snapshot_restore", args=[yesterday.pk]))

    assert response.status_code == 302
    bits, meta = state.read(main_board)
    assert bits == yesterday.bits()
    before = Snapshot.objects.get(reason="before-restore")
    assert (before.count, before.taken_by) == (3, moderator)
    message = f"Restored snapshot #{yesterday.pk}; the board before it was saved as {kept(before)}."
    assert log_messages(main_board) == [(CHANGE, message)]
    assert log_messages(yesterday) == [(CHANGE, "Restored onto board main.")]


def test_the_restore_action_leads_to_the_confirmation_for_one_snapshot(moderator_client, main_board):
    snapshot = snapshot_of(main_board, 1)
    response = action(moderator_client, SNAPSHOTS, "restore", snapshot)
    assert response["Location"] == reverse("admin:board_snapshot_restore", args=[snapshot.pk])


def test_the_restore_action_wants_exactly_one_snapshot(moderator_client, main_board):
    first = snapshot_of(main_board, 1)
    second = snapshot_of(main_board, 2)
    response = action(moderator_client, SNAPSHOTS, "restore", first, second, follow=True)
    assert "Select exactly one snapshot to restore." in response.content.decode()
    assert state.meta(main_board).count == 2


def test_a_moderator_can_neither_add_nor_delete_snapshots(moderator_client, main_board):
    snapshot = snapshot_of(main_board, 1)
    assert moderator_client.get(reverse("admin:board_snapshot_add")).status_code == 403
    assert (
        moderator_client.post(reverse("admin:board_snapshot_delete", args=[snapshot.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert Snapshot.objects.filter(pk=snapshot.pk).exists()


def test_restoring_while_redis_is_down_says_so_and_changes_nothing(moderator_client, main_board, redis_server):
    snapshot = snapshot_of(main_board, 1)
    redis_server.stop()
    response = moderator_client.post(reverse("admin:board_snapshot_restore", args=[snapshot.pk]), follow=True)
    assert "Not restored: Redis did not answer" in response.content.decode()
    assert not LogEntry.objects.exists()


# -- bans, as a moderator ----------------------------------------------------------


def test_a_moderator_bans_a_network_for_a_day_and_it_is_logged(moderator_client, moderator):
    response = moderator_client.post(
        reverse("admin:board_ban_add"), {"network": "203.0.113.9", "reason": "Wrote rude words", "duration": "1d"}
    )
    assert response.status_code == 302
    ban = Ban.objects.get()
    assert (ban.network, ban.reason, ban.banned_by) == ("203.0.113.9/32", "Wrote rude words", moderator)
    assert timedelta(hours=23) < ban.expires - timezone.now() <= timedelta(days=1)
    assert log_messages(ban)[0][0] == ADDITION


def test_a_ban_until_lifted_has_no_expiry(moderator_client):
    moderator_client.post(
        reverse("admin:board_ban_add"), {"network": "2001:db8::1", "reason": "x", "duration": "forever"}
    )
    ban = Ban.objects.get()
    assert (ban.network, ban.expires) == ("2001:db8::/64", None)


def test_the_ban_form_is_prefilled_from_the_tally_link(moderator_client):
    html = moderator_client.get(reverse("admin:board_ban_add") + "?network=198.51.100.7/32&reason=Vandalism").content
    assert b'value="198.51.100.7/32"' in html


@pytest.mark.parametrize(
    ("network", "error"),
    [("banana", "is not an IP address or network"), ("0.0.0.0/0", "a ban may cover at most a /16")],
)
def test_a_bad_network_is_refused_with_a_reason(moderator_client, network, error):
    response = moderator_client.post(
        reverse("admin:board_ban_add"), {"network": network, "reason": "x", "duration": "1d"}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Ban.objects.exists()


def test_a_moderator_lifts_a_ban_and_it_is_logged(moderator_client):
    ban = Ban.objects.create(network="203.0.113.9", reason="x")
    action(moderator_client, BANS, "lift", ban)
    ban.refresh_from_db()
    assert ban.expires <= timezone.now()
    assert log_messages(ban) == [(CHANGE, "Lifted the ban.")]


def test_a_moderator_shortens_a_ban(moderator_client):
    ban = Ban.objects.create(network="203.0.113.9", reason="x")
    later = timezone.now() + timedelta(hours=2)
    change = reverse("admin:board_ban_change", args=[ban.pk])
    moderator_client.post(
        change,
        {"network": "203.0.113.9", "reason": "x", "expires_0": f"{later:%Y-%m-%d}", "expires_1": f"{later:%H:%M:%S}"},
    )
    ban.refresh_from_db()
    assert ban.expires is not None
    assert log_messages(ban)[0][0] == CHANGE


def test_a_moderator_deletes_a_ban(moderator_client):
    ban = Ban.objects.create(network="203.0.113.9", reason="x")
    moderator_client.post(reverse("admin:board_ban_delete", args=[ban.pk]), {"post": "yes"})
    assert not Ban.objects.exists()


def test_the_ban_list_can_show_only_active_bans(moderator_client):
    Ban.objects.create(network="203.0.113.9", reason="still on")
    Ban.objects.create(network="203.0.113.10", reason="long over", expires=timezone.now() - timedelta(days=2))
    html = moderator_client.get(BANS + "?status=active").content.decode()
    assert "still on" in html
    assert "long over" not in html


def test_a_superuser_creates_a_board(admin_client):
    response = admin_client.post(reverse("admin:board_board_add"), {"slug": "art", "title": "Art", "size": "4096"})
    assert response.status_code == 302
    board = Board.objects.get(slug="art")
    assert (board.size, state.meta(board).size) == (4096, 4096)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/board/board/abc/picture.png",
        "/admin/board/board/999/picture.png",
        "/admin/board/snapshot/abc/picture.png",
        "/admin/board/snapshot/999/thumbnail.png",
        "/admin/board/snapshot/abc/restore/",
    ],
)
def test_a_picture_or_restore_of_nothing_is_a_404(moderator_client, url):
    assert moderator_client.get(url).status_code == 404


def test_a_very_large_board_is_shown_shrunk_and_says_so(moderator_client):
    board = Board.objects.create(slug="huge", size=10_000_000)
    html = moderator_client.get(reverse("admin:board_board_change", args=[board.pk])).content.decode()
    assert "Shrunk to fit" in html
    img = png_of(moderator_client.get(reverse("admin:board_board_picture", args=[board.pk])))
    assert max(img.size) <= 2_000
