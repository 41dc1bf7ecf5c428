"""Bearer API keys, stored only as SHA-256 hashes; a request is logged by its key's id (the first
12 hex digits of the hash), never by the key."""

from __future__ import annotations

import hashlib
import hmac


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id(hashed: str) -> str:
    return hashed.removeprefix("sha256:")[:12]


class KeyRing:
    def __init__(self, hashes: list[str]):
        self.hashes = list(hashes)

    @property
    def required(self) -> bool:
        return bool(self.hashes)

    def identify(self, authorization: str | None) -> str | None:
        """The key id for an `Authorization: Bearer <key>` header, None when it matches none."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        candidate = hash_key(authorization[7:].strip())
        for hashed in self.hashes:
            if hmac.compare_digest(candidate, hashed):
                return key_id(hashed)
        return None
