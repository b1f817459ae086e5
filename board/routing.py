from django.urls import path

from .live.consumers import BoardConsumer

websocket_urlpatterns = [
    path("ws/b/<slug:slug>/", BoardConsumer.as_asgi()),
]
