import ipaddress
import logging
import zlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from . import bitset
from .numbers import in_words

logger = logging.getLogger(__name__)


class BoardQuerySet(models.QuerySet):
    def default(self):
        """The board served at ``/``, created on first use."""
        board, _ = self.get_or_create(
            slug=settings.BOARD_DEFAULT_SLUG,
            defaults={"size": settings.BOARD_DEFAULT_SIZE},
        )
        return board


class Board(models.Model):
    slug = models.SlugField(
        unique=True,
        help_text="Part of the board's address, as in /b/art/. Cannot change once players know it.",
    )
    title = models.CharField(
        max_length=120,
        blank=True,
        help_text='Shown as the page title. Leave empty for the size in words ("One Million Checkboxes").',
    )
    size = models.PositiveIntegerField(
        default=100_000,
        validators=[MinValueValidator(1), MaxValueValidator(100_000_000)],
        help_text="Number of checkboxes. Fixed once the board exists.",
    )
    frozen = models.BooleanField(
        default=False,
        help_text="A frozen board refuses every change; players see a banner.",
    )
    created = models.DateTimeField(auto_now_add=True)

    objects = BoardQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        permissions = [
            ("freeze_board", "Can freeze and unfreeze a board"),
            ("clear_board", "Can clear a board"),
            ("view_history", "Can see a board's history: who changed which box, and timelapses"),
            ("revert_changes", "Can revert the changes a network made to a board"),
        ]

    def __str__(self):
        return self.slug

    def get_absolute_url(self):
        if self.is_default:
            return reverse("board:home")
        return reverse("board:board", kwargs={"slug": self.slug})

    def get_state_url(self):
        return reverse("board:state", kwargs={"slug": self.slug})

    def get_socket_path(self):
        return f"/ws/b/{self.slug}/"

    @property
    def is_default(self):
        return self.slug == settings.BOARD_DEFAULT_SLUG

    @property
    def display_title(self):
        return self.title or f"{in_words(self.size)} Checkboxes"

    def initial_state(self):
        """What the live state starts from when Redis has none: ``(bits, version)`` or None for empty.

        The newest snapshot, so a Redis that restarts empty (or a new one) costs
        at most the changes since that snapshot. ``state.ensure`` calls this and
        installs the result atomically, exactly once, before any change applies.
        A board deleted since it was read raises ``Board.DoesNotExist``.
        """
        if not Board.objects.filter(pk=self.pk).exists():
            raise Board.DoesNotExist(f"Board {self.slug} was deleted.")
        snapshot = self.snapshots.filter(size=self.size).first()
        if snapshot is None:
            return None
        logger.warning(
            "Board %s has no live state; starting it from snapshot #%d (version %d, %d checked)",
            self.slug,
            snapshot.pk,
            snapshot.version,
            snapshot.count,
        )
        return snapshot.bits(), snapshot.version


class Snapshot(models.Model):
    class Reason(models.TextChoices):
        PERIODIC = "periodic", "Periodic"
        MANUAL = "manual", "Taken by hand"
        SHUTDOWN = "shutdown", "Server shutdown"
        BEFORE_RESTORE = "before-restore", "Before a restore"
        RESTORED = "restored", "Restored"
        BEFORE_CLEAR = "before-clear", "Before clearing"
        CLEARED = "cleared", "Cleared"
        BEFORE_IMPORT = "before-import", "Before an import"
        IMPORTED = "imported", "Imported"
        BEFORE_REVERT = "before-revert", "Before a revert"

    # Either side of a moderator's replace or revert: the points it is undone
    # from, and where a replay of the log across a replace starts.
    UNDO_REASONS = frozenset(
        {
            Reason.BEFORE_RESTORE,
            Reason.RESTORED,
            Reason.BEFORE_CLEAR,
            Reason.CLEARED,
            Reason.BEFORE_IMPORT,
            Reason.IMPORTED,
            Reason.BEFORE_REVERT,
        }
    )

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="snapshots")
    created = models.DateTimeField(default=timezone.now, db_index=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.CharField(max_length=200, blank=True, help_text="Why it was taken, in a few words.")
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the server or a manage.py command took it.",
    )
    size = models.PositiveIntegerField(help_text="Boxes on the board when it was taken.")
    count = models.PositiveIntegerField(help_text="Boxes checked.")
    version = models.PositiveBigIntegerField(help_text="The board version the snapshot reflects.")
    digest = models.CharField(max_length=64, help_text="SHA-256 of the bitset.")
    data = models.BinaryField(help_text="The bitset, zlib-compressed.")

    class Meta:
        ordering = ["-created", "-id"]
        get_latest_by = ["created", "id"]
        # Taking one is a button on the board; they are never added or edited by hand.
        default_permissions = ("view", "delete")
        permissions = [
            ("take_snapshot", "Can take a snapshot of a board"),
            ("restore_snapshot", "Can restore a snapshot onto its board"),
        ]

    def __str__(self):
        return f"Snapshot #{self.pk}"

    @classmethod
    def of(cls, board, bits, version, count, **fields):
        """A new, unsaved snapshot of ``bits`` (the raw bitset) on ``board``."""
        return cls(
            board=board,
            size=board.size,
            count=count,
            version=version,
            digest=bitset.digest(bits),
            data=zlib.compress(bits, 6),
            **fields,
        )

    def bits(self):
        return zlib.decompress(bytes(self.data))


class BanQuerySet(models.QuerySet):
    def active(self, now=None):
        now = now or timezone.now()
        return self.filter(models.Q(expires__isnull=True) | models.Q(expires__gt=now))

    def expired(self, now=None):
        return self.filter(expires__lte=now or timezone.now())


# The widest networks a ban may cover: a mistyped /0 must not lock out everyone.
WIDEST_BAN = {4: 16, 6: 32}


def ban_network(value):
    """The network a ban covers, from an address or CIDR a moderator typed.

    Host bits are dropped (``203.0.113.9/24`` is ``203.0.113.0/24``). An IPv6
    address or a network narrower than ``BOARD_IPV6_PREFIX`` widens to that
    prefix, because one subscriber usually holds a whole /64.
    """
    text = str(value).strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValidationError(
            "%(value)s is not an IP address or network; write 203.0.113.9, 203.0.113.0/24 or 2001:db8::/48.",
            code="invalid",
            params={"value": text or "An empty value"},
        ) from None
    mapped = network.version == 6 and network.network_address.ipv4_mapped
    if mapped and network.prefixlen >= 96:
        # Players on ::ffff:a.b.c.d are grouped as the IPv4 address they are.
        network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}", strict=False)
    if network.version == 6 and network.prefixlen > settings.BOARD_IPV6_PREFIX:
        network = network.supernet(new_prefix=settings.BOARD_IPV6_PREFIX)
    widest = WIDEST_BAN[network.version]
    if network.prefixlen < widest:
        raise ValidationError(
            "%(network)s covers %(addresses)s addresses; a ban may cover at most a /%(widest)d.",
            code="too_wide",
            params={"network": network, "addresses": f"{network.num_addresses:,}", "widest": widest},
        )
    return network


class Ban(models.Model):
    network = models.CharField(
        max_length=50,
        db_index=True,
        help_text=(
            "An IP address or network: 203.0.113.9, 203.0.113.0/24, 2001:db8::/48. "
            "An IPv6 address bans its whole /64, the block one subscriber usually holds."
        ),
    )
    reason = models.CharField(max_length=200, help_text="What they did; other moderators will read it.")
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When the ban ends. Empty: until a moderator lifts it."
    )
    banned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when a manage.py command made the ban.",
    )

    objects = BanQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.network

    def save(self, *args, **kwargs):
        self.network = str(ban_network(self.network))
        super().save(*args, **kwargs)

    def clean(self):
        try:
            self.network = str(ban_network(self.network))
        except ValidationError as error:
            raise ValidationError({"network": error}) from None

    def is_active(self, now=None):
        return self.expires is None or self.expires > (now or timezone.now())

    def ip_network(self):
        return ipaddress.ip_network(self.network)
