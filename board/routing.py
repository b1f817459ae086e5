from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from .live.consumers import BoardConsumer
from .live.origin import log_refusal


class UnknownPath(WebsocketDenier):
    """Refuses (HTTP 403) a handshake for a path with no socket behind it, and logs it."""

    async def websocket_connect(self, message):
        log_refusal(self.scope, "unknown_path", "Refused a socket for a path with no board (403).")
        await super().websocket_connect(message)


class NoSockets(WebsocketDenier):
    """Refuses (HTTP 403) every handshake, in a process that serves no sockets (CHECKBOXES_SERVE_SOCKETS=0)."""

    async def websocket_connect(self, message):
        log_refusal(self.scope, "no_sockets_here", "Refused a socket: this process serves no sockets (403).")
        await super().websocket_connect(message)


websocket_urlpatterns = [
    path("ws/b/<slug:slug>/", BoardConsumer.as_asgi()),
    # Any other path is refused in the handshake (HTTP 403): without a route,
    # the router raises and daphne answers 500 with a traceback in its log.
    re_path(r"^", UnknownPath.as_asgi()),
]
