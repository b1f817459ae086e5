from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from .numbers import in_words


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
        help_text="Part of the board's address: /b/<slug>/. Cannot change once players know it.",
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
        """What the live state starts from when Redis has none: ``(bits, version)`` or None for empty."""
        return None
