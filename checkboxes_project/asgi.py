"""
ASGI entry point: HTTP goes to Django (a board's state straight to its view,
board/asgi.py), WebSockets from the site's own pages to the board consumer.

Run it with daphne (``make run`` does): ``daphne checkboxes_project.asgi:application``.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "checkboxes_project.settings")

# Django must be set up before the consumers (and the models they import) load.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from board.asgi import StateRoute  # noqa: E402
from board.live import lifecycle  # noqa: E402
from board.live.origin import OriginValidator  # noqa: E402
from board.routing import NoSockets, websocket_urlpatterns  # noqa: E402

# Under daphne: a final snapshot of every board this process served, on SIGTERM/SIGINT.
lifecycle.install()

# A process for the admin (CHECKBOXES_SERVE_SOCKETS=0) refuses every socket, so
# no board's hub ever starts in it: heavy admin requests share no CPU with players.
sockets = OriginValidator(URLRouter(websocket_urlpatterns)) if settings.SERVE_SOCKETS else NoSockets.as_asgi()

application = ProtocolTypeRouter({"http": StateRoute(django_asgi_app), "websocket": sockets})
