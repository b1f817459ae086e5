from django.core.management.base import BaseCommand

from board import moderation
from board.management.helpers import add_board_argument, add_operator_arguments, get_board, operator, redis_errors


class Command(BaseCommand):
    help = "Freeze a board: it refuses every change and its players see a banner, until unfreezeboard."
    frozen = True

    def add_arguments(self, parser):
        add_board_argument(parser)
        add_operator_arguments(parser, confirms=False)

    def handle(self, *args, **options):
        board = get_board(options["board"])
        state_word = "frozen" if self.frozen else "unfrozen"
        with redis_errors():
            changed = moderation.freeze(board, self.frozen, user=operator(options))
        if not changed:
            self.stdout.write(f"Board {board} was already {state_word}.")
            return
        self.stdout.write(self.style.SUCCESS(f"Board {board} is {state_word}; its players see it now."))
