"""GET /b/<slug>/state stays cheap: revalidation from the meta, one read per version, a per-network budget.

What the state costs Redis is read from the real server's own statistics
(INFO commandstats): the bitset is the only thing read with GET.
"""

import asyncio
import gzip
import http.client
import ipaddress

import pytest
from django.test import Client

from board import views
from board.live import hub
from board.models import Board
from board.store import state
from board.throttle import RequestBudget

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def calls(command):
    """How many times Redis has run ``command`` since the last reset."""
    return state.sync_client().info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


@pytest.fixture
def tiny(db):
    board = Board.objects.create(slug="tiny", size=12)
    state.apply(board, [(0, 1), (11, 1)])
    return board


@pytest.fixture
def counted():
    """Redis's command counters, reset after the test's setup."""
    state.sync_client().config_resetstat()


def tag_of(board):
    meta = state.meta(board)
    return f'"{meta.epoch}-{meta.version}"'


@pytest.mark.parametrize(
    "if_none_match",
    ["{tag}", "W/{tag}", '"1-1", {tag}, "2-2"', 'W/"0-0",W/{tag}', "*"],
    ids=["plain", "weak", "list", "weak-list", "star"],
)
def test_a_matching_tag_is_answered_304_from_the_meta_alone(client, tiny, if_none_match):
    tag = tag_of(tiny)
    state.sync_client().config_resetstat()

    response = client.get("/b/tiny/state", headers={"if-none-match": if_none_match.format(tag=tag)})

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == tag
    assert response["X-Board-Version"] == "2"
    assert calls("get") == 0


def test_a_gzip_client_revalidates_with_the_weak_tag_it_was_given(client, tiny):
    first = client.get("/b/tiny/state", headers={"accept-encoding": "gzip"})
    assert first["ETag"] == f"W/{tag_of(tiny)}"

    again = client.get("/b/tiny/state", headers={"accept-encoding": "gzip", "if-none-match": first["ETag"]})

    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert again["Vary"] == "Accept-Encoding"


def test_a_tag_of_an_older_version_gets_the_new_state(client, tiny):
    old = tag_of(tiny)
    state.apply(tiny, [(1, 1)])

    response = client.get("/b/tiny/state", headers={"if-none-match": old})

    assert response.status_code == 200
    assert response.content == bytes([0xC0, 0x10])
    assert response["X-Board-Version"] == "3"


def test_even_a_small_board_is_compressed_when_the_request_accepts_gzip(client, tiny):
    response = client.get("/b/tiny/state", headers={"accept-encoding": "gzip, deflate, br"})

    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.content) == bytes([0x80, 0x10])
    assert response["Vary"] == "Accept-Encoding"
    assert response["X-Board-Version"] == "2"


def test_a_client_without_gzip_gets_the_raw_bytes_and_the_strong_tag(client, tiny):
    response = client.get("/b/tiny/state")

    assert "Content-Encoding" not in response
    assert response.content == bytes([0x80, 0x10])
    assert response["ETag"] == tag_of(tiny)
    assert response["Vary"] == "Accept-Encoding"


def test_head_answers_the_headers_only(client, tiny):
    response = client.head("/b/tiny/state")

    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Board-Count"] == "2"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unsafe_methods_are_405_not_a_csrf_403(tiny, method):
    browser = Client(enforce_csrf_checks=True)

    response = getattr(browser, method)("/b/tiny/state")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hubs")
async def test_concurrent_requests_for_one_version_share_one_read_of_the_bitset(async_client):
    board = await Board.objects.acreate(slug="shared", size=1_000_000)
    await state.aapply(board, [(5, 1)])
    await state.async_client().config_resetstat()

    responses = await asyncio.gather(
        *(async_client.get("/b/shared/state", headers={"accept-encoding": "gzip"}) for _ in range(20))
    )

    assert {response.status_code for response in responses} == {200}
    assert {response["X-Board-Version"] for response in responses} == {"1"}
    assert all(gzip.decompress(response.content) == b"\x04" + bytes(124_999) for response in responses)
    assert calls("get") == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hubs")
async def test_a_new_version_is_read_again(async_client):
    board = await Board.objects.acreate(slug="moving", size=64)
    first = await async_client.get("/b/moving/state")
    await state.aapply(board, [(0, 1)])

    second = await async_client.get("/b/moving/state")

    assert (first["X-Board-Version"], second["X-Board-Version"]) == ("0", "1")
    assert second.content[0] == 0x80


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hubs")
async def test_a_board_with_players_here_is_served_without_a_database_lookup(async_client, monkeypatch):
    # Each lookup was a query and a new database connection in a worker
    # thread: a tenth of a process's CPU under the hostile benchmark's state floods.
    board = await Board.objects.acreate(slug="played", size=64)
    await state.aapply(board, [(0, 1)])
    await hub.hub_for("played")

    monkeypatch.setattr(views, "Board", None)  # any lookup now fails
    response = await async_client.get("/b/played/state")

    assert response.status_code == 200
    assert (response["X-Board-Version"], response.content[0]) == ("1", 0x80)


def test_a_network_past_its_budget_gets_429_with_retry_after_and_costs_redis_nothing(client, tiny, settings, counted):
    settings.BOARD_STATE_RATE_LIMITS = [(5, 3600)]
    answers = [client.get("/b/tiny/state", REMOTE_ADDR="203.0.113.5").status_code for _ in range(5)]
    before = calls("hmget")

    refused = client.get("/b/tiny/state", REMOTE_ADDR="203.0.113.5")

    assert answers == [200] * 5
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert calls("hmget") == before
    # Another network has its own budget.
    assert client.get("/b/tiny/state", REMOTE_ADDR="203.0.113.6").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_client_is_charged(client, tiny, settings):
    settings.BOARD_STATE_RATE_LIMITS = [(1, 3600)]
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]

    def through_proxy(address):
        return client.get("/b/tiny/state", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=address).status_code

    assert [through_proxy("198.51.100.1"), through_proxy("198.51.100.2")] == [200, 200]
    assert through_proxy("198.51.100.1") == 429


def test_the_budget_slides_and_refills():
    now = [1000.0]
    budget = RequestBudget([(2, 10)], clock=lambda: now[0])

    assert [budget.take("alice"), budget.take("alice")] == [0, 0]
    assert budget.take("alice") == 10
    now[0] += 15  # half of the previous window still counts: one request of room
    assert budget.take("alice") == 0
    assert budget.take("alice") == 5
    now[0] += 10
    assert budget.take("alice") == 0


def test_the_budget_forgets_idle_networks_and_holds_a_bounded_number():
    now = [0.0]
    budget = RequestBudget([(1, 60)], max_networks=3, clock=lambda: now[0])
    for network in ("a", "b", "c"):
        budget.take(network)
    budget.take("d")
    assert list(budget.networks) == ["b", "c", "d"]

    now[0] += 121  # two whole windows: nothing of theirs counts any more
    budget.take("e")
    assert list(budget.networks) == ["e"]


# -- through real daphne, where board/asgi.py answers before Django's middleware --


def raw_get(port, path, method="GET", source="127.0.0.1", **headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        connection.request(method, path, headers={"Host": f"127.0.0.1:{port}", **headers})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_served_by_daphne_the_state_revalidates_shares_reads_and_falls_back_to_django(daphnes, counted):
    (server,) = daphnes(1)
    status, headers, body = raw_get(server.port, "/b/main/state", **{"Accept-Encoding": "gzip"})
    assert status == 200 and gzip.decompress(body) == bytes(12_500)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert int(headers["Content-Length"]) == len(body)

    revalidated = raw_get(server.port, "/b/main/state", **{"If-None-Match": headers["ETag"]})
    head = raw_get(server.port, "/b/main/state", method="HEAD")
    assert revalidated[0] == 304
    assert (head[0], head[2], head[1]["X-Board-Size"]) == (200, b"", "100000")
    assert calls("get") == 1
    # What the view does not answer is Django's, as before.
    assert raw_get(server.port, "/b/nope/state")[0] == 404
    assert raw_get(server.port, "/b/main/state", method="POST")[0] == 405
    assert "Traceback" not in server.log()
    assert raw_get(server.port, "/b/main/state", Host="evil.example")[0] == 400


@pytest.mark.django_db(transaction=True)
def test_served_by_daphne_a_network_past_its_budget_gets_429(daphnes):
    (server,) = daphnes(1, BOARD_STATE_RATE_LIMITS="3/3600")
    statuses = [raw_get(server.port, "/b/main/state", source="127.0.0.9")[0] for _ in range(4)]
    refused = raw_get(server.port, "/b/main/state", source="127.0.0.9")

    assert statuses == [200, 200, 200, 429]
    assert int(refused[1]["Retry-After"]) > 0
    assert raw_get(server.port, "/b/main/state", source="127.0.0.10")[0] == 200
