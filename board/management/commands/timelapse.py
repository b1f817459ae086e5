import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from board.history import timelapse
from board.history.moments import MOMENT_HELP, format_moment
from board.management.helpers import ProgressBar, add_board_argument, get_board, history_errors, moment


class Command(BaseCommand):
    help = (
        "Render how a board changed over a window as an animation (GIF, or APNG for .png/.apng), from the "
        "newest snapshot before the window plus the log and its archives. The first frame is the board at "
        "--since, the last at --until."
    )

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument("--since", required=True, help=f"The window's start: {MOMENT_HELP}.")
        parser.add_argument("--until", default="now", help="The window's end (default now), written the same way.")
        parser.add_argument("--fps", type=int, default=10, help="Frames per second (default 10).")
        parser.add_argument("--frames", type=int, default=60, help="Frames in all, evenly spaced (default 60).")
        parser.add_argument("output", help="The file to write: name.gif, name.png or name.apng.")

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        board = get_board(options["board"])
        now = timezone.now()
        since = moment("--since", options["since"], now)
        until = moment("--until", options["until"], now)
        output = Path(options["output"])
        kind = timelapse.FORMATS.get(output.suffix.lower())
        if kind is None:
            raise CommandError(f"{output} should end in .gif, .png or .apng, to say which animation to write.")
        check_writable(output)
        try:
            timelapse.check(board, since, until, options["frames"], options["fps"])
            with history_errors():
                data = timelapse.render(
                    board,
                    since,
                    until,
                    options["frames"],
                    options["fps"],
                    kind,
                    progress=ProgressBar(self.stderr, "Rendering").update if self.verbosity else None,
                )
        except timelapse.TimelapseError as error:
            raise CommandError(f"{error} Nothing was written.") from None
        try:
            output.write_bytes(data)
        except OSError as error:
            raise CommandError(f"Could not write {output}: {error.strerror}.") from None
        if not self.verbosity:
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {output} ({len(data):,} bytes): {board} from {format_moment(since)} to "
                f"{format_moment(until)} in {options['frames']} frames at {options['fps']} per second."
            )
        )


def check_writable(output):
    """A CommandError now, before any rendering, if ``output`` cannot be written."""
    folder = output.parent
    if not folder.is_dir():
        raise CommandError(f"Cannot write {output}: there is no directory {folder}.")
    if output.is_dir():
        raise CommandError(f"Cannot write {output}: it is a directory.")
    if not os.access(folder, os.W_OK | os.X_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise CommandError(f"Cannot write {output}: permission denied.")
