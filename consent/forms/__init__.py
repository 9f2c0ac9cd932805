"""Forms of the consent app, one module per area: ``policies`` (CON-6), ``privacy``
(CON-1 to CON-5, CON-7) and ``services`` (SVC-1 to SVC-5)."""
