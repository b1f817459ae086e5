"""
The Django admin, where moderators work (docs/moderation.md).

Boards show their live state from Redis; their actions (freeze, unfreeze,
snapshot, clear) and a snapshot's restore go through ``board.moderation``, which
tells every player and writes Django's admin log, as it does for the commands.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.timesince import timesince

from . import history_admin, live_admin, moderation, pictures
from .live import tally
from .live.bans import BanList
from .models import Ban, Board, Snapshot, ban_network
from .store import snapshots, state

admin.site.site_header = "Checkboxes"
admin.site.site_title = "Checkboxes admin"
admin.site.index_title = "Moderation"


class ModerationMedia:
    css = {"all": ["moderation/admin.css"]}
    js = [forms.Script("moderation/pictures.js", type="module")]


def png_response(img, cache_seconds=0):
    response = HttpResponse(pictures.png(img), content_type="image/png")
    if cache_seconds:
        response["Cache-Control"] = f"private, max-age={cache_seconds}"
    else:
        response["Cache-Control"] = "no-store"
    return response


def picture_urls(name, view):
    """The routes to ``view`` for each picture of a board (``name`` "board") or snapshot: whole, overview, zoom."""
    return [
        path(f"<path:object_id>/{kind}.png", view, {"kind": kind}, name=f"board_{name}_{kind}")
        for kind in ("picture", "overview", "zoom")
    ]


def drawing(request, kind, size):
    """How to draw the picture ``kind`` asks for, from a bitset; raises PictureError on a bad region."""
    if kind == "overview":
        return lambda bits: pictures.overview(bits, size)
    if kind == "zoom":
        region = zoom_region(request.GET, size)
        return lambda bits: pictures.zoom(bits, region)
    return lambda bits: pictures.picture(bits, size)


def zoom_region(query, size):
    """The region a zoom's query names (``left``, ``top``, ``columns``, ``rows``, ``scale``), checked."""
    names = ["left", "top", "columns", "rows", "scale"]
    try:
        numbers = [int(query[name]) for name in names]
    except KeyError as error:
        raise pictures.PictureError(f"A zoom needs {', '.join(names)}: {error.args[0]} is missing.") from None
    except ValueError:
        raise pictures.PictureError(f"{', '.join(names).capitalize()} are whole numbers.") from None
    return pictures.Region(size, *numbers)


def bad_region(error):
    return HttpResponseBadRequest(str(error), content_type="text/plain")


def ago(moment):
    return f"{timesince(moment)} ago" if moment else "never"


@dataclass(frozen=True)
class Live:
    """A board's live figures for the admin; None where Redis did not answer."""

    meta: state.Meta | None
    players: int | None

    @classmethod
    def of(cls, board):
        try:
            return cls(state.meta(board), state.players(board.slug))
        except state.StateUnavailable:
            return cls(None, None)


# -- boards -----------------------------------------------------------------


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ["slug", "title_or_size", "boxes", "checked", "players", "frozen_now", "last_snapshot"]
    list_filter = ["frozen"]
    search_fields = ["slug", "title"]
    actions = ["freeze", "unfreeze", "take_snapshot", "clear_board"]
    change_form_template = "admin/board/board/change_form.html"
    Media = ModerationMedia

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(latest_snapshot=Max("snapshots__created"))

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["slug", "title", "size", "frozen"]
        return ["slug", "title", "boxes", "frozen", "created"]

    def get_readonly_fields(self, request, obj=None):
        # Players know the address and the box numbers: neither changes after creation.
        return ["slug", "boxes", "created"] if obj else []

    def get_urls(self):
        return [
            *live_admin.urls(self),  # first: "live/" is no board's id
            *picture_urls("board", self.admin_site.admin_view(self.picture_view)),
            *history_admin.urls(self),
            *super().get_urls(),
        ]

    # -- columns

    def _live(self, board):
        if not hasattr(board, "_live"):
            board._live = Live.of(board)
        return board._live

    @admin.display(description="title", ordering="title")
    def title_or_size(self, board):
        return board.display_title

    @admin.display(description="boxes", ordering="size")
    def boxes(self, board):
        return f"{board.size:,}"

    @admin.display(description="checked now")
    def checked(self, board):
        meta = self._live(board).meta
        return "unavailable" if meta is None else f"{meta.count:,}"

    @admin.display(description="players now")
    def players(self, board):
        players = self._live(board).players
        return "unavailable" if players is None else f"{players:,}"

    @admin.display(description="frozen", boolean=True)
    def frozen_now(self, board):
        meta = self._live(board).meta
        return board.frozen if meta is None else meta.frozen

    @admin.display(description="last snapshot", ordering="latest_snapshot")
    def last_snapshot(self, board):
        return ago(board.latest_snapshot)

    # -- permissions for the actions

    def has_freeze_permission(self, request):
        return request.user.has_perm("board.freeze_board")

    def has_clear_permission(self, request):
        return request.user.has_perm("board.clear_board")

    def has_snapshot_permission(self, request):
        return request.user.has_perm("board.take_snapshot")

    # -- actions

    @admin.action(description="Freeze the selected boards", permissions=["freeze"])
    def freeze(self, request, queryset):
        self._set_frozen(request, queryset, True)

    @admin.action(description="Unfreeze the selected boards", permissions=["freeze"])
    def unfreeze(self, request, queryset):
        self._set_frozen(request, queryset, False)

    def _set_frozen(self, request, queryset, frozen):
        word = "froze" if frozen else "unfroze"
        for board in queryset:
            try:
                changed = moderation.freeze(board, frozen, user=request.user)
            except state.StateUnavailable:
                self.message_user(request, f"Could not reach Redis: {board} was not {word[:-1]}n.", messages.ERROR)
                continue
            if not changed:
                self.message_user(request, f"Board {board} was already {'frozen' if frozen else 'unfrozen'}.")
                continue
            self.message_user(request, f"{word.capitalize()} {board}; its players see it now.", messages.SUCCESS)

    @admin.action(description="Take a snapshot of the selected boards now", permissions=["snapshot"])
    def take_snapshot(self, request, queryset):
        for board in queryset:
            try:
                snapshot = snapshots.take(board, Snapshot.Reason.MANUAL, user=request.user, note="Taken in the admin")
            except state.StateUnavailable:
                self.message_user(request, f"Could not reach Redis: no snapshot of {board}.", messages.ERROR)
                continue
            self.log_addition(request, snapshot, f"Took snapshot #{snapshot.pk} of board {board}.")
            self.message_user(
                request, f"Snapshot #{snapshot.pk} of {board}: {snapshot.count:,} checked.", messages.SUCCESS
            )

    @admin.action(description="Clear the selected boards…", permissions=["clear"])
    def clear_board(self, request, queryset):
        if request.POST.get("confirm") != "yes":
            boards = [(board, self._live(board)) for board in queryset]
            return confirmation(request, self, "clear", "clear_board", queryset, {"boards": boards})
        for board in queryset:
            try:
                done = moderation.clear(board, user=request.user)
            except state.StateUnavailable:
                self.message_user(request, f"Could not reach Redis: {board} was not cleared.", messages.ERROR)
                continue
            self.message_user(
                request,
                f"Cleared {board}; it was saved first as {moderation.undo_note(done.before)}, which can be restored.",
                messages.SUCCESS,
            )
        return None

    # -- saving and deleting (superusers)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "frozen" in form.changed_data:
            try:
                moderation.freeze(obj, obj.frozen)
            except state.StateUnavailable:
                self.message_user(request, "Saved, but Redis did not answer: players see the change later.")

    # -- the change page: the live board, who is active, recent snapshots

    def change_view(self, request, object_id, form_url="", extra_context=None):
        board = self.get_object(request, object_id)
        if board is not None:
            extra_context = {**(extra_context or {}), **self._live_context(request, board)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _live_context(self, request, board):
        try:
            active = tally.recent(board.slug)
            banned = BanList(Ban.objects.active())
        except state.StateUnavailable:
            active, banned = None, BanList()
        networks = [
            (network, changes, _ban_until(banned, network), _history_query(network))
            for network, changes in (active or [])[:20]
        ]
        return {
            "live": self._live(board),
            "live_picture": picture_html("board", board.pk, board.size, "The live board"),
            "active_networks": networks,
            "tally_unavailable": active is None,
            "tally_minutes": settings.BOARD_TALLY_MINUTES,
            "can_ban": request.user.has_perm("board.add_ban"),
            "ban_url": reverse("admin:board_ban_add"),
            "history_pages": history_admin.links(request, board),
            "changes_url": reverse("admin:board_board_changes", args=[board.pk]),
            "revert_url": reverse("admin:board_board_revert", args=[board.pk]),
            "can_view_history": request.user.has_perm("board.view_history"),
            "can_revert": request.user.has_perm("board.revert_changes"),
            "recent_snapshots": board.snapshots.defer("data")[:5],
            "snapshots_url": reverse("admin:board_snapshot_changelist")
            + "?"
            + urlencode({"board__id__exact": board.pk}),
        }

    def picture_view(self, request, object_id, kind):
        board = self.get_object(request, object_id)
        if board is None:
            raise Http404("No such board.")
        if not self.has_view_permission(request, board):
            raise PermissionDenied
        try:
            draw = drawing(request, kind, board.size)
            bits, _ = state.read(board)
        except pictures.PictureError as error:
            return bad_region(error)
        except state.StateUnavailable:
            return HttpResponse("Redis did not answer.", status=503, content_type="text/plain")
        return png_response(draw(bits))


def _history_query(network):
    """The query string opening a network's changes (or revert) page over the tally's minutes."""
    return urlencode({"network": network, "since": f"{settings.BOARD_TALLY_MINUTES}m"})


def _ban_until(banned, network):
    until = banned.banned_until(ban_network(network))
    if until is None:
        return None
    return "forever" if until == float("inf") else datetime.fromtimestamp(until, tz=UTC)


def confirmation(request, model_admin, verb, action, queryset, extra):
    """The "are you sure?" page of a destructive action; posting it runs the action."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"{verb.capitalize()} {', '.join(str(obj) for obj in queryset)}?",
        "verb": verb,
        "action": action,
        "queryset": queryset,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        **extra,
    }
    return TemplateResponse(request, f"admin/board/{verb}_confirmation.html", context)


# -- snapshots --------------------------------------------------------------


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ["__str__", "thumbnail", "created", "board", "reason", "checked", "taken_by"]
    list_display_links = ["__str__", "thumbnail", "created"]
    list_filter = ["board", "reason"]
    date_hierarchy = "created"
    search_fields = ["note"]
    actions = ["restore"]
    fields = ["board", "created", "reason", "note", "taken_by", "boxes", "checked", "version", "digest", "picture"]
    readonly_fields = fields
    change_form_template = "admin/board/snapshot/change_form.html"
    Media = ModerationMedia

    def get_queryset(self, request):
        # The bitsets stay in the database until a picture asks for one.
        return super().get_queryset(request).select_related("board", "taken_by").defer("data")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_restore_permission(self, request):
        return request.user.has_perm("board.restore_snapshot")

    def get_urls(self):
        wrap = self.admin_site.admin_view

        def lasting(view):
            # A snapshot never changes, so its pictures may be cached (still only for logged-in staff).
            return wrap(view, cacheable=True)

        return [
            *picture_urls("snapshot", lasting(self.picture_view)),
            path("<path:object_id>/thumbnail.png", lasting(self.thumbnail_view), name="board_snapshot_thumbnail"),
            path("<path:object_id>/restore/", wrap(self.restore_view), name="board_snapshot_restore"),
            *super().get_urls(),
        ]

    @admin.display(description="boxes")
    def boxes(self, snapshot):
        return f"{snapshot.size:,}"

    @admin.display(description="checked", ordering="count")
    def checked(self, snapshot):
        return f"{snapshot.count:,}"

    @admin.display(description="picture")
    def thumbnail(self, snapshot):
        url = reverse("admin:board_snapshot_thumbnail", args=[snapshot.pk])
        width, height = pictures.thumbnail_size(snapshot.size)
        return format_html(
            '<img class="board-thumbnail" src="{}" alt="Snapshot #{}" width="{}" height="{}" loading="lazy">',
            url,
            snapshot.pk,
            width,
            height,
        )

    @admin.display(description="picture")
    def picture(self, snapshot):
        return picture_html("snapshot", snapshot.pk, snapshot.size, f"Snapshot #{snapshot.pk}")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_restore"] = self.has_restore_permission(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # -- pictures

    def _snapshot_for(self, request, object_id):
        snapshot = self.get_object(request, object_id)
        if snapshot is None:
            raise Http404("No such snapshot.")
        if not self.has_view_permission(request, snapshot):
            raise PermissionDenied
        return snapshot

    def picture_view(self, request, object_id, kind):
        snapshot = self._snapshot_for(request, object_id)
        try:
            draw = drawing(request, kind, snapshot.size)
        except pictures.PictureError as error:
            return bad_region(error)
        return png_response(draw(snapshot.bits()), cache_seconds=86400)

    def thumbnail_view(self, request, object_id):
        snapshot = self._snapshot_for(request, object_id)
        return png_response(pictures.thumbnail(snapshot.bits(), snapshot.size), cache_seconds=86400)

    # -- restoring

    @admin.action(description="Restore the selected snapshot…", permissions=["restore"])
    def restore(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one snapshot to restore.", messages.WARNING)
            return None
        return redirect("admin:board_snapshot_restore", queryset.get().pk)

    def restore_view(self, request, object_id):
        snapshot = self._snapshot_for(request, object_id)
        if not self.has_restore_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._restore_confirmation(request, snapshot)
        try:
            done = moderation.restore(snapshot, user=request.user)
        except (moderation.ModerationError, state.StateUnavailable) as error:
            self.message_user(request, f"Not restored: {_sentence(error)}", messages.ERROR)
            return redirect("admin:board_snapshot_change", snapshot.pk)
        message = (
            f"Restored snapshot #{snapshot.pk}; the board before it was saved as {moderation.undo_note(done.before)}."
        )
        self.message_user(request, f"{message} Every player now sees the restored board.", messages.SUCCESS)
        return redirect("admin:board_board_change", snapshot.board.pk)

    def _restore_confirmation(self, request, snapshot):
        board = snapshot.board
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Restore snapshot #{snapshot.pk} onto {board}?",
            "snapshot": snapshot,
            "board": board,
            "live": Live.of(board),
            "snapshot_picture": picture_html("snapshot", snapshot.pk, snapshot.size, "The snapshot"),
            "live_picture": picture_html("board", board.pk, board.size, "The live board"),
            "media": self.media,
        }
        return TemplateResponse(request, "admin/board/restore_confirmation.html", context)


def picture_html(name, pk, size, alt):
    """A board's overview linking to its full picture; pressing a part of it zooms in (moderation/pictures.js)."""
    urls = {kind: reverse(f"admin:board_{name}_{kind}", args=[pk]) for kind in ("picture", "overview", "zoom")}
    width, height = pictures.layout(size)
    shown_width, shown_height = pictures.overview_size(size)
    return format_html(
        '<div class="board-zoomable" data-zoom="{zoom}" data-size="{size}" data-width="{width}" data-height="{height}"'
        ' data-factor="{factor}" data-max-scale="{scale}" data-max-side="{side}">'
        '<a href="{picture}"><img class="board-picture" src="{overview}" alt="{alt}" width="{w}" height="{h}"></a>'
        '<p class="help">{legend} Checked boxes are orange-red, unchecked ones off-white. Press a part of the '
        "picture to zoom into it; the link opens the whole picture, one pixel per box.</p></div>",
        zoom=urls["zoom"],
        picture=urls["picture"],
        overview=urls["overview"],
        size=size,
        width=width,
        height=height,
        factor=pictures.overview_factor(size),
        scale=pictures.MAX_SCALE,
        side=pictures.REGION_MAX_SIDE,
        alt=alt,
        w=shown_width,
        h=shown_height,
        legend=pictures.overview_legend(size),
    )


def _sentence(error):
    if isinstance(error, state.StateUnavailable):
        return "Redis did not answer; try again in a moment."
    return str(error)


# -- bans -------------------------------------------------------------------

DURATIONS = {
    "1h": ("For an hour", timedelta(hours=1)),
    "1d": ("For a day", timedelta(days=1)),
    "7d": ("For a week", timedelta(days=7)),
    "30d": ("For 30 days", timedelta(days=30)),
    "forever": ("Until a moderator lifts it", None),
}


class BanForm(forms.ModelForm):
    class Meta:
        model = Ban
        fields = ["network", "reason", "expires"]


class NewBanForm(BanForm):
    """A new ban lasts for a chosen time from now rather than until a date to type."""

    duration = forms.ChoiceField(
        choices=[(key, label) for key, (label, _) in DURATIONS.items()], initial="1d", help_text="Counted from now."
    )

    class Meta(BanForm.Meta):
        fields = ["network", "reason"]

    def clean(self):
        cleaned = super().clean()
        span = DURATIONS.get(cleaned.get("duration"), (None, None))[1]
        self.instance.expires = timezone.now() + span if span else None
        return cleaned


class ActiveFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("ended", "Ended")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.active()
        if self.value() == "ended":
            return queryset.expired()
        return queryset


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    list_display = ["network", "reason", "banned_by", "created", "expires", "active"]
    list_filter = [ActiveFilter]
    search_fields = ["network", "reason"]
    actions = ["lift"]
    Media = ModerationMedia

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = BanForm if obj else NewBanForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["network", "reason", "duration"]
        return ["network", "reason", "expires", "created", "banned_by"]

    def get_readonly_fields(self, request, obj=None):
        return ["created", "banned_by"] if obj else []

    @admin.display(description="active", boolean=True)
    def active(self, ban):
        return ban.is_active()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.banned_by = request.user
        super().save_model(request, obj, form, change)
        transaction.on_commit(moderation.announce_bans)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        transaction.on_commit(moderation.announce_bans)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        transaction.on_commit(moderation.announce_bans)

    @admin.action(description="Lift the selected bans now", permissions=["change"])
    def lift(self, request, queryset):
        now = timezone.now()
        active = list(queryset.active(now))
        moderation.lift(active, now, user=request.user)
        self.message_user(request, f"Lifted {len(active)} ban{'s' if len(active) != 1 else ''}.", messages.SUCCESS)
