import os

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.conf import settings
from django.db import connections
from django.test import override_settings

from board.live import hub
from board.management.serving import LocalRedis
from board.models import Board
from board.store import state
from checkboxes_project.settings import redis_channel_layers


def use_redis(url):
    """Point the app (state clients and channel layer) at the Redis at ``url``."""
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS = redis_channel_layers(url, settings.REDIS_PREFIX)
    channel_layers.backends.clear()
    state.reset_clients()


@pytest.fixture(scope="session", autouse=True)
def static_files(static_root):
    """Plain names straight from static/; hashed ones, which pages link with DEBUG off, from this run's copy."""
    settings.WHITENOISE_USE_FINDERS = True
    with override_settings(STATIC_ROOT=static_root):
        yield


# In-process tests only (WebsocketCommunicator): every test player there
# connects from one address, faster than any person clicks, so the abuse limits
# are off unless a test turns them on (tests/test_limits.py). Real daphne
# processes (harness/servers.py) run with the shipped limits.
LIMITS_OFF = {
    "BOARD_CHANGE_BUCKET": None,
    "BOARD_NETWORK_CHANGE_BUCKET": None,
    "BOARD_MAX_SOCKETS_PER_NETWORK": 0,
    "BOARD_NEW_SOCKETS_PER_MINUTE": 0,
    "BOARD_WIDE_NETWORK_CHANGE_BUCKET": None,
    "BOARD_MAX_SOCKETS_PER_WIDE_NETWORK": 0,
    "BOARD_FRAME_LIMITS": [],
    "BOARD_PING_LIMITS": [],
    "BOARD_STATE_RATE_LIMITS": [],
}


@pytest.fixture(scope="session", autouse=True)
def abuse_limits_off():
    for name, value in LIMITS_OFF.items():
        setattr(settings, name, value)


@pytest.fixture(autouse=True)
def history_archives(settings, tmp_path):
    """Each test's history archives in a directory of its own, never the checkout's data/."""
    settings.HISTORY_ARCHIVE_DIR = tmp_path / "history"
    return settings.HISTORY_ARCHIVE_DIR


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server of the tests' own on a free port, never the one at 6379."""
    server = LocalRedis(tmp_path_factory.mktemp("redis")).start()
    use_redis(server.url)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean_redis(redis_server):
    if not redis_server.ping():
        redis_server.restart()
    use_redis(redis_server.url)
    state.sync_client().flushall()
    yield


@pytest.fixture
def cluster(tmp_path, clean_redis, redis_server):
    """A real Redis Cluster of this test's own (harness/cluster.py) that the app and its serving processes use."""
    from harness.cluster import LocalCluster

    started = LocalCluster(tmp_path / "cluster").start()
    use_redis(started.url)
    yield started
    state.reset_clients()
    started.stop()
    use_redis(redis_server.url)


@pytest.fixture(params=["redis", "cluster"])
def redis_backend(request):
    """Each test twice: on the tests' one redis-server, and on a Redis Cluster of its own."""
    return request.getfixturevalue(request.param if request.param == "cluster" else "redis_server")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory):
    # A file, not ":memory:", so daphne processes started by tests share it;
    # a per-run name on PostgreSQL so parallel runs on one server don't collide.
    database = settings.DATABASES["default"]
    test = database.setdefault("TEST", {})
    if database["ENGINE"].endswith("sqlite3"):
        test["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")
    else:
        test["NAME"] = f"test_checkboxes_{tmp_path_factory.getbasetemp().name.replace('-', '_')}"


@pytest.fixture
async def hubs():
    """Stops this test's hubs, Redis clients and ORM threads' connections before its loop closes.

    Async ORM calls run in asgiref's worker thread; its connection would
    otherwise stay open and block dropping the PostgreSQL test database.
    """
    yield
    await hub.stop_hubs()
    await state.close_async_client()
    await sync_to_async(connections.close_all)()


@pytest.fixture
def daphnes(tmp_path, transactional_db):
    """Start daphne processes sharing the test Redis and database; stops them after."""
    from harness.servers import Daphne

    started = []

    def start(count=1, **env):
        servers = [Daphne(tmp_path, **env).start() for _ in range(count)]
        started.extend(servers)
        return servers

    yield start
    for server in started:
        server.stop()


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    from harness.browser import launch

    async with async_playwright() as playwright:
        browser = await launch(playwright)
        yield browser
        await browser.close()


@pytest.fixture
def tty(monkeypatch):
    """A person at a terminal who answers ``tty.answer``."""

    class Terminal:
        answer = "yes"

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: Terminal.answer)
    return Terminal


@pytest.fixture
def main_board(db):
    return Board.objects.default()


@pytest.fixture
def small_board(db):
    return Board.objects.create(slug="small", size=100)


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """`manage.py collectstatic` into a directory of the tests' own, for nginx to serve."""
    import subprocess
    import sys

    from harness.servers import BASE_DIR

    data = tmp_path_factory.mktemp("data")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env={**os.environ, "CHECKBOXES_DATA_DIR": str(data)},
        check=True,
        timeout=120,
    )
    return data / "static"


@pytest.fixture
def nginx(tmp_path, static_root):
    """Start nginx (deploy/nginx/checkboxes.conf) in front of the given daphne ports; stops it after."""
    from harness.nginx import Nginx

    started = []

    def start(upstream_ports, admin_port=None):
        directory = tmp_path / f"nginx-{len(started)}"
        server = Nginx(directory, upstream_ports, static_root, admin_port=admin_port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server a test may stop and start, with an append-only file like production's."""
    server = LocalRedis(tmp_path / "redis", persistent=True).start()
    yield server
    server.stop()


# -- moderators and other people ---------------------------------------------


@pytest.fixture
def moderators_group(db):
    """The group the data migration makes; made again after a transactional test flushed it."""
    from importlib import import_module

    from django.contrib.auth.models import Group, Permission

    migrations = [import_module(f"board.migrations.{name}") for name in ("0003_moderators_group", "0004_history")]
    group, created = Group.objects.get_or_create(name=migrations[0].GROUP)
    if created:
        for migration in migrations:
            for model, codename in migration.PERMISSIONS:
                group.permissions.add(Permission.objects.get(content_type__model=model, codename=codename))
    return group


@pytest.fixture
def moderator(django_user_model, moderators_group):
    """Mod Erin: staff, in the Moderators group, not a superuser."""
    user = django_user_model.objects.create_user("erin", password="erin-moderates-42", is_staff=True)
    user.groups.add(moderators_group)
    return user


@pytest.fixture
def moderator_client(client, moderator):
    client.force_login(moderator)
    return client


@pytest.fixture
def player_client(client, django_user_model):
    """Pat: has an account, but is not staff."""
    client.force_login(django_user_model.objects.create_user("pat", password="pat-plays-42"))
    return client
