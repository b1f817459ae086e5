from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from redis.exceptions import LockError

from board.history import archive
from board.history.moments import format_moment, parse_duration
from board.management.helpers import (
    add_board_argument,
    add_dry_run_argument,
    dry_run_done,
    get_board,
    history_errors,
    step,
)
from board.models import Board
from board.store import changelog, state


class Command(BaseCommand):
    help = (
        "Move the history older than --older-than (default 1h) out of Redis into compressed files, one per "
        "board per day in HISTORY_ARCHIVE_DIR, where boxhistory, revertchanges, timelapse and the admin still "
        "read it. Then, for every board, drop entries older than HISTORY_RETENTION_HOURS from the live log and "
        "who made each change from archived ones, and delete archive files older than HISTORY_ARCHIVE_DAYS. "
        "Last, Redis rewrites its append-only file and saves a fresh dump, so what was dropped leaves its disk "
        "too. Run it hourly (deploy/systemd/checkboxes-archivelog.timer)."
    )

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("--all-boards", action="store_true", help="Archive every board's history (for a timer).")
        parser.add_argument(
            "--older-than", default="1h", help="Archive changes older than this: 30m, 1h, 2d (default 1h)."
        )
        add_dry_run_argument(parser)

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        try:
            older_than = parse_duration(options["older_than"])
        except ValueError as error:
            raise CommandError(f"--older-than: {error}") from None
        boards = list(Board.objects.all()) if options["all_boards"] else [get_board(options["board"])]
        now = timezone.now()
        forget_before = changelog.retention_cutoff(now)
        if options["dry_run"]:
            with history_errors():
                self.dry_run(boards, now - older_than, forget_before, now)
            return
        # Two runs at once would write the same day files.
        lock = state.sync_client().lock(f"{settings.REDIS_PREFIX}:archivelog", timeout=6 * 3600, blocking_timeout=0)
        with history_errors():
            try:
                with lock:
                    for board in boards:
                        self.archive(board, now - older_than, forget_before)
                    trimmed = sum(
                        changelog.trim(slug, forget_before) for slug in Board.objects.values_list("slug", flat=True)
                    )
                    tidied = archive.tidy(now)
                    rewriting = changelog.rewrite_redis_files()
            except LockError:
                raise CommandError("Another archivelog is running; nothing was changed.") from None
        hours = settings.HISTORY_RETENTION_HOURS
        kept = f"older than {settings.HISTORY_ARCHIVE_DAYS} days" if settings.HISTORY_ARCHIVE_DAYS else "(kept forever)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Past {hours} hours: {trimmed:,} entries dropped from the live logs, who made the changes dropped "
                f"from {tidied.anonymised} archive files. Deleted {tidied.deleted} archive files {kept}."
            )
        )
        for sentence in rewriting:
            self.stdout.write(sentence)

    def dry_run(self, boards, before, forget_before, now):
        for board in boards:
            pending = archive.preview(board.slug, before)
            days = ", ".join(day.isoformat() for day in pending.days) or "none"
            self.stdout.write(
                f"Would archive {pending.entries:,} entries of {board} before {format_moment(before)} (days: {days})."
            )
        # Retention then drops what is still in a live log before its cutoff:
        # from the archived boards only what lies between the two moments.
        archived = {board.slug for board in boards}
        trimmed = sum(
            changelog.count(slug, since=before if slug in archived else None, before=forget_before)
            for slug in Board.objects.values_list("slug", flat=True)
            if slug not in archived or before < forget_before
        )
        tidied = archive.tidy(now, dry_run=True)
        dry_run_done(
            self,
            f"Past {settings.HISTORY_RETENTION_HOURS} hours: would drop {trimmed:,} entries from the live logs, "
            f"forget who made the changes in {tidied.anonymised} archive files and delete {tidied.deleted}.",
        )

    def archive(self, board, before, forget_before):
        with step(self, f"Archiving the changes to {board} before {format_moment(before)}"):
            done = archive.archive(board.slug, before, forget_before)
        days = ", ".join(day.isoformat() for day in done.days) or "none"
        self.stdout.write(f"{done.entries:,} entries archived in {archive.directory(board.slug)} (days: {days}).")
