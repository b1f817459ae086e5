"""The page, the state endpoint and the health check."""

import gzip

import pytest

from board.models import Board
from board.store import state

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_the_home_page_shows_the_default_board_titled_in_words(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>One Hundred Thousand Checkboxes</title>" in html
    assert '"size": 100000' in html
    assert '"socketPath": "/ws/b/main/"' in html


def test_the_page_holds_no_boxes_and_stays_small(client):
    html = client.get("/").content.decode()
    # Boxes are made by the grid script for the rows in view, never by the server.
    assert 'type="checkbox"' not in html
    # About 2 KB compressed (benchmarks/page.py's bytes_html): about 300 characters
    # are the og: tags a shared link unfurls with, about 280 the zoom control
    # (zoom.js itself loads on first use), about 400 the phone header's short
    # labels, the box label, the jump's message and the line under the board.
    assert len(html) < 6_500


def test_a_board_of_a_million_is_titled_one_million(client):
    Board.objects.create(slug="million", size=1_000_000)
    html = client.get("/b/million/").content.decode()
    assert "<title>One Million Checkboxes</title>" in html


def test_a_board_with_a_title_uses_it(client):
    Board.objects.create(slug="art", size=64, title="Pixel art")
    assert "<title>Pixel art</title>" in client.get("/b/art/").content.decode()


@pytest.mark.parametrize("path", ["/b/nope/", "/b/nope/state", "/b/UPPER/", "/b/a.b/", "/b//", "/nothing"])
def test_unknown_boards_and_paths_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404


def test_the_404_page_is_the_projects_own(client, settings):
    settings.DEBUG = False
    response = client.get("/b/nope/")
    assert b"No board here" in response.content


@pytest.mark.parametrize("path", ["/", "/b/main/", "/b/main/state", "/healthz"])
def test_pages_refuse_methods_other_than_get_and_head(client, path):
    Board.objects.default()
    assert client.post(path).status_code == 405
    assert client.delete(path).status_code == 405


def test_the_state_is_the_raw_bitset_with_its_version(client):
    board = Board.objects.create(slug="tiny", size=12)
    state.apply(board, [(0, 1), (11, 1)])
    response = client.get("/b/tiny/state")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response.content == bytes([0x80, 0x10])
    assert response["X-Board-Version"] == "2"
    assert response["X-Board-Count"] == "2"
    assert response["X-Board-Size"] == "12"
    assert response["X-Board-Frozen"] == "0"
    assert int(response["X-Board-Epoch"]) == state.meta(board).epoch


def test_the_state_is_compressed_for_clients_that_accept_gzip(client):
    Board.objects.create(slug="big", size=1_000_000)
    response = client.get("/b/big/state", headers={"accept-encoding": "gzip"})
    assert response["Content-Encoding"] == "gzip"
    assert len(response.content) < 2_000
    assert gzip.decompress(response.content) == bytes(125_000)


def test_an_unchanged_state_is_answered_304(client):
    board = Board.objects.create(slug="etag", size=8)
    etag = client.get("/b/etag/state")["ETag"]
    assert client.get("/b/etag/state", headers={"if-none-match": etag}).status_code == 304
    state.apply(board, [(1, 1)])
    assert client.get("/b/etag/state", headers={"if-none-match": etag}).status_code == 200


def test_the_state_is_503_when_redis_is_unreachable(client):
    from tests.conftest import use_redis

    Board.objects.create(slug="down", size=8)
    use_redis("redis://127.0.0.1:1/0")
    response = client.get("/b/down/state")
    assert response.status_code == 503
    assert response["Retry-After"]


def test_health_is_ok_with_redis_and_503_without(client):
    from tests.conftest import use_redis

    assert client.get("/healthz").status_code == 200
    use_redis("redis://127.0.0.1:1/0")
    assert client.get("/healthz").status_code == 503


def test_static_files_are_served_by_the_app(client):
    for name in ("main.js", "grid.js", "sync.js", "board.css"):
        response = client.get(f"/static/board/{name}")
        assert response.status_code == 200, name
