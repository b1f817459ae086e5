import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from board import moderation
from board.history import queries
from board.history.moments import MOMENT_HELP, format_moment
from board.management.helpers import (
    add_board_argument,
    add_operator_arguments,
    confirm,
    get_board,
    history_errors,
    moment,
    network,
    operator,
    step,
)


class Command(BaseCommand):
    help = (
        "Undo everything an IP address or network did to a board since a time. Each box whose latest change "
        "came from it goes back to the value it had before its first change in that time; boxes someone else "
        "changed afterwards are left alone. Says what would change and asks first; the board is saved as a "
        "snapshot before anything changes, and players see the revert live."
    )

    def add_arguments(self, parser):
        add_board_argument(parser)
        parser.add_argument(
            "--ip", required=True, help="203.0.113.9, 203.0.113.0/24 or 2001:db8::/48 (an IPv6 address means its /64)."
        )
        parser.add_argument("--since", required=True, help=f"Where the revert starts: {MOMENT_HELP}.")
        parser.add_argument(
            "--json", action="store_true", help="With --dry-run: print the plan as JSON (docs/operations.md)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what would change, and change nothing.")
        add_operator_arguments(parser)

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        if options["json"] and not options["dry_run"]:
            raise CommandError("--json prints a plan: give --dry-run too. Nothing was changed.")
        board = get_board(options["board"])
        user = operator(options)
        vandal = network(options["ip"])
        since = moment("--since", options["since"], timezone.now())
        with history_errors():
            plan = queries.revert_plan(board, vandal, since)
        if options["json"]:
            self.stdout.write(json.dumps(as_json(plan, board)))
            return
        if not plan.changes:
            raise CommandError(
                f"{vandal} changed nothing on {board} since {format_moment(since)} (as far as the log and its "
                "archives go): nothing to revert, and nothing was changed."
            )
        self.stdout.write(describe(plan, board))
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
            return
        if not plan.restore:
            raise CommandError("Nothing to revert, so nothing was changed.")
        confirm(self, f"Revert {len(plan.restore):,} boxes of {board}? ", options)
        with history_errors(), step(self, f"Reverting {vandal} on {board}"):
            try:
                done = moderation.revert(board, vandal, since, user=user)
            except moderation.ModerationError as error:
                raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Reverted {done.changed:,} boxes of {board}. "
                f"The board before it is {moderation.undo_note(done.before)}."
            )
        )


def describe(plan, board):
    return (
        f"{plan.network} made {plan.changes:,} changes to {board} since {format_moment(plan.since)}. "
        f"Reverting changes {len(plan.restore):,} boxes ({plan.checks:,} checked again, {plan.unchecks:,} "
        f"unchecked again) and leaves alone {len(plan.kept):,} that someone else changed afterwards and "
        f"{len(plan.unchanged):,} it put back itself."
    )


def as_json(plan, board):
    return {
        "board": board.slug,
        "network": str(plan.network),
        "since": plan.since.isoformat(),
        "changes": plan.changes,
        "boxes": len(plan.restore),
        "checks": plan.checks,
        "unchecks": plan.unchecks,
        "kept": len(plan.kept),
        "unchanged": len(plan.unchanged),
    }
