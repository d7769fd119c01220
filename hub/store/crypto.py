"""AES-256-GCM sealing of stored payloads, bound to the row they belong to.

The associated data names the table, the row id, the stream, the kind and the key id, so a
payload copied or swapped into another row, or relabelled with another key id, fails to open.
Pure: the caller supplies the nonce (fresh from the OS RNG for every write).
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_AAD_PREFIX = b"hub-store/1"


class AuthError(Exception):
    """A payload that does not open: tampered, moved to another row, or the wrong key."""


def associated_data(table: str, row_id: bytes, stream: str, kind: str, key_id: int) -> bytes:
    """Length-prefixed fields, so no two different rows can produce the same bytes."""
    parts = (table.encode(), row_id, stream.encode(), kind.encode())
    return b"".join(
        (_AAD_PREFIX, *(len(p).to_bytes(4, "big") + p for p in parts), key_id.to_bytes(8, "big"))
    )


class Sealer:
    """Seals with and opens under the keys of a key ring (key id → 32-byte key)."""

    def __init__(self, keys: Mapping[int, bytes]) -> None:
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    def seal(self, key_id: int, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """`nonce || ciphertext || tag`."""
        return nonce + self._ciphers[key_id].encrypt(nonce, plaintext, aad)

    def open(self, key_id: int, sealed: bytes, aad: bytes) -> bytes:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise AuthError(f"no key with id {key_id}")
        if not isinstance(sealed, bytes) or len(sealed) < NONCE_BYTES + 16:
            raise AuthError("payload too short to be sealed")
        try:
            return cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise AuthError("authentication failed (tampered, moved or wrong key)") from exc
