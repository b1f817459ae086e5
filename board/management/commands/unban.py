from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from board import moderation
from board.management.helpers import add_operator_arguments, operator
from board.models import Ban, ban_network


class Command(BaseCommand):
    help = "Lift the active bans on a network now (they stay in the admin as history)."

    def add_arguments(self, parser):
        parser.add_argument("network", help="The banned address or network, as listbans shows it.")
        add_operator_arguments(parser, confirms=False)

    def handle(self, *args, **options):
        try:
            network = str(ban_network(options["network"]))
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        now = timezone.now()
        bans = list(Ban.objects.active(now).filter(network=network))
        if not bans:
            raise CommandError(f"There is no active ban on {network}; listbans shows the active ones.")
        moderation.lift(bans, now, user=operator(options))
        self.stdout.write(self.style.SUCCESS(f"Lifted the ban on {network}."))
