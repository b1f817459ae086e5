"""
What a first visit costs: bytes over the wire, server time, time to interactive.

Starts Redis and one daphne (DEBUG off, collected and compressed static files
served by whitenoise, as in production), fills the board with ``--checked`` of
its boxes at random (half by default: random bits don't compress, so this is
the heaviest state a board of that size can have), then:

- ``bytes_*``: what headless Chromium received for a first visit with an empty
  cache (response headers and bodies as transferred, compressed where served
  so), by kind: HTML, JS, CSS, state, other;
- ``server_page_ms`` / ``server_state_ms``: median time for the page and for the
  state, each request sent by a tight keep-alive client on loopback that asks
  for gzip like a browser;
- ``tti_ms``: from navigation start until the page is interactive: checkboxes
  in the grid, the state loaded and the socket live (median of ``--visits``
  fresh browser contexts).

The last line on stdout is one JSON object.

    .venv/bin/python benchmarks/page.py --boxes 100000
"""

import argparse
import asyncio
import http.client
import json
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import stack  # noqa: E402

INTERACTIVE = """() => {
  const board = window.checkboxes;
  const ready = board && board.sync.ready && board.sync.live
    && document.querySelector('#rows input[type=checkbox]') !== null;
  return ready ? performance.now() : false;
}"""

FILL = """
import random
from board import bitset
from board.models import Board
from board.store import state
board = Board.objects.default()
rng = random.Random({seed})
bits = bytearray(bitset.byte_length(board.size))
for index in rng.sample(range(board.size), int(board.size * {checked})):
    bitset.put(bits, index, 1)
state.replace(board, bytes(bits))
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boxes", type=int, default=100_000, help="size of the board (default 100000)")
    parser.add_argument("--checked", type=float, default=0.5, help="fraction of boxes checked (default 0.5)")
    parser.add_argument("--requests", type=int, default=50, help="timed requests each for page and state")
    parser.add_argument("--visits", type=int, default=5, help="browser visits; the median TTI is reported")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    if options.boxes < 1 or not 0 <= options.checked <= 1:
        parser.error("--boxes must be at least 1 and --checked between 0 and 1")
    if options.requests < 1 or options.visits < 1:
        parser.error("--requests and --visits must be at least 1")
    return options


def progress(message):
    print(f"[page {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def server_ms(port, path, requests):
    """Median milliseconds from sending a request to having the whole response."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
    timings = []
    try:
        for attempt in range(requests + 5):
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
            if attempt >= 5:  # the first few warm the process up
                timings.append(1000 * elapsed)
    finally:
        connection.close()
    return round(statistics.median(timings), 2)


def kind_of(url, resource_type):
    if "/state" in url:
        return "state"
    if resource_type == "document":
        return "html"
    if resource_type == "script" or url.endswith(".js"):
        return "js"
    if resource_type == "stylesheet":
        return "css"
    return "other"


async def visit(browser, url):
    """One first visit in a fresh context: bytes by kind and time to interactive."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    finished = []
    page.on("requestfinished", lambda request: finished.append(request))
    try:
        await page.goto(url)
        handle = await page.wait_for_function(INTERACTIVE, timeout=30_000, polling=10)
        tti = await handle.json_value()
        await page.wait_for_load_state("networkidle")
        transferred = {}
        for request in finished:
            sizes = await request.sizes()
            kind = kind_of(request.url, request.resource_type)
            size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
            transferred[kind] = transferred.get(kind, 0) + size
        return tti, transferred, len(finished)
    finally:
        await context.close()


async def browse(url, visits):
    from playwright.async_api import async_playwright

    sys.path.insert(0, str(stack.BASE_DIR))
    from harness.browser import launch

    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            # One visit to start Chromium's own caches and processes, not counted.
            await visit(browser, url)
            return [await visit(browser, url) for _ in range(visits)]
        finally:
            await browser.close()


def run(options):
    progress(f"starting Redis and daphne for a board of {options.boxes:,} boxes")
    # The state is timed from one address, faster than a network's budget for it.
    with stack.Stack(processes=1, boxes=options.boxes, env={"BOARD_STATE_RATE_LIMITS": ""}) as servers:
        servers.manage("shell", "-c", FILL.format(seed=options.seed, checked=options.checked))
        port = servers.ports[0]
        progress(f"timing {options.requests} requests each for the page and the state")
        page_ms = server_ms(port, "/", options.requests)
        state_ms = server_ms(port, "/b/main/state", options.requests)
        progress(f"visiting {options.visits} times with Chromium")
        visits = asyncio.run(browse(servers.urls[0], options.visits))
    ttis = [tti for tti, _, _ in visits]
    _, transferred, requests = visits[len(visits) // 2]
    return {
        "boxes": options.boxes,
        "checked": options.checked,
        "bytes_total": sum(transferred.values()),
        "bytes_state": transferred.get("state", 0),
        "bytes_html": transferred.get("html", 0),
        "bytes_js": transferred.get("js", 0),
        "bytes_css": transferred.get("css", 0),
        "bytes_other": transferred.get("other", 0),
        "requests": requests,
        "server_page_ms": page_ms,
        "server_state_ms": state_ms,
        "tti_ms": round(statistics.median(ttis), 1),
        "tti_all_ms": [round(tti, 1) for tti in ttis],
        "machine": stack.machine(),
    }


def main(argv=None):
    print(json.dumps(run(parse_args(argv))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
