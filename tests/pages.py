"""The board's page in a browser test: open it once live, find a box, read the bit in Redis."""

from playwright.async_api import expect

DESKTOP = {"width": 1200, "height": 800}
READY = "window.checkboxes && window.checkboxes.sync.ready"


async def open_board(browser, url, path="/", viewport=DESKTOP, **options):
    """A new page (in a context of its own) on the board at ``path``, once it is live and synced."""
    context = await browser.new_context(viewport=viewport, **options)
    page = await context.new_page()
    await page.goto(url + path)
    await wait_until_live(page)
    return page


async def wait_until_live(page):
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await page.wait_for_function(READY)


def box(page, index):
    return page.get_by_role("checkbox", name=f"Box {index:,}", exact=True)
