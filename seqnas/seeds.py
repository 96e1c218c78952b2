"""Seeds derived from names: stable across processes and machines (unlike ``hash``)."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 32-bit seed from ``parts`` joined by ':' (sha256): the same parts give the same seed anywhere."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little")
