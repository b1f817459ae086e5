from django.conf import settings
from django.core.management.base import BaseCommand

from board.management.helpers import get_board
from board.models import Board
from board.store import snapshots


class Command(BaseCommand):
    help = (
        "Delete old snapshots by the retention policy: keep each board's newest BOARD_SNAPSHOT_KEEP, the newest "
        "of each hour for BOARD_SNAPSHOT_KEEP_HOURS hours and of each day for BOARD_SNAPSHOT_KEEP_DAYS days, and "
        "every snapshot taken by hand. The newest snapshot is never deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--board", metavar="SLUG", help="Only this board (default: every board).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be deleted; delete nothing.")

    def handle(self, *args, **options):
        boards = [get_board(options["board"])] if options["board"] else list(Board.objects.all())
        self.stdout.write(
            f"Keeping the newest {settings.BOARD_SNAPSHOT_KEEP}, hourly for {settings.BOARD_SNAPSHOT_KEEP_HOURS} h, "
            f"daily for {settings.BOARD_SNAPSHOT_KEEP_DAYS} days, and all taken by hand."
        )
        verb = "would delete" if options["dry_run"] else "deleted"
        total = 0
        for number, board in enumerate(boards, 1):
            kept, deleted = snapshots.prune(board, dry_run=options["dry_run"])
            total += deleted
            self.stdout.write(f"[{number}/{len(boards)}] {board}: kept {kept:,}, {verb} {deleted:,}")
        self.stdout.write(self.style.SUCCESS(f"{verb.capitalize()} {total:,} snapshot{'s' if total != 1 else ''}."))
