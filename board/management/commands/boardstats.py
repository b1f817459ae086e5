import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from board.management.helpers import add_board_argument, get_board, redis_errors
from board.store import state


class Command(BaseCommand):
    help = "Show a board's size, checked boxes, version, frozen flag, connected players and last snapshot."

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("--json", action="store_true", help="Print one JSON object, for scripts.")

    def handle(self, *args, **options):
        board = get_board(options["board"])
        with redis_errors():
            stats = self.stats(board)
        if options["json"]:
            self.stdout.write(json.dumps(stats))
            return
        for name, value in stats.items():
            self.stdout.write(f"{name.replace('_', ' '):<22} {self.show(value)}")

    def stats(self, board):
        meta = state.meta(board)
        latest = board.snapshots.defer("data").first()
        return {
            "board": board.slug,
            "size": meta.size,
            "checked": meta.count,
            "version": meta.version,
            "epoch": meta.epoch,
            "frozen": meta.frozen,
            "players": state.players(board.slug),
            "last_snapshot_id": latest.pk if latest else None,
            "last_snapshot_age_seconds": round((timezone.now() - latest.created).total_seconds()) if latest else None,
        }

    @staticmethod
    def show(value):
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        return value
