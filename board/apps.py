from django.apps import AppConfig


class BoardConfig(AppConfig):
    name = "board"
    verbose_name = "Checkboxes"

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_delete

        from . import checks, metrics, moderation  # noqa: F401  (checks registers the system checks)
        from .models import Board

        metrics.configure(settings.METRICS_ENABLED)

        post_delete.connect(moderation.board_deleted, sender=Board, dispatch_uid="board-deleted")
