from django.core.management.base import BaseCommand

from board import moderation
from board.management.helpers import (
    add_board_argument,
    add_dry_run_argument,
    add_operator_arguments,
    confirm,
    dry_run_done,
    get_board,
    operator,
    redis_errors,
    step,
)
from board.store import state


class Command(BaseCommand):
    help = "Uncheck every box of a board, for every player at once. A snapshot of the board is taken first."

    def add_arguments(self, parser):
        add_board_argument(parser)
        add_operator_arguments(parser)
        add_dry_run_argument(parser)

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        board = get_board(options["board"])
        with redis_errors():
            live = state.meta(board)
        if options["dry_run"]:
            dry_run_done(self, f"Would clear {board}: uncheck all {live.count:,} checked boxes, saving it first.")
            return
        user = operator(options)
        confirm(self, f"Clear {board}: uncheck all {live.count:,} checked boxes?", options)
        with redis_errors(), step(self, f"Clearing {board}"):
            done = moderation.clear(board, user=user)
        before = moderation.undo_note(done.before)
        self.stdout.write(self.style.SUCCESS(f"Cleared {board}. The board before it is {before}."))
