from django.core.management.base import BaseCommand

from board import moderation
from board.management.helpers import add_board_argument, confirm, get_board, redis_errors, step
from board.store import state


class Command(BaseCommand):
    help = "Uncheck every box of a board, for every player at once. A snapshot of the board is taken first."

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("--yes", action="store_true", help="Clear without asking for confirmation.")

    def handle(self, *args, **options):
        board = get_board(options["board"])
        with redis_errors():
            live = state.meta(board)
        confirm(self, f"Clear {board}: uncheck all {live.count:,} checked boxes?", options)
        with redis_errors(), step(self, f"Clearing {board}"):
            done = moderation.clear(board)
        self.stdout.write(self.style.SUCCESS(f"Cleared {board}. The board before it is snapshot #{done.before.pk}."))
