"""The hub's configuration: one TOML file loaded into typed, frozen dataclasses.

Each section is a dataclass; its fields' type hints and `metadata` (min, max, pattern) are the
schema, so adding a setting is adding a field; a rule over several fields is the section's
`validate()` method, raising `Invalid` with the field to blame. Anything wrong — an unknown
key, a wrong type, a value out of range, a bad combination — is refused with a `ConfigError`
that names the file, the key and what was expected, because a technician at a patient's home
must be able to fix it from the message.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hub.files import read_regular
from hub.model import Code

DEFAULT_PATH = Path("/etc/hub/hub.toml")
# Written by `hub identity import` under [hub] data_dir (hub.identity.files).
IDENTITY_UPLINK = Path("identity/current/uplink.toml")

_MAC = r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$"
_DEVICE_ID = r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$"
_PORT = r"^(auto|/.+)?$"
_HUB_ID = r"^[a-z0-9][a-z0-9-]{2,62}$"
_NAME = r"^[^\x00-\x1f\x7f-\x9f]{0,64}$"  # shown on screens and in the status


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message says file, key and expectation."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)


class Invalid(ValueError):
    """Raised by a section's optional `validate()` for a combination of fields that cannot be
    used: `key` names the field to blame; the loader adds the file and the section's path."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


def _range(lo: float | None = None, hi: float | None = None, **extra: Any) -> dict[str, Any]:
    return {"min": lo, "max": hi, **extra}


@dataclass(frozen=True)
class HubSection:
    id: str = field(metadata={"pattern": _HUB_ID, "doc": "lower-case letters, digits and '-'"})
    data_dir: Path = Path("/var/lib/hub")
    runtime_dir: Path = Path("/run/hub")
    language: Literal["nb", "en"] = "nb"
    timezone: str = field(default="Europe/Oslo", metadata={"doc": "an IANA zone, 'Europe/Oslo'"})
    status_interval_s: float = field(default=60.0, metadata=_range(1, 3600))


@dataclass(frozen=True)
class StoreSection:
    path: Path | None = None  # default: <data_dir>/hub.db
    key_file: Path | None = None  # default: <data_dir>/data.key, or $CREDENTIALS_DIRECTORY
    retention_days: int = field(default=7, metadata=_range(0, 3650))
    event_retention_days: int = field(default=90, metadata=_range(1, 3650))
    disk_floor_mb: int = field(default=256, metadata=_range(0, 1_000_000))
    flush_ms: int = field(default=500, metadata=_range(1, 60_000))
    flush_max: int = field(default=500, metadata=_range(1, 100_000))


@dataclass(frozen=True)
class UplinkSection:
    enabled: bool = True
    host: str = "localhost"
    port: int = field(default=8883, metadata=_range(1, 65535))
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    hospital_key_file: Path | None = None
    hospital_signing_key_file: Path | None = None
    batch_max: int = field(default=200, metadata=_range(1, 10_000))
    batch_seconds: float = field(default=30.0, metadata=_range(0.01, 3600))
    ack_timeout_s: float = field(default=60.0, metadata=_range(0.1, 86_400))
    window: int = field(default=16, metadata=_range(1, 1000))
    auth_retry_s: float = field(default=600.0, metadata=_range(1, 86_400))


@dataclass(frozen=True)
class BleSection:
    adapter: str = "hci0"
    max_connections: int = field(default=3, metadata=_range(1, 10))
    scan_mode: Literal["passive", "active"] = "passive"
    connect_timeout_s: float = field(default=20.0, metadata=_range(1, 300))
    reconnect_max_s: float = field(default=300.0, metadata=_range(1, 86_400))


DeviceKind = Literal[
    "blood-pressure", "pulse-oximeter", "heart-rate", "thermometer", "weight-scale", "glucose"
]


# What the serial reader speaks (hub.serial: the CMS50D+ live stream).
SERIAL_KINDS = frozenset({"pulse-oximeter"})
_BLE_ADDRESS = "a BLE address like 'C0:11:22:33:44:55' (upper case)"


@dataclass(frozen=True)
class DeviceEntry:
    """An assigned device. `address` is its stable identity: the BLE address, or for a USB
    serial device a name the hub gives it ('cms50d-1'); `port` is where a serial one is
    plugged in: a path, or 'auto' for the first port with a known oximeter cable's USB id."""

    address: str = field(
        metadata={
            "pattern": _DEVICE_ID,
            "doc": f"{_BLE_ADDRESS}, or for a serial device letters, digits and ':._-'",
        }
    )
    kind: DeviceKind
    name: str = field(
        default="",
        metadata={
            "pattern": _NAME,
            "doc": "up to 64 characters without control characters (newlines, escapes)",
        },
    )
    transport: Literal["ble", "serial"] = "ble"
    port: str = field(
        default="", metadata={"pattern": _PORT, "doc": "a path like '/dev/ttyUSB0', or 'auto'"}
    )

    def validate(self) -> None:
        if self.transport == "ble":
            if not re.fullmatch(_MAC, self.address):
                raise Invalid("address", f"expected {_BLE_ADDRESS}, got {_show(self.address)}")
            if self.port:
                raise Invalid("port", "only for transport = 'serial'")
            return
        if not self.port:
            raise Invalid(
                "port", "missing; a serial device needs a path like '/dev/ttyUSB0' or 'auto'"
            )
        if self.kind not in SERIAL_KINDS:
            kinds = ", ".join(repr(k) for k in sorted(SERIAL_KINDS))
            raise Invalid("kind", f"transport 'serial' needs one of {kinds}, got {self.kind!r}")


@dataclass(frozen=True)
class PatientSection:
    id: str = ""  # pseudonymous patient id, set by the hospital
    pathway: Literal["general", "copd", "heart-failure", "hypertension", "news2"] = "general"


@dataclass(frozen=True)
class TriageSection:
    """Gating and persistence of local triage; fills `hub.signal.rules.Settings` (same field
    names). Defaults are examples the hospital must confirm, not clinical advice."""

    repeat_before_red: int = field(default=1, metadata=_range(0, 5))
    repeat_window_s: float = field(default=900.0, metadata=_range(10, 86_400))
    persist_k: int = field(default=50, metadata=_range(1, 3600))
    persist_n: int = field(default=60, metadata=_range(1, 3600))
    clear_k: int = field(default=30, metadata=_range(1, 3600))
    hysteresis: float = field(default=1.0, metadata=_range(0, 20))
    min_valid: int = field(default=30, metadata=_range(0, 3600))
    stale_s: float = field(default=600.0, metadata=_range(10, 86_400))


_BOUND = _range(-1e6, 1e6)


@dataclass(frozen=True)
class ThresholdEntry:
    """A per-patient band for one LOINC code, replacing the pathway's band for that code
    (`hub.signal.rules.Band`): at or beyond a red bound is red, else at or beyond a yellow
    bound is yellow, else green. The hospital sets these; the file's are the fallback."""

    code: str = field(metadata={"pattern": r"^[0-9]{1,7}-[0-9]$", "doc": "a LOINC code"})
    red_low: float | None = field(default=None, metadata=_BOUND)
    yellow_low: float | None = field(default=None, metadata=_BOUND)
    yellow_high: float | None = field(default=None, metadata=_BOUND)
    red_high: float | None = field(default=None, metadata=_BOUND)

    def validate(self) -> None:
        if self.code not in _CODES:
            raise Invalid("code", f"{self.code!r} is not a code the hub measures")
        order = [
            (name, value)
            for name in ("red_low", "yellow_low", "yellow_high", "red_high")
            if (value := getattr(self, name)) is not None
        ]
        if not order:
            raise Invalid("code", "a threshold needs at least one bound")
        for (low_name, low), (high_name, high) in itertools.pairwise(order):
            strict = low_name.endswith("low") and high_name.endswith("high")
            if high < low or (strict and high == low):
                raise Invalid(high_name, f"must be above {low_name} ({low:g}), got {high:g}")


_CODES = frozenset(code.value for code in Code)
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"

ScheduleKind = Literal["blood-pressure", "spo2-spot", "weight", "glucose", "temperature"]


@dataclass(frozen=True)
class ScheduleEntry:
    """Measure `kind` (a reading kind) at each local `times` on `weekdays` (0 Monday … 6
    Sunday); a reading from `early_minutes` before until `window_minutes` after counts."""

    kind: ScheduleKind
    times: tuple[str, ...] = field(metadata={"pattern": _HHMM, "doc": "times like '08:00'"})
    window_minutes: int = field(default=60, metadata=_range(1, 1440))
    early_minutes: int = field(default=30, metadata=_range(0, 1440))
    weekdays: tuple[int, ...] = field(default=(0, 1, 2, 3, 4, 5, 6), metadata=_range(0, 6))


@dataclass(frozen=True)
class Config:
    hub: HubSection
    store: StoreSection = StoreSection()
    uplink: UplinkSection = UplinkSection()
    ble: BleSection = BleSection()
    patient: PatientSection = PatientSection()
    triage: TriageSection = TriageSection()
    thresholds: tuple[ThresholdEntry, ...] = ()
    devices: tuple[DeviceEntry, ...] = ()
    schedule: tuple[ScheduleEntry, ...] = ()

    def validate(self) -> None:
        seen: set[str] = set()
        for i, device in enumerate(self.devices):
            if device.address.upper() in seen:
                raise Invalid(f"devices[{i}].address", f"{device.address!r} is listed twice")
            seen.add(device.address.upper())

    @property
    def store_path(self) -> Path:
        return self.store.path or self.hub.data_dir / "hub.db"


def load(path: Path | str = DEFAULT_PATH) -> Config:
    """Read and validate the TOML file at `path`."""
    source = str(path)
    try:
        text = read_regular(Path(path)).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot read the file ({exc})") from exc
    config = loads(text, source)
    identity = config.hub.data_dir / IDENTITY_UPLINK
    if not identity.is_file():
        return config
    # The identity `hub identity import` wrote fills the [uplink] keys this file leaves out.
    try:
        imported = tomllib.loads(identity.read_text(encoding="utf-8")).get("uplink", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(identity), "", f"cannot read the imported identity ({exc})") from exc
    raw = tomllib.loads(text)
    raw["uplink"] = {**imported, **raw.get("uplink", {})}
    return build(Config, raw, source, "")


def loads(text: str, source: str = "<config>") -> Config:
    """Validate TOML text; `source` names it in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML ({exc})") from exc
    except RecursionError:
        raise ConfigError(source, "", "arrays or tables nested too deeply") from None
    return build(Config, raw, source, "")


def build(cls: type, raw: Any, source: str, prefix: str) -> Any:
    """One section (or entry) dataclass from a TOML table, validated as the file's would be;
    also used for entries that arrive another way (control socket, hospital downlink)."""
    if not isinstance(raw, dict):
        raise ConfigError(source, prefix or "(top level)", f"expected a table, got {_show(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        key = _join(prefix, unknown[0])
        raise ConfigError(source, key, f"unknown key (known here: {', '.join(fields)})")
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        key = _join(prefix, name)
        if name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(source, key, f"missing; expected {_describe(hints[name], spec)}")
            continue
        values[name] = _convert(hints[name], spec, raw[name], source, key)
    built = cls(**values)
    if callable(validate := getattr(built, "validate", None)):
        try:
            validate()
        except Invalid as exc:
            raise ConfigError(source, _join(prefix, exc.key), exc.problem) from exc
    return built


def _convert(hint: Any, spec: dataclasses.Field[Any], value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], spec, value, source, key)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, source, key)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(source, key, f"expected a list, got {_show(value)}")
        return tuple(
            _convert(args[0], spec, item, source, f"{key}[{i}]") for i, item in enumerate(value)
        )
    if origin is Literal:
        if value not in args:
            raise ConfigError(source, key, f"expected {_describe(hint, spec)}, got {_show(value)}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {_show(value)}")
        return value
    if hint in (int, float):
        ok = isinstance(value, int) if hint is int else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or not math.isfinite(value):
            raise ConfigError(source, key, f"expected {_describe(hint, spec)}, got {_show(value)}")
        lo, hi = spec.metadata.get("min"), spec.metadata.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(source, key, f"expected {_describe(hint, spec)}, got {_show(value)}")
        return hint(value)
    if hint in (str, Path):
        if not isinstance(value, str) or (hint is Path and not value):
            raise ConfigError(source, key, f"expected {_describe(hint, spec)}, got {_show(value)}")
        pattern = spec.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            raise ConfigError(source, key, f"expected {_describe(hint, spec)}, got {_show(value)}")
        return Path(value) if hint is Path else value
    raise TypeError(f"config schema uses an unsupported type {hint!r} at {key}")


def _describe(hint: Any, spec: dataclasses.Field[Any]) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _describe(next(a for a in typing.get_args(hint) if a is not type(None)), spec)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if dataclasses.is_dataclass(hint):
        return "a table"
    if origin is tuple:
        return "a list"
    if "doc" in spec.metadata:
        return spec.metadata["doc"]
    name = {int: "an integer", float: "a number", str: "a string", Path: "a file path"}.get(
        hint, str(hint)
    )
    lo, hi = spec.metadata.get("min"), spec.metadata.get("max")
    if lo is not None and hi is not None:
        return f"{name} from {lo} to {hi}"
    return name


def _show(value: Any) -> str:
    kind = {dict: "table", list: "list", bool: "boolean", str: "string"}.get(
        type(value), type(value).__name__
    )
    text = repr(value)
    return f"{text if len(text) <= 40 else text[:37] + '...'} ({kind})"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
