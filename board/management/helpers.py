"""What the operators' commands share: finding a board, asking for confirmation, showing progress."""

import sys
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import CommandError

from board import state
from board.models import Board


def add_board_argument(parser):
    parser.add_argument(
        "--board",
        metavar="SLUG",
        default=None,
        help="The board's slug (default: the board served at /, usually 'main').",
    )


def get_board(slug):
    """The board named ``slug`` (the default board when None), or a CommandError naming the choices."""
    if slug is None or slug == settings.BOARD_DEFAULT_SLUG:
        return Board.objects.default()
    board = Board.objects.filter(slug=slug).first()
    if board is None:
        known = ", ".join(Board.objects.values_list("slug", flat=True)) or "none yet"
        raise CommandError(f"There is no board '{slug}'. Boards: {known}.")
    return board


def confirm(command, question, options):
    """Go ahead if ``--yes`` was given or the person at the terminal types yes; otherwise stop."""
    if options["yes"]:
        return
    if not sys.stdin.isatty():
        raise CommandError("Nothing was changed: pass --yes to run this without a terminal to confirm at.")
    command.stdout.write(question)
    answer = input("Type 'yes' to continue: ")
    if answer.strip().lower() != "yes":
        raise CommandError("Nothing was changed.")


@contextmanager
def step(command, message, stream=None):
    """Print ``message…`` and then ``done`` with the time it took, for work that may take a while."""
    out = stream or command.stdout
    out.write(f"{message}… ", ending="")
    out.flush()
    started = time.monotonic()
    try:
        yield
    except BaseException:
        out.write("failed")
        raise
    out.write(f"done ({time.monotonic() - started:.1f} s)")


@contextmanager
def redis_errors():
    """Turn "Redis is down" into a sentence an operator can act on."""
    try:
        yield
    except state.StateUnavailable as error:
        raise CommandError(
            f"Redis did not answer at {settings.REDIS_URL} ({error}). "
            "Check that it is running and that REDIS_URL points at it."
        ) from None
