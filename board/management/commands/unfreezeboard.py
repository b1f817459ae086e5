from board.management.commands import freezeboard


class Command(freezeboard.Command):
    help = "Unfreeze a board frozen by freezeboard or the admin: players can change boxes again."
    frozen = False
