"""Forms of the requests app, one module per area: ``person`` (filing a request, REQ-1
to REQ-3) and ``org`` (an organization's queue and the handling forms, REQ-4 to REQ-8)."""
