"""Self-service registration and its toggle (SPEC IAM-5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
REGISTER = "/api/iam/auth/register"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _open(settings):
    settings.CODEXPANEL_REGISTRATION_ENABLED = True


def test_registration_creates_a_user_and_signs_them_in(client: Client, post):
    response = post(
        REGISTER, {"username": "newbie", "password": PASSWORD, "email": "n@example.com"}
    )
    assert response.status_code == 201
    user = User.objects.get(username="newbie")
    assert response.json()["user"]["userId"] == user.user_id
    assert user.user_id.startswith("u") and len(user.user_id) == 17
    assert user.password.startswith("md5$")  # hashed by the configured hasher, never plain
    assert client.get("/api/iam/auth/status").json()["authenticated"] is True


def test_closed_registration_refuses_and_creates_nothing(post, settings):
    settings.CODEXPANEL_REGISTRATION_ENABLED = False
    response = post(REGISTER, {"username": "newbie", "password": PASSWORD})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "registration_closed"
    assert not User.objects.exists()


def test_status_tells_the_page_whether_registration_is_open(client: Client, settings):
    assert client.get("/api/iam/auth/status").json()["registrationEnabled"] is True
    settings.CODEXPANEL_REGISTRATION_ENABLED = False
    assert client.get("/api/iam/auth/status").json()["registrationEnabled"] is False


def test_a_taken_username_is_refused_whatever_its_case(post, make_user):
    make_user("Alice")
    response = post(REGISTER, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "username_taken"
    assert User.objects.count() == 1


def test_a_taken_email_is_refused(post, make_user):
    make_user("alice", email="a@example.com")
    response = post(REGISTER, {"username": "bob", "password": PASSWORD, "email": "A@example.com"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"username": "newbie", "password": "123"}, "invalid_password"),
        ({"username": "newbie", "password": "password"}, "invalid_password"),
        ({"username": "new bie", "password": PASSWORD}, "invalid_username"),
        ({"username": "newbie", "password": PASSWORD, "email": "not-an-email"}, "invalid_request"),
        ({"password": PASSWORD}, "invalid_request"),
    ],
)
def test_bad_registration_input_gets_a_clear_error_and_changes_nothing(post, body, code):
    response = post(REGISTER, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert not User.objects.exists()


def test_registration_is_rate_limited_per_address(post, settings):
    settings.CODEXPANEL_REGISTRATION_RATE = "3/h"
    for n in range(3):
        assert (
            post(
                REGISTER, {"username": f"u{n}", "password": PASSWORD}, REMOTE_ADDR="192.0.2.5"
            ).status_code
            == 201
        )
    refused = post(REGISTER, {"username": "u9", "password": PASSWORD}, REMOTE_ADDR="192.0.2.5")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert (
        post(
            REGISTER, {"username": "u9", "password": PASSWORD}, REMOTE_ADDR="192.0.2.6"
        ).status_code
        == 201
    )


def _setting_in_fresh_process(name: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CODEXPANEL_", "DEBUG"))}
    clean.update(env, DJANGO_SETTINGS_MODULE="codexpanel.settings")
    code = f"from django.conf import settings; print(settings.{name})"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_registration_defaults_to_open_in_development_and_closed_in_production():
    assert _setting_in_fresh_process("CODEXPANEL_REGISTRATION_ENABLED", DEBUG="true") == "True"
    production = {"DEBUG": "false", "CODEXPANEL_SESSION_SECRET": "x" * 60}
    assert _setting_in_fresh_process("CODEXPANEL_REGISTRATION_ENABLED", **production) == "False"
    opted_in = {**production, "CODEXPANEL_REGISTRATION_ENABLED": "true"}
    assert _setting_in_fresh_process("CODEXPANEL_REGISTRATION_ENABLED", **opted_in) == "True"
