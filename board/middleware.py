"""Middleware of the board app."""

from django.conf import settings
from django.shortcuts import render
from django.utils.deprecation import MiddlewareMixin


class NotFoundPageMiddleware(MiddlewareMixin):
    """The project's own 404 page (templates/404.html) under DEBUG too.

    With DEBUG off Django renders templates/404.html itself; with it on,
    Django answers an unknown path or board with its yellow debug page, which
    is not what a player running ``make run`` should meet. Every 404 is
    replaced, whatever the view sent, as the page DEBUG off shows.
    """

    def process_response(self, request, response):
        if response.status_code != 404 or not settings.DEBUG or response.streaming:
            return response
        return render(request, "404.html", status=404)
