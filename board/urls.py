from django.urls import path

from . import views

app_name = "board"

urlpatterns = [
    path("", views.home, name="home"),
    path("b/<slug:slug>/", views.board, name="board"),
    path("b/<slug:slug>/state", views.board_state, name="state"),
    path("b/<slug:slug>/preview.png", views.preview, name="preview"),
    path("boards/", views.boards, name="boards"),
    path("healthz", views.health, name="health"),
    path("readyz", views.ready, name="ready"),
    path("favicon.ico", views.favicon, name="favicon"),
]
