"""AES-256-GCM sealing of stored payloads, bound to the row they belong to.

The associated data names the table, the row id, the stream, the kind and the key id, so a
payload copied or swapped into another row, or relabelled with another key id, fails to open.
Pure: the caller supplies the nonce (fresh from the OS RNG for every write).
"""

from __future__ import annotations

import functools
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
    head, tail = _around_row(table, stream, kind, key_id)
    return b"".join((head, len(row_id).to_bytes(4, "big"), row_id, tail))


@functools.lru_cache(maxsize=256)
def _around_row(table: str, stream: str, kind: str, key_id: int) -> tuple[bytes, bytes]:
    """The associated data before and after the row id: the same for a whole stream's rows,
    so opening a batch builds it once."""
    table_b, stream_b, kind_b = table.encode(), stream.encode(), kind.encode()
    head = b"".join((_AAD_PREFIX, len(table_b).to_bytes(4, "big"), table_b))
    tail = b"".join(
        (
            len(stream_b).to_bytes(4, "big"),
            stream_b,
            len(kind_b).to_bytes(4, "big"),
            kind_b,
            key_id.to_bytes(8, "big"),
        )
    )
    return head, tail


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
