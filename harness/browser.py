"""Chromium through Playwright, from Debian's package: no browser download.

No Django here: the benchmarks launch Chromium through it too. The board's page
helpers for tests are in tests/pages.py.
"""

import shutil
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
]


def chromium_path():
    """The system Chromium; a missing browser fails the run rather than skipping it."""
    path = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if not path:
        raise RuntimeError("Chromium is not installed: apt-get install chromium (.ci/run does this).")
    return str(path)


async def launch(playwright):
    return await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
