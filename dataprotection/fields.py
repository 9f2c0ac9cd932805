"""Model fields that keep personal data encrypted at rest."""

from __future__ import annotations

from django.db import models

from dataprotection import crypto


class EncryptedTextField(models.TextField):
    """A text column holding AES-GCM ciphertext; Python code sees plaintext.

    ``purpose`` is bound into each ciphertext as associated data, so it must stay stable
    for the life of the column (rename the attribute freely, never the purpose).
    Encrypted columns cannot be filtered on: pair them with a keyed-hash column.
    """

    description = "Encrypted text"

    def __init__(self, *args, purpose: str, **kwargs):
        self.purpose = purpose
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value, self.purpose)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value, self.purpose)
