"""The uplink's settings and keys from the hub's configuration file.

The hub's own payload-signing key lives next to its data (`<data_dir>/uplink-sign.key`,
generated on the hub; only its public half goes to the hospital's enrollment directory).
The downlink config is the daemon's to validate, apply and keep; it tells the uplink the
version in force (`UplinkSettings.applied_config_version`).
"""

from __future__ import annotations

from pathlib import Path

from hub.config import Config, ConfigError
from hub.files import require_private, require_regular
from hub.keyfiles import load_ed25519_private, load_ed25519_public, load_x25519_public
from hub.uplink.settings import UplinkKeys, UplinkSettings

SIGNING_KEY_NAME = "uplink-sign.key"


TLS_FILES = ("ca_file", "cert_file", "key_file")


def provisioned(config: Config) -> bool:
    """Whether the hub was given an identity (certificate files in `[uplink]`, from the file
    or from `hub identity import`). Without one the daemon runs unprovisioned: devices and
    the control socket, no uplink."""
    return any(getattr(config.uplink, name) is not None for name in TLS_FILES)


def check(config: Config, source: str = "<config>") -> None:
    """A provisioned uplink's files all load (ConfigError naming the first that does not):
    a hub told to reach the hospital never runs with its uplink silently off."""
    if config.uplink.enabled and provisioned(config):
        settings_from(config, source)
        keys_from(config, source)


def settings_from(config: Config, source: str = "<config>") -> UplinkSettings:
    u = config.uplink
    ca, cert, key = (_required(u, name, source) for name in TLS_FILES)
    for name, path in zip(TLS_FILES, (ca, cert, key), strict=True):
        _usable(path, f"uplink.{name}", source, private=name == "key_file")
    return UplinkSettings(
        hub=config.hub.id,
        host=u.host,
        port=u.port,
        ca=ca,
        cert=cert,
        key=key,
        patient=config.patient.id,
        batch_max=u.batch_max,
        batch_seconds=u.batch_seconds,
        ack_timeout_s=u.ack_timeout_s,
        window=u.window,
        auth_retry_s=u.auth_retry_s,
    )


def keys_from(config: Config, source: str = "<config>") -> UplinkKeys:
    """Load the three keys; a missing or wrong file is a ConfigError naming the key."""
    u = config.uplink
    paths = {
        "hub.data_dir": config.hub.data_dir / SIGNING_KEY_NAME,
        "uplink.hospital_key_file": _required(u, "hospital_key_file", source),
        "uplink.hospital_signing_key_file": _required(u, "hospital_signing_key_file", source),
    }
    try:
        require_private(paths["hub.data_dir"])
        return UplinkKeys(
            signing=load_ed25519_private(paths["hub.data_dir"]),
            hospital=load_x25519_public(paths["uplink.hospital_key_file"]),
            hospital_signing=load_ed25519_public(paths["uplink.hospital_signing_key_file"]),
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(source, "uplink", f"cannot load a key ({exc})") from exc


def _required(section: object, name: str, source: str) -> Path:
    value = getattr(section, name)
    if value is None:
        raise ConfigError(source, f"uplink.{name}", "missing; the uplink needs this file")
    return Path(value)


def _usable(path: Path, key: str, source: str, *, private: bool = False) -> None:
    """A regular file: a directory or FIFO named by mistake is refused here, before the TLS
    library would open it (a FIFO would block the daemon before READY); a private key also
    owned by the service user and readable by it only."""
    try:
        (require_private if private else require_regular)(path)
    except OSError as exc:
        raise ConfigError(source, key, f"unusable ({exc})") from exc
