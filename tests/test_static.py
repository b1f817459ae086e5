"""Static files as production serves them (DEBUG off): content-hashed names cached for a year, and the icon."""

import re

import pytest

pytestmark = [pytest.mark.django_db]

HASHED = re.compile(r"\.[0-9a-f]{12}\.(?:js|css|svg)$")
A_YEAR = 365 * 24 * 3600


def static_links(html):
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def body(response):
    return b"".join(response.streaming_content)


def test_the_page_links_only_hashed_names_cached_for_a_year(client):
    links = static_links(client.get("/").content.decode())
    assert "/static/board/main.js" not in links
    assert len(links) >= 12
    for link in links:
        assert HASHED.search(link), link
        response = client.get(link)
        assert response.status_code == 200, link
        max_age = int(re.search(r"max-age=(\d+)", response["Cache-Control"]).group(1))
        assert max_age >= A_YEAR and "immutable" in response["Cache-Control"], link


def test_module_imports_name_the_hashed_modules(client):
    (main,) = [link for link in static_links(client.get("/").content.decode()) if "/main." in link]
    imports = re.findall(r'from "(\./[^"]+)"', body(client.get(main)).decode())
    assert "./grid.js" not in imports
    assert len(imports) >= 5
    assert all(HASHED.search(name) for name in imports), imports


@pytest.mark.parametrize("path", ["/", "/b/no-such-board/", "/admin/login/"])
def test_every_page_links_the_icon(client, path):
    html = client.get(path).content.decode()
    assert re.search(r'<link rel="icon" href="/static/board/favicon\.[0-9a-f]{12}\.svg" type="image/svg\+xml">', html)


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0][1] == 302
    assert response["Content-Type"] == "image/svg+xml"
    assert body(response).startswith(b"<svg ")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.usefixtures("hubs")
async def test_the_board_runs_on_hashed_files_in_a_browser(browser, daphnes):
    from tests.pages import DESKTOP, wait_until_live

    (server,) = daphnes(1)
    page = await (await browser.new_context(viewport=DESKTOP)).new_page()
    loaded = []
    page.on("response", lambda response: loaded.append((response.url, response.status)))
    await page.goto(server.url)
    await wait_until_live(page)

    static = [(url, status) for url, status in loaded if "/static/" in url]
    assert len(static) >= 12
    assert all(HASHED.search(url) and status == 200 for url, status in static), static
