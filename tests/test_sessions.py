"""Session cookies, CSRF, sign-out, and sessions ending (SPEC IAM-4, IAM-9)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts import actions
from accounts.signals import user_sessions_ended

from .conftest import PASSWORD, csrf_token, post_json

pytestmark = pytest.mark.django_db
STATUS = "/api/iam/auth/status"


def signed_in_client(username: str) -> Client:
    client = Client()
    response = post_json(
        client, "/api/iam/auth/login", {"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200
    return client


def test_status_for_a_visitor_says_anonymous_and_hands_out_a_csrf_token(client: Client):
    response = client.get(STATUS)
    body = response.json()
    assert response.status_code == 200
    assert body["authenticated"] is False
    assert body["user"] is None
    assert body["csrfToken"]
    assert "csrftoken" in response.cookies


def test_status_for_a_signed_in_user_names_them_and_their_scopes(make_user):
    user = make_user("alice", email="a@example.com")
    group = Group.objects.create(name="Support")
    group.permissions.add(Permission.objects.get(codename="manage_users"))
    user.groups.add(group)
    body = signed_in_client("alice").get(STATUS).json()
    assert body["user"] == {
        "userId": user.user_id,
        "username": "alice",
        "email": "a@example.com",
        "scopes": ["manage_users"],
        "isAdmin": False,
    }


def test_the_session_cookie_is_codexpanel_session_and_http_only(make_user):
    make_user("alice")
    response = post_json(
        Client(), "/api/iam/auth/login", {"username": "alice", "password": PASSWORD}
    )
    cookie = response.cookies["codexpanel_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_logout_ends_the_session(make_user):
    make_user("alice")
    client = signed_in_client("alice")
    assert post_json(client, "/api/iam/auth/logout", {}).status_code == 200
    assert client.get(STATUS).json()["authenticated"] is False


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/iam/auth/login", {"username": "alice", "password": PASSWORD}),
        ("/api/iam/auth/register", {"username": "newbie", "password": PASSWORD}),
        ("/api/iam/auth/logout", {}),
        ("/api/iam/auth/email-code/request", {"email": "a@example.com"}),
        ("/api/iam/auth/email-code/verify", {"email": "a@example.com", "code": "123456"}),
    ],
)
def test_browser_writes_without_a_csrf_token_are_refused(
    browser: Client, make_user, path, body, settings
):
    settings.CODEXPANEL_REGISTRATION_ENABLED = True
    make_user("alice", email="a@example.com")
    browser.get(STATUS)  # the page has its CSRF cookie but forgets the header
    refused = post_json(browser, path, body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    accepted = post_json(browser, path, body, HTTP_X_CSRFTOKEN=csrf_token(browser))
    assert accepted.json().get("error", {}).get("code") != "csrf_failed"
    assert accepted.status_code != 403


def test_a_disabled_users_session_stops_working_on_the_next_request(make_user):
    user = make_user("alice")
    client = signed_in_client("alice")
    actions.disable_user(user)
    assert client.get(STATUS).json()["authenticated"] is False


def test_disabling_from_a_plain_model_save_also_ends_sessions(make_user):
    user = make_user("alice")
    client = signed_in_client("alice")
    user.is_active = False
    user.save()
    assert client.get(STATUS).json()["authenticated"] is False


def test_changing_a_users_groups_ends_their_sessions(make_user):
    user = make_user("alice")
    bystander = make_user("bob")
    alice, bob = signed_in_client("alice"), signed_in_client("bob")
    actions.set_user_groups(user, [Group.objects.create(name="Support")])
    assert alice.get(STATUS).json()["authenticated"] is False
    assert bob.get(STATUS).json()["user"]["username"] == bystander.username


def test_removing_a_user_from_the_group_side_ends_their_sessions(make_user):
    user = make_user("alice")
    group = Group.objects.create(name="Support")
    user.groups.add(group)
    client = signed_in_client("alice")
    group.user_set.clear()
    assert client.get(STATUS).json()["authenticated"] is False


def test_a_password_reset_ends_sessions_and_the_new_password_works(make_user):
    user = make_user("alice")
    client = signed_in_client("alice")
    actions.reset_password(user, "a brand new passphrase 42")
    assert client.get(STATUS).json()["authenticated"] is False
    response = post_json(
        Client(),
        "/api/iam/auth/login",
        {"username": "alice", "password": "a brand new passphrase 42"},
    )
    assert response.status_code == 200


def test_ending_sessions_is_announced_once_committed(make_user, django_capture_on_commit_callbacks):
    user = make_user("alice")
    heard: list[int] = []

    def receiver(sender, user_pk, **kwargs):
        heard.append(user_pk)

    user_sessions_ended.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            actions.disable_user(user)
        assert heard == []
        for callback in callbacks:
            callback()
        assert heard == [user.pk]
    finally:
        user_sessions_ended.disconnect(receiver)


def test_signing_in_again_after_enable_works(make_user):
    user = make_user("alice")
    actions.disable_user(user)
    actions.enable_user(user)
    signed_in_client("alice")


def test_a_stale_copy_of_a_user_cannot_revive_ended_sessions(make_user):
    from accounts.models import User

    stale = User.objects.get(pk=make_user("alice").pk)
    client = signed_in_client("alice")
    actions.end_all_sessions(User.objects.get(pk=stale.pk))
    stale.email = "new@example.com"
    stale.save()
    assert client.get(STATUS).json()["authenticated"] is False
