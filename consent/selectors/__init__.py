"""Reads of the consent app that are more than a QuerySet method, one module per area:
``privacy`` (a person's consent overview and receipt, CON-2, CON-3) and ``policies``
(which policy editions and versions apply to a person, CON-6)."""
