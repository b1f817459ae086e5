from django.core.management.base import BaseCommand, CommandError
from django.utils.timesince import timesince

from board import moderation
from board.management.helpers import (
    add_dry_run_argument,
    add_operator_arguments,
    confirm,
    differing_boxes,
    dry_run_done,
    operator,
    redis_errors,
    step,
)
from board.models import Snapshot
from board.store import state


class Command(BaseCommand):
    help = (
        "Restore a snapshot onto its board, as the admin's restore does: the live board is saved as a "
        "'before restore' snapshot first, then every player switches to the restored board."
    )

    def add_arguments(self, parser):
        parser.add_argument("id", type=int, help="The snapshot's id (see listsnapshots).")
        add_operator_arguments(parser)
        add_dry_run_argument(parser)

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        snapshot = Snapshot.objects.select_related("board").filter(pk=options["id"]).first()
        if snapshot is None:
            raise CommandError(f"There is no snapshot #{options['id']}; listsnapshots shows the ones there are.")
        board = snapshot.board
        if options["dry_run"]:
            self.dry_run(snapshot)
            return
        user = operator(options)
        with redis_errors():
            live = state.meta(board)
        confirm(
            self,
            f"Restore snapshot #{snapshot.pk} of {board}, taken {timesince(snapshot.created)} ago "
            f"({snapshot.count:,} checked), replacing the live board ({live.count:,} checked)?",
            options,
        )
        with redis_errors(), step(self, f"Restoring snapshot #{snapshot.pk} onto {board}"):
            try:
                done = moderation.restore(snapshot, user=user)
            except moderation.ModerationError as error:
                raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored snapshot #{snapshot.pk}: {done.meta.count:,} checked, version {done.meta.version}. "
                f"The board before it is {moderation.undo_note(done.before)}."
            )
        )

    def dry_run(self, snapshot):
        board = snapshot.board
        if snapshot.size != board.size:
            raise CommandError(
                f"Snapshot #{snapshot.pk} holds {snapshot.size:,} boxes but board {board.slug} has {board.size:,}, "
                "so it cannot be restored onto it. Nothing was changed."
            )
        with redis_errors():
            bits, live = state.read(board)
        dry_run_done(
            self,
            f"Would restore snapshot #{snapshot.pk} of {board}, taken {timesince(snapshot.created)} ago "
            f"({snapshot.count:,} checked), over the live board ({live.count:,} checked): "
            f"{differing_boxes(bits, snapshot.bits()):,} boxes would change, and the live board would be saved first.",
        )
