"""
Settings for the Checkboxes project.

Everything configurable comes from the environment through the small typed
helpers below. The defaults run a fresh checkout as it is: SQLite and a
project-local Redis under ``data/``, DEBUG on, bound to 127.0.0.1.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from board.store.clients import BadRedisURL, cluster_nodes

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name, default):
    return os.environ.get(name, default)


def env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_int(name, default, minimum=None, maximum=None):
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum of {maximum}.")
    return value


def env_list(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rates(name, default):
    """Rate limits written ``count/seconds``, comma-separated: ``7/1,80/15``. Empty means none."""
    rates = []
    for item in env_list(name, default.split(",")):
        count, _, seconds = item.partition("/")
        try:
            rate = (int(count), int(seconds))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not count/seconds, e.g. 7/1.") from None
        if rate[0] < 1 or rate[1] < 1:
            raise ImproperlyConfigured(f"{name}: {item!r} needs a count and seconds of at least 1.")
        rates.append(rate)
    return sorted(rates, key=lambda rate: rate[1])


def env_bucket(name, default):
    """A token bucket written ``capacity/refill``: ``40/6`` holds 40 and refills 6 a second. Empty means none."""
    raw = env_str(name, default).strip()
    if not raw:
        return None
    capacity, _, rate = raw.partition("/")
    try:
        bucket = (int(capacity), float(rate))
    except ValueError:
        raise ImproperlyConfigured(f"{name}: {raw!r} is not capacity/refill per second, e.g. 40/6.") from None
    if bucket[0] < 1 or not 0 < bucket[1] < float("inf"):
        raise ImproperlyConfigured(f"{name}: {raw!r} needs a capacity of at least 1 and a refill above 0.")
    return bucket


def env_networks(name, default):
    """IP networks in CIDR notation, comma-separated; a bare address is its own network."""
    try:
        return [ipaddress.ip_network(item, strict=False) for item in env_list(name, default)]
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}.") from None


DATA_DIR = Path(env_str("CHECKBOXES_DATA_DIR", str(BASE_DIR / "data"))).resolve()
# SQLite, the local Redis and collected static files live here; a fresh
# checkout has none of them yet.
DATA_DIR.mkdir(parents=True, exist_ok=True)

# A development key, refused by the system check `checkboxes.E001` when DEBUG is off.
DEV_SECRET_KEY = "django-insecure-checkboxes-development-key-do-not-use-in-production"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "board",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    # Under DEBUG, the project's own 404 page in place of Django's debug page.
    "board.middleware.NotFoundPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "checkboxes_project.urls"
ASGI_APPLICATION = "checkboxes_project.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several daphne processes and the snapshot task share one file: WAL lets
    # readers proceed during a write, IMMEDIATE avoids upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic puts the files whitenoise (or nginx) serves.
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(DATA_DIR / "static"))).resolve()
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic makes compressed copies under content-hashed names (module
    # imports rewritten to match); with DEBUG off pages link those, which
    # whitenoise serves as cacheable for a year. With DEBUG on, plain names.
    "staticfiles": {"BACKEND": "checkboxes_project.storage.StaticFilesStorage"},
}
# How long browsers may cache a static file under its plain name (hashed names: a year).
WHITENOISE_MAX_AGE = env_int("WHITENOISE_MAX_AGE", 0 if DEBUG else 3600, minimum=0)
# Serve straight from static/ (uncompressed, always fresh) instead of the
# compressed copies collectstatic makes in STATIC_ROOT.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)

# Redis holds the live state of every board and carries the channel layer.
# The default is a project-local server on a Unix socket that `make run` starts.
# redis+cluster://host:port[,host:port…] names a Redis Cluster (board/store/clients.py).
REDIS_URL_FROM_ENV = bool(env_str("REDIS_URL", ""))
REDIS_URL = env_str("REDIS_URL", "") or f"unix://{DATA_DIR / 'redis' / 'redis.sock'}"
REDIS_PREFIX = env_str("CHECKBOXES_REDIS_PREFIX", "cb")

CLUSTER_LAYER = "board.live.layer.ClusterPubSubChannelLayer"


def redis_channel_layers(redis_url, prefix):
    """The channel layer on the Redis at ``redis_url``: one server, or every node a cluster URL lists.

    On a cluster each group is carried by one listed node, chosen by a
    consistent hash of its name; a node that stops answering hands its groups
    to the next (board/live/layer.py). A plain PUBLISH reaches the subscribers
    on every node of a cluster, so any node may carry any group.
    """
    try:
        nodes = cluster_nodes(redis_url)
    except BadRedisURL as error:
        raise ImproperlyConfigured(f"REDIS_URL: {error}.") from None
    connection = {
        # The receive loop waits on the socket for as long as the board is
        # idle; a read timeout would only make it reconnect in a loop.
        "socket_timeout": None,
        "socket_connect_timeout": 3,
        "health_check_interval": 15,
    }
    return {
        "default": {
            # One PUBLISH per group_send, whatever the group's size (docs/architecture.md).
            "BACKEND": CLUSTER_LAYER if nodes else "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": address, **connection} for address in nodes or [redis_url]],
                "prefix": f"{prefix}:layer:",
            },
        }
    }


CHANNEL_LAYERS = redis_channel_layers(REDIS_URL, REDIS_PREFIX)

# The board.
BOARD_DEFAULT_SLUG = env_str("BOARD_DEFAULT_SLUG", "main")
BOARD_DEFAULT_SIZE = env_int("BOARD_DEFAULT_SIZE", 100_000, minimum=1, maximum=100_000_000)
# Frames to each socket are coalesced to at most one per tick.
BOARD_TICK_MS = env_int("BOARD_TICK_MS", 50, minimum=1, maximum=1000)
# Most of a process's CPU time that sending UPDATE frames may take: with many
# sockets per process, frames go out less often than every tick, carrying more.
BOARD_FANOUT_PERCENT = env_int("BOARD_FANOUT_PERCENT", 25, minimum=1, maximum=100)
# Most changes applied by one Lua call. At most 4680, so that one batch's
# RESULT or UPDATE run fits the largest frame a client must accept (64 KiB).
BOARD_MAX_BATCH = env_int("BOARD_MAX_BATCH", 2048, minimum=1, maximum=4680)
# A socket more than this many frames behind its acknowledgements stops
# receiving updates and is told to resynchronise once it catches up.
BOARD_LAG_FRAMES = env_int("BOARD_LAG_FRAMES", 200, minimum=10)
# IPv6 clients are grouped by this prefix for limits and bans.
BOARD_IPV6_PREFIX = env_int("BOARD_IPV6_PREFIX", 64, minimum=1, maximum=128)
# The wider IPv6 network whose /64s also share one looser budget (below).
BOARD_IPV6_WIDE_PREFIX = env_int("BOARD_IPV6_WIDE_PREFIX", 48, minimum=1, maximum=128)
# How often each process publishes its player count and the board's version.
BOARD_BEACON_SECONDS = env_int("BOARD_BEACON_SECONDS", 5, minimum=1)
# Bad frames from one socket within a minute before it is disconnected.
BOARD_MAX_BAD_FRAMES = env_int("BOARD_MAX_BAD_FRAMES", 50, minimum=1)
# Largest WebSocket message the consumer accepts (daphne enforces its own cap too).
BOARD_MAX_FRAME_BYTES = env_int("BOARD_MAX_FRAME_BYTES", 512, minimum=16)
# daphne drops the connection (no close frame: the client sees 1006) on messages larger than this.
DAPHNE_MAX_MESSAGE_BYTES = env_int("DAPHNE_MAX_MESSAGE_BYTES", 4096, minimum=64)

# plain: one line a person reads; json: one JSON object per line for a log shipper (docs/operations.md, "Logs").
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"},
        "json": {"()": "board.logs.JsonFormatter"},
    },
    # While Redis is away messages repeat every second (tracebacks, 503s): once a minute is enough.
    "filters": {"throttle": {"()": "board.logs.Throttle", "seconds": 60}},
    # On the handler, so every logger's repeats are held back, the board's own
    # (a failing Redis, a flood of refused sockets) as much as the libraries'.
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["throttle"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
    },
}

# Off for a process that serves only HTTP (the admin's: `manage.py serve --no-sockets`,
# docs/deployment.md): it refuses every WebSocket handshake and so runs no hubs.
SERVE_SOCKETS = env_bool("CHECKBOXES_SERVE_SOCKETS", True)

# Error reporting through sentry-sdk (an optional package: requirements-sentry.lock);
# nothing happens without a DSN. What is sent, and what is kept back, is in docs/privacy.md.
SENTRY_DSN = env_str("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "production")
# Set when SENTRY_DSN is given but sentry-sdk cannot be imported; board/apps.py
# logs it once logging is set up, which it is not yet here.
SENTRY_MISSING = False
if SENTRY_DSN:
    try:
        import sentry_sdk
        from sentry_sdk.integrations.django import DjangoIntegration
        from sentry_sdk.integrations.logging import LoggingIntegration
    except ImportError:
        SENTRY_MISSING = True
    else:
        try:
            sentry_sdk.init(
                dsn=SENTRY_DSN,
                environment=SENTRY_ENVIRONMENT,
                # Only the integrations named here and the SDK's defaults: none that
                # records Redis commands, whose keys name networks.
                auto_enabling_integrations=False,
                # ERROR records become events; no log lines ride along as
                # breadcrumbs, since abuse lines name networks.
                integrations=[DjangoIntegration(), LoggingIntegration(level=None)],
                send_default_pii=False,
                include_local_variables=False,
                max_request_body_size="never",
            )
        except sentry_sdk.utils.BadDsn as error:
            raise ImproperlyConfigured(f"SENTRY_DSN: {error}") from None

# Abuse limits and proxies (docs/deployment.md). Each limit of 0, or an empty
# list of rates, turns that limit off.
# Changes one socket may make, as a token bucket: capacity/refill per second.
# 40/6: a person clicking 12 a second for 3 s, or 5 a second for minutes, is
# never refused; a bot sending 20 a second is refused within 3 s, then held to 6.
BOARD_CHANGE_BUCKET = env_bucket("BOARD_CHANGE_BUCKET", "40/6")
# Changes all sockets of one network together may make, shared in Redis across
# processes. Looser: a network (a home, an office) holds several people.
BOARD_NETWORK_CHANGE_BUCKET = env_bucket("BOARD_NETWORK_CHANGE_BUCKET", "120/15")
# Changes all sockets of one wide IPv6 network (BOARD_IPV6_WIDE_PREFIX) may make together.
BOARD_WIDE_NETWORK_CHANGE_BUCKET = env_bucket("BOARD_WIDE_NETWORK_CHANGE_BUCKET", "600/75")
# Changes refused (rate limited or banned) within a minute before the socket is closed (4429).
BOARD_RATE_LIMITED_CLOSE = env_int("BOARD_RATE_LIMITED_CLOSE", 100, minimum=0)
# Frames of any kind one socket may send, per fixed window; past them it is closed (4429).
BOARD_FRAME_LIMITS = env_rates("BOARD_FRAME_LIMITS", "50/1,1000/60")
# Pings one socket may send; one past them gets an error, not a pong, and counts as a bad frame.
BOARD_PING_LIMITS = env_rates("BOARD_PING_LIMITS", "5/10")
# One socket's changes sent and not yet answered; more are refused as rate limited.
# At most 1000: a RESULT carries up to four times as many answers and refusals
# held behind them, and must fit the largest frame a client accepts (64 KiB).
BOARD_MAX_IN_FLIGHT = env_int("BOARD_MAX_IN_FLIGHT", 256, minimum=1, maximum=1000)
# Frames sent to one socket and not acknowledged; past them it is closed (4408).
BOARD_MAX_UNACKED_FRAMES = env_int("BOARD_MAX_UNACKED_FRAMES", 400, minimum=20)
# Bytes queued in the server for one socket that has not read them; past them it is dropped.
BOARD_MAX_QUEUED_BYTES = env_int("BOARD_MAX_QUEUED_BYTES", 1024 * 1024, minimum=65536)
# Open sockets per network, across every process.
BOARD_MAX_SOCKETS_PER_NETWORK = env_int("BOARD_MAX_SOCKETS_PER_NETWORK", 20, minimum=0)
# Open sockets per wide IPv6 network, across every process.
BOARD_MAX_SOCKETS_PER_WIDE_NETWORK = env_int("BOARD_MAX_SOCKETS_PER_WIDE_NETWORK", 100, minimum=0)
# Socket openings (refused ones included) per network per minute.
BOARD_NEW_SOCKETS_PER_MINUTE = env_int("BOARD_NEW_SOCKETS_PER_MINUTE", 60, minimum=0)
# Refusals of one network (in 10 s, in one process) after which that process
# closes the network's TCP connections as they are accepted, for
# BOARD_BOX_SECONDS (board/live/gate.py); 0: never. Shut again within 10 minutes
# of reopening, twice as long as the time before, up to BOARD_BOX_MAX_SECONDS.
BOARD_BOX_REFUSALS = env_int("BOARD_BOX_REFUSALS", 20, minimum=0)
BOARD_BOX_SECONDS = env_int("BOARD_BOX_SECONDS", 30, minimum=1)
BOARD_BOX_MAX_SECONDS = max(BOARD_BOX_SECONDS, env_int("BOARD_BOX_MAX_SECONDS", 600, minimum=1))
# Requests for a board's state (GET /b/<slug>/state) one network may make, counted
# in each process's memory. 20 in a second lets a network's 20 sockets all
# fetch the state at once (after a restore, say).
BOARD_STATE_RATE_LIMITS = env_rates("BOARD_STATE_RATE_LIMITS", "20/1,120/60")
# Peers whose X-Forwarded-For is believed (the proxies in front of daphne).
# Without them the client is the TCP peer, whatever headers it sends.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES", [])

# Production hardening; Django's `check --deploy` and board/checks.py report gaps.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)
# Behind a proxy that terminates TLS and sets X-Forwarded-Proto (deploy/nginx.conf
# does): requests it marks https count as secure.
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Snapshots and moderation
# Seconds between periodic snapshots of a board that changed; one snapshot per
# interval per board however many processes serve it.
BOARD_SNAPSHOT_SECONDS = env_int("BOARD_SNAPSHOT_SECONDS", 60, minimum=1)
# Retention (docs/operations.md): the newest N snapshots of each board, plus the
# newest of each hour and of each day as far back as these reach. Snapshots a
# person took by hand are never pruned.
BOARD_SNAPSHOT_KEEP = env_int("BOARD_SNAPSHOT_KEEP", 60, minimum=1)
BOARD_SNAPSHOT_KEEP_HOURS = env_int("BOARD_SNAPSHOT_KEEP_HOURS", 48, minimum=0)
BOARD_SNAPSHOT_KEEP_DAYS = env_int("BOARD_SNAPSHOT_KEEP_DAYS", 30, minimum=0)
# Longest a stopping server waits for its final snapshots.
BOARD_SHUTDOWN_SNAPSHOT_SECONDS = env_int("BOARD_SHUTDOWN_SNAPSHOT_SECONDS", 10, minimum=1)
# Each process reloads its ban list at least this often (and at once when a
# moderator changes a ban).
BOARD_BAN_REFRESH_SECONDS = env_int("BOARD_BAN_REFRESH_SECONDS", 30, minimum=1)
# How far back the admin's list of active networks looks.
BOARD_TALLY_MINUTES = env_int("BOARD_TALLY_MINUTES", 10, minimum=1, maximum=60)

# History
# Every applied change is appended to its board's log in Redis, in the same Lua
# call that changes the bit (docs/history.md). Off, changes are not logged (the
# log already there ages out as usual).
HISTORY_ENABLED = env_bool("HISTORY_ENABLED", True)
# The log keeps changes this long, and at most about this many per board (about
# 70 bytes of Redis memory each); network addresses are kept no longer,
# archives included (docs/privacy.md).
HISTORY_RETENTION_HOURS = env_int("HISTORY_RETENTION_HOURS", 24, minimum=1)
HISTORY_MAX_ENTRIES = env_int("HISTORY_MAX_ENTRIES", 2_000_000, minimum=1000)
# Snapshots either side of a restore, clear, import or revert (the undo points)
# are kept at least this long, as long as the log by default: a moderator can
# undo whatever the log still shows (a system check warns when it is shorter).
BOARD_UNDO_KEEP_HOURS = env_int("BOARD_UNDO_KEEP_HOURS", HISTORY_RETENTION_HOURS, minimum=0)
# `archivelog` moves older changes here, one gzip file per board per day, and
# deletes files older than this many days (0 keeps them forever).
HISTORY_ARCHIVE_DIR = Path(env_str("HISTORY_ARCHIVE_DIR", str(DATA_DIR / "history"))).resolve()
# Most entries of the log and its archives one admin page of a box's history reads
# (archive day files are read whole, so a page may read up to a day more); "Older changes" goes on.
HISTORY_SCAN_ENTRIES = env_int("HISTORY_SCAN_ENTRIES", 200_000, minimum=1000)
HISTORY_ARCHIVE_DAYS = env_int("HISTORY_ARCHIVE_DAYS", 30, minimum=0)

# Metrics (docs/operations.md, "Metrics"): GET /metrics on every serving process
# answers the peers in these networks, when it did not come through a proxy, and
# any request with `Authorization: Bearer <METRICS_TOKEN>` when a token is set.
METRICS_ALLOWED_NETWORKS = env_networks("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1"])
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Off only to measure what the metrics cost (benchmarks/broadcast.py, docs/performance.md).
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
