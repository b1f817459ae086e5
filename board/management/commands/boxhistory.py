import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from board.history import queries
from board.history.moments import format_moment
from board.management.helpers import add_board_argument, get_board, history_errors

VALUES = {0: "unchecked", 1: "checked", None: "unknown"}


class Command(BaseCommand):
    help = (
        "Show a box's recent changes, newest first: when, its new value and who made it (network, address, "
        "connection), from the live log and its archives. Whole-board restores, clears and imports are listed "
        "too, with the value they gave the box."
    )

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("box", type=int, help="The box's number; boxes are numbered from 0.")
        parser.add_argument("--limit", type=int, default=20, help="How many changes to show (default 20).")
        parser.add_argument("--json", action="store_true", help="Print JSON, for scripts (docs/operations.md).")

    def handle(self, *args, **options):
        board = get_board(options["board"])
        box, limit = options["box"], options["limit"]
        if not 0 <= box < board.size:
            raise CommandError(f"Box {box:,} does not exist on {board}: its boxes are 0 to {board.size - 1:,}.")
        if limit < 1:
            raise CommandError(f"--limit {limit} shows nothing; give 1 or more.")
        with history_errors():
            events = queries.box_history(board, box, limit)
        if options["json"]:
            self.stdout.write(json.dumps({"board": board.slug, "box": box, "changes": [as_json(e) for e in events]}))
            return
        if not events:
            self.stdout.write(
                f"Box {box:,} of {board} has no changes on record (the log keeps "
                f"{settings.HISTORY_RETENTION_HOURS} hours; older changes are in archives if archivelog ran)."
            )
            return
        self.stdout.write(f"Box {box:,} of {board}, newest first:")
        for event in events:
            self.stdout.write(describe(event))


def describe(event):
    entry = event.entry
    when = format_moment(entry.time)
    if event.is_reset:
        return f"{when}  {VALUES[event.value]:<9}  board {entry.reason} by {entry.who}  (version {entry.version:,})"
    who = entry.who
    if entry.address and entry.network != f"{entry.address}/32":
        who += f" ({entry.address})"
    if entry.network:
        who += f"  connection {entry.connection}"
    return f"{when}  {VALUES[event.value]:<9}  {who}  (version {entry.version:,})"


def as_json(event):
    """One change, or a whole-board reset, with the same keys either way (null where they don't apply)."""
    entry = event.entry
    row = {
        "time": entry.time.isoformat(),
        "value": event.value,
        "version": entry.version,
        "who": entry.who,
        "kind": "change",
        "reason": None,
        "network": None,
        "address": None,
        "connection": None,
    }
    if event.is_reset:
        return {**row, "kind": "reset", "reason": entry.reason}
    return {**row, "network": entry.network or None, "address": entry.address or None, "connection": entry.connection}
