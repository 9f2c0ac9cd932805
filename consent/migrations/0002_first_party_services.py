from django.db import migrations


def add_first_party_services(apps, schema_editor):
    pass


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(add_first_party_services, migrations.RunPython.noop)]
