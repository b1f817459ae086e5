from django.core.management.base import BaseCommand

from board.management.helpers import add_board_argument, get_board, redis_errors
from board.models import Snapshot
from board.store import snapshots


class Command(BaseCommand):
    help = "Save a board's live state as a snapshot now; prints its id, checked count and version."

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("--note", default="", help="Why it was taken, in a few words (up to 200 characters).")

    def handle(self, *args, **options):
        board = get_board(options["board"])
        note = options["note"].strip()[:200]
        with redis_errors():
            snapshot = snapshots.take(board, Snapshot.Reason.MANUAL, note=note)
        self.stdout.write(
            self.style.SUCCESS(
                f"Snapshot #{snapshot.pk} of {board}: {snapshot.count:,} of {snapshot.size:,} checked, "
                f"version {snapshot.version}."
            )
        )
