"""
The board admin's history pages (docs/history.md): a box's changes, what a
network did, reverting it, and a timelapse. Each is a page of the board in the
admin, for moderators with ``board.view_history`` (reverting also needs
``board.revert_changes``); the board's change page links to them.
"""

import base64
import re
from datetime import UTC, timedelta
from functools import partial

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from . import moderation, pictures
from .history import queries, timelapse
from .history.archive import ArchiveError
from .history.moments import MOMENT_HELP, format_moment, parse_moment
from .models import ban_network
from .store import state

PAGES = {
    "boxes": "Box history",
    "changes": "Changes by a network",
    "revert": "Revert a network",
    "timelapse": "Timelapse",
}
# Rows of a network's changes page; the picture and the counts cover every change.
SHOWN_CHANGES = 200
# The timelapse page's frames are fetched one per request; a browser may keep them this long
# (a frame of a past moment only changes if the log it was replayed from is lost).
FRAME_CACHE_SECONDS = 3600


def urls(model_admin):
    wrap = model_admin.admin_site.admin_view
    views = {"boxes": box_history, "changes": network_changes, "revert": revert, "timelapse": timelapse_page}
    frame = wrap(partial(timelapse_frame, model_admin), cacheable=True)
    return [
        path("<path:object_id>/timelapse/frame.png", frame, name="board_board_timelapse_frame"),
        *(
            path(f"<path:object_id>/{name}/", wrap(partial(view, model_admin)), name=f"board_board_{name}")
            for name, view in views.items()
        ),
    ]


def links(request, board):
    """The history pages this user may open, as ``(title, url)``."""
    if not request.user.has_perm("board.view_history"):
        return []
    pages = [name for name in PAGES if name != "revert" or request.user.has_perm("board.revert_changes")]
    return [(PAGES[name], reverse(f"admin:board_board_{name}", args=[board.pk])) for name in pages]


# -- forms --------------------------------------------------------------------


class MomentField(forms.CharField):
    """A moment typed as ``2h`` (ago), ``now`` or an ISO date and time in UTC; ``default`` when left empty."""

    def __init__(self, default=None, **kwargs):
        self.default = default
        help_text = f"Write {MOMENT_HELP}." + (f" Empty: {default}." if default else "")
        super().__init__(help_text=help_text, max_length=40, required=default is None, **kwargs)

    def clean(self, value):
        text = super().clean(value) or self.default
        now = timezone.now()
        try:
            moment = parse_moment(text, now)
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid") from None
        if moment > now:
            raise forms.ValidationError(f"{format_moment(moment)} is in the future.", code="future")
        return moment


class NetworkField(forms.CharField):
    """An address or network, grouped as bans group them (an IPv6 address means its /64)."""

    def __init__(self, **kwargs):
        help_text = "203.0.113.9, 203.0.113.0/24 or 2001:db8::/48. An IPv6 address means its /64."
        super().__init__(help_text=help_text, max_length=50, **kwargs)

    def clean(self, value):
        return ban_network(super().clean(value))


class BoxForm(forms.Form):
    box = forms.IntegerField(min_value=0, help_text="Boxes are numbered from 0, as in a board's address (#51234).")
    limit = forms.IntegerField(min_value=1, max_value=500, initial=50, required=False, help_text="Changes to show.")

    def __init__(self, *args, board, **kwargs):
        super().__init__(*args, **kwargs)
        self.board = board

    def clean_box(self):
        box = self.cleaned_data["box"]
        if box >= self.board.size:
            raise forms.ValidationError(
                f"Box {box:,} does not exist: this board's boxes are 0 to {self.board.size - 1:,}."
            )
        return box


class WindowForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until <= since:
            raise forms.ValidationError("The window ends before it starts.")
        return cleaned


class NetworkChangesForm(WindowForm):
    network = NetworkField()
    since = MomentField(initial="1h")
    until = MomentField(default="now")


class RevertForm(forms.Form):
    network = NetworkField()
    since = MomentField(initial="1h")


class TimelapseForm(WindowForm):
    since = MomentField(initial="1h")
    until = MomentField(default="now")
    frames = forms.IntegerField(min_value=2, max_value=timelapse.MAX_FRAMES, initial=60)
    fps = forms.IntegerField(min_value=1, max_value=timelapse.MAX_FPS, initial=10, label="Frames per second")

    def clean(self):
        cleaned = super().clean()
        # The player's frame addresses name the window to the millisecond, as the log does, so that
        # "now" stays the moment the page was made and each frame's address always means one picture.
        for name in ("since", "until"):
            if cleaned.get(name):
                moment = cleaned[name]
                cleaned[name] = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        return cleaned


class FrameForm(forms.Form):
    """One frame of a timelapse, as the player asks for it: the window as ISO moments, the count, the frame."""

    since = MomentField()
    until = MomentField()
    frames = forms.IntegerField(min_value=2, max_value=timelapse.MAX_FRAMES)
    frame = forms.IntegerField(min_value=0, max_value=timelapse.MAX_FRAMES - 1)

    def clean(self):
        cleaned = super().clean()
        frames, frame = cleaned.get("frames"), cleaned.get("frame")
        if frames is not None and frame is not None and frame >= frames:
            raise forms.ValidationError(f"Frames are numbered 0 to {frames - 1}, not {frame}.")
        if cleaned.get("since") and cleaned.get("until") and cleaned["until"] <= cleaned["since"]:
            raise forms.ValidationError("The window ends before it starts.")
        return cleaned


# -- pages --------------------------------------------------------------------


def _board(model_admin, request, object_id, permission="board.view_history"):
    board = model_admin.get_object(request, object_id)
    if board is None:
        raise Http404("No such board.")
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return board


def _page(model_admin, request, board, name, form, extra):
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": board,
        "title": f"{PAGES[name]}: {board}",
        "page_title": PAGES[name],
        "pages": links(request, board),
        "form": form,
        "media": model_admin.media + form.media,
        **extra,
    }
    return TemplateResponse(request, f"admin/board/board/{name}.html", context)


def _unavailable(form, error):
    form.add_error(None, _sentence(error))


def _sentence(error):
    if isinstance(error, state.StateUnavailable):
        return "Redis did not answer; try again in a moment."
    return str(error)


ENTRY_ID = re.compile(r"\d{1,15}-\d{1,15}")


def box_history(model_admin, request, object_id):
    board = _board(model_admin, request, object_id)
    form = BoxForm(request.GET or None, board=board)
    rows = more_url = None
    # Where the page goes on from: an entry id, from the previous page's "Older changes" (not a
    # form field, so that a new search starts from the newest).
    before = request.GET.get("before") or None
    if before is not None and not ENTRY_ID.fullmatch(before):
        form.add_error(None, "That link to older changes is broken; search again.")
    if form.is_valid():
        data = form.cleaned_data
        try:
            page = queries.box_history_page(board, data["box"], data["limit"] or 50, before)
            rows = [_row(board, event) for event in page.events]
        except (state.StateUnavailable, ArchiveError) as error:
            _unavailable(form, error)
        else:
            if page.more:
                more_url = "?" + urlencode({"box": data["box"], "limit": data["limit"] or 50, "before": page.more})
    extra = {"rows": rows, "more_url": more_url, "retention_hours": settings.HISTORY_RETENTION_HOURS}
    return _page(model_admin, request, board, "boxes", form, extra)


VALUES = {0: "unchecked", 1: "checked", None: "unknown"}


def _row(board, event):
    """One line of a box's history; a network links to what it changed in the hour either side."""
    entry = event.entry
    row = {"when": format_moment(entry.time), "value": VALUES[event.value], "version": entry.version}
    if event.is_reset:
        return {**row, "who": f"board {entry.reason} by {entry.who}"}
    row.update(who=entry.who, address=entry.address, connection=entry.connection)
    if entry.network:
        until = min(entry.time + timedelta(hours=1), timezone.now())
        query = {"network": entry.network, "since": (entry.time - timedelta(hours=1)).isoformat()}
        url = reverse("admin:board_board_changes", args=[board.pk])
        row["changes_url"] = f"{url}?{urlencode({**query, 'until': until.isoformat()})}"
    return row


def network_changes(model_admin, request, object_id):
    board = _board(model_admin, request, object_id)
    form = NetworkChangesForm(request.GET or None)
    found = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            found = queries.network_changes(board, data["network"], data["since"], data["until"])
        except (state.StateUnavailable, ArchiveError) as error:
            _unavailable(form, error)
    extra = {"found": found}
    if found is not None:
        extra.update(
            changes=found.changes[::-1][:SHOWN_CHANGES],
            picture=inline_picture(found.picture(board.size), board.size, "The boxes it changed"),
            revert_url=_revert_url(board, found.network, found.since),
            can_revert=request.user.has_perm("board.revert_changes"),
            ban_url=reverse("admin:board_ban_add") + "?" + urlencode({"network": str(found.network)}),
            can_ban=request.user.has_perm("board.add_ban"),
        )
    return _page(model_admin, request, board, "changes", form, extra)


def _revert_url(board, network, since):
    query = urlencode({"network": str(network), "since": since.isoformat()})
    return reverse("admin:board_board_revert", args=[board.pk]) + "?" + query


def revert(model_admin, request, object_id):
    board = _board(model_admin, request, object_id, "board.revert_changes")
    if request.method == "POST":
        return _revert(model_admin, request, board)
    form = RevertForm(request.GET or None)
    plan = None
    if form.is_valid():
        try:
            plan = queries.revert_plan(board, form.cleaned_data["network"], form.cleaned_data["since"])
        except (state.StateUnavailable, ArchiveError) as error:
            _unavailable(form, error)
    extra = {"plan": plan}
    if plan is not None:
        extra.update(
            picture=inline_picture(plan.picture(board.size), board.size, "The boxes the revert changes"),
            since_value=plan.since.isoformat(),
        )
    return _page(model_admin, request, board, "revert", form, extra)


def _revert(model_admin, request, board):
    form = RevertForm(request.POST)
    if not form.is_valid():
        return _page(model_admin, request, board, "revert", form, {"plan": None})
    network, since = form.cleaned_data["network"], form.cleaned_data["since"]
    try:
        done = moderation.revert(board, network, since, user=request.user)
    except (moderation.ModerationError, state.StateUnavailable, ArchiveError) as error:
        _unavailable(form, error)
        return _page(model_admin, request, board, "revert", form, {"plan": None})
    message = (
        f"Reverted {done.changed:,} boxes changed by {network} since {format_moment(since)}; "
        f"the board before it was saved as {moderation.undo_note(done.before)}."
    )
    model_admin.message_user(request, f"{message} Every player sees it now.", messages.SUCCESS)
    return redirect("admin:board_board_change", board.pk)


def timelapse_page(model_admin, request, object_id):
    board = _board(model_admin, request, object_id)
    form = TimelapseForm(request.GET or None)
    player = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            timelapse.check(board, data["since"], data["until"], data["frames"], data["fps"])
            timelapse.check_window(board, data["since"], data["until"])
        except (timelapse.TimelapseError, state.StateUnavailable, ArchiveError) as error:
            _unavailable(form, error)
        else:
            player = _player(board, data)
    return _page(model_admin, request, board, "timelapse", form, {"player": player})


def _player(board, data):
    """What the timelapse player needs: the frames' address and how many, never the frames themselves."""
    since, until = _iso(data["since"]), _iso(data["until"])
    query = urlencode({"since": since, "until": until, "frames": data["frames"]})
    command = (
        f"manage.py timelapse --board {board.slug} --since {since} --until {until} "
        f"--frames {data['frames']} --fps {data['fps']} timelapse-{board.slug}.gif"
    )
    return {
        "frame_url": reverse("admin:board_board_timelapse_frame", args=[board.pk]) + "?" + query,
        "frames": data["frames"],
        "last": data["frames"] - 1,
        "fps": data["fps"],
        "size": pictures.overview_size(board.size),
        "since": format_moment(data["since"]),
        "until": format_moment(data["until"]),
        "legend": pictures.overview_legend(board.size),
        "command": command,
    }


def _iso(moment):
    """A moment as the history tools read it back: UTC, to the millisecond."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def timelapse_frame(model_admin, request, object_id):
    """One frame as a PNG, its moment in the ``Timelapse-Moment`` header; errors as a sentence of plain text."""
    board = _board(model_admin, request, object_id)
    form = FrameForm(request.GET)
    if not form.is_valid():
        errors = [error for field_errors in form.errors.values() for error in field_errors]
        return HttpResponseBadRequest(" ".join(errors), content_type="text/plain")
    data = form.cleaned_data
    try:
        timelapse.check(board, data["since"], data["until"], data["frames"], fps=1)
        img, moment = timelapse.frame(board, data["since"], data["until"], data["frames"], data["frame"])
    except timelapse.TimelapseError as error:
        return HttpResponse(str(error), status=409, content_type="text/plain")
    except (state.StateUnavailable, ArchiveError) as error:
        return HttpResponse(_sentence(error), status=503, content_type="text/plain")
    response = HttpResponse(pictures.png(img), content_type="image/png")
    response["Cache-Control"] = f"private, max-age={FRAME_CACHE_SECONDS}"
    response["Timelapse-Moment"] = format_moment(moment)
    return response


def inline_picture(img, size, alt):
    """A board picture inside the page (it belongs to this one request), with the legend the admin's pictures have."""
    width, height = pictures.overview_size(size)
    source = "data:image/png;base64," + base64.b64encode(pictures.png(img)).decode()
    return format_html(
        '<img class="board-picture" src="{}" alt="{}" width="{}" height="{}"><p class="help">{} Orange-red: {}.</p>',
        source,
        alt,
        width,
        height,
        pictures.overview_legend(size),
        alt[0].lower() + alt[1:],
    )
