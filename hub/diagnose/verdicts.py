"""What each step of the connectivity diagnosis can conclude, and the words for it.

`SENTENCES` is the one table of texts a person reads: per verdict, what happened and what to
do, in plain English. Each text is a msgid (marked with `N_`) for the UI's gettext
catalogues; `{name}` placeholders are filled from the result's `facts` after translation.
The technical detail (exception text, reason code) is for the log and never translated.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final


def N_(message: str) -> str:
    """Marks a msgid for the catalogues; the lookup happens where it is rendered."""
    return message


class Step(enum.StrEnum):
    DNS = "dns"
    TCP = "tcp"
    TLS = "tls"
    MQTT = "mqtt"  # authentication: the CONNACK
    ACCESS = "access"  # the ACL: a QoS 1 publish on the hub's own status topic
    ACK = "ack"  # the hospital's signed acknowledgement of a probe batch


class Verdict(enum.StrEnum):
    # passes, one per step
    DNS_OK = "dns-ok"
    DNS_NOT_NEEDED = "dns-not-needed"  # the broker address is an IP address
    TCP_OK = "tcp-ok"
    TLS_OK = "tls-ok"
    MQTT_OK = "mqtt-ok"
    ACCESS_OK = "access-ok"
    ACK_OK = "ack-ok"
    # DNS
    NAME_NOT_FOUND = "name-not-found"
    DNS_UNAVAILABLE = "dns-unavailable"
    # TCP
    PORT_CLOSED = "port-closed"
    CONNECT_TIMEOUT = "connect-timeout"
    NETWORK_UNREACHABLE = "network-unreachable"
    CONNECT_FAILED = "connect-failed"
    # TLS, before connecting: the hub's own files
    HUB_CERT_UNUSABLE = "hub-cert-unusable"
    HUB_CERT_EXPIRED = "hub-cert-expired"
    HUB_CERT_NOT_YET_VALID = "hub-cert-not-yet-valid"
    # TLS: the broker's certificate
    WRONG_CA = "wrong-ca"
    SERVER_CERT_EXPIRED = "server-cert-expired"
    SERVER_CERT_NOT_YET_VALID = "server-cert-not-yet-valid"
    WRONG_HOST_NAME = "wrong-host-name"
    TLS_FAILED = "tls-failed"
    # TLS: the broker's verdict on the hub's certificate
    HUB_CERT_REVOKED = "hub-cert-revoked"
    HUB_CERT_REFUSED = "hub-cert-refused"
    BROKER_HUNG_UP = "broker-hung-up"
    BROKER_SILENT = "broker-silent"
    NOT_TLS = "not-tls"
    NOT_MQTT = "not-mqtt"
    # MQTT
    MQTT_NOT_AUTHORIZED = "mqtt-not-authorized"
    MQTT_BANNED = "mqtt-banned"
    BROKER_BUSY = "broker-busy"
    MQTT_REFUSED = "mqtt-refused"
    CONNECTION_LOST = "connection-lost"
    # access control
    PUBLISH_NOT_AUTHORIZED = "publish-not-authorized"
    PUBLISH_REFUSED = "publish-refused"
    NOT_CONFIRMED = "not-confirmed"
    # the hospital's acknowledgement
    NO_RECEIVER = "no-receiver"
    NO_ACK = "no-ack"
    ACK_UNVERIFIED = "ack-unverified"
    HUB_NOT_ENROLLED = "hub-not-enrolled"
    HUB_REVOKED_BY_HOSPITAL = "hub-revoked-by-hospital"
    HOSPITAL_REFUSED = "hospital-refused"


@dataclass(frozen=True)
class Sentence:
    said: str  # what happened
    todo: str = ""  # what to do about it; empty for a pass


_CHECK_CLOCK = N_("Check that the hub's clock is right (it needs a network time source).")
_CALL_HOSPITAL_CERT = N_("Ask the hospital for a new certificate for this hub and import it.")

SENTENCES: Final[Mapping[Verdict, Sentence]] = {
    Verdict.DNS_OK: Sentence(N_("The broker's name {host} was found.")),
    Verdict.DNS_NOT_NEEDED: Sentence(N_("The broker's address {host} needs no name lookup.")),
    Verdict.TCP_OK: Sentence(N_("The broker answers on port {port}.")),
    Verdict.TLS_OK: Sentence(N_("The secure connection is set up; both certificates are good.")),
    Verdict.MQTT_OK: Sentence(N_("The broker accepted this hub.")),
    Verdict.ACCESS_OK: Sentence(N_("The broker lets this hub send on its own topics.")),
    Verdict.ACK_OK: Sentence(N_("The hospital received a test message and confirmed it.")),
    Verdict.NAME_NOT_FOUND: Sentence(
        N_("The broker's name {host} does not exist."),
        N_("Check the broker address for typing errors."),
    ),
    Verdict.DNS_UNAVAILABLE: Sentence(
        N_("The hub could not look up the broker's name {host}: no name server answered."),
        N_("Check the hub's network connection (cable, Wi-Fi or mobile data)."),
    ),
    Verdict.PORT_CLOSED: Sentence(
        N_("The broker's computer refused the connection on port {port}."),
        N_("Check the port number; if it is right, the broker is not running."),
    ),
    Verdict.CONNECT_TIMEOUT: Sentence(
        N_("The broker did not answer on port {port} in time."),
        N_("A firewall may block the port, or the network is down. Check the network."),
    ),
    Verdict.NETWORK_UNREACHABLE: Sentence(
        N_("The hub has no network route to the broker."),
        N_("Check the hub's network connection (cable, Wi-Fi or mobile data)."),
    ),
    Verdict.CONNECT_FAILED: Sentence(
        N_("The hub could not connect to the broker on port {port}."),
        N_("Check the network and the broker address."),
    ),
    Verdict.HUB_CERT_UNUSABLE: Sentence(
        N_("This hub's certificate or key file cannot be used."),
        N_("Import the hospital's response again."),
    ),
    Verdict.HUB_CERT_EXPIRED: Sentence(
        N_("This hub's certificate expired on {date}."), _CALL_HOSPITAL_CERT
    ),
    Verdict.HUB_CERT_NOT_YET_VALID: Sentence(
        N_("This hub's certificate is only valid from {date}."), _CHECK_CLOCK
    ),
    Verdict.WRONG_CA: Sentence(
        N_("The broker's certificate is not signed by the hospital this hub trusts."),
        N_("Check the broker address; if it is right, import the hospital's response again."),
    ),
    Verdict.SERVER_CERT_EXPIRED: Sentence(
        N_("The broker's certificate expired on {date}."),
        N_("Tell the hospital: the broker needs a new certificate."),
    ),
    Verdict.SERVER_CERT_NOT_YET_VALID: Sentence(
        N_("The broker's certificate is only valid from {date}."), _CHECK_CLOCK
    ),
    Verdict.WRONG_HOST_NAME: Sentence(
        N_("The broker's certificate is not made out to the name {host}."),
        N_("Use the broker address the hospital gave, exactly as written."),
    ),
    Verdict.TLS_FAILED: Sentence(
        N_("The secure connection to the broker could not be set up."),
        N_("Tell the hospital; the technical detail is in the log."),
    ),
    Verdict.HUB_CERT_REVOKED: Sentence(
        N_("The broker refused this hub's certificate: the hospital has revoked it."),
        _CALL_HOSPITAL_CERT,
    ),
    Verdict.HUB_CERT_REFUSED: Sentence(
        N_("The broker refused this hub's certificate."), _CALL_HOSPITAL_CERT
    ),
    Verdict.BROKER_HUNG_UP: Sentence(
        N_(
            "The broker closed the connection without answering: it most likely does not "
            "accept this hub's certificate."
        ),
        _CALL_HOSPITAL_CERT,
    ),
    Verdict.BROKER_SILENT: Sentence(
        N_("The broker set up the secure connection but then did not answer."),
        N_("Tell the hospital: the broker may be overloaded."),
    ),
    Verdict.NOT_TLS: Sentence(
        N_("Something answers on port {port}, but not with a secure (TLS) connection."),
        N_("Check the port number the hospital gave (often 8883)."),
    ),
    Verdict.NOT_MQTT: Sentence(
        N_("Something answers on port {port}, but it is not an MQTT broker."),
        N_("Check the port number the hospital gave."),
    ),
    Verdict.MQTT_NOT_AUTHORIZED: Sentence(
        N_("The broker does not accept this hub ({reason})."),
        N_("Tell the hospital: this hub is not registered with the broker."),
    ),
    Verdict.MQTT_BANNED: Sentence(
        N_("The broker has banned this hub."),
        N_("Tell the hospital."),
    ),
    Verdict.BROKER_BUSY: Sentence(
        N_("The broker is busy or not available right now ({reason})."),
        N_("Try again in a few minutes."),
    ),
    Verdict.MQTT_REFUSED: Sentence(
        N_("The broker refused the connection ({reason})."),
        N_("Tell the hospital; the technical detail is in the log."),
    ),
    Verdict.CONNECTION_LOST: Sentence(
        N_("The connection to the broker was lost during the test."),
        N_("Try again; if it happens again, check the network."),
    ),
    Verdict.PUBLISH_NOT_AUTHORIZED: Sentence(
        N_("The broker does not let hub {hub} send on its topics (not authorized)."),
        N_("Tell the hospital: the broker's access list does not allow this hub id."),
    ),
    Verdict.PUBLISH_REFUSED: Sentence(
        N_("The broker refused a test message ({reason})."),
        N_("Tell the hospital; the technical detail is in the log."),
    ),
    Verdict.NOT_CONFIRMED: Sentence(
        N_("The broker did not confirm a test message in time."),
        N_("Try again; if it happens again, tell the hospital."),
    ),
    Verdict.NO_RECEIVER: Sentence(
        N_("No hospital service is listening for this hub's messages."),
        N_("Tell the hospital: its receiving service is not running."),
    ),
    Verdict.NO_ACK: Sentence(
        N_("The hospital did not confirm the test message within {seconds} seconds."),
        N_("Tell the hospital: its receiving service may be down."),
    ),
    Verdict.ACK_UNVERIFIED: Sentence(
        N_("An answer came back, but it is not signed by the hospital this hub knows."),
        N_("Import the hospital's response again."),
    ),
    Verdict.HUB_NOT_ENROLLED: Sentence(
        N_("The hospital does not know this hub ({reason})."),
        N_("Ask the hospital to enroll this hub, then import its response."),
    ),
    Verdict.HUB_REVOKED_BY_HOSPITAL: Sentence(
        N_("The hospital has taken this hub out of service."),
        N_("Tell the hospital; this hub must be enrolled again."),
    ),
    Verdict.HOSPITAL_REFUSED: Sentence(
        N_("The hospital refused the test message ({reason})."),
        N_("Tell the hospital; the technical detail is in the log."),
    ),
}

PASSES: Final[Mapping[Step, frozenset[Verdict]]] = {
    Step.DNS: frozenset({Verdict.DNS_OK, Verdict.DNS_NOT_NEEDED}),
    Step.TCP: frozenset({Verdict.TCP_OK}),
    Step.TLS: frozenset({Verdict.TLS_OK}),
    Step.MQTT: frozenset({Verdict.MQTT_OK}),
    Step.ACCESS: frozenset({Verdict.ACCESS_OK}),
    Step.ACK: frozenset({Verdict.ACK_OK}),
}


@dataclass(frozen=True)
class StepResult:
    """One step's outcome. `said` and `todo` are the English texts with `facts` filled in;
    a UI translates `SENTENCES[verdict]` and fills in the same facts."""

    step: Step
    verdict: Verdict
    facts: Mapping[str, str] = field(default_factory=dict)
    detail: str = ""  # technical, for the log

    @property
    def ok(self) -> bool:
        return self.verdict in PASSES[self.step]

    @property
    def said(self) -> str:
        return SENTENCES[self.verdict].said.format_map(self.facts)

    @property
    def todo(self) -> str:
        return SENTENCES[self.verdict].todo.format_map(self.facts)

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step.value,
            "ok": self.ok,
            "verdict": self.verdict.value,
            "said": self.said,
            "todo": self.todo,
            "facts": dict(self.facts),
            "detail": self.detail,
        }


def report_json(results: Sequence[StepResult]) -> dict[str, Any]:
    """A whole diagnosis as one JSON object (`hub diagnose --json`, a control op's answer):
    ok only when every step ran and passed."""
    return {
        "ok": len(results) == len(Step) and all(r.ok for r in results),
        "steps": [r.as_json() for r in results],
    }
