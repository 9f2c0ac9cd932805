"""The demo organization: a realistic enterprise every role's journey can be walked in.

- ``generators``: fake but valid-format people data (names, mobiles, ID numbers, bank cards)
- ``logins``: the demo logins and their accounts
- ``tree``: the department tree
- ``seeding``: seeding (``seed_demo_organization``) and removing (``delete_demo_data``) it
- ``journeys``: every role's journey, and ``register_demo_step`` for the apps above
- ``loading``: fast bulk inserts and progress output
"""
