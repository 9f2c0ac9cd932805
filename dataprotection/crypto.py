"""Authenticated encryption and keyed hashing for personal data at rest (ACC-3, ORG-10, SEC-5).

Ciphertexts are ``enc1:<key id>:<base64url(nonce || AES-256-GCM ciphertext)>``. The key id
lets a rotated key ring decrypt old values while new writes use the first (primary) key;
the associated data binds each ciphertext to the purpose of its column, so a value copied
into another column fails to decrypt instead of leaking.

Lookups (find a member by phone or ID number) use ``keyed_hash``: an HMAC-SHA256 under a
separate key, so the database never holds a plaintext or an unkeyed digest that a
dictionary attack over the small space of phone numbers could reverse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "enc1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored value could not be decrypted (unknown key id, tampering, wrong column)."""


@dataclass(frozen=True)
class KeyRing:
    primary_id: str
    keys: dict[str, AESGCM]
    hash_key: bytes
    # Keyed once: ``keyed_hash`` copies this instead of re-keying an HMAC per value.
    hash_base: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "hash_base", hmac.new(self.hash_key, digestmod=hashlib.sha256))


def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"custodia", info=info).derive(secret.encode())


@lru_cache(maxsize=1)
def key_ring() -> KeyRing:
    configured = settings.FIELD_ENCRYPTION_KEYS
    keys: dict[str, AESGCM] = {}
    order: list[str] = []
    if configured:
        for entry in configured:
            key_id, sep, encoded = entry.partition(":")
            if not sep or not key_id or ":" in key_id:
                raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries look like 'id:base64key'")
            try:
                raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except ValueError:
                raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: key {key_id!r} is not base64") from None
            if len(raw) != 32:
                raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: key {key_id!r} must be 32 bytes")
            keys[key_id] = AESGCM(raw)
            order.append(key_id)
    else:
        keys["dev"] = AESGCM(_derive(settings.SECRET_KEY, b"custodia field encryption"))
        order.append("dev")
    hash_secret = settings.FIELD_HASH_KEY
    hash_key = hash_secret.encode() if hash_secret else _derive(settings.SECRET_KEY, b"custodia keyed hash")
    return KeyRing(primary_id=order[0], keys=keys, hash_key=hash_key)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def encrypt(plaintext: str, purpose: str) -> str:
    ring = key_ring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = ring.keys[ring.primary_id].encrypt(nonce, plaintext.encode("utf-8"), purpose.encode())
    # base64url without padding, as ``urlsafe_b64encode(...).rstrip("=")`` but in one pass.
    token = binascii.b2a_base64(nonce + sealed, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")
    return f"{PREFIX}:{ring.primary_id}:{token}"


def encryptor(purpose: str) -> Callable[[str], str]:
    """``encrypt`` bound to one purpose, for bulk writes: the primary key, the associated
    data and the prefix are looked up once; each call still draws a fresh nonce."""
    ring = key_ring()
    aead = ring.keys[ring.primary_id]
    associated = purpose.encode()
    head = f"{PREFIX}:{ring.primary_id}:"
    urandom, b2a, table = os.urandom, binascii.b2a_base64, _URLSAFE

    def seal(plaintext: str) -> str:
        nonce = urandom(NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext.encode("utf-8"), associated)
        return head + b2a(nonce + sealed, newline=False).translate(table).rstrip(b"=").decode("ascii")

    return seal


def decrypt(stored: str, purpose: str) -> str:
    try:
        prefix, key_id, token = stored.split(":", 2)
    except ValueError:
        raise DecryptionError("not an encrypted value") from None
    if prefix != PREFIX:
        raise DecryptionError("not an encrypted value")
    key = key_ring().keys.get(key_id)
    if key is None:
        raise DecryptionError(f"unknown key id {key_id!r}")
    blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    try:
        return key.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], purpose.encode()).decode("utf-8")
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None


def key_id_of(stored: str) -> str | None:
    parts = stored.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


def keyed_hash(value: str, purpose: str) -> str:
    """Deterministic HMAC-SHA256 of a normalized value, for equality lookups."""
    digest = key_ring().hash_base.copy()
    digest.update(f"{purpose}\x00{value}".encode())
    return digest.hexdigest()


def keyed_hasher(purpose: str) -> Callable[[str], str]:
    """``keyed_hash`` bound to one purpose, for bulk writes: the HMAC state after the
    purpose prefix is computed once and copied per value (same digests)."""
    base = key_ring().hash_base.copy()
    base.update(f"{purpose}\x00".encode())

    def digest(value: str) -> str:
        state = base.copy()
        state.update(value.encode())
        return state.hexdigest()

    return digest


def keyed_fingerprinter(purpose: str, size: int = 8) -> Callable[[str], bytes]:
    """The first ``size`` bytes of ``keyed_hash`` (as bytes), for large sets of digests
    compared by equality only: 64 bits make a chance collision among a million values
    about one in ten million."""
    base = key_ring().hash_base.copy()
    base.update(f"{purpose}\x00".encode())

    def digest(value: str) -> bytes:
        state = base.copy()
        state.update(value.encode())
        return state.digest()[:size]

    return digest


BYTES_PREFIX = b"enc1:"


def encrypt_bytes(data: bytes, purpose: str) -> bytes:
    """Encrypt a binary blob (an uploaded document): ``enc1:<key id>:`` followed by the
    raw nonce and AES-256-GCM ciphertext, bound to ``purpose`` like ``encrypt``."""
    ring = key_ring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = ring.keys[ring.primary_id].encrypt(nonce, data, purpose.encode())
    return BYTES_PREFIX + ring.primary_id.encode() + b":" + nonce + sealed


def bytes_key_id(stored: bytes) -> str | None:
    """The id of the key an ``encrypt_bytes`` blob is sealed with."""
    if not stored.startswith(BYTES_PREFIX):
        return None
    key_id, sep, _rest = stored[len(BYTES_PREFIX) :].partition(b":")
    return key_id.decode(errors="replace") if sep else None


def decrypt_bytes(stored: bytes, purpose: str) -> bytes:
    if not stored.startswith(BYTES_PREFIX):
        raise DecryptionError("not an encrypted blob")
    key_id, sep, blob = stored[len(BYTES_PREFIX) :].partition(b":")
    if not sep:
        raise DecryptionError("not an encrypted blob")
    key = key_ring().keys.get(key_id.decode(errors="replace"))
    if key is None:
        raise DecryptionError(f"unknown key id {key_id!r}")
    try:
        return key.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], purpose.encode())
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None
