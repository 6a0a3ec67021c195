"""Password sign-in and its rate limits (SPEC IAM-4, IAM-6)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from accounts import ratelimit
from accounts.models import RateLimitBucket

from .conftest import PASSWORD

LOGIN = "/api/iam/auth/login"
pytestmark = pytest.mark.django_db


def login(post, username: str, password: str, ip: str = "198.51.100.7"):
    return post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_login_with_the_right_password_signs_in_and_rotates_the_session(client: Client, make_user):
    user = make_user("alice", email="alice@example.com")
    client.get("/api/iam/auth/status")
    client.session.save()
    before = (
        client.cookies["codexpanel_session"].value
        if "codexpanel_session" in client.cookies
        else None
    )
    response = client.post(
        LOGIN, {"username": "alice", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["user"]["userId"] == user.user_id
    assert response.json()["user"]["username"] == "alice"
    assert client.cookies["codexpanel_session"].value != before
    status = client.get("/api/iam/auth/status").json()
    assert status["authenticated"] is True
    assert status["user"]["username"] == "alice"


def test_login_ignores_the_case_of_the_username(post, make_user):
    make_user("Alice")
    assert login(post, "aLICE", PASSWORD).status_code == 200


def test_login_with_a_wrong_password_is_refused(post, make_user):
    make_user("alice")
    response = login(post, "alice", "not it")
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "invalid_credentials", "message": "Invalid username or password."}
    }


def test_an_unknown_username_gets_the_same_answer_as_a_wrong_password(post, make_user):
    make_user("alice")
    wrong = login(post, "alice", "not it")
    unknown = login(post, "nobody-here", "not it")
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json())
    assert sorted(unknown.headers) == sorted(wrong.headers)


def test_a_disabled_user_cannot_sign_in_and_learns_nothing(post, make_user):
    make_user("alice", is_active=False)
    response = login(post, "alice", PASSWORD)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_a_malformed_login_body_is_a_clear_400(post):
    response = post(LOGIN, {"username": "alice"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert "password" in response.json()["error"]["message"]


def test_eight_failures_lock_the_username_with_retry_after(post, make_user, clock):
    make_user("alice")
    for attempt in range(8):
        ip = f"203.0.113.{attempt}"  # many addresses: only the username limit applies
        assert login(post, "alice", "wrong", ip=ip).status_code == 401
    locked = login(post, "alice", PASSWORD, ip="203.0.113.200")
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    assert int(locked.headers["Retry-After"]) == 900


def test_the_username_lock_lifts_after_the_lockout_period(post, make_user, clock):
    make_user("alice")
    for attempt in range(8):
        login(post, "alice", "wrong", ip=f"203.0.113.{attempt}")
    clock.advance(seconds=899)
    assert login(post, "alice", PASSWORD, ip="203.0.113.99").status_code == 429
    clock.advance(seconds=2)
    assert login(post, "alice", PASSWORD, ip="203.0.113.99").status_code == 200


def test_twenty_four_failures_from_one_address_lock_it_across_usernames(post, make_user, clock):
    make_user("victim")
    for attempt in range(24):
        assert login(post, f"guess{attempt}", "wrong", ip="192.0.2.1").status_code == 401
    locked = login(post, "victim", PASSWORD, ip="192.0.2.1")
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "900"
    assert login(post, "victim", PASSWORD, ip="192.0.2.2").status_code == 200
    clock.advance(minutes=15, seconds=1)
    assert login(post, "victim", PASSWORD, ip="192.0.2.1").status_code == 200


def test_failures_older_than_the_window_do_not_count(post, make_user, clock):
    make_user("alice")
    for attempt in range(7):
        login(post, "alice", "wrong", ip=f"203.0.113.{attempt}")
    clock.advance(minutes=15, seconds=1)
    for attempt in range(7):
        assert login(post, "alice", "wrong", ip=f"203.0.113.{attempt}").status_code == 401
    assert login(post, "alice", PASSWORD).status_code == 200


def test_a_locked_answer_does_not_reveal_whether_the_username_exists(post, make_user, clock):
    make_user("alice")
    for attempt in range(8):
        login(post, "alice", "wrong", ip=f"203.0.113.{attempt}")
        login(post, "ghost", "wrong", ip=f"203.0.113.{attempt + 50}")
    known = login(post, "alice", "wrong", ip="203.0.113.150")
    unknown = login(post, "ghost", "wrong", ip="203.0.113.151")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.headers["Retry-After"] == unknown.headers["Retry-After"]


def test_a_successful_sign_in_clears_the_username_failures(post, make_user):
    make_user("alice")
    for _ in range(7):
        login(post, "alice", "wrong", ip="198.51.100.1")
    assert login(post, "alice", PASSWORD, ip="198.51.100.2").status_code == 200
    for _ in range(7):
        assert login(post, "alice", "wrong", ip="198.51.100.3").status_code == 401
    assert login(post, "alice", PASSWORD, ip="198.51.100.4").status_code == 200


def test_usernames_and_addresses_are_stored_only_as_hashes(post):
    login(post, "someone@example.com", "wrong", ip="192.0.2.77")
    keys = list(RateLimitBucket.objects.values_list("key", flat=True))
    assert len(keys) == 2
    assert all(len(key) == 64 and "someone" not in key and "192.0" not in key for key in keys)


@override_settings(CODEXPANEL_LOGIN_MAX_BUCKETS=50)
def test_tracked_keys_never_exceed_the_cap_under_twenty_times_as_many_usernames(clock):
    policy = ratelimit.login_by_username()
    highest = 0
    for n in range(1_000):
        policy.hit(f"flood-{n}")
        highest = max(highest, policy.tracked())
        clock.advance(milliseconds=1)
    assert highest == 50
    assert policy.tracked() >= 45  # trimmed by a tenth, not emptied


@override_settings(CODEXPANEL_LOGIN_MAX_BUCKETS=3)
def test_a_full_table_evicts_finished_keys_before_live_ones(clock):
    policy = ratelimit.login_by_username()
    policy.hit("old")
    clock.advance(minutes=16)
    policy.hit("a")
    policy.hit("b")
    policy.hit("c")  # the table is full: "old" has finished its window and goes first
    keys = {policy._key(name) for name in ("a", "b", "c")}
    assert set(RateLimitBucket.objects.values_list("key", flat=True)) == keys


def test_the_admin_sign_in_page_is_under_the_same_limits(make_user):
    make_user("alice")
    client = Client(REMOTE_ADDR="198.51.100.50")
    for _ in range(8):
        response = client.post("/admin/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many attempts" in response.content.decode()


@override_settings(CODEXPANEL_LOGIN_MAX_BUCKETS=20)
def test_a_flood_of_new_keys_never_erases_a_lock(clock):
    policy = ratelimit.login_by_username()
    for _ in range(8):
        policy.hit("victim")
    assert policy.retry_after("victim") is not None
    for n in range(100):
        policy.hit(f"flood-{n}")
    assert policy.retry_after("victim") is not None
    assert policy.tracked() <= 20


@override_settings(CODEXPANEL_LOGIN_MAX_BUCKETS=2)
def test_when_every_tracked_key_is_locked_a_new_key_goes_untracked(clock):
    policy = ratelimit.login_by_username()
    for name in ("a", "b"):
        for _ in range(8):
            policy.hit(name)
    assert policy.hit("c") is None
    assert policy.tracked() == 2
    assert policy.retry_after("a") is not None and policy.retry_after("b") is not None


def test_the_sign_in_answer_carries_the_new_csrf_token_the_next_write_needs(make_user):
    make_user("alice")
    browser = Client(enforce_csrf_checks=True)
    before = browser.get("/api/iam/auth/status").json()["csrfToken"]
    signed_in = browser.post(
        LOGIN,
        {"username": "alice", "password": PASSWORD},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=before,
    )
    token = signed_in.json()["csrfToken"]
    assert token and token != before
    # Signing in rotated the secret: the token from before no longer works, the new one
    # does, without asking status again.
    stale = browser.patch(
        "/api/devices/none", {"name": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=before
    )
    assert stale.json()["error"]["code"] == "csrf_failed"
    rename = browser.patch(
        "/api/devices/none", {"name": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert rename.status_code == 404 and rename.json()["error"]["code"] != "csrf_failed"
