"""
GET and HEAD of a board's state, answered before Django's middleware.

The state endpoint is what every page asks for on load and on every resync,
and what a flood asks for. Through the middleware each request also paid for a
sync middleware (whitenoise) in an async stack: two thread hops and a new
thread per request. Profiled (py-spy) under 16 connections asking for a
1,000,000-box board's state, that was most of the process's time; answered
here, one process served 320-600 revalidations a second instead of about 120
(2 cores shared with the load). The view needs none of the middleware: no
session, no user, no CSRF (it only reads), no compression (it sends its own).

``GET /metrics`` is answered here too (board/metrics.py): Prometheus scrapes
each process by address and port, a Host Django would refuse, and the access
check needs only the peer and the headers.

Everything else, including the state path with another method (405) or an
unknown board (the site's 404 page), goes to Django as before.
"""

import io
import re

from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404
from django.http.request import split_domain_port, validate_host
from django.utils.log import log_response

from . import metrics, views
from .live.gate import door
from .live.origin import allowed_hosts

STATE_PATH = re.compile(r"/b/(?P<slug>[-a-zA-Z0-9_]+)/state")
METRICS_PATH = "/metrics"


class StateRoute:
    """ASGI middleware in front of Django's application for the board's state."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if _metrics_request(scope):
            return await _send_metrics(scope, send)
        match = _state_request(scope)
        if match is None:
            return await self.application(scope, receive, send)
        request = ASGIRequest(scope, io.BytesIO())
        # As Django's handler does: the receivers close database connections
        # that broke or outlived DATABASE_CONN_MAX_AGE, in the thread the
        # view's lookups use.
        await signals.request_started.asend(sender=self.__class__, scope=scope)
        try:
            response = await views.board_state(request, match["slug"])
        except Http404:
            response = None
        finally:
            await signals.request_finished.asend(sender=self.__class__)
        if response is None:
            # The site's own 404 page. The view runs again there, so asking
            # for a board that does not exist costs two requests of budget.
            metrics.STATE_REQUESTS.labels(404).inc()
            return await self.application(scope, receive, send)
        if response.status_code == 429:
            door.refused(scope)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        metrics.STATE_REQUESTS.labels(response.status_code).inc()
        if response.status_code == 200 and scope["method"] == "GET":
            metrics.STATE_BYTES.inc(len(response.content))
        await _send(response, send, head=scope["method"] == "HEAD")


def _state_request(scope):
    """The path's match if this is a GET or HEAD of a state from an allowed host, else None."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return None
    match = STATE_PATH.fullmatch(scope["path"])
    # A host Django would refuse (400, logged as DisallowedHost) is left to Django.
    return match if match and _host_allowed(scope) else None


def _metrics_request(scope):
    return scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and scope["path"] == METRICS_PATH


async def _send_metrics(scope, send):
    """The process's metrics, or 403 to a peer outside METRICS_ALLOWED_NETWORKS without the token."""
    client = (scope.get("client") or ("",))[0]
    if metrics.allowed(client, scope["headers"], settings.METRICS_ALLOWED_NETWORKS, settings.METRICS_TOKEN):
        status, (body, content_type) = 200, metrics.exposition()
    else:
        status, body, content_type = 403, b"Metrics need an allowed network or the token.\n", "text/plain"
    headers = [
        (b"Content-Type", content_type.encode("latin-1")),
        (b"Content-Length", str(len(body)).encode()),
        (b"Cache-Control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _host_allowed(scope):
    hosts = [value for name, value in scope["headers"] if name == b"host"]
    if len(hosts) != 1:
        return False
    return validate_host(split_domain_port(hosts[0].decode("latin-1"))[0], allowed_hosts())


async def _send(response, send, head):
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    headers.append((b"Content-Length", str(len(response.content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.content})
