"""
The staff's live page in the admin (docs/moderation.md, "The live page").

``/admin/board/board/live/`` is a page any active staff user may open (the
admin's own login check: it shows counts, never an address); its script polls
``live.json`` every few seconds (never cached: the admin's views are not). The figures come from Redis: the per-minute
outcomes of every board's changes (board/live/tally.py), each serving
process's report (board/live/report.py), and ``INFO memory``. Snapshot ages
come from the database.
"""

import time

import redis
from django.db.models import Max
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .live import report, tally
from .models import Board
from .store import clients, state

# The outcomes that are refusals, as tally.outcomes names them.
REFUSALS = {status.name.lower() for status in tally.REFUSALS}
# Boards listed on the page: the busiest first, then by slug.
SHOWN_BOARDS = 100
MINUTES = 60


def urls(model_admin):
    wrap = model_admin.admin_site.admin_view
    return [
        path("live/", wrap(lambda request: live_page(model_admin, request)), name="board_board_live"),
        path("live.json", wrap(live_figures), name="board_board_live_figures"),
    ]


def live_page(model_admin, request):
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Live",
        "figures_url": reverse("admin:board_board_live_figures"),
        "media": model_admin.media,
    }
    return TemplateResponse(request, "admin/board/live.html", context)


def live_figures(request):
    """Everything the live page shows, as JSON; a part Redis could not give is null, with a reason."""
    now = time.time()
    problems = []
    minutes = _attempt(problems, "changes", lambda: tally.outcomes(MINUTES, now))
    processes = _attempt(problems, "processes", lambda: report.processes(now))
    memory = _attempt(problems, "memory", _memory)
    return JsonResponse(
        {
            "now": now,
            "players": None if processes is None else sum(_sockets(entry) for entry in processes),
            "minutes": None if minutes is None else [_minute(minute, boards) for minute, boards in minutes],
            "boards": _boards(processes or [], minutes or [], now),
            "processes": None if processes is None else [_process(entry, now) for entry in processes],
            "redis": memory,
            "problems": problems,
        }
    )


def _attempt(problems, part, read):
    try:
        return read()
    except state.StateUnavailable as error:
        problems.append(f"Redis did not give the {part}: {error}")
        return None


def _fullness(info):
    """How near a server is to refusing writes: on a cluster the fullest primary is the one shown."""
    limit = info.get("maxmemory", 0)
    return (info["used_memory"] / limit if limit else 0, info["used_memory"])


def _memory():
    try:
        info = max(clients.on_each_primary(state.sync_client(), "info", "memory"), key=_fullness)
    except redis.ResponseError as error:
        # A managed Redis may forbid INFO.
        raise state.StateUnavailable(str(error)) from error
    except state.REDIS_ERRORS as error:
        raise state.StateUnavailable(str(error)) from error
    return {
        "used": info["used_memory"],
        "used_human": info.get("used_memory_human", ""),
        "max": info.get("maxmemory", 0),
        "max_human": info.get("maxmemory_human", ""),
        "policy": info.get("maxmemory_policy", ""),
    }


def _minute(minute, boards):
    applied = sum(outcomes.get("applied", 0) for outcomes in boards.values())
    refused = sum(_refused(outcomes) for outcomes in boards.values())
    return {"minute": minute * 60, "applied": applied, "refused": refused}


def _refused(outcomes):
    return sum(changes for outcome, changes in outcomes.items() if outcome in REFUSALS)


def _sockets(entry):
    return sum(figures["sockets"] for figures in entry["boards"].values())


def _process(entry, now):
    boards = entry["boards"].values()
    changes = sum(figures["changes"] for figures in boards)
    seconds = max((figures["seconds"] for figures in boards), default=0)
    return {
        "process": entry["process"],
        "host": entry["host"],
        "started": entry["started"],
        "uptime": None if entry["started"] is None else now - entry["started"],
        "sockets": _sockets(entry),
        "boards": {slug: figures["sockets"] for slug, figures in entry["boards"].items()},
        "lag_ms": round(max((figures["lag"] for figures in boards), default=0) * 1000, 1),
        "changes_per_second": round(changes / seconds, 1) if seconds else 0,
    }


def _boards(processes, minutes, now):
    players = {}
    for entry in processes:
        for slug, figures in entry["boards"].items():
            players[slug] = players.get(slug, 0) + figures["sockets"]
    this_minute = minutes[-1][1] if minutes else {}
    boards = list(Board.objects.annotate(latest_snapshot=Max("snapshots__created")).order_by("slug"))
    boards.sort(key=lambda board: -players.get(board.slug, 0))
    return [_board(board, players.get(board.slug, 0), this_minute.get(board.slug, {}), now) for board in boards][
        :SHOWN_BOARDS
    ]


def _board(board, players, outcomes, now):
    latest = board.latest_snapshot
    return {
        "slug": board.slug,
        "title": board.display_title,
        "url": reverse("admin:board_board_change", args=[board.pk]),
        "players": players,
        "applied": outcomes.get("applied", 0),
        "refused": _refused(outcomes),
        "snapshot_age": None if latest is None else round(now - latest.timestamp()),
    }
