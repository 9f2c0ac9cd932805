from django.db import migrations


def add_published_policies(apps, schema_editor):
    pass


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_first_party_services")]

    operations = [migrations.RunPython(add_published_policies, migrations.RunPython.noop)]
