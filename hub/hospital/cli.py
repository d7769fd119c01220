"""`hub hospital init|enroll|revoke|config|fleet`: argument parsing and printing only; the
work is in hub.hospital.authority, downlink and fleet. Errors are `HospitalError`, which the
`hub` command prints as one line with exit status 2."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hub.hospital.layout import HospitalDir, HospitalError, Settings

__all__ = ["HospitalError", "add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction, handler: Callable[..., int]) -> None:
    p = sub.add_parser("hospital", help="the hospital's CA, enrollment, configs and fleet")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, text: str) -> argparse.ArgumentParser:
        q = actions.add_parser(name, help=text)
        q.add_argument("--dir", type=Path, default=Path("."), help="hospital directory")
        q.set_defaults(func=handler)
        return q

    q = action("init", "create the CA (or take an existing one), keys and broker config")
    q.add_argument("--broker-host", required=True, help="broker address as hubs reach it")
    q.add_argument("--broker-port", type=int, default=8883)
    q.add_argument("--listen", default="0.0.0.0", help="address the broker binds")
    q.add_argument("--hostname", action="append", default=[],
                   help="extra name or IP in the broker's certificate (repeat)")  # fmt: skip
    q.add_argument("--hub-days", type=int, default=397, help="validity of hub certificates")
    q.add_argument("--pid-file", type=Path, help="the broker's pid file (default in --dir)")
    q.add_argument("--broker-user", default=getpass.getuser(), help="account Mosquitto runs as")
    q.add_argument("--ca-cert", type=Path, help="use this existing CA or intermediate")
    q.add_argument("--ca-key", type=Path, help="its EC private key")
    q.add_argument("--ca-chain", type=Path, help="certificates above it, root last")
    q = action("enroll", "verify a hub's request, sign it, open the broker to the hub")
    q.add_argument("request", type=Path, metavar="REQUEST")
    q.add_argument("--out", type=Path, help="response file (default REQUEST.response.json)")
    q = action("revoke", "revoke a lost hub: CRL, broker ACL, receiver")
    q.add_argument("hub", metavar="HUB")
    q = action("config", "build, show and publish a hub's signed downlink config")
    q.add_argument("hub", metavar="HUB")
    q.add_argument("--from", dest="source", type=Path, help="TOML or JSON with the fields")
    q.add_argument("--patient", help="pseudonymous patient id")
    q.add_argument("--pathway", help="general, copd, heart-failure, hypertension, news2")
    for name in ("thresholds", "schedule", "devices"):
        q.add_argument(f"--{name}", type=Path, help=f"TOML or JSON file with {name}")
    q.add_argument("--yes", action="store_true", help="publish (without: show the difference)")
    q = action("fleet", "every hub's last status; silent hubs marked")
    q.add_argument("--silent-after", type=float, default=900.0, metavar="SECONDS")
    q.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> list[str]:
    """The lines to print for one `hub hospital` action."""
    place = HospitalDir(args.dir)
    now = datetime.now(UTC)
    if args.action == "init":
        return _init(args, place, now)
    if args.action == "enroll":
        return _enroll(args, place, now)
    if args.action == "revoke":
        from hub.hospital import authority

        return authority.revoke(place, args.hub, now)
    if args.action == "config":
        return _config(args, place)
    from hub.hospital import fleet

    found = fleet.collect(place, now, args.silent_after)
    return [json.dumps(fleet.as_json(found))] if args.json else [fleet.table(found)]


def _init(args: argparse.Namespace, place: HospitalDir, now: datetime) -> list[str]:
    from hub.hospital import authority

    if (args.ca_cert is None) != (args.ca_key is None):
        raise HospitalError("--ca-cert and --ca-key go together")
    existing = (
        authority.ExistingCa(args.ca_cert, args.ca_key, args.ca_chain) if args.ca_cert else None
    )
    settings = Settings(
        broker_host=args.broker_host,
        broker_port=args.broker_port,
        listen=args.listen,
        hub_days=args.hub_days,
        pid_file=(args.pid_file or place.broker / "mosquitto.pid").absolute(),
        broker_user=args.broker_user,
    )
    hosts = list(dict.fromkeys([args.broker_host, *args.hostname]))
    return authority.init(HospitalDir(place.root.absolute()), settings, hosts, now, existing)


def _enroll(args: argparse.Namespace, place: HospitalDir, now: datetime) -> list[str]:
    from hub.hospital import authority
    from hub.keyfiles import write_atomic

    try:
        data = args.request.read_bytes()
    except OSError as exc:
        raise HospitalError(f"{args.request}: {exc.strerror}") from None
    done, reloaded = authority.enroll(place, data, now)
    out = args.out or args.request.with_name(args.request.stem + ".response.json")
    write_atomic(out, done.response)
    kind = "renewed" if done.renewal else "enrolled"
    return [f"{done.hub} {kind}: request fingerprint {done.fingerprint} (compare with the hub's)",
            f"certificate serial {done.serial:x}, valid until {done.not_after:%Y-%m-%d}",
            f"response: {out}", *reloaded]  # fmt: skip


def _config(args: argparse.Namespace, place: HospitalDir) -> list[str]:
    from hub.hospital import downlink

    given = downlink.read_source(args.source) if args.source else {}
    for name in ("thresholds", "schedule", "devices"):
        path = getattr(args, name)
        if path is not None:
            data = downlink.read_source(path)
            given[name] = data.get(name, data)
    for name in ("patient", "pathway"):
        if getattr(args, name) is not None:
            given[name] = getattr(args, name)
    change = downlink.next_config(args.hub, downlink.previous_config(place, args.hub), given)
    if not change.diff:
        return [f"{args.hub}: no change from the published config; nothing published"]
    if not args.yes:
        return [*change.diff, "not published: add --yes to sign and publish it"]
    return [*change.diff, downlink.publish(place, change.config)]
