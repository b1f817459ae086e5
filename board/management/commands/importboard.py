from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from board import bitset, moderation, pictures
from board.management.helpers import (
    add_board_argument,
    add_dry_run_argument,
    add_operator_arguments,
    confirm,
    differing_boxes,
    dry_run_done,
    get_board,
    operator,
    redis_errors,
    step,
)
from board.store import state


class Command(BaseCommand):
    help = (
        "Replace a board's live state with a file: a raw bitset of exactly the board's length, or a PNG of "
        "exactly the board's picture size (as exportboard writes; dark pixels are checked boxes). Asks first; "
        "the live board is saved as a snapshot; anything else is refused and the board left as it was."
    )

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("input", help="The file to read: a .png picture or a raw bitset.")
        add_operator_arguments(parser)
        add_dry_run_argument(parser)

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        board = get_board(options["board"])
        path = Path(options["input"])
        with step(self, f"Reading {path}"):
            bits = self.bits_from(self.read(path), board.size)
        with redis_errors():
            live_bits, live = state.read(board)
        checked = int.from_bytes(bits, "big").bit_count()
        if options["dry_run"]:
            dry_run_done(
                self,
                f"Would replace {board} ({live.count:,} checked) with {path.name} ({checked:,} checked): "
                f"{differing_boxes(live_bits, bits):,} boxes would change, and the live board would be saved first.",
            )
            return
        user = operator(options)
        confirm(self, f"Replace {board} ({live.count:,} checked) with {path.name} ({checked:,} checked)?", options)
        with redis_errors(), step(self, f"Replacing {board}"):
            done = moderation.import_bits(board, bits, user=user, source=path.name)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {path.name} into {board}: {done.meta.count:,} checked, version {done.meta.version}. "
                f"The board before it is {moderation.undo_note(done.before)}."
            )
        )

    @staticmethod
    def read(path):
        try:
            return path.read_bytes()
        except OSError as error:
            raise CommandError(f"Could not read {path}: {error.strerror}.") from None

    @staticmethod
    def bits_from(data, size):
        if data.startswith(pictures.PNG_SIGNATURE):
            try:
                return pictures.bits_from_png(data, size)
            except pictures.PictureError as error:
                raise CommandError(f"{error} The board was not changed.") from None
        expected = bitset.byte_length(size)
        if len(data) != expected:
            raise CommandError(
                f"The file is neither a PNG nor a raw bitset of this board: a board of {size:,} boxes needs "
                f"exactly {expected:,} bytes and the file has {len(data):,}. The board was not changed."
            )
        return data
