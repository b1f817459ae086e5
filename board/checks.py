"""
System checks for configurations that are dangerous in production.

They run with every management command (``migrate``, ``serve``, ``check``), so
a server with DEBUG off refuses to start on a development secret, without
hosts, or with a channel layer that cannot reach other processes.
"""

from django.conf import settings
from django.core.checks import Error, Warning, register

from .store import clients

# Django's own deploy check (security.W009) asks for the same.
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_CHARACTERS = 5
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


@register()
def secret_key_check(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    if _strong(settings.SECRET_KEY or ""):
        return []
    return [
        Error(
            "DEBUG is off but SECRET_KEY is the development key, or too short to be secret.",
            hint=(
                f"Set DJANGO_SECRET_KEY to a random string of at least {MIN_SECRET_KEY_LENGTH} characters, "
                'e.g. python -c "import secrets; print(secrets.token_urlsafe(50))".'
            ),
            id="checkboxes.E001",
        )
    ]


def _strong(key):
    return (
        key != settings.DEV_SECRET_KEY
        and not key.startswith("django-insecure")
        and len(key) >= MIN_SECRET_KEY_LENGTH
        and len(set(key)) >= MIN_SECRET_KEY_CHARACTERS
    )


@register()
def allowed_hosts_check(app_configs, **kwargs):
    if settings.DEBUG:
        return _public_hosts_while_debugging()
    if not settings.ALLOWED_HOSTS:
        return [
            Error(
                "DEBUG is off but ALLOWED_HOSTS is empty, so every request would be refused.",
                hint="Set DJANGO_ALLOWED_HOSTS to the site's host names, comma-separated: checkboxes.example.org.",
                id="checkboxes.E002",
            )
        ]
    if "*" in settings.ALLOWED_HOSTS:
        return [
            Warning(
                "ALLOWED_HOSTS contains '*': any host name is served, and a page of any domain pointed at this "
                "server counts as the site's own and may open a board's socket.",
                hint="List the site's host names in DJANGO_ALLOWED_HOSTS; the WebSocket origin check uses them.",
                id="checkboxes.W001",
            )
        ]
    return []


def _public_hosts_while_debugging():
    public = [host for host in settings.ALLOWED_HOSTS if host not in LOCAL_HOSTS]
    if not public:
        return []
    return [
        Warning(
            f"DEBUG is on while the site answers to {', '.join(public)}: error pages would show settings and code.",
            hint="Set DJANGO_DEBUG=0 anywhere other people can reach.",
            id="checkboxes.W002",
        )
    ]


@register()
def undo_retention_check(app_configs, **kwargs):
    if settings.BOARD_UNDO_KEEP_HOURS >= settings.HISTORY_RETENTION_HOURS:
        return []
    return [
        Warning(
            f"BOARD_UNDO_KEEP_HOURS ({settings.BOARD_UNDO_KEEP_HOURS}) is shorter than HISTORY_RETENTION_HOURS "
            f"({settings.HISTORY_RETENTION_HOURS}): a restore, clear or revert the log still shows may no longer "
            "be undoable.",
            hint="Leave BOARD_UNDO_KEEP_HOURS unset (it follows the log's retention) or raise it.",
            id="checkboxes.W003",
        )
    ]


@register()
def channel_layer_check(app_configs, **kwargs):
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if settings.DEBUG or backend != IN_MEMORY_LAYER:
        return []
    return [
        Error(
            "DEBUG is off but the channel layer is in memory: changes would never reach players on other processes.",
            hint="Use channels_redis.pubsub.RedisPubSubChannelLayer (the default in settings.py) with REDIS_URL.",
            id="checkboxes.E003",
        )
    ]


@register()
def cluster_nodes_check(app_configs, **kwargs):
    """A cluster URL of one node: the channel layer has no other node to move a board's group to."""
    if len(clients.cluster_nodes(settings.REDIS_URL)) != 1:
        return []
    return [
        Warning(
            "REDIS_URL names a Redis Cluster by one node: if that node dies, the channel layer has no other "
            "node to carry the boards' groups, and processes stop hearing each other's changes.",
            hint="List every node of the cluster, replicas too: redis+cluster://10.0.0.1:7000,10.0.0.2:7000,….",
            id="checkboxes.W004",
        )
    ]


@register()
def flow_control_check(app_configs, **kwargs):
    """A socket is paused at BOARD_LAG_FRAMES and closed at BOARD_MAX_UNACKED_FRAMES: in that order."""
    if settings.BOARD_MAX_UNACKED_FRAMES > settings.BOARD_LAG_FRAMES:
        return []
    return [
        Error(
            f"BOARD_MAX_UNACKED_FRAMES ({settings.BOARD_MAX_UNACKED_FRAMES}) must be above BOARD_LAG_FRAMES "
            f"({settings.BOARD_LAG_FRAMES}).",
            hint="A socket would be closed before it is paused, and a slow reader could never catch up.",
            id="checkboxes.E004",
        )
    ]
