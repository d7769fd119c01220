"""The running broker's subscription rules, changed in place through the dynamic-security
plugin's control topic, so an enrolled hub is confined and a revoked one loses its role at
once (the plugin reads `dynsec.json` only at start; hub.hospital.broker).

The core is pure: `State` is what the plugin holds (clients and their roles, roles and their
ACLs), `plan` the commands that turn one state into another, `failures` what the plugin's
answers refused. `apply` is the edge: one MQTT v5 connection with the broker-admin certificate
(`broker.ADMIN`, the only one granted the control topic) that reads the plugin's state, sends
the plan and waits for every answer. The plugin answers every subscriber of its response
topic, so each command carries a `correlationData` unique to this connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from hub.hospital import broker
from hub.hospital.layout import HospitalError
from hub.hospital.mqtt import Endpoint, start, tls_client

Command = dict[str, Any]
AclKey = tuple[str, str]  # (acltype, topic): what the plugin keys a role's ACLs by
AclRule = tuple[bool, int]  # (allow, priority)


@dataclass(frozen=True)
class State:
    """What the plugin holds: each client's role names, each role's ACLs."""

    clients: Mapping[str, frozenset[str]]
    roles: Mapping[str, Mapping[AclKey, AclRule]]


def wanted(hubs: Iterable[str]) -> State:
    """The state `broker.dynsec_json(hubs)` describes: every user with its own role."""
    roles = broker.roles(hubs)
    return State(
        clients={user: frozenset([user]) for user in roles},
        roles={user: acl_rules(acls) for user, acls in roles.items()},
    )


def parse_state(list_clients: Mapping[str, Any], list_roles: Mapping[str, Any]) -> State:
    """The state from the plugin's answers to verbose `listClients` and `listRoles`."""
    try:
        clients = {
            c["username"]: frozenset(r["rolename"] for r in c.get("roles", []))
            for c in list_clients["data"]["clients"]
        }
        roles = {r["rolename"]: acl_rules(r.get("acls", [])) for r in list_roles["data"]["roles"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise HospitalError(
            f"the broker's dynamic-security answer is malformed ({exc!r})"
        ) from None
    return State(clients, roles)


def plan(current: State, target: State) -> list[Command]:
    """Commands that make `current` into `target`: roles made or corrected before clients
    are given them, and clients deleted (which disconnects them) before their roles."""
    commands: list[Command] = []
    for name, acls in target.roles.items():
        have = current.roles.get(name)
        if have is None:
            listed = [_acl_json(key, rule) for key, rule in acls.items()]
            commands.append({"command": "createRole", "rolename": name, "acls": listed})
            continue
        for key, rule in acls.items():
            if have.get(key) not in (None, rule):
                commands.append({"command": "removeRoleACL", "rolename": name,
                                 "acltype": key[0], "topic": key[1]})  # fmt: skip
            if have.get(key) != rule:
                commands.append({"command": "addRoleACL", "rolename": name,
                                 **_acl_json(key, rule)})  # fmt: skip
        for key in have.keys() - acls.keys():
            commands.append({"command": "removeRoleACL", "rolename": name,
                             "acltype": key[0], "topic": key[1]})  # fmt: skip
    for user, names in target.clients.items():
        have_roles = current.clients.get(user)
        if have_roles is None:
            commands.append({"command": "createClient", "username": user,
                             "roles": [{"rolename": r} for r in sorted(names)]})  # fmt: skip
            continue
        commands += [{"command": "addClientRole", "username": user, "rolename": r}
                     for r in sorted(names - have_roles)]  # fmt: skip
        commands += [{"command": "removeClientRole", "username": user, "rolename": r}
                     for r in sorted(have_roles - names)]  # fmt: skip
    commands += [{"command": "deleteClient", "username": user}
                 for user in sorted(current.clients.keys() - target.clients.keys())]  # fmt: skip
    commands += [{"command": "deleteRole", "rolename": name}
                 for name in sorted(current.roles.keys() - target.roles.keys())]  # fmt: skip
    return commands


def failures(commands: list[Command], answers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per command (keyed by its correlationData) the plugin refused or did not
    answer."""
    lines = []
    for command in commands:
        answer = answers.get(command["correlationData"])
        what = f"{command['command']} {command.get('username') or command.get('rolename')}"
        if answer is None:
            lines.append(f"{what}: no answer")
        elif answer.get("error"):
            lines.append(f"{what}: {answer['error']}")
    return lines


def acl_rules(listed: Iterable[Mapping[str, Any]]) -> dict[AclKey, AclRule]:
    return {(a["acltype"], a["topic"]): (bool(a["allow"]), int(a.get("priority", 0)))
            for a in listed}  # fmt: skip


def _acl_json(key: AclKey, rule: AclRule) -> dict[str, object]:
    return {"acltype": key[0], "topic": key[1], "allow": rule[0], "priority": rule[1]}


class _Control:
    """One connection as the broker admin, subscribed to the plugin's answers."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.timeout = timeout
        self.tag = f"dho-{time.time_ns()}"
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.answers: dict[str, dict[str, Any]] = {}
        self.acks: dict[int, Any] = {}
        self.connected: Any = None
        self.count = 0
        self.client = tls_client(endpoint, self.tag, "broker-admin")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_ack
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        start(self.client, endpoint)
        try:
            self._wait(lambda: self.connected is not None, "the CONNACK")
            if self.connected.is_failure:
                raise HospitalError(f"the broker refused the broker-admin identity "
                                    f"({self.connected})")  # fmt: skip
            _rc, mid = self.client.subscribe(broker.CONTROL_RESPONSE, qos=0)
            self._wait(lambda: mid in self.acks, "the SUBACK")
            if (granted := self.acks[mid])[0].is_failure:
                raise HospitalError(f"the broker refused broker-admin its answers ({granted[0]})")
        except HospitalError:
            self.close()
            raise

    def run(self, commands: list[Command]) -> list[Command]:
        """Send `commands` in one message; the same commands with their correlationData,
        once every one was answered (the answers are in `answers`)."""
        tagged = []
        for command in commands:
            self.count += 1
            tagged.append({**command, "correlationData": f"{self.tag}-{self.count}"})
        payload = json.dumps({"commands": tagged}).encode()
        mid = self.client.publish(broker.CONTROL, payload, qos=1).mid
        self._wait(lambda: mid in self.acks, f"the PUBACK on {broker.CONTROL}")
        if (verdict := self.acks[mid]).is_failure:
            raise HospitalError(f"the broker refused the command to its plugin ({verdict})")
        ids = [c["correlationData"] for c in tagged]
        self._wait(lambda: all(i in self.answers for i in ids), "the plugin's answers")
        return tagged

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        """Until `ready()` holds (checked under the lock the callbacks take), or the deadline."""
        deadline = time.monotonic() + self.timeout
        with self.changed:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HospitalError(f"no answer from the broker within {self.timeout:.0f} s "
                                        f"({what})")  # fmt: skip
                self.changed.wait(left)

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self.changed:
            self.connected = reason
            self.changed.notify_all()

    def _on_ack(self, _c: mqtt.Client, _u: Any, mid: int, codes: Any, _p: Any) -> None:
        with self.changed:
            self.acks[mid] = codes
            self.changed.notify_all()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self.changed:
            self.acks[mid] = reason
            self.changed.notify_all()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(msg.payload).get("responses", [])
        except (ValueError, AttributeError):
            return
        with self.changed:
            for answer in responses:
                tag = answer.get("correlationData") if isinstance(answer, dict) else None
                if isinstance(tag, str) and tag.startswith(f"{self.tag}-"):
                    self.answers[tag] = answer
            self.changed.notify_all()


def apply(endpoint: Endpoint, hubs: Iterable[str], timeout: float = 10.0) -> str:
    """Make the running broker's plugin hold `wanted(hubs)`; a line saying what changed.
    HospitalError when the broker refuses or does not answer within `timeout`."""
    control = _Control(endpoint, timeout)
    try:
        asked = control.run([{"command": "listClients", "verbose": True},
                             {"command": "listRoles", "verbose": True}])  # fmt: skip
        if refused := failures(asked, control.answers):
            raise HospitalError(f"the broker's plugin refused: {'; '.join(refused)}")
        listed = [control.answers[c["correlationData"]] for c in asked]
        commands = plan(parse_state(*listed), wanted(hubs))
        if not commands:
            return "running broker: subscription rules already as enrolled"
        if refused := failures(control.run(commands), control.answers):
            raise HospitalError(f"the broker's plugin refused: {'; '.join(refused)}")
        names = ", ".join(f"{c['command']} {c.get('username') or c['rolename']}" for c in commands)
        return f"running broker: subscription rules applied at once ({names})"
    finally:
        control.close()
