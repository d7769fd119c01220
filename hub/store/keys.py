"""The data key ring: where it lives, its file format, and who may read it.

A ring holds one or more 256-bit AES keys under integer ids; the highest is the active one new
rows are sealed with, older ones stay only while rows still use them (key rotation). It lives in
a key file readable only by the service user (0600, refused if looser or owned by someone
else), or in a systemd credential (`LoadCredential=` puts it in `$CREDENTIALS_DIRECTORY`, read
only) when the service manager provides one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from hub.files import fsync_dir
from hub.store.crypto import KEY_BYTES

CREDENTIAL_NAME = "hub-data-key"
_FORMAT = "hub-store-keyring"
_VERSION = 1


class KeyFileError(Exception):
    """A key ring that cannot be used; the message says which file and what to do."""


class WrongKeyError(KeyFileError):
    """The key ring does not open this database."""


class MissingKeyError(KeyFileError):
    """The database holds rows sealed with a key the ring does not have."""


@dataclass(frozen=True)
class KeyRing:
    active: int
    keys: Mapping[int, bytes]

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ValueError("the active key must be in the ring")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @classmethod
    def first(cls, key: bytes) -> KeyRing:
        return cls(1, {1: key})

    def with_new_key(self, key: bytes) -> KeyRing:
        """A ring where `key` is active under a fresh, higher id."""
        new_id = max(self.keys) + 1
        return KeyRing(new_id, {**self.keys, new_id: key})

    def without(self, key_ids: set[int]) -> KeyRing:
        if self.active in key_ids:
            raise ValueError("cannot remove the active key")
        return KeyRing(self.active, {k: v for k, v in self.keys.items() if k not in key_ids})


def format_ring(ring: KeyRing) -> bytes:
    doc = {
        "format": _FORMAT,
        "version": _VERSION,
        "active": ring.active,
        "keys": {str(k): base64.b64encode(v).decode() for k, v in sorted(ring.keys.items())},
    }
    return (json.dumps(doc, indent=1) + "\n").encode()


def parse_ring(data: bytes, source: str) -> KeyRing:
    """Parse a key ring file's bytes; `source` names it in errors. Pure."""

    def bad(problem: str) -> KeyFileError:
        return KeyFileError(f"{source}: not a usable key ring: {problem}")

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise bad(f"expected a JSON object with format {_FORMAT!r}")
    if doc.get("version") != _VERSION:
        raise bad(f"unsupported version {doc.get('version')!r}")
    raw_keys, active = doc.get("keys"), doc.get("active")
    if not isinstance(raw_keys, dict) or not raw_keys:
        raise bad("'keys' must be a non-empty object")
    keys: dict[int, bytes] = {}
    for name, encoded in raw_keys.items():
        if not (isinstance(name, str) and name.isdecimal() and isinstance(encoded, str)):
            raise bad(f"key entry {name!r} is not 'id': 'base64'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise bad(f"key {name} is not base64") from exc
        if len(key) != KEY_BYTES:
            raise bad(f"key {name} has {len(key)} bytes, expected {KEY_BYTES}")
        keys[int(name)] = key
    if type(active) is not int or active not in keys:
        raise bad("'active' must be the id of one of the keys")
    return KeyRing(active, keys)


@dataclass(frozen=True)
class KeySource:
    """Where the ring is read from: a key file, or a (read-only) systemd credential."""

    path: Path
    credential: bool = False

    @classmethod
    def resolve(cls, key_file: Path, environ: Mapping[str, str] | None = None) -> KeySource:
        """The systemd credential when the service manager passed one, else `key_file`."""
        env = os.environ if environ is None else environ
        directory = env.get("CREDENTIALS_DIRECTORY")
        if directory and (Path(directory) / CREDENTIAL_NAME).exists():
            return cls(Path(directory) / CREDENTIAL_NAME, credential=True)
        return cls(key_file)

    def describe(self) -> str:
        return f"systemd credential {self.path}" if self.credential else f"key file {self.path}"

    def load(self) -> KeyRing | None:
        """The ring, or None when the key file does not exist (yet)."""
        try:
            # O_NONBLOCK: a FIFO named by mistake is refused below instead of blocking here
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(self.path, flags)
        except FileNotFoundError:
            if self.credential:
                raise KeyFileError(f"{self.describe()} has disappeared") from None
            return None
        except OSError as exc:
            raise KeyFileError(f"cannot open {self.describe()}: {exc.strerror}") from exc
        try:
            self._check_access(os.fstat(fd))  # before reading: a directory cannot be read
            with os.fdopen(os.dup(fd), "rb") as handle:
                return parse_ring(handle.read(), str(self.path))
        finally:
            os.close(fd)

    def _check_access(self, st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"{self.describe()} is not a regular file")
        if st.st_uid != os.geteuid():
            raise KeyFileError(
                f"{self.describe()} is owned by uid {st.st_uid}, not by the service user "
                f"(uid {os.geteuid()}); chown it to the service user"
            )
        if st.st_mode & 0o077:
            raise KeyFileError(
                f"{self.describe()} has permissions {stat.S_IMODE(st.st_mode):04o}; the data "
                f"key must be readable by the service user only: chmod 600 {self.path}"
            )

    def save(self, ring: KeyRing) -> None:
        """Atomically replace the key file (0600, fsynced, then renamed into place)."""
        if self.credential:
            raise KeyFileError(
                f"the data key comes from {self.describe()}, which is read only; rotate it "
                "where the credential is provisioned"
            )
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(format_ring(ring))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)

    def create(self) -> KeyRing:
        """A new ring with one fresh key from the OS RNG, saved."""
        ring = KeyRing.first(os.urandom(KEY_BYTES))
        self.save(ring)
        return ring

    def remove(self) -> bool:
        """Delete the key file; False when there was none. A credential cannot be removed here."""
        if self.credential:
            return False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(self.path.parent)
        return True
