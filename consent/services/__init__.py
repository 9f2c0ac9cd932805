"""Writes of the consent app, one module per area: ``policies`` (CON-6), ``ledger`` and
``privacy`` (CON-1 to CON-5, CON-7), ``sharing``, ``tokens``, ``disclosures`` and
``notices`` (SVC-1 to SVC-5), ``personal_apps`` (SVC-4) and ``lifecycle`` (what a
disband or an account deletion does to grants and recipients, ORG-11, ACC-5)."""
