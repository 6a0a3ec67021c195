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


def test_code_requests_are_limited_per_client_address(post, alice, clock):
    for n in range(10):
        request_code(post, email=f"someone{n}@example.com", ip="203.0.113.5")
    refused = post(REQUEST, {"email": "alice@example.com"}, REMOTE_ADDR="203.0.113.5")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert request_code(post, ip="203.0.113.6") is not None
    clock.advance(minutes=15, seconds=1)
    assert request_code(post, ip="203.0.113.5") is not None


def test_one_inbox_gets_a_bounded_number_of_codes_from_many_clients(post, alice):
    for n in range(10):
        assert request_code(post, ip=f"198.51.100.{n}") is not None
    refused = post(REQUEST, {"email": "ALICE@example.com"}, REMOTE_ADDR="198.51.100.77")
    assert refused.status_code == 429
    assert len(mail.outbox) == 10


def test_ipv6_clients_are_limited_by_their_slash_64(post, alice):
    for n in range(10):
        request_code(post, email=f"someone{n}@example.com", ip=f"2001:db8:1:2::{n + 1:x}")
    refused = post(REQUEST, {"email": "x@example.com"}, REMOTE_ADDR="2001:db8:1:2:ffff::9")
    assert refused.status_code == 429
    assert request_code(post, email="y@example.com", ip="2001:db8:1:3::1") is None


def test_fresh_codes_do_not_buy_fresh_guesses_for_one_account(post, alice):
    for round_ in range(2):
        code = request_code(post, ip=f"198.51.100.{round_}")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for n in range(4):
            assert verify(post, wrong, ip=f"192.0.2.{round_ * 10 + n}").status_code == 401
    code = request_code(post, ip="198.51.100.50")
    locked = verify(post, code, ip="192.0.2.200")
    assert locked.status_code == 429


def test_a_failing_mail_server_does_not_change_the_answer(post, alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    known = post(REQUEST, {"email": "alice@example.com"}, REMOTE_ADDR="198.51.100.1")
    unknown = post(REQUEST, {"email": "ghost@example.com"}, REMOTE_ADDR="198.51.100.2")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 202


def test_a_code_dies_after_its_wrong_tries_are_used_up(post, alice, settings):
    # Below the account lockout (8), so what refuses the right code is the code's own limit.
    settings.CODEXPANEL_EMAIL_CODE_MAX_VERIFY_ATTEMPTS = 3
    code = request_code(post)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for n in range(3):
        assert verify(post, wrong, ip=f"192.0.2.{n}").status_code == 401
    dead = verify(post, code, ip="192.0.2.100")
    assert dead.status_code == 401
    assert dead.json()["error"]["code"] == "invalid_code"


def test_wrong_codes_count_as_failed_sign_ins_from_the_address(post, alice):
    code = request_code(post)
    for n in range(24):
        verify(
            post,
            "000000" if code != "000000" else "111111",
            email=f"x{n}@example.com",
            ip="192.0.2.9",
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
