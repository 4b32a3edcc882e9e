from __future__ import annotations

import pytest

from faxpush.core.outcome import Verdict, classify

D, R, F = Verdict.DELIVERED, Verdict.RETRY, Verdict.FAILED


@pytest.mark.parametrize(
    ("status", "retry_4xx", "expected"),
    [
        (200, False, D),
        (201, False, D),
        (204, False, D),
        (299, False, D),
        (301, False, F),
        (302, False, F),
        (307, False, F),
        (308, False, F),
        (400, False, F),
        (401, False, F),
        (403, False, F),
        (404, False, F),
        (410, False, F),
        (422, False, F),
        (408, False, R),
        (429, False, R),
        (400, True, R),
        (404, True, R),
        (401, True, R),
        (302, True, F),
        (500, False, R),
        (502, False, R),
        (503, False, R),
        (504, False, R),
        (599, False, R),
        (600, False, R),
        (100, False, R),
    ],
)
def test_http_status_table(status: int, retry_4xx: bool, expected: Verdict) -> None:
    outcome = classify(http_status=status, error_class=None, retry_client_errors=retry_4xx)
    assert outcome.verdict is expected
    assert str(status) in outcome.reason


@pytest.mark.parametrize(
    ("error_class", "expected"),
    [
        ("timeout", R),
        ("connect", R),
        ("protocol", R),
        ("token_endpoint", R),
        ("internal", R),
        ("auth", F),
        ("refused_address", F),
        ("invalid_url", F),
        ("something-new", R),
    ],
)
def test_error_classes(error_class: str, expected: Verdict) -> None:
    assert classify(http_status=None, error_class=error_class).verdict is expected


def test_error_class_wins_over_status() -> None:
    # a second 401 after the digest/oauth dance is an auth failure even with the 4xx switch
    outcome = classify(http_status=401, error_class="auth", retry_client_errors=True)
    assert outcome.verdict is F


def test_no_status_no_error_is_retried() -> None:
    assert classify(http_status=None, error_class=None).verdict is R
