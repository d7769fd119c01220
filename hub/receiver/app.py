"""`hub receiver`: run the ingest service until SIGTERM/SIGINT, or export what it stored."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.keyfiles import load_ed25519_private, load_x25519_private
from hub.receiver.db import ReceiverDb
from hub.receiver.enrolled import EnrollmentDir
from hub.receiver.export import Export, Profile, export_bundle
from hub.receiver.register import Register, RegisterError
from hub.receiver.service import Ingest, Receiver, ReceiverSettings

log = logging.getLogger(__name__)


class SetupError(ValueError):
    """A missing or unusable file or setting; the message names it."""


@dataclass(frozen=True)
class Options:
    settings: ReceiverSettings
    enrollment: Path
    encryption_keys: tuple[Path, ...]
    signing_key: Path


def serve(options: Options, stop: threading.Event | None = None) -> int:
    """Run until `stop` is set (by SIGTERM or SIGINT when run from the command line)."""
    s = options.settings
    for label, path in (("--ca", s.ca), ("--cert", s.cert), ("--key", s.key)):
        if not path.is_file():
            raise SetupError(f"{label} {path}: no such file")
    if not options.enrollment.is_dir():
        raise SetupError(f"--enrollment {options.enrollment}: not a directory")
    try:
        enrolled = EnrollmentDir(options.enrollment)
        encryption = [load_x25519_private(p) for p in options.encryption_keys]
        signing = load_ed25519_private(options.signing_key)
    except (OSError, ValueError) as exc:
        raise SetupError(str(exc)) from exc
    if not encryption:
        raise SetupError("at least one --encryption-key is needed")
    if stop is None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    db = ReceiverDb(s.db)
    ingest = Ingest(db, enrolled.keys, encryption)
    ingest.update_enrollment(enrolled)
    receiver = Receiver(s, ingest, signing, enrolled=enrolled)
    log.info("receiver: %d hubs enrolled, storing in %s", len(enrolled.keys), s.db)
    # Everything alive now lives as long as the service: keep it out of the cyclic GC's
    # full passes, which otherwise rescan it for every few Bundles parsed (half the CPU).
    gc.freeze()
    receiver.start()
    try:
        stop.wait()
    finally:
        receiver.stop()
        db.close()
    return 0


def export(db_path: Path, profile: Profile, register_path: Path | None) -> Export:
    """What the receiver stored, as the `profile` Bundle, patients resolved by the register."""
    if not db_path.is_file():
        raise SetupError(f"--db {db_path}: no such file")
    try:
        register = Register.load(register_path) if register_path else Register(())
    except RegisterError as exc:
        raise SetupError(str(exc)) from exc
    db = ReceiverDb(db_path)
    try:
        return export_bundle(db.stored_entries(), register, profile)
    finally:
        db.close()


def export_fhir(db_path: Path) -> dict[str, Any]:
    """The plain export's Bundle, with no register (every patient left as the pseudonym)."""
    return export(db_path, "plain", None).bundle
