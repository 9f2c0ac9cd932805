"""Cross-cutting data-protection machinery that belongs to no single app: the audit
trail, encrypted fields and keyed hashes, masking, and security headers. Apps import
from here; this package imports from no app (docs/architecture.md)."""
