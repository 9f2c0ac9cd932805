# The stored answers to idempotent API requests moved to dataprotection (the API layer
# below every app, dataprotection/migrations/0009_idempotency_record.py). State only:
# the table ``accounts_idempotencyrecord`` stays, with its rows.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_sms_liveness"),
        ("dataprotection", "0009_idempotency_record"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotencyRecord")],
            database_operations=[],
        ),
    ]
