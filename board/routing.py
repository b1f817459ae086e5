from django.urls import path

from .consumers import BoardConsumer

websocket_urlpatterns = [
    path("ws/b/<slug:slug>/", BoardConsumer.as_asgi()),
]
