"""History (docs/history.md): who changed which box, reverts and timelapses.

Adds the board permissions for them and gives both to the "Moderators" group
(board/migrations/0003_moderators_group.py), and the "before a revert"
snapshots a revert saves first.
"""

from django.db import migrations, models

GROUP = "Moderators"

PERMISSIONS = [
    ("board", "view_history"),
    ("board", "revert_changes"),
]


def _permissions(apps):
    # Permissions are normally made after migrations finish; make this app's now.
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    board_app = apps.get_app_config("board")
    board_app.models_module = True
    create_contenttypes(board_app, apps=apps, verbosity=0)
    create_permissions(board_app, apps=apps, verbosity=0)
    board_app.models_module = None
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.get(content_type__app_label="board", content_type__model=model, codename=codename)
        for model, codename in PERMISSIONS
    ]


def give_moderators_history(apps, schema_editor):
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=GROUP)
    group.permissions.add(*_permissions(apps))


def take_history_from_moderators(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("board", "0003_moderators_group"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="board",
            options={
                "ordering": ["slug"],
                "permissions": [
                    ("freeze_board", "Can freeze and unfreeze a board"),
                    ("clear_board", "Can clear a board"),
                    ("view_history", "Can see a board's history: who changed which box, and timelapses"),
                    ("revert_changes", "Can revert the changes a network made to a board"),
                ],
            },
        ),
        migrations.AlterField(
            model_name="snapshot",
            name="reason",
            field=models.CharField(
                choices=[
                    ("periodic", "Periodic"),
                    ("manual", "Taken by hand"),
                    ("shutdown", "Server shutdown"),
                    ("before-restore", "Before a restore"),
                    ("restored", "Restored"),
                    ("before-clear", "Before clearing"),
                    ("cleared", "Cleared"),
                    ("before-import", "Before an import"),
                    ("imported", "Imported"),
                    ("before-revert", "Before a revert"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(give_moderators_history, take_history_from_moderators),
    ]
