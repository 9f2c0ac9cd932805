"""Consent models arrive with the consent issue (CON-1 to CON-7)."""
