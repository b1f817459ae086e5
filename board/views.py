import functools

import redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpResponse
from django.middleware.gzip import re_accepts_gzip as ACCEPTS_GZIP
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from . import sharing
from .live import hub
from .live.network import client_address, network_of
from .models import Board
from .store import state
from .store.copies import copies
from .throttle import RequestBudget


@require_safe
def home(request):
    return _page(request, Board.objects.default())


@require_safe
def board(request, slug):
    return _page(request, get_object_or_404(Board, slug=slug))


@require_safe
def boards(request):
    """The public list of boards: every board, with its checked count and players now."""
    return render(request, "board/boards.html", {"rows": sharing.listed(Board.objects.all())})


@require_safe
async def preview(request, slug):
    """The board's link preview (``og:image``): a PNG drawn at most once a minute per board and process.

    Counted toward the network's state budget, like the state itself, and
    revalidated with its ETag.
    """
    network = network_of(client_address(_scope(request)))
    wait = _state_budget().take(network) if network is not None else 0
    if wait:
        return _too_many(wait)
    found = await _find(slug)
    try:
        picture = await sharing.preview(found)
    except state.StateUnavailable:
        return _unavailable()
    headers = {"ETag": picture.etag, "Cache-Control": f"public, max-age={sharing.PREVIEW_SECONDS}"}
    if picture.etag in parse_etags(request.headers.get("If-None-Match", "")):
        return HttpResponse(status=304, headers=headers)
    return HttpResponse(picture.png, content_type="image/png", headers=headers)


@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico whatever a page links; the icon is an SVG under a hashed name."""
    return redirect(static("board/favicon.svg"))


def _page(request, board):
    config = {
        "slug": board.slug,
        "size": board.size,
        "title": board.display_title,
        "stateUrl": board.get_state_url(),
        "socketPath": board.get_socket_path(),
    }
    sharing_card = {
        "url": request.build_absolute_uri(board.get_absolute_url()),
        "image": request.build_absolute_uri(reverse("board:preview", kwargs={"slug": board.slug})),
    }
    return render(request, "board/board.html", {"board": board, "config": config, "card": sharing_card})


@csrf_exempt
@require_safe
async def board_state(request, slug):
    """The live bitset as raw bytes; the headers say which version it reflects (docs/protocol.md).

    Cheap for anyone to ask often: a network past its budget is refused before
    any lookup, a matching ``If-None-Match`` is answered from the board's meta
    alone, and the bytes are read and compressed once per version (board/store/copies.py).
    """
    network = network_of(client_address(_scope(request)))
    # A client of unknown address (a Unix-socket listener) has no network to
    # charge, as on the socket path.
    wait = _state_budget().take(network) if network is not None else 0
    if wait:
        return _too_many(wait)
    found = await _find(slug)
    gzipped = _accepts_gzip(request)
    try:
        meta = await state.ameta(found)
        if _revalidated(request, meta):
            return _state_response(304, meta, gzipped)
        copy = await copies().get(found, meta)
    except state.StateUnavailable:
        return _unavailable()
    return _state_response(200, copy.meta, gzipped, copy.gzipped if gzipped else copy.bits)


def _too_many(wait):
    return HttpResponse(
        "Too many requests for the board's state; retry later.",
        status=429,
        content_type="text/plain",
        headers={"Retry-After": str(wait)},
    )


def _unavailable():
    return HttpResponse(
        "The board's storage is unreachable; retry soon.",
        status=503,
        content_type="text/plain",
        headers={"Retry-After": "2"},
    )


def _state_response(status, meta, gzipped, body=b""):
    headers = {
        "Cache-Control": "no-cache",
        "ETag": _etag(meta, gzipped),
        "X-Board-Size": str(meta.size),
        "X-Board-Epoch": str(meta.epoch),
        "X-Board-Version": str(meta.version),
        "X-Board-Count": str(meta.count),
        "X-Board-Frozen": "1" if meta.frozen else "0",
        # What SecurityMiddleware adds, for the requests answered before it (board/asgi.py).
        "X-Content-Type-Options": "nosniff",
    }
    if status == 200:
        headers["Content-Type"] = "application/octet-stream"
        if gzipped:
            headers["Content-Encoding"] = "gzip"
    response = HttpResponse(body, status=status, headers=headers)
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def _etag(meta, gzipped):
    """The gzip encoding's tag is weak, as a compressing proxy or Django's GZipMiddleware would make it."""
    opaque = f'"{meta.epoch}-{meta.version}"'
    return f"W/{opaque}" if gzipped else opaque


def _revalidated(request, meta):
    """Whether ``If-None-Match`` names this version (weak comparison, RFC 9110 13.1.2), or is ``*``."""
    tags = parse_etags(request.headers.get("If-None-Match", ""))
    opaque = _etag(meta, gzipped=False)
    return "*" in tags or any(tag.removeprefix("W/") == opaque for tag in tags)


def _accepts_gzip(request):
    # The same test as Django's GZipMiddleware, which would otherwise compress
    # an identity body itself.
    return bool(ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")))


def _scope(request):
    """The ASGI scope, or its equivalent from a WSGI request (Django's test client makes those)."""
    if hasattr(request, "scope"):
        return request.scope
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    return {
        "client": (request.META.get("REMOTE_ADDR"), 0),
        "headers": [(b"x-forwarded-for", forwarded.encode("latin-1"))] if forwarded else [],
    }


def _state_budget():
    return _budget_for(tuple(settings.BOARD_STATE_RATE_LIMITS))


@functools.lru_cache(maxsize=1)
def _budget_for(rates):
    """This process's budget for state requests (made again only if a test changes the setting)."""
    return RequestBudget(rates)


async def _find(slug):
    # A board with players here has a hub, which holds its row (and leaves
    # when the board is deleted): the state a player fetches costs no query,
    # nor the new database connection each request's thread would open.
    running = hub.running_board(slug)
    if running is not None:
        return running
    if slug == settings.BOARD_DEFAULT_SLUG:
        return await sync_to_async(Board.objects.default)()
    board = await Board.objects.filter(slug=slug).afirst()
    if board is None:
        raise Http404("No such board.")
    return board


@require_safe
async def health(request):
    """For load balancers: 200 when Redis answers and every hub of this process works, else 503."""
    try:
        await state.async_client().ping()
    except state.REDIS_ERRORS:
        return HttpResponse("redis unreachable\n", status=503, content_type="text/plain")
    except redis.ResponseError as error:
        # Redis 7 answers even PING with MISCONF after a failed save: it is
        # there and refusing writes, which is for /readyz to report.
        if not state.refused(error):
            raise
    return _answer(_hub_problems())


@require_safe
async def ready(request):
    """For load balancers choosing where to send players: can this process do its work right now?

    200 when Redis accepts a write (not only answers: at maxmemory, after a
    failed save or on a replica it refuses them), the database answers, every
    hub has its channel-layer subscription, and every hub's loops work; else
    503 with each reason on a line.
    """
    problems = []
    try:
        await state.async_client().set(state.readiness_key(hub.PROCESS_ID), "1", ex=60)
    except state.TRANSIENT_ERRORS as error:
        problems.append(f"redis refuses writes: {error}")
    try:
        await _database_answers()
    except DatabaseError as error:
        problems.append(f"database: {error}")
    problems += [
        f"hub {board_hub.board.slug}: not subscribed" for board_hub in hub.local_hubs() if not board_hub.subscribed
    ]
    return _answer(problems + _hub_problems())


@database_sync_to_async
def _database_answers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _hub_problems():
    return [problem for board_hub in hub.local_hubs() for problem in board_hub.problems()]


def _answer(problems):
    if problems:
        return HttpResponse("".join(f"{problem}\n" for problem in problems), status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")
