from channels.security.websocket import WebsocketDenier
from django.urls import path, re_path

from .live.consumers import BoardConsumer

websocket_urlpatterns = [
    path("ws/b/<slug:slug>/", BoardConsumer.as_asgi()),
    # Any other path is refused in the handshake (HTTP 403): without a route,
    # the router raises and daphne answers 500 with a traceback in its log.
    re_path(r"^", WebsocketDenier.as_asgi()),
]
