from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from board import moderation
from board.history.moments import parse_duration
from board.management.helpers import add_operator_arguments, operator


def ban_duration(text):
    """How long a ban lasts, as a timedelta; ``"forever"`` as None."""
    if text == "forever":
        return None
    try:
        return parse_duration(text)
    except ValueError as error:
        raise CommandError(f"--for: {error} Or write forever.") from None


class Command(BaseCommand):
    help = (
        "Ban an IP address or network from changing boxes (it may still watch). Players on it are refused "
        "within seconds. An IPv6 address bans its whole /64."
    )

    def add_arguments(self, parser):
        parser.add_argument("network", help="203.0.113.9, 203.0.113.0/24, 2001:db8::1 or 2001:db8::/48.")
        parser.add_argument("--reason", required=True, help="What they did; moderators read it in the admin.")
        parser.add_argument(
            "--for", dest="duration", default="1d", help="How long: 90s, 30m, 12h, 7d, 2w or forever (default 1d)."
        )
        add_operator_arguments(parser, confirms=False)

    def handle(self, *args, **options):
        span = ban_duration(options["duration"])
        expires = timezone.now() + span if span else None
        reason = options["reason"].strip()
        if not reason:
            raise CommandError("--reason is empty: say what they did, for the other moderators.")
        try:
            ban = moderation.ban(options["network"], reason[:200], expires=expires, user=operator(options))
        except ValidationError as error:
            raise CommandError(" ".join(_messages(error))) from None
        until = f"until {ban.expires:%Y-%m-%d %H:%M} UTC" if ban.expires else "until lifted"
        self.stdout.write(self.style.SUCCESS(f"Banned {ban.network} {until} (ban #{ban.pk})."))


def _messages(error):
    if hasattr(error, "message_dict"):
        return [message for messages in error.message_dict.values() for message in messages]
    return error.messages
