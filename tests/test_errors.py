"""The API's error shape (SPEC IAM-8), languages (§8) and retired routes (DEV-9)."""

from __future__ import annotations

import pytest
from django.test import Client

from codexpanel.retired import RETIRED_ROUTES

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/login",
        "/api/auth/status",
        "/api/device/register",
        "/api/device/ping",
        "/api/events",
        "/api/agent/pull-control",
        "/api/domain-lease/acquire",
        "/api/desktop/setup/terminal-token",
        "/api/desktop/setup/login-token",
        "/agent/desktop-agent.js",
        "/agent/app-server-connector.js",
    ],
)
def test_retired_routes_answer_410_naming_their_replacement(client: Client, path: str):
    for response in (client.get(path), client.post(path, {}, content_type="application/json")):
        assert response.status_code == 410
        error = response.json()["error"]
        assert error["code"] == "retired"
        assert error["details"]["replacement"] in error["message"]


def test_the_retired_auth_routes_point_at_the_iam_api(client: Client):
    error = client.post("/api/auth/login", {}, content_type="application/json").json()["error"]
    assert error["details"]["replacement"] == "/api/iam/auth/"
    assert len(RETIRED_ROUTES) >= 9


def test_an_unknown_api_route_is_a_json_404(client: Client):
    response = client.get("/api/nothing/here")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "No API endpoint has that path."}
    }


def test_a_wrong_method_is_a_json_405(client: Client):
    response = client.get("/api/iam/auth/login")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_body_that_is_not_json_is_a_clear_400(client: Client):
    response = client.post("/api/iam/auth/login", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_a_form_body_is_refused_as_unsupported(client: Client):
    response = client.post("/api/iam/auth/login", {"username": "a", "password": "b"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_chinese_accept_language_gets_chinese_auth_errors(post, make_user):
    make_user("alice")
    response = post(
        "/api/iam/auth/login",
        {"username": "alice", "password": "wrong"},
        HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9",
    )
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "invalid_credentials",
        "message": "用户名或密码错误。",
    }
    assert response.headers["Content-Language"] == "zh-hans"


def test_chinese_closed_registration_and_retired_messages(post, client: Client, settings):
    settings.CODEXPANEL_REGISTRATION_ENABLED = False
    closed = post(
        "/api/iam/auth/register", {"username": "x", "password": "y"}, HTTP_ACCEPT_LANGUAGE="zh-Hans"
    )
    assert closed.json()["error"]["message"] == "此服务器已关闭注册。"
    retired = client.get("/api/auth/login", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert retired.json()["error"]["message"].startswith("此接口已停用")


def test_english_is_the_default_language(post, make_user):
    response = post(
        "/api/iam/auth/login", {"username": "a", "password": "b"}, HTTP_ACCEPT_LANGUAGE="fr-FR"
    )
    assert response.json()["error"]["message"] == "Invalid username or password."


def test_a_visitor_can_switch_language_for_the_session(client: Client):
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/api/iam/auth/status"})
    response = client.post(
        "/api/iam/auth/login", {"username": "a", "password": "b"}, content_type="application/json"
    )
    assert response.json()["error"]["message"] == "用户名或密码错误。"


def test_a_chinese_lockout_message_keeps_its_retry_after(post, make_user):
    for n in range(24):
        post("/api/iam/auth/login", {"username": f"g{n}", "password": "x"}, REMOTE_ADDR="192.0.2.3")
    locked = post(
        "/api/iam/auth/login",
        {"username": "g", "password": "x"},
        REMOTE_ADDR="192.0.2.3",
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    )
    assert locked.status_code == 429
    assert locked.json()["error"] == {
        "code": "rate_limited",
        "message": "尝试次数过多，请稍后再试。",
    }
    assert locked.headers["Retry-After"] == "900"


def test_a_database_out_of_reach_is_a_clear_503_to_retry(client: Client, make_user, monkeypatch):
    from django.db import OperationalError

    client.force_login(make_user("ada"))

    def restarting(user):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr("devices.views.visible_devices", restarting)
    response = client.get("/api/devices")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"
