"""Email-code sign-in (SPEC IAM-7)."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import EmailLoginCode

# Mail leaves only once the code is committed, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)
REQUEST = "/api/iam/auth/email-code/request"
VERIFY = "/api/iam/auth/email-code/verify"


@pytest.fixture
def alice(make_user):
    return make_user("alice", email="alice@example.com")


def request_code(post, email: str = "alice@example.com", ip: str = "198.51.100.9") -> str | None:
    sent = len(mail.outbox)
    response = post(REQUEST, {"email": email}, REMOTE_ADDR=ip)
    assert response.status_code == 202, response.json()
    if len(mail.outbox) == sent:
        return None
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def verify(post, code: str, email: str = "alice@example.com", ip: str = "198.51.100.9"):
    return post(VERIFY, {"email": email, "code": code}, REMOTE_ADDR=ip)


def test_a_mailed_code_signs_the_user_in(client: Client, post, alice):
    code = request_code(post)
    assert mail.outbox[-1].to == ["alice@example.com"]
    response = verify(post, code)
    assert response.status_code == 200
    assert response.json()["user"]["userId"] == alice.user_id
    assert client.get("/api/iam/auth/status").json()["authenticated"] is True


def test_a_code_works_only_once(post, alice):
    code = request_code(post)
    assert verify(post, code).status_code == 200
    again = verify(post, code)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_code"


def test_a_code_expires_after_ten_minutes(post, alice, clock):
    code = request_code(post)
    clock.advance(minutes=10, seconds=1)
    assert verify(post, code).status_code == 401


def test_codes_are_stored_only_as_keyed_hashes(post, alice):
    code = request_code(post)
    stored = EmailLoginCode.objects.get(user=alice).code_hash
    assert code not in stored
    assert stored != hashlib.sha256(code.encode()).hexdigest()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(post, alice):
    assert request_code(post, email="nobody@example.com") is None
    assert mail.outbox == []


def test_a_new_code_replaces_the_previous_one(post, alice):
    first = request_code(post)
    second = request_code(post)
    if first != second:
        assert verify(post, first).status_code == 401
    assert verify(post, second).status_code == 200


def test_code_requests_are_limited_per_address(post, alice, clock):
    for _ in range(10):
        request_code(post, ip="203.0.113.5")
    refused = post(REQUEST, {"email": "alice@example.com"}, REMOTE_ADDR="203.0.113.5")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert request_code(post, ip="203.0.113.6") is not None
    clock.advance(minutes=15, seconds=1)
    assert request_code(post, ip="203.0.113.5") is not None


def test_a_code_dies_after_eight_wrong_tries(post, alice):
    code = request_code(post)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for n in range(8):
        assert verify(post, wrong, ip=f"192.0.2.{n}").status_code == 401
    assert verify(post, code, ip="192.0.2.100").status_code == 401


def test_wrong_codes_count_as_failed_sign_ins_from_the_address(post, alice):
    code = request_code(post)
    for _ in range(24):
        verify(
            post, "000000" if code != "000000" else "111111", email="x@example.com", ip="192.0.2.9"
        )
    locked = verify(post, code, ip="192.0.2.9")
    assert locked.status_code == 429


def test_outstanding_codes_are_capped(post, make_user, settings):
    settings.CODEXPANEL_EMAIL_CODE_MAX_CODES = 2
    for n in range(3):
        make_user(f"user{n}", email=f"user{n}@example.com")
    request_code(post, email="user0@example.com")
    request_code(post, email="user1@example.com")
    response = post(REQUEST, {"email": "user2@example.com"}, REMOTE_ADDR="198.51.100.9")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "email_code_capacity"
    # The answer is the same for an address nobody uses: the cap reveals no account.
    response = post(REQUEST, {"email": "ghost@example.com"}, REMOTE_ADDR="198.51.100.9")
    assert response.json()["error"]["code"] == "email_code_capacity"


def test_a_malformed_code_is_a_clear_400(post, alice):
    response = verify(post, "12ab")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
