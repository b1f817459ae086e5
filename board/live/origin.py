"""
Which pages may open a socket: pages of the site itself, or of an origin the
site trusts.

A browser lets any page open a WebSocket to any site, with the visitor's
cookies and address, and names the page's origin in the handshake; the server
is what keeps another site's page off the board. An origin is a scheme, a host
and a port, and all three must match, as for Django's CSRF check:

- the socket's own origin: ``https`` when the socket came over TLS (``wss``,
  or a TLS proxy Django is told about with ``SECURE_PROXY_SSL_HEADER``), else
  ``http``; and the ``Host`` the browser sent, host and port, whose host must
  be one of ``ALLOWED_HOSTS``;
- or one of ``CSRF_TRUSTED_ORIGINS``, each an exact origin such as
  ``https://play.example.org:8443``.

A handshake without an ``Origin`` header came from no browser, and a client
that is not a browser can write any Origin it likes: it is let through, and
the abuse limits are what hold it back.
"""

import logging
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from .gate import door
from .network import client_address, network_of

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginValidator:
    """ASGI middleware: refuses (HTTP 403) a WebSocket handshake from a page of another origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not allowed(scope):
            log_refusal(
                scope,
                "origin_refused",
                "Refused a socket from another site's page (403): origin %s.",
                ", ".join(_headers(scope, b"origin")),
            )
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def allowed(scope):
    """Whether the handshake in ``scope`` may go on."""
    origins = _headers(scope, b"origin")
    if not origins:
        return True
    if len(origins) > 1:
        return False
    origin = parse_origin(origins[0])
    return origin is not None and (origin == own_origin(scope) or origin in trusted_origins())


def log_refusal(scope, kind, message, *args):
    """Log a handshake refused before a consumer ran, throttled per ``kind`` (board/logs.py)."""
    door.refused(scope)
    address = client_address(scope)
    network = str(network_of(address)) if address else None
    logger.info(
        f"{message} Path %s, network %s.",
        *args,
        scope.get("path"),
        network,
        extra={"network": network, "throttle": kind},
    )


def parse_origin(text):
    """``(scheme, host, port)`` of an origin such as ``https://example.org``; None if it is not one."""
    try:
        parts = urlsplit(text.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def own_origin(scope):
    """The origin this socket was opened on, or None if its ``Host`` is not one of ``ALLOWED_HOSTS``."""
    hosts = _headers(scope, b"host")
    if len(hosts) != 1 or not validate_host(split_domain_port(hosts[0])[0], allowed_hosts()):
        return None
    return parse_origin(f"{'https' if _secure(scope) else 'http'}://{hosts[0]}")


def trusted_origins():
    return {origin for origin in map(parse_origin, settings.CSRF_TRUSTED_ORIGINS) if origin is not None}


def allowed_hosts():
    # What Django's HttpRequest.get_host() allows, DEBUG's default included.
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return settings.ALLOWED_HOSTS


def _secure(scope):
    if scope.get("scheme") == "wss":
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy_header:
        return False
    name, secure_value = proxy_header
    # Django names it as WSGI does (HTTP_X_FORWARDED_PROTO); the scope has the header itself.
    values = _headers(scope, name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1"))
    return bool(values) and values[0].split(",", 1)[0].strip() == secure_value


def _headers(scope, name):
    return [value.decode("latin-1") for key, value in scope.get("headers", ()) if key.lower() == name]
