from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

from .live import hub
from .models import Board
from .store import state


@require_safe
def home(request):
    return _page(request, Board.objects.default())


@require_safe
def board(request, slug):
    return _page(request, get_object_or_404(Board, slug=slug))


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
    return render(request, "board/board.html", {"board": board, "config": config})


@require_safe
async def board_state(request, slug):
    """The live bitset as raw bytes; the headers say which version it reflects."""
    found = await _find(slug)
    try:
        bits, meta = await state.aread(found)
    except state.StateUnavailable:
        return HttpResponse(
            "The board's storage is unreachable; retry soon.",
            status=503,
            content_type="text/plain",
            headers={"Retry-After": "2"},
        )
    etag = f'"{meta.epoch}-{meta.version}"'
    headers = {
        "Cache-Control": "no-cache",
        "ETag": etag,
        "X-Board-Size": str(meta.size),
        "X-Board-Epoch": str(meta.epoch),
        "X-Board-Version": str(meta.version),
        "X-Board-Count": str(meta.count),
        "X-Board-Frozen": "1" if meta.frozen else "0",
    }
    if request.headers.get("If-None-Match") == etag:
        return HttpResponse(status=304, headers=headers)
    return HttpResponse(bits, content_type="application/octet-stream", headers=headers)


async def _find(slug):
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
    problems = [problem for board_hub in hub.local_hubs() for problem in board_hub.problems()]
    if problems:
        return HttpResponse("".join(f"{problem}\n" for problem in problems), status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")
