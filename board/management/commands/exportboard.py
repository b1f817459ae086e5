import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from board import pictures
from board.management.helpers import add_board_argument, get_board, redis_errors, step
from board.store import state


class Command(BaseCommand):
    help = (
        "Write a board's live state to a file: a PNG picture (one pixel per box, checked boxes dark, rows "
        "as in the admin) or the raw bitset (bit i is box i, most significant bit first). '-' writes to "
        "standard output."
    )

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("--format", choices=["png", "bin"], help="png or bin (default: from OUTPUT's suffix).")
        parser.add_argument("output", help="The file to write, or '-' for standard output.")

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        board = get_board(options["board"])
        output = options["output"]
        kind = options["format"] or self.format_of(output)
        progress = self.stderr if output == "-" else self.stdout
        with redis_errors(), step(self, f"Reading {board}", progress):
            bits, meta = state.read(board)
        with step(self, f"Encoding {meta.size:,} boxes as {kind}", progress):
            data = pictures.png(pictures.image(bits, meta.size)) if kind == "png" else bits
        self.write(output, data)
        if not self.verbosity:
            return
        progress.write(
            self.style.SUCCESS(
                f"Exported {board} at version {meta.version} ({meta.count:,} checked): {len(data):,} bytes to {output}."
            )
        )

    @staticmethod
    def format_of(output):
        suffix = Path(output).suffix.lower()
        if suffix in (".png", ".bin"):
            return suffix[1:]
        raise CommandError(f"Cannot tell the format from '{output}': pass --format png or --format bin.")

    @staticmethod
    def write(output, data):
        if output == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        try:
            Path(output).write_bytes(data)
        except OSError as error:
            raise CommandError(f"Could not write {output}: {error.strerror}.") from None
