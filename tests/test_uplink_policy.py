import pytest

from hub.uplink.policy import Problem, batch_due, connack_problem, retry_delay

KW = {"base": 0.5, "cap": 60.0, "slow": 600.0}


def test_outage_backoff_is_exponential_with_full_jitter() -> None:
    tops = [retry_delay(Problem.OUTAGE, n, rand=0.999999, **KW) for n in range(10)]
    assert tops[:5] == pytest.approx([0.5, 1.0, 2.0, 4.0, 8.0], rel=1e-5)
    assert tops[-1] == pytest.approx(60.0, rel=1e-5)  # capped
    assert retry_delay(Problem.OUTAGE, 5, rand=0.0, **KW) == 0.0  # full jitter: down to zero
    assert retry_delay(Problem.OUTAGE, 5, rand=0.5, **KW) == pytest.approx(8.0)
    assert retry_delay(Problem.OUTAGE, 10_000, rand=0.5, **KW) == pytest.approx(30.0)


def test_authentication_problems_retry_slowly() -> None:
    for problem in (Problem.AUTH, Problem.NOT_AUTHORIZED):
        for attempt in (1, 2, 50):
            delay = retry_delay(problem, attempt, rand=0.0, **KW)
            assert 450.0 <= delay <= 600.0
    assert retry_delay(Problem.AUTH, 1, rand=0.999, **KW) == pytest.approx(599.85)


def test_connack_reasons() -> None:
    for code in (0x86, 0x87, 0x8A, 0x84):
        assert connack_problem(code) is Problem.AUTH
    for code in (0x88, 0x89, 0x80):
        assert connack_problem(code) is Problem.OUTAGE


def test_batch_closes_at_size_age_or_urgency() -> None:
    assert not batch_due(0, batch_max=200, aged=True, urgent=True)
    assert not batch_due(199, batch_max=200, aged=False, urgent=False)
    assert batch_due(200, batch_max=200, aged=False, urgent=False)
    assert batch_due(1, batch_max=200, aged=True, urgent=False)
    assert batch_due(1, batch_max=200, aged=False, urgent=True)
