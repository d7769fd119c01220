"""hub.hospital.dynsec's pure core: `plan` turns any state the plugin may hold into the
wanted one with commands the plugin accepts (checked against a model of the plugin's own
preconditions, from Mosquitto 2.0.11's plugins/dynamic-security), and `failures` names every
refused or unanswered command."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.hospital import broker, dynsec
from hub.hospital.dynsec import AclKey, AclRule, State

NAMES = st.sampled_from(["hub-a", "hub-b", "hub-c", "receiver", "ops", "broker-admin", "old"])
KEYS = st.tuples(st.sampled_from(["subscribePattern", "publishClientSend"]),
                 st.sampled_from(["#", "dho/v1/hubs/+/up", "dho/v1/hubs/hub-a/ack"]))  # fmt: skip
RULES = st.tuples(st.booleans(), st.integers(0, 2))


@st.composite
def states(draw: st.DrawFn) -> State:
    roles = draw(st.dictionaries(NAMES, st.dictionaries(KEYS, RULES, max_size=3), max_size=5))
    clients = draw(st.dictionaries(NAMES, st.frozensets(st.sampled_from(sorted(roles) or ["x"]),
                                                        max_size=2), max_size=5))  # fmt: skip
    return State({u: r & roles.keys() for u, r in clients.items()}, roles)


def run(state: State, commands: list[dict[str, Any]]) -> State:
    """The plugin's answer to each command as a model: a command it would refuse fails."""
    clients = {u: set(r) for u, r in state.clients.items()}
    roles: dict[str, dict[AclKey, AclRule]] = {n: dict(a) for n, a in state.roles.items()}
    for c in commands:
        kind = c["command"]
        if kind == "createRole":
            assert c["rolename"] not in roles
            roles[c["rolename"]] = dynsec.acl_rules(c["acls"])
        elif kind == "addRoleACL":
            key = (c["acltype"], c["topic"])
            assert key not in roles[c["rolename"]], "ACL with this topic already exists"
            roles[c["rolename"]][key] = (c["allow"], c["priority"])
        elif kind == "removeRoleACL":
            del roles[c["rolename"]][(c["acltype"], c["topic"])]
        elif kind == "createClient":
            assert c["username"] not in clients
            assert all(r["rolename"] in roles for r in c["roles"]), "Role not found"
            clients[c["username"]] = {r["rolename"] for r in c["roles"]}
        elif kind == "addClientRole":
            assert c["rolename"] in roles
            clients[c["username"]].add(c["rolename"])
        elif kind == "removeClientRole":
            clients[c["username"]].remove(c["rolename"])
        elif kind == "deleteClient":
            del clients[c["username"]]
        elif kind == "deleteRole":
            del roles[c["rolename"]]
            assert all(c["rolename"] not in held for held in clients.values())
        else:
            raise AssertionError(kind)
    return State({u: frozenset(r) for u, r in clients.items()}, roles)


@given(states(), st.lists(st.sampled_from(["hub-a", "hub-b", "hub-c"]), unique=True))
def test_the_plan_reaches_the_wanted_state_from_any_state(current: State, hubs: list) -> None:
    target = dynsec.wanted(hubs)
    assert run(current, dynsec.plan(current, target)) == target


@given(st.lists(st.sampled_from(["hub-a", "hub-b", "hub-c"]), unique=True))
def test_nothing_to_do_when_the_plugin_holds_the_wanted_state(hubs: list) -> None:
    assert dynsec.plan(dynsec.wanted(hubs), dynsec.wanted(hubs)) == []


def test_enrolling_one_hub_creates_its_role_then_its_client_and_nothing_else() -> None:
    commands = dynsec.plan(dynsec.wanted(["hub-a"]), dynsec.wanted(["hub-a", "hub-b"]))
    assert [(c["command"], c.get("rolename") or c["username"]) for c in commands] == [
        ("createRole", "hub-b"),
        ("createClient", "hub-b"),
    ]
    assert commands[0]["acls"] == broker.roles(["hub-b"])["hub-b"]


def test_revoking_deletes_the_client_before_its_role() -> None:
    commands = dynsec.plan(dynsec.wanted(["hub-a", "hub-b"]), dynsec.wanted(["hub-b"]))
    assert commands == [{"command": "deleteClient", "username": "hub-a"},
                        {"command": "deleteRole", "rolename": "hub-a"}]  # fmt: skip


def test_the_file_and_the_wanted_state_say_the_same() -> None:
    document = {"data": json.loads(broker.dynsec_json(["hub-a"]))}
    assert dynsec.parse_state(document, document) == dynsec.wanted(["hub-a"])


def test_failures_name_refused_and_unanswered_commands() -> None:
    sent = [{"command": "createClient", "username": "hub-a", "correlationData": "t-1"},
            {"command": "createRole", "rolename": "hub-a", "correlationData": "t-2"},
            {"command": "deleteRole", "rolename": "old", "correlationData": "t-3"}]  # fmt: skip
    answers = {"t-1": {"command": "createClient", "error": "Role not found"},
               "t-2": {"command": "createRole"}}  # fmt: skip
    assert dynsec.failures(sent, answers) == [
        "createClient hub-a: Role not found",
        "deleteRole old: no answer",
    ]
