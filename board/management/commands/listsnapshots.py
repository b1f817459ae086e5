import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.timesince import timesince

from board.management.helpers import add_board_argument, get_board


class Command(BaseCommand):
    help = "List a board's snapshots, newest first, with the ids restoresnapshot takes."

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("--limit", type=int, default=20, help="How many to list (default 20).")
        parser.add_argument("--json", action="store_true", help="Print JSON, for scripts (docs/operations.md).")

    def handle(self, *args, **options):
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        board = get_board(options["board"])
        found = list(board.snapshots.select_related("taken_by").defer("data")[: options["limit"]])
        if options["json"]:
            self.stdout.write(json.dumps([as_json(snapshot) for snapshot in found]))
            return
        if not found:
            self.stdout.write(f"{board} has no snapshots yet.")
            return
        self.stdout.write(f"{'id':>6}  {'taken (UTC)':<16}  {'age':<22} {'reason':<16} {'checked':>11} {'version':>9}")
        for snapshot in found:
            self.stdout.write(
                f"{snapshot.pk:>6}  {snapshot.created:%Y-%m-%d %H:%M}  {timesince(snapshot.created) + ' ago':<22} "
                f"{snapshot.reason:<16} {snapshot.count:>11,} {snapshot.version:>9}  {snapshot.note}"
            )


def as_json(snapshot):
    return {
        "id": snapshot.pk,
        "board": snapshot.board.slug,
        "taken": snapshot.created.isoformat(),
        "reason": snapshot.reason,
        "note": snapshot.note,
        "taken_by": snapshot.taken_by.get_username() if snapshot.taken_by else None,
        "size": snapshot.size,
        "checked": snapshot.count,
        "version": snapshot.version,
    }
