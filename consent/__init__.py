"""Consent ledger, privacy settings, policy versions and service sharing grants
(CON-1 to CON-7, SVC-1 to SVC-5). Built by the consent issue."""
