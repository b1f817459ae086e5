"""How REDIS_URL names one Redis server or a Redis Cluster (board/store/clients.py, settings.py)."""

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from board.store import clients
from checkboxes_project.settings import CLUSTER_LAYER, redis_channel_layers

PLAIN_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"


def test_a_cluster_url_lists_each_node_as_a_plain_url():
    nodes = clients.cluster_nodes("redis+cluster://10.0.0.1:7000,10.0.0.2:7001")
    assert nodes == ["redis://10.0.0.1:7000", "redis://10.0.0.2:7001"]


def test_credentials_and_options_of_a_cluster_url_apply_to_every_node():
    nodes = clients.cluster_nodes("rediss+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2:7000?ssl_cert_reqs=none")
    assert nodes == [
        "rediss://app:s3cret@10.0.0.1:7000?ssl_cert_reqs=none",
        "rediss://app:s3cret@10.0.0.2:7000?ssl_cert_reqs=none",
    ]


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://cache:6380", "unix:///tmp/redis.sock"])
def test_other_urls_name_one_server(url):
    assert clients.cluster_nodes(url) == []
    assert not clients.is_cluster(url)


@pytest.mark.parametrize("url", ["redis+cluster://10.0.0.1", "redis+cluster://10.0.0.1:7000,", "redis+cluster://:7000"])
def test_a_cluster_url_without_host_and_port_for_each_node_is_refused(url):
    with pytest.raises(clients.BadRedisURL, match="is not host:port"):
        clients.cluster_nodes(url)


def test_settings_refuse_a_malformed_cluster_url_loudly():
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        redis_channel_layers("redis+cluster://10.0.0.1", "cb")


def test_one_server_keeps_the_plain_pubsub_layer_on_that_server():
    layer = redis_channel_layers("unix:///srv/data/redis.sock", "cb")["default"]
    assert layer["BACKEND"] == PLAIN_LAYER
    assert [host["address"] for host in layer["CONFIG"]["hosts"]] == ["unix:///srv/data/redis.sock"]
    assert layer["CONFIG"]["prefix"] == "cb:layer:"


def test_a_cluster_gets_the_moving_layer_with_a_host_per_listed_node():
    layer = redis_channel_layers("redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000", "cb")["default"]
    assert layer["BACKEND"] == CLUSTER_LAYER
    assert [host["address"] for host in layer["CONFIG"]["hosts"]] == [
        "redis://10.0.0.1:7000",
        "redis://10.0.0.2:7000",
        "redis://10.0.0.3:7000",
    ]
    assert all(host["socket_timeout"] is None for host in layer["CONFIG"]["hosts"])


def test_one_server_gets_a_plain_client_as_before():
    client = clients.sync_client("redis://127.0.0.1:1/0")  # connects on first use
    assert type(client) is redis.Redis
    assert clients.node_of(client, "cb:{main}:bits") is None
    assert clients.primaries(client) is None
    client.close()
