"""Background work of the consent app."""
