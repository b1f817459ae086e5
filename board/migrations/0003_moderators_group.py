"""The "Moderators" group: exactly what moderating a board needs, nothing else.

Make someone a moderator by giving them staff status and this group; they can
then freeze, unfreeze, snapshot, clear and restore boards and manage bans, but
not create or delete boards, delete snapshots, or touch users.
"""

from django.db import migrations

GROUP = "Moderators"

PERMISSIONS = [
    ("board", "view_board"),
    ("board", "freeze_board"),
    ("board", "clear_board"),
    ("snapshot", "view_snapshot"),
    ("snapshot", "take_snapshot"),
    ("snapshot", "restore_snapshot"),
    ("ban", "view_ban"),
    ("ban", "add_ban"),
    ("ban", "change_ban"),
    ("ban", "delete_ban"),
]


def create_moderators_group(apps, schema_editor):
    # Permissions are normally made after migrations finish; make this app's now.
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    board_app = apps.get_app_config("board")
    board_app.models_module = True
    create_contenttypes(board_app, apps=apps, verbosity=0)
    create_permissions(board_app, apps=apps, verbosity=0)
    board_app.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    wanted = [
        Permission.objects.get(content_type__app_label="board", content_type__model=model, codename=codename)
        for model, codename in PERMISSIONS
    ]
    group.permissions.set(wanted)


def delete_moderators_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("board", "0002_snapshots_and_bans"),
    ]

    operations = [migrations.RunPython(create_moderators_group, delete_moderators_group)]
