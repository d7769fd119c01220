"""The `hub` command. Each subcommand is a thin edge over a pure module; errors a user can
cause end with exit status 2 and one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hub import __version__, bench
from hub.extras import MissingExtra
from hub.hospital import cli as hospital_cli
from hub.identity import cli as identity_cli

if TYPE_CHECKING:
    from hub.config import Config


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


def _bench(args: argparse.Namespace) -> int:
    if args.name != "all" and args.name not in bench.BENCHES:
        raise UsageError(f"unknown benchmark {args.name!r}; known: all, {', '.join(bench.names())}")
    result = bench.run(args.name)
    print(json.dumps(result.as_json()) if args.json else result.as_table())
    return 0


def _decode(args: argparse.Namespace) -> int:
    from hub.ble.profiles import render

    try:
        result = render.decode_json(args.char, args.hex)
    except ValueError as exc:  # DecodeError included
        raise UsageError(str(exc)) from exc
    print(json.dumps(result))
    return 0


def _news2(args: argparse.Namespace) -> int:
    from hub.signal import news2

    try:
        result = news2.score(news2.parse(sys.stdin.buffer.read()))
    except news2.InputError as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(result.as_json()))
    return 0


def _load_config(args: argparse.Namespace) -> Config:
    """The configuration named by `--config` (or the default path); errors → exit 2."""
    from hub import config

    try:
        return config.load(args.config or config.DEFAULT_PATH)
    except config.ConfigError as exc:
        raise UsageError(str(exc)) from exc


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="configuration file (default /etc/hub/hub.toml)"
    )


def _store(args: argparse.Namespace) -> int:
    from hub.store import KeyFileError, StoreError, admin

    if args.action == "erase" and not args.yes:
        raise UsageError("erase destroys the data key and every stored reading; add --yes")
    cfg = _load_config(args)
    try:
        lines = admin.rotate_key(cfg) if args.action == "rotate-key" else admin.erase_store(cfg)
    except (KeyFileError, StoreError, OSError) as exc:
        raise UsageError(str(exc)) from exc
    print("\n".join(lines))
    return 0


def _receiver(args: argparse.Namespace) -> int:
    from hub.receiver import app
    from hub.receiver.service import ReceiverSettings

    try:
        if args.action == "export":
            if not args.fhir:
                raise UsageError("export needs --fhir (the only format)")
            exported = app.export(args.db, args.profile, args.register)
            print(json.dumps(exported.bundle))
            for pseudonym in sorted(exported.unresolved):
                print(f"hub receiver export: patient {pseudonym!r} is not in the register",
                      file=sys.stderr)  # fmt: skip
            return 0
        settings = ReceiverSettings(
            host=args.host, port=args.port, ca=args.ca, cert=args.cert, key=args.key,
            db=args.db, client_id=args.client_id,
        )  # fmt: skip
        options = app.Options(settings, args.enrollment, tuple(args.encryption_key),
                              args.signing_key)  # fmt: skip
        return app.serve(options)
    except app.SetupError as exc:
        raise UsageError(str(exc)) from exc


def _run(args: argparse.Namespace) -> int:
    from hub.lean import block_unused_imports

    block_unused_imports()
    from hub import config, daemon
    from hub.store import KeyFileError, StoreError

    try:
        return daemon.run(args.config or config.DEFAULT_PATH)
    except (config.ConfigError, KeyFileError, StoreError) as exc:
        raise UsageError(str(exc)) from exc


def _demo(args: argparse.Namespace) -> int:
    from hub.lean import block_unused_imports

    block_unused_imports()
    from hub.demo import app

    try:
        return app.main(seconds=args.seconds, as_json=args.json, keep=args.keep)
    except app.DemoError as exc:
        raise UsageError(str(exc)) from exc


def _ui(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from hub import config

    if not args.status:
        raise UsageError("the technician's UI is not built yet; --status shows the patient screen")
    try:
        cfg: Config | None = config.load(args.config or config.DEFAULT_PATH)
    except config.ConfigError as exc:
        if args.config is not None:
            raise UsageError(str(exc)) from exc
        cfg = None  # no readable /etc/hub/hub.toml: the defaults, the screen still shows
    from hub.ui import status_app

    socket = args.socket or (cfg.hub.runtime_dir if cfg else Path("/run/hub")) / "control.sock"
    language = args.lang or (cfg.hub.language if cfg else "nb")
    tz = ZoneInfo(cfg.hub.timezone if cfg else "Europe/Oslo")
    return status_app.run(socket, language, tz, speak=args.speak)


def _diagnose(args: argparse.Namespace) -> int:
    from hub import config
    from hub.diagnose import cli as diagnose_cli

    cfg = _load_config(args)
    try:
        return diagnose_cli.run(cfg, as_json=args.json, out=sys.stdout)
    except config.ConfigError as exc:
        raise UsageError(str(exc)) from exc


def _identity(args: argparse.Namespace) -> int:
    cfg = _load_config(args)
    try:
        print("\n".join(identity_cli.run(args, cfg.hub.id, cfg.hub.data_dir, __version__)))
    except identity_cli.IdentityError as exc:
        raise UsageError(str(exc)) from exc
    return 0


def _hospital(args: argparse.Namespace) -> int:
    try:
        print("\n".join(hospital_cli.run(args)))
    except hospital_cli.HospitalError as exc:
        raise UsageError(str(exc)) from exc
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("bench", help="run the project's benchmarks")
    p.add_argument("name", help="benchmark name, or 'all'")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_bench)

    p = sub.add_parser("decode", help="decode one GATT characteristic value to JSON")
    p.add_argument("char", metavar="CHAR", help="16-bit characteristic UUID, e.g. 2a35")
    p.add_argument("hex", metavar="HEX", help="the value as hex, e.g. '1E 75 00 4D 00'")
    p.set_defaults(func=_decode)

    p = sub.add_parser("news2", help="NEWS2 score of one JSON object of vital signs on stdin")
    p.set_defaults(func=_news2)

    p = sub.add_parser("store", help="the encrypted store: rotate its key, or erase it")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = actions.add_parser("rotate-key", help="new data key; rows re-encrypted, old key removed")
    _add_config_option(q)
    q.set_defaults(func=_store)
    q = actions.add_parser("erase", help="crypto-shred: remove the data key and the database")
    _add_config_option(q)
    q.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    q.set_defaults(func=_store)

    p = sub.add_parser("receiver", help="the hospital-side ingest service (MQTT → SQLite)")
    p.add_argument("--host", default="127.0.0.1", help="broker host")
    p.add_argument("--port", type=int, default=8883, help="broker TLS port")
    p.add_argument("--ca", type=Path, default=Path("ca.crt"), help="CA certificate (PEM)")
    p.add_argument("--cert", type=Path, default=Path("receiver.crt"), help="client certificate")
    p.add_argument("--key", type=Path, default=Path("receiver.key"), help="client key")
    p.add_argument("--enrollment", type=Path, default=Path("enrollment"),
                   help="directory of <hub id>.pub signing keys")  # fmt: skip
    p.add_argument("--encryption-key", type=Path, action="append", default=[],
                   help="hospital X25519 private key (repeat during a key rotation)")  # fmt: skip
    p.add_argument("--signing-key", type=Path, default=Path("hospital.sign.key"),
                   help="hospital Ed25519 key that signs acks and configs")  # fmt: skip
    p.add_argument("--db", type=Path, default=Path("receiver.db"), help="SQLite database")
    p.add_argument("--client-id", default="receiver-1", help="MQTT client id (one per instance)")
    p.set_defaults(func=_receiver, action="serve")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    q = actions.add_parser("export", help="print a FHIR R4 Bundle of what the receiver stored")
    q.add_argument("--fhir", action="store_true", help="as a FHIR R4 Bundle (JSON)")
    q.add_argument("--db", type=Path, default=Path("receiver.db"), help="SQLite database")
    q.add_argument("--profile", choices=("plain", "pmd"), default="plain",
                   help="plain: R4 + PHD IG; pmd: Norway's VkpObservation/PMD shape")  # fmt: skip
    q.add_argument("--register", type=Path, metavar="CSV",
                   help="enrollment register: pseudonym,system,value rows")  # fmt: skip
    q.set_defaults(func=_receiver)
    identity_cli.add_parser(sub, _identity, _add_config_option)
    hospital_cli.add_parser(sub, _hospital)

    p = sub.add_parser("diagnose", help="test the way to the hospital step by step")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    _add_config_option(p)
    p.set_defaults(func=_diagnose)

    p = sub.add_parser("run", help="the hub daemon (what systemd/hub.service starts)")
    _add_config_option(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("ui", help="the terminal UI; --status: the patient's status screen")
    p.add_argument("--status", action="store_true", help="the patient's status screen")
    p.add_argument("--socket", type=Path, help="the daemon's control socket (default: the "
                   "config's <runtime_dir>/control.sock, or /run/hub/control.sock)")  # fmt: skip
    p.add_argument("--lang", choices=("nb", "en"), help="language (default: the config's)")
    p.add_argument("--speak", action="store_true",
                   help="spoken prompts through espeak-ng (measurement due or received, "
                   "connection lost)")  # fmt: skip
    _add_config_option(p)
    p.set_defaults(func=_ui)

    p = sub.add_parser("demo", help="simulated devices → hub → local Mosquitto → receiver")
    p.add_argument("--seconds", type=float, help="run this long, then drain (default: Ctrl-C)")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="keep the working directory in DIR (DIR/receiver.db)")  # fmt: skip
    p.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, MissingExtra) as exc:
        print(f"hub {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
