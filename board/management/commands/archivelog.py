from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from redis.exceptions import LockError

from board import archive, state
from board.management.helpers import add_board_argument, get_board, history_errors, step
from board.models import Board
from board.moments import format_moment, parse_duration


class Command(BaseCommand):
    help = (
        "Move the history older than --older-than (default 1h) out of Redis into compressed files, one per "
        "board per day in HISTORY_ARCHIVE_DIR, where boxhistory, revertchanges, timelapse and the admin still "
        "read it. Then drop who made each change from archived entries older than HISTORY_RETENTION_HOURS, "
        "and delete archive files older than HISTORY_ARCHIVE_DAYS. Run it hourly (deploy/systemd)."
    )

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("--all-boards", action="store_true", help="Archive every board's history (for a timer).")
        parser.add_argument(
            "--older-than", default="1h", help="Archive changes older than this: 30m, 1h, 2d (default 1h)."
        )

    def handle(self, *args, **options):
        try:
            older_than = parse_duration(options["older_than"])
        except ValueError as error:
            raise CommandError(f"--older-than: {error}") from None
        boards = list(Board.objects.all()) if options["all_boards"] else [get_board(options["board"])]
        now = timezone.now()
        forget_before = now - timedelta(hours=settings.HISTORY_RETENTION_HOURS)
        # Two runs at once would write the same day files.
        lock = state.sync_client().lock(f"{settings.REDIS_PREFIX}:archivelog", timeout=6 * 3600, blocking_timeout=0)
        with history_errors():
            try:
                with lock:
                    for board in boards:
                        self.archive(board, now - older_than, forget_before)
                    tidied = archive.tidy(now)
            except LockError:
                raise CommandError("Another archivelog is running; nothing was changed.") from None
        kept = f"older than {settings.HISTORY_ARCHIVE_DAYS} days" if settings.HISTORY_ARCHIVE_DAYS else "(kept forever)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Dropped who made the changes from {tidied.anonymised} archive files past "
                f"{settings.HISTORY_RETENTION_HOURS} hours; deleted {tidied.deleted} archive files {kept}."
            )
        )

    def archive(self, board, before, forget_before):
        with step(self, f"Archiving the changes to {board} before {format_moment(before)}"):
            done = archive.archive(board.slug, before, forget_before)
        days = ", ".join(day.isoformat() for day in done.days) or "none"
        self.stdout.write(f"{done.entries:,} entries archived in {archive.directory(board.slug)} (days: {days}).")
