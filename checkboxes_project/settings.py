"""
Settings for the Checkboxes project.

Everything configurable comes from the environment through the small typed
helpers below. The defaults run a fresh checkout as it is: SQLite and a
project-local Redis under ``data/``, DEBUG on, bound to 127.0.0.1.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

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
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies are made by collectstatic; names stay unhashed so the
    # browser's ES module imports resolve by plain relative paths.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_MAX_AGE = env_int("WHITENOISE_MAX_AGE", 0 if DEBUG else 3600, minimum=0)
# Serve straight from static/ (uncompressed, always fresh) instead of the
# compressed copies collectstatic makes in STATIC_ROOT.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)

# Redis holds the live state of every board and carries the channel layer.
# The default is a project-local server on a Unix socket that `make run` starts.
REDIS_URL_FROM_ENV = bool(env_str("REDIS_URL", ""))
REDIS_URL = env_str("REDIS_URL", "") or f"unix://{DATA_DIR / 'redis' / 'redis.sock'}"
REDIS_PREFIX = env_str("CHECKBOXES_REDIS_PREFIX", "cb")

CHANNEL_LAYERS = {
    "default": {
        # One PUBLISH per group_send, whatever the group's size (DESIGN.md §4).
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    # The receive loop waits on the socket for as long as the board is
                    # idle; a read timeout would only make it reconnect in a loop.
                    "socket_timeout": None,
                    "socket_connect_timeout": 3,
                    "health_check_interval": 15,
                }
            ],
            "prefix": f"{REDIS_PREFIX}:layer:",
        },
    }
}

# The board.
BOARD_DEFAULT_SLUG = env_str("BOARD_DEFAULT_SLUG", "main")
BOARD_DEFAULT_SIZE = env_int("BOARD_DEFAULT_SIZE", 100_000, minimum=1, maximum=100_000_000)
BOARD_MAX_SIZE = 100_000_000
# Frames to each socket are coalesced to at most one per tick.
BOARD_TICK_MS = env_int("BOARD_TICK_MS", 50, minimum=1, maximum=1000)
# Most of a process's CPU time that sending UPDATE frames may take: with many
# sockets per process, frames go out less often than every tick, carrying more.
BOARD_FANOUT_PERCENT = env_int("BOARD_FANOUT_PERCENT", 25, minimum=1, maximum=100)
# Most changes applied by one Lua call.
BOARD_MAX_BATCH = env_int("BOARD_MAX_BATCH", 2048, minimum=1, maximum=65535)
# A socket more than this many frames behind its acknowledgements stops
# receiving updates and is told to resynchronise once it catches up.
BOARD_LAG_FRAMES = env_int("BOARD_LAG_FRAMES", 200, minimum=10)
# IPv6 clients are grouped by this prefix for limits and bans.
BOARD_IPV6_PREFIX = env_int("BOARD_IPV6_PREFIX", 64, minimum=1, maximum=128)
# How often each process publishes its player count and the board's version.
BOARD_BEACON_SECONDS = env_int("BOARD_BEACON_SECONDS", 5, minimum=1)
# Bad frames from one socket within a minute before it is disconnected.
BOARD_MAX_BAD_FRAMES = env_int("BOARD_MAX_BAD_FRAMES", 50, minimum=1)
# Largest WebSocket message the consumer accepts (daphne enforces its own cap too).
BOARD_MAX_FRAME_BYTES = env_int("BOARD_MAX_FRAME_BYTES", 512, minimum=16)
# daphne closes the socket (code 1009) on messages larger than this.
DAPHNE_MAX_MESSAGE_BYTES = env_int("DAPHNE_MAX_MESSAGE_BYTES", 4096, minimum=64)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
