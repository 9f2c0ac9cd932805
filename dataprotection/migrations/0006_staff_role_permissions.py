# SEC-1: the console permissions of the operations staff roles (dataprotection/staff_roles.py).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dataprotection", "0005_audit_chain"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "ordering": ["-occurred_at", "-id"],
                "permissions": [
                    (
                        "reveal_certification",
                        "Can reveal certification documents and the legal representative's identity",
                    ),
                    ("verify_audit_chain", "Can run the verification of the audit chain"),
                ],
                "verbose_name": "audit event",
                "verbose_name_plural": "audit events",
            },
        ),
    ]
