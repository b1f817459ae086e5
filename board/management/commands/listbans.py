import json

from django.core.management.base import BaseCommand

from board.models import Ban


class Command(BaseCommand):
    help = "List the active bans (with --all, ended ones too)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Include bans that have ended.")
        parser.add_argument("--json", action="store_true", help="Print JSON, for scripts (docs/operations.md).")

    def handle(self, *args, **options):
        bans = Ban.objects.select_related("banned_by")
        if not options["all"]:
            bans = bans.active()
        if options["json"]:
            self.stdout.write(json.dumps([as_json(ban) for ban in bans]))
            return
        rows = [self.row(ban) for ban in bans]
        if not rows:
            self.stdout.write("No bans." if options["all"] else "No active bans.")
            return
        self.stdout.write(f"{'network':<44} {'until':<17} {'by':<12} reason")
        for row in rows:
            self.stdout.write(row)

    @staticmethod
    def row(ban):
        until = f"{ban.expires:%Y-%m-%d %H:%M}" if ban.expires else "lifted by hand"
        if not ban.is_active():
            until = f"ended {ban.expires:%Y-%m-%d}"
        by = ban.banned_by.get_username() if ban.banned_by else "manage.py"
        return f"{ban.network:<44} {until:<17} {by:<12} {ban.reason}"


def as_json(ban):
    return {
        "network": ban.network,
        "reason": ban.reason,
        "created": ban.created.isoformat(),
        "expires": ban.expires.isoformat() if ban.expires else None,
        "active": ban.is_active(),
        "banned_by": ban.banned_by.get_username() if ban.banned_by else None,
    }
