"""What the operators' commands share: finding a board, who runs them, reading times and networks, confirming,
showing progress."""

import getpass
import sys
import time
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from board.history.archive import ArchiveError
from board.history.moments import format_moment, parse_moment
from board.models import Board, ban_network
from board.store import state


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


def add_operator_arguments(parser, confirms=True):
    """``--user``, who the admin's history names; with ``confirms``, Django's ``--noinput`` (also ``--yes``)."""
    parser.add_argument(
        "--user",
        metavar="USERNAME",
        help="The account the admin's history names for this (default: os.<your login>, made on first use).",
    )
    if confirms:
        parser.add_argument(
            "--noinput",
            "--no-input",
            "--yes",
            action="store_false",
            dest="interactive",
            help="Go ahead without asking for confirmation.",
        )


def add_dry_run_argument(parser):
    parser.add_argument(
        "--dry-run", action="store_true", help="Say what would change, and change nothing (no confirmation asked)."
    )


def differing_boxes(bits, other):
    """How many boxes two bitsets of one board hold differently."""
    return (int.from_bytes(bits, "big") ^ int.from_bytes(other, "big")).bit_count()


def dry_run_done(command, text):
    """End a ``--dry-run``: what would have happened, and that nothing did."""
    command.stdout.write(f"{text} Nothing was changed (--dry-run).")


def operator(options):
    """The user an operator's command acts as: ``--user``, or the inactive ``os.<login>`` account."""
    users = get_user_model().objects
    if options["user"]:
        user = users.filter(**{users.model.USERNAME_FIELD: options["user"]}).first()
        if user is None:
            raise CommandError(f"There is no user '{options['user']}'; nothing was changed.")
        return user
    name = f"os.{getpass.getuser()}"
    return users.filter(**{users.model.USERNAME_FIELD: name}).first() or users.create_user(name, is_active=False)


def confirm(command, question, options):
    """Go ahead if ``--noinput`` was given or the person at the terminal types yes; otherwise stop."""
    if not options["interactive"]:
        return
    if not sys.stdin.isatty():
        raise CommandError("Nothing was changed: pass --noinput to run this without a terminal to confirm at.")
    command.stdout.write(question)
    answer = input("Type 'yes' to continue: ")
    if answer.strip().lower() != "yes":
        raise CommandError("Nothing was changed.")


@contextmanager
def step(command, message, stream=None):
    """Print ``message…`` and then ``done`` with the time it took, for work that may take a while.

    Nothing at ``--verbosity 0`` (a command that keeps ``self.verbosity``), which
    asks for results and errors only.
    """
    if getattr(command, "verbosity", 1) < 1:
        yield
        return
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


@contextmanager
def history_errors():
    """As :func:`redis_errors`, and an archive that cannot be read or written as a CommandError."""
    with redis_errors():
        try:
            yield
        except ArchiveError as error:
            raise CommandError(str(error)) from None
        except state.REDIS_ERRORS as error:
            raise state.StateUnavailable(str(error)) from error


def moment(option, text, now):
    """A ``--since``/``--until`` value as a datetime, or a CommandError saying what to write."""
    try:
        value = parse_moment(text, now)
    except ValueError as error:
        raise CommandError(f"{option}: {error}") from None
    if value > now:
        raise CommandError(f"{option} {text} is in the future ({format_moment(value)}); history ends now.")
    return value


def network(text):
    """An ``--ip`` value as the network it stands for (as bans group it), or a CommandError."""
    try:
        return ban_network(text)
    except ValidationError as error:
        raise CommandError(f"--ip: {' '.join(error.messages)}") from None


class ProgressBar:
    """``Rendering [########------------] 40/100`` on one line, redrawn as work is done.

    Drawn only on a terminal: in a log file or a pipe the redraws would be noise.
    """

    WIDTH = 30

    def __init__(self, stream, label):
        self.stream = stream
        self.label = label
        self.drawn = -1
        self.shown = stream.isatty()

    def update(self, done, total):
        if not self.shown:
            return
        filled = self.WIDTH * done // total
        if filled == self.drawn and done != total:
            return
        self.drawn = filled
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}", ending="\n" if done == total else "")
        self.stream.flush()
