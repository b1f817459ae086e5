import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class BoardConfig(AppConfig):
    name = "board"
    verbose_name = "Checkboxes"

    def ready(self):
        from django.db.models.signals import post_delete

        from . import checks, metrics, moderation  # noqa: F401  (checks registers the system checks)
        from .models import Board

        metrics.configure(settings.METRICS_ENABLED)

        post_delete.connect(moderation.board_deleted, sender=Board, dispatch_uid="board-deleted")
        if settings.SENTRY_MISSING:
            logger.warning(
                "SENTRY_DSN is set but sentry-sdk is not installed, so errors are not reported: "
                "pip install -r requirements-sentry.lock."
            )
