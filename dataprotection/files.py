"""Sensitive uploaded files, encrypted at rest outside the public media root (ORG-2, SEC-5).

Each file is written to ``settings.PRIVATE_MEDIA_ROOT`` under a random name, sealed with
AES-256-GCM (``crypto.encrypt_bytes``). The associated data binds the ciphertext to its
purpose *and* its name, so a file copied over another one fails to decrypt. These files
are only ever served through permission-checked, audited views.

Callers that write files inside a database transaction must delete them if the
transaction rolls back (see ``organizations.services.registration.submit_certification``).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from django.conf import settings

from dataprotection.crypto import decrypt_bytes, encrypt_bytes

STORED_SUFFIX = ".bin"
_NAME = re.compile(r"^[0-9a-f]{32}\.bin$")

# Magic bytes of the document types the portal accepts; the file name and the type the
# browser claims are never trusted.
DOCUMENT_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def sniff_document_type(head: bytes) -> str | None:
    """The MIME type of a PDF, PNG or JPEG file from its first bytes, else ``None``."""
    for magic, content_type in DOCUMENT_SIGNATURES:
        if head.startswith(magic):
            return content_type
    return None


def _path(name: str) -> Path:
    if not _NAME.match(name or ""):
        raise ValueError(f"not a stored file name: {name!r}")
    return Path(settings.PRIVATE_MEDIA_ROOT) / name


def _aad(purpose: str, name: str) -> str:
    return f"{purpose}/{name}"


def store_encrypted(data: bytes, purpose: str) -> str:
    """Encrypt ``data`` into a new private file and return its name."""
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{secrets.token_hex(16)}.bin"
    sealed = encrypt_bytes(data, _aad(purpose, name))
    descriptor = os.open(_path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(sealed)
    return name


def read_decrypted(name: str, purpose: str) -> bytes:
    return decrypt_bytes(_path(name).read_bytes(), _aad(purpose, name))


def stored_bytes(name: str) -> bytes:
    """The sealed bytes of a stored file, as they are on disk (key rotation)."""
    return _path(name).read_bytes()


def decrypt_stored(stored: bytes, name: str, purpose: str) -> bytes:
    return decrypt_bytes(stored, _aad(purpose, name))


def delete_stored(name: str) -> None:
    _path(name).unlink(missing_ok=True)


def is_stored_name(name: str) -> bool:
    """Whether ``name`` is one of our private files (other references, such as photo
    ids kept by an attendance device vendor, are only blanked)."""
    return bool(_NAME.match(name or ""))
