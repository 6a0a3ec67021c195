"""Bearer secrets: shown once with a recognisable prefix, stored only as a hash.

Device, setup, terminal and flow secrets are at least 128 random bits, so a plain SHA-256
is enough to make a leaked table useless (no salt or slow hash needed, and no dependency on
SECRET_KEY, so rotating it never cuts off paired agents). Lookups go by the hash;
comparisons of a presented secret with a stored hash are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class Minted:
    plaintext: str
    digest: str


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def mint(prefix: str, nbytes: int = 32) -> Minted:
    """A new secret: prefix + urlsafe base64 of nbytes random bytes."""
    if nbytes < 16:
        raise ValueError("secrets carry at least 128 bits")
    plaintext = prefix + secrets.token_urlsafe(nbytes)
    return Minted(plaintext, digest(plaintext))


def matches(plaintext: str, stored_digest: str) -> bool:
    if not plaintext or not stored_digest:
        return False
    return hmac.compare_digest(digest(plaintext), stored_digest)
