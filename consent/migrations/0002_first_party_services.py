from django.db import migrations

# SVC-1: the first-party catalog. Ours, so no provider, no scopes and no notices.
FIRST_PARTY_SERVICES = (
    ("attendance", "Attendance", "Clock in and out, with location and face checks where the organization uses them."),
    ("approvals", "Approvals", "Leave, expense and other requests and their decisions."),
    ("work-logs", "Work logs", "Daily and weekly work reports."),
    ("drive", "Drive", "The organization's shared and personal files."),
    ("mail", "Mail", "Work mail on the organization's domain."),
)


def add_first_party_services(apps, schema_editor):
    Service = apps.get_model("consent", "Service")
    for code, name, description in FIRST_PARTY_SERVICES:
        Service.objects.update_or_create(
            code=code,
            defaults={"name": name, "kind": "first_party", "description": description, "listed": True},
        )


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(add_first_party_services, migrations.RunPython.noop)]
