"""`hub identity init|request|import|show|renew`: argument parsing and printing only. The
`hub` command loads the hub's configuration (hub id, data directory) and calls `run`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hub.identity import IdentityError

__all__ = ["IdentityError", "add_parser", "run"]


def add_parser(
    sub: argparse._SubParsersAction,
    handler: Callable[..., int],
    add_config_option: Callable[[argparse.ArgumentParser], None],
) -> None:
    p = sub.add_parser("identity", help="the hub's own keys, enrollment request and certificate")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, text: str) -> argparse.ArgumentParser:
        q = actions.add_parser(name, help=text)
        add_config_option(q)
        q.set_defaults(func=handler)
        return q

    action("init", "make the hub's keys (they never leave it)")
    q = action("request", "write the enrollment request and print its fingerprint")
    q.add_argument("--out", type=Path, help="also write the request here (e.g. a USB stick)")
    q = action("import", "check the hospital's response, then make it the hub's identity")
    q.add_argument("response", type=Path, metavar="RESPONSE")
    q.add_argument("--ca-fingerprint", help="the hospital CA's SHA-256 fingerprint, if given")
    q = action("show", "the identity's state, certificate and pending request")
    q.add_argument("--json", action="store_true")
    q = action("renew", "new key and request; the current certificate works until import")
    q.add_argument("--out", type=Path, help="also write the request here")


def run(args: argparse.Namespace, hub: str, data_dir: Path, version: str) -> list[str]:
    from hub.identity import ops
    from hub.identity.files import IdentityFiles

    files = IdentityFiles(data_dir)
    now = datetime.now(UTC)
    try:
        if args.action == "init":
            return ops.init(files)
        if args.action in ("request", "renew"):
            lines = ops.renew(files) if args.action == "renew" else []
            where, code = ops.request(files, hub, version, args.out)
            return [*lines, f"request for {hub}: {where}",
                    f"fingerprint {code} (read it to the hospital)"]  # fmt: skip
        if args.action == "import":
            data = args.response.read_bytes()
            return ops.import_response(files, hub, data, now, args.ca_fingerprint)
        shown = ops.show(files, hub, now)
    except OSError as exc:
        raise IdentityError(f"{exc.filename}: {exc.strerror}") from None
    if args.json:
        return [json.dumps(shown)]
    return [f"{k}: {json.dumps(v) if isinstance(v, dict) else v}" for k, v in shown.items()]
