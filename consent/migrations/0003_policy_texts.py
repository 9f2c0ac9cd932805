"""The three real source policies as published versions (CON-6): the international
edition in English (May 2020) with its EEA, Japan, California and Australia addenda as
parts, the dedicated edition in Chinese, and the mainland edition in Chinese (March
2019). The texts are read from ``consent/policy_texts/`` next to this package."""

import datetime
from pathlib import Path

from django.db import migrations

TEXTS = Path(__file__).resolve().parent.parent / "policy_texts"

# edition, version label, effective date, [(language, part, title, file)]
POLICIES = [
    (
        "international",
        "2020-05",
        datetime.date(2020, 5, 11),
        [
            ("en", "main", "DingTalk Privacy Policy", "international-2020-05.en.main.txt"),
            ("en", "eea", "Privacy Policy – Addendum for EEA Residents", "international-2020-05.en.eea.txt"),
            ("en", "japan", "Privacy Policy – Addendum for Japan", "international-2020-05.en.japan.txt"),
            ("en", "california", "Privacy Policy – Addendum for California", "international-2020-05.en.california.txt"),
            ("en", "australia", "Privacy Policy – Addendum for Australia", "international-2020-05.en.australia.txt"),
        ],
    ),
    # The dedicated edition's text carries no date of its own.
    (
        "dedicated",
        "2019-01",
        datetime.date(2019, 1, 1),
        [("zh-hans", "main", "专有钉钉隐私政策", "dedicated-2019-01.zh-hans.main.txt")],
    ),
    (
        "mainland",
        "2019-03",
        datetime.date(2019, 3, 21),
        [("zh-hans", "main", "钉钉隐私政策", "mainland-2019-03.zh-hans.main.txt")],
    ),
]


def add_published_policies(apps, schema_editor):
    PolicyVersion = apps.get_model("consent", "PolicyVersion")
    PolicyText = apps.get_model("consent", "PolicyText")
    for edition, label, effective_on, texts in POLICIES:
        published_at = datetime.datetime.combine(effective_on, datetime.time(), tzinfo=datetime.timezone.utc)
        version, _created = PolicyVersion.objects.get_or_create(
            edition=edition,
            version=label,
            defaults={
                "effective_on": effective_on,
                "published_at": published_at,
                "created_at": published_at,
                "significant": False,
                "significant_changes": [],
            },
        )
        for language, part, title, filename in texts:
            PolicyText.objects.get_or_create(
                version=version,
                language=language,
                part=part,
                defaults={"title": title, "body": (TEXTS / filename).read_text(encoding="utf-8")},
            )


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_first_party_services")]

    operations = [migrations.RunPython(add_published_policies, migrations.RunPython.noop)]
