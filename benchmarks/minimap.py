"""
Does the page stay smooth on a 1,000,000-box board while changes pour in?

    .venv/bin/python benchmarks/minimap.py [--size 1000000] [--seconds 8] [--rates 0,2000,20000] [--zoom PX]

Opens the board in the system Chromium (1280×800) against a local site, then
for each rate feeds the page's BoardSync synthetic runs of random changes, one
run per 50 ms as the server's ticks would, while scrolling the board on every
frame. It records the intervals between animation frames and the time the
minimap spends drawing. Each rate runs twice: as the page does it (recount only
the cells that changes touched) and recounting every cell on every frame, the
obvious design the page avoids. The changes never reach the server: this
measures the browser's side alone, on the same two cores as everything else.
With ``--zoom PX`` the board is zoomed out to PX pixels per box (zoom.js) and
the zoomed view is what scrolls; the time zoom.js spends drawing is recorded too.
"""

import argparse
import asyncio
import json
import statistics
from pathlib import Path

from local_site import local_site, random_bits

RESULTS = Path(__file__).resolve().parent / "results"

DRIVE = """
async ({ rate, seconds, recountAll }) => {
  const { sync, grid, minimap, zoom } = window.checkboxes;
  const zoomed = zoom && zoom.active;
  const scroller = zoomed ? zoom.scroller : grid.viewport;
  const zoomDraws = [];
  const zoomDraw = zoomed ? zoom.draw : null;
  if (zoomed) {
    zoom.draw = function (paintOnly) {
      const start = performance.now();
      zoomDraw.call(this, paintOnly);
      zoomDraws.push(performance.now() - start);
    };
  }
  const perTick = Math.round(rate / 20);
  const draws = [];
  const draw = minimap.draw;
  minimap.draw = function () {
    const start = performance.now();
    if (recountAll) this.dirtyAll = true;
    draw.call(this);
    draws.push(performance.now() - start);
  };
  const feeder = setInterval(() => {
    if (!perTick) return;
    const words = new Array(perTick);
    for (let k = 0; k < perTick; k++) {
      words[k] = Math.floor(Math.random() * sync.size) * 2 + (Math.random() < 0.5 ? 1 : 0);
    }
    sync.update([{ epoch: sync.epoch, from: sync.version, to: sync.version + perTick, words }]);
  }, 50);
  const frames = [];
  let step = 37;
  await new Promise((resolve) => {
    let last = performance.now();
    const end = last + seconds * 1000;
    function frame(now) {
      frames.push(now - last);
      last = now;
      // Back and forth: a zoomed-out board can be only a screen or two tall.
      if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1) step = -37;
      else if (scroller.scrollTop <= 0) step = 37;
      scroller.scrollTop += step;
      if (now < end) requestAnimationFrame(frame);
      else resolve();
    }
    requestAnimationFrame(frame);
  });
  clearInterval(feeder);
  minimap.draw = draw;
  if (zoomed) zoom.draw = zoomDraw;
  return { frames, draws, zoomDraws };
}
"""


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def summarise(rate, recount_all, measured):
    frames, draws = measured["frames"][1:], measured["draws"]
    return {
        "rate": rate,
        "minimap": "every cell, every frame" if recount_all else "touched cells only",
        "frames": len(frames),
        "frame_p50_ms": round(statistics.median(frames), 1),
        "frame_p99_ms": round(percentile(frames, 0.99), 1),
        "frame_max_ms": round(max(frames), 1),
        "frames_over_50ms": sum(1 for interval in frames if interval > 50),
        "draw_mean_ms": round(statistics.fmean(draws), 2) if draws else 0.0,
        "draw_max_ms": round(max(draws), 2) if draws else 0.0,
    } | zoom_summary(measured["zoomDraws"])


def zoom_summary(draws):
    if not draws:
        return {}
    return {"zoom_draw_mean_ms": round(statistics.fmean(draws), 2), "zoom_draw_max_ms": round(max(draws), 2)}


async def measure(url, rates, seconds):
    from playwright.async_api import async_playwright

    from harness.browser import launch

    rows = []
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(url)
        await page.wait_for_function("window.checkboxes && window.checkboxes.sync.ready")
        if "@" in url:
            await page.wait_for_function("window.checkboxes.zoom && window.checkboxes.zoom.active")
        for rate in rates:
            for recount_all in (False, True):
                measured = await page.evaluate(DRIVE, {"rate": rate, "seconds": seconds, "recountAll": recount_all})
                rows.append(summarise(rate, recount_all, measured))
                print(json.dumps(rows[-1]))
        await browser.close()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="boxes on the board (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=8, help="seconds per run (default 8)")
    parser.add_argument("--rates", default="0,2000,20000", help="changes per second to feed, comma-separated")
    parser.add_argument("--zoom", type=int, choices=[1, 2, 4, 8], help="zoom out to this many pixels per box")
    options = parser.parse_args()
    rates = [int(rate) for rate in options.rates.split(",")]
    with local_site() as url:
        from board.models import Board
        from board.store import state

        board = Board.objects.create(slug="bench", size=options.size)
        state.replace(board, random_bits(options.size, 0.3))
        place = f"#0@{options.zoom}" if options.zoom else ""
        rows = asyncio.run(measure(f"{url}/b/bench/{place}", rates, options.seconds))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "minimap.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {RESULTS / 'minimap.json'}")


if __name__ == "__main__":
    main()
