"""Addresses gone from disk: after archivelog, Redis's append-only file and dump hold no entry it dropped."""

import io
import time

import pytest
import redis
from django.core.management import call_command

from board.management.serving import LocalRedis
from board.store import changelog, state
from harness.servers import BASE_DIR
from tests.conftest import use_redis

pytestmark = [pytest.mark.django_db]

GONE = state.Author("198.51.100.0/24", "198.51.100.77", "aaaaaaaaaaaa")
KEPT = state.Author("203.0.113.0/24", "203.0.113.88", "bbbbbbbbbbbb")


@pytest.fixture
def shipped_redis(tmp_path, redis_server):
    """A redis-server with the shipped configuration, in a directory of its own."""
    server = LocalRedis(tmp_path / "redis", config=BASE_DIR / "deploy/redis/checkboxes.conf").start()
    use_redis(server.url)
    yield server
    server.stop()
    use_redis(redis_server.url)


def files_of(server):
    """Every file Redis persists to: the append-only file's parts and the dump."""
    return [path for path in server.directory.rglob("*") if path.is_file() and path.name != "redis.log"]


def on_disk(server, text):
    return any(text.encode() in path.read_bytes() for path in files_of(server))


def wait_for_background_writes(server, timeout=20):
    with redis.Redis.from_url(server.url) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = client.info("persistence")
            busy = ("aof_rewrite_in_progress", "aof_rewrite_scheduled", "rdb_bgsave_in_progress")
            if not any(info[name] for name in busy) and info["aof_rewrites"]:
                return
            time.sleep(0.1)
    raise AssertionError("Redis did not finish rewriting its files")


def test_archivelog_rewrites_redis_files_so_dropped_addresses_leave_the_disk(shipped_redis, main_board):
    state.apply(main_board, [(1, 1)], [GONE])
    time.sleep(1.1)
    state.apply(main_board, [(2, 1)], [KEPT])
    assert on_disk(shipped_redis, GONE.address)  # appended, as every change is

    out = io.StringIO()
    call_command("archivelog", "--older-than", "1s", stdout=out)
    wait_for_background_writes(shipped_redis)

    assert [entry.connection for entry in changelog.read("main") if hasattr(entry, "box")] == [KEPT.connection]
    assert not on_disk(shipped_redis, GONE.address)
    assert on_disk(shipped_redis, KEPT.address)  # still in retention, and the files really are searchable
    assert "Redis is rewriting its append-only file." in out.getvalue()
    assert not (shipped_redis.directory / "dump.rdb").exists()


def test_a_dump_would_keep_dropped_entries_so_the_shipped_configuration_writes_none(shipped_redis, main_board):
    """Why there is no RDB: it writes a stream's nodes whole, trimmed entries included (docs/privacy.md)."""
    state.apply(main_board, [(1, 1)], [GONE])
    time.sleep(1.1)
    state.apply(main_board, [(2, 1)], [KEPT])
    with redis.Redis.from_url(shipped_redis.url) as client:
        assert client.config_get("save") == {"save": ""}
        client.config_set("rdbcompression", "no")
        call_command("archivelog", "--older-than", "1s", stdout=io.StringIO())
        client.save()
    assert GONE.address.encode() in (shipped_redis.directory / "dump.rdb").read_bytes()
