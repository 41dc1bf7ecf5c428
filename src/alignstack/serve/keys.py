"""Bearer API keys, stored only as SHA-256 hashes; a request is logged by its key's id (the first
12 hex digits of the hash), never by the key.

`PUBLISHED_KEYS` are keys anyone can read: the one this project's example config once shipped
("change-me") and the placeholders people copy from docs. A server guarded by one of them is an
open server, so `serve` refuses their hashes (see `serve.config.check_auth`)."""

from __future__ import annotations

import hashlib
import hmac


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


PUBLISHED_KEYS = ("change-me", "changeme", "change_me", "secret", "password", "test", "none",
                  "your-api-key", "sk-no-key-required", "EMPTY")


def published(hashed: str) -> bool:
    """Whether `hashed` is the hash of a key anyone can read."""
    return hashed.lower() in {hash_key(key) for key in PUBLISHED_KEYS}


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
