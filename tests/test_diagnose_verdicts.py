"""The diagnosis's pure decisions: what an exception, a reason code, a certificate date or an
ack means, and the table of sentences a technician reads."""

from __future__ import annotations

import errno
import socket
import ssl
import string
from datetime import UTC, datetime, timedelta

import pytest

from hub.diagnose import classify
from hub.diagnose.verdicts import PASSES, SENTENCES, Step, StepResult, Verdict, report_json
from hub.wire.messages import Ack

T = datetime(2026, 12, 2, 12, tzinfo=UTC)
FACT_NAMES = {"host", "port", "hub", "date", "reason", "seconds"}


def test_every_verdict_has_a_sentence_and_only_failures_say_what_to_do() -> None:
    assert set(SENTENCES) == set(Verdict)
    passes = set().union(*PASSES.values())
    for verdict, sentence in SENTENCES.items():
        assert sentence.said.endswith("."), verdict
        assert bool(sentence.todo) is (verdict not in passes), verdict
        assert not sentence.todo or sentence.todo.endswith("."), verdict


def test_sentences_use_only_the_facts_a_result_carries() -> None:
    for verdict, sentence in SENTENCES.items():
        for text in (sentence.said, sentence.todo):
            names = {name for _lit, name, _f, _c in string.Formatter().parse(text) if name}
            assert names <= FACT_NAMES, (verdict, names)


def test_a_result_fills_in_its_facts_and_knows_whether_it_passed() -> None:
    failed = StepResult(Step.TLS, Verdict.HUB_CERT_EXPIRED, {"date": "2026-12-01"}, "detail")
    assert failed.said == "This hub's certificate expired on 2026-12-01."
    assert not failed.ok
    assert failed.as_json() == {
        "step": "tls",
        "ok": False,
        "verdict": "hub-cert-expired",
        "said": "This hub's certificate expired on 2026-12-01.",
        "todo": "Ask the hospital for a new certificate for this hub and import it.",
        "facts": {"date": "2026-12-01"},
        "detail": "detail",
    }
    assert StepResult(Step.DNS, Verdict.DNS_OK, {"host": "b.example"}).ok
    assert StepResult(Step.DNS, Verdict.DNS_NOT_NEEDED, {"host": "192.0.2.7"}).ok
    assert not StepResult(Step.TCP, Verdict.DNS_OK, {"host": "b.example"}).ok  # another step's


def test_a_report_is_ok_only_when_every_step_passed() -> None:
    facts = {"host": "broker.example", "port": "8883", "hub": "hub-a"}
    passed = [StepResult(step, max(verdicts), facts) for step, verdicts in PASSES.items()]
    assert report_json(passed)["ok"] is True
    assert report_json(passed[:3])["ok"] is False  # stopped early, however it did
    failed = [*passed[:2], StepResult(Step.TLS, Verdict.WRONG_CA, facts)]
    report = report_json(failed)
    assert report["ok"] is False
    assert [s["verdict"] for s in report["steps"]] == ["dns-ok", "tcp-ok", "wrong-ca"]


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (socket.EAI_NONAME, Verdict.NAME_NOT_FOUND),
        (socket.EAI_AGAIN, Verdict.DNS_UNAVAILABLE),
        (socket.EAI_FAIL, Verdict.DNS_UNAVAILABLE),
    ],
)
def test_dns(code: int, verdict: Verdict) -> None:
    assert classify.dns_verdict(socket.gaierror(code, "x")) is verdict


def test_connect_the_most_telling_failure_decides() -> None:
    refused, timeout = ConnectionRefusedError(errno.ECONNREFUSED, "x"), TimeoutError("x")
    unreachable = OSError(errno.ENETUNREACH, "x")
    assert classify.connect_verdict([timeout, refused]) is Verdict.PORT_CLOSED
    assert classify.connect_verdict([timeout, unreachable]) is Verdict.NETWORK_UNREACHABLE
    assert classify.connect_verdict([timeout, timeout]) is Verdict.CONNECT_TIMEOUT
    assert classify.connect_verdict([OSError(errno.EACCES, "x")]) is Verdict.CONNECT_FAILED
    assert classify.connect_verdict([]) is Verdict.CONNECT_FAILED


def _verify_error(code: int) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_code = code
    return error


def _alert(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, reason.lower())
    error.reason = reason
    return error


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (_verify_error(20), Verdict.WRONG_CA),  # unable to get local issuer certificate
        (_verify_error(19), Verdict.WRONG_CA),  # self-signed certificate in chain
        (_verify_error(10), Verdict.SERVER_CERT_EXPIRED),
        (_verify_error(9), Verdict.SERVER_CERT_NOT_YET_VALID),
        (_verify_error(62), Verdict.WRONG_HOST_NAME),
        (_verify_error(64), Verdict.WRONG_HOST_NAME),  # IP address mismatch
        (_verify_error(23), Verdict.TLS_FAILED),
        (_alert("SSLV3_ALERT_CERTIFICATE_REVOKED"), Verdict.HUB_CERT_REVOKED),
        (_alert("SSLV3_ALERT_BAD_CERTIFICATE"), Verdict.HUB_CERT_REFUSED),
        (_alert("SSLV3_ALERT_CERTIFICATE_EXPIRED"), Verdict.HUB_CERT_REFUSED),
        (_alert("TLSV13_ALERT_CERTIFICATE_REQUIRED"), Verdict.HUB_CERT_REFUSED),
        (_alert("TLSV1_ALERT_UNKNOWN_CA"), Verdict.HUB_CERT_REFUSED),
        (_alert("TLSV1_ALERT_PROTOCOL_VERSION"), Verdict.TLS_FAILED),
        (_alert("WRONG_VERSION_NUMBER"), Verdict.NOT_TLS),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), Verdict.BROKER_HUNG_UP),
        (ConnectionResetError(errno.ECONNRESET, "x"), Verdict.BROKER_HUNG_UP),
    ],
)
def test_tls(error: OSError, verdict: Verdict) -> None:
    assert classify.tls_verdict(error, handshake_done=True) is verdict


def test_a_tls_timeout_before_or_after_the_handshake() -> None:
    assert classify.tls_verdict(TimeoutError(), handshake_done=False) is Verdict.CONNECT_TIMEOUT
    assert classify.tls_verdict(TimeoutError(), handshake_done=True) is Verdict.BROKER_SILENT


def test_certificate_dates() -> None:
    start, end = T - timedelta(days=1), T + timedelta(days=1)
    dates = classify.certificate_dates_verdict
    assert dates(start, end, T, hub=True) is None
    assert dates(start, end, end + timedelta(seconds=1), hub=True) is Verdict.HUB_CERT_EXPIRED
    assert dates(start, end, start - timedelta(days=9), hub=True) is Verdict.HUB_CERT_NOT_YET_VALID
    assert dates(start, end, end + timedelta(days=1), hub=False) is Verdict.SERVER_CERT_EXPIRED
    assert dates(start, end, T - timedelta(days=2), hub=False) is Verdict.SERVER_CERT_NOT_YET_VALID


@pytest.mark.parametrize(
    ("reason", "verdict", "name"),
    [
        (0x00, Verdict.MQTT_OK, "Success, 0x00"),
        (0x86, Verdict.MQTT_NOT_AUTHORIZED, "Bad user name or password, 0x86"),
        (0x87, Verdict.MQTT_NOT_AUTHORIZED, "Not authorized, 0x87"),
        (0x8A, Verdict.MQTT_BANNED, "Banned, 0x8A"),
        (0x89, Verdict.BROKER_BUSY, "Server busy, 0x89"),
        (0x84, Verdict.MQTT_REFUSED, "Unsupported protocol version, 0x84"),
        (0xFE, Verdict.MQTT_REFUSED, "unknown reason, 0xFE"),
    ],
)
def test_connack(reason: int, verdict: Verdict, name: str) -> None:
    assert classify.connack_verdict(reason) is verdict
    assert classify.connack_name(reason) == name


def test_pubacks() -> None:
    assert classify.access_verdict(0x00) is Verdict.ACCESS_OK
    assert classify.access_verdict(0x10) is Verdict.ACCESS_OK  # nobody reads status live
    assert classify.access_verdict(0x87) is Verdict.PUBLISH_NOT_AUTHORIZED
    assert classify.access_verdict(0x97) is Verdict.PUBLISH_REFUSED
    assert classify.probe_puback_verdict(0x00) is None  # now wait for the hospital
    assert classify.probe_puback_verdict(0x10) is Verdict.NO_RECEIVER
    assert classify.probe_puback_verdict(0x87) is Verdict.PUBLISH_NOT_AUTHORIZED
    assert classify.puback_name(0x10) == "No matching subscribers, 0x10"


@pytest.mark.parametrize(
    ("ok", "reason", "verdict"),
    [
        (True, "", Verdict.ACK_OK),
        (False, "unknown-hub", Verdict.HUB_NOT_ENROLLED),
        (False, "unknown-signing-key", Verdict.HUB_NOT_ENROLLED),
        (False, "revoked-hub", Verdict.HUB_REVOKED_BY_HOSPITAL),
        (False, "decrypt-failed", Verdict.HOSPITAL_REFUSED),
    ],
)
def test_the_hospitals_ack(ok: bool, reason: str, verdict: Verdict) -> None:
    assert classify.ack_verdict(Ack("hub-a", "probe-1", ok, reason=reason)) is verdict
