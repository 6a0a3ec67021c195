"""Bodies an attacker with an ordinary account sends (SPEC §7): absurd nesting, bodies that
are not objects, oversized ones, text no database stores alike (NUL, lone surrogates) and
unknown paths. Every JSON endpoint answers with the API's error shape, 4xx, and nothing is
stored — the same on SQLite and PostgreSQL, DEBUG on or off."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from django.test import Client, override_settings

from .pairing import csrf_token

pytestmark = pytest.mark.django_db(transaction=True)

DEVICE = "{device}"
# Every endpoint that reads a JSON body, with the method it reads it on.
ENDPOINTS = [
    ("post", "/api/iam/auth/login"),
    ("post", "/api/iam/auth/register"),
    ("post", "/api/iam/auth/email-code/request"),
    ("post", "/api/iam/auth/email-code/verify"),
    ("post", "/api/desktop/setup/start"),
    ("post", "/api/desktop/setup/poll"),
    ("post", "/api/desktop/setup/approve"),
    ("post", "/api/desktop/setup/deny"),
    ("post", "/api/desktop/setup/context"),
    ("post", "/api/desktop/setup/complete"),
    ("post", "/api/iam/desktop/setup/terminal-token"),
    ("post", "/api/iam/desktop/setup/login-token"),
    ("post", f"/api/devices/{DEVICE}/commands"),
    ("patch", f"/api/devices/{DEVICE}"),
    ("post", "/api/push/subscription"),
    ("patch", "/api/push/subscription"),
    ("delete", "/api/push/subscription"),
    ("post", "/api/push/answer"),
    ("post", "/api/wallet/cards"),
]
BODIES = {
    "100k nested lists": "[" * 100_000,
    "20k nested objects": '{"a":' * 20_000,
    "70 nested lists in an object": '{"a":' + "[" * 70 + "]" * 70 + "}",
    "null": "null",
    "true": "true",
    "a number": "5",
    "a list": "[]",
    "a string": '"hi"',
    "not JSON": "{nope",
    "NaN": '{"a": NaN}',
    "a NUL": '{"username": "ada\\u0000", "password": "x", "name": "a\\u0000b"}',
    "a lone surrogate": '{"username": "\\udc00", "password": "x", "name": "half \\ud83d"}',
    "a surrogate key": '{"\\ud800": 1}',
    "a number too large for a float": '{"username": 1e400, "params": {"x": -1e999}}',
    "Infinity": '{"a": -Infinity}',
}
CODES = {
    "malformed_request",
    "too_deep",
    "invalid_body",
    "invalid_text",
    "body_too_large",
}


def stored_rows() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        # Signing in keeps a session row, and a refused attempt still counts against its
        # rate limit (a bad body buys no free tries); nothing else may change.
        if model._meta.label not in ("sessions.Session", "accounts.RateLimitBucket")
    }


@pytest.fixture
def signed_in(person: Any, paired: Any) -> tuple[Client, str]:
    device, _token = paired
    return person.client, device.device_id


def send(client: Client, method: str, path: str, body: str | bytes) -> Any:
    return getattr(client, method)(
        path, body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf_token(client)
    )


def assert_refused(response: Any, status: set[int] | None = None) -> dict[str, Any]:
    assert response.status_code in (status or {400}), (response.status_code, response.content)
    assert response["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"code", "message"} and error["message"]
    return error


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_a_hostile_body_gets_the_json_error_and_changes_nothing_on_every_endpoint(signed_in, body):
    client, device = signed_in
    before = stored_rows()
    for method, path in ENDPOINTS:
        response = send(client, method, path.replace(DEVICE, device), body)
        error = assert_refused(response)
        assert error["code"] in CODES, (path, error)
    assert stored_rows() == before


def test_an_oversized_body_gets_413_with_the_json_error(signed_in, settings):
    client, device = signed_in
    settings.CODEXPANEL_MAX_JSON_BODY = 64 * 1024
    padding = "x" * (settings.CODEXPANEL_MAX_JSON_BODY + 1)
    for method, path in ENDPOINTS[:3] + ENDPOINTS[13:14]:
        response = send(client, method, path.replace(DEVICE, device), f'{{"a": "{padding}"}}')
        assert assert_refused(response, {413})["code"] == "body_too_large"


def test_a_body_larger_than_django_reads_at_all_gets_413_too(signed_in, settings):
    client, device = signed_in
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = send(client, "post", f"/api/devices/{device}/commands", "[" + " " * 4096 + "]")
    assert assert_refused(response, {413})["code"] == "body_too_large"


def test_text_nothing_can_store_is_refused_naming_the_field(signed_in):
    client, device = signed_in
    body = '{"name": "readSession", "params": {"threadId": "t2", "note": "\\udc00"}}'
    error = assert_refused(send(client, "post", f"/api/devices/{device}/commands", body))
    assert error == {
        "code": "invalid_text",
        "message": "params.note holds a NUL character or half of a character pair.",
        "details": {"field": "params.note"},
    }


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_path_answers_a_json_404_for_any_method(client, debug):
    with override_settings(DEBUG=debug):
        for method in ("get", "post", "delete"):
            response = getattr(client, method)("/api/no/such/thing")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"


def test_a_hostile_body_gets_the_json_error_with_debug_on(signed_in):
    client, device = signed_in
    with override_settings(DEBUG=True):
        response = send(client, "post", f"/api/devices/{device}/commands", "[" * 100_000)
        assert assert_refused(response)["code"] == "too_deep"


WRONG_SHAPES = [
    ("readSession", {"threadId": {"$gt": ""}}, "params.threadId", "must be text"),
    ("readSession", {"threadId": 5}, "params.threadId", "must be text"),
    ("readSession", {"threadId": "t2", "note": "x"}, "params.note", "is not a parameter"),
    ("readSession", {}, "params.threadId", "is required"),
    ("archiveThread", {"threadId": "t" * 257}, "params.threadId", "at most 256 characters"),
    ("resolveApproval", {"requestId": {"a": 1}, "decision": "accept"}, "params.requestId", "text"),
    ("startTurn", {"threadId": "t", "input": [1, 2]}, "params.input[0]", "text or attachment"),
    ("startTurn", {"threadId": "t", "input": True}, "params.input", "text or a list"),
    ("startTurn", {"threadId": "t", "input": ""}, "params.input", "must not be empty"),
    ("listSessions", {"limit": 10_000}, "params.limit", "between 1 and 100"),
    ("listSessions", {"limit": True}, "params.limit", "a whole number"),
    ("setControlState", {"workMode": "chaos"}, "params.workMode", "one of default, plan, goal"),
    ("startThread", {"cwd": ["/"]}, "params.cwd", "must be text"),
]


@pytest.mark.parametrize(("name", "params", "field", "says"), WRONG_SHAPES)
def test_a_command_whose_parameters_break_their_declared_shape_is_refused_naming_the_field(
    signed_in, name, params, field, says
):
    client, device = signed_in
    before = stored_rows()
    body = json.dumps({"name": name, "params": params, "queue": True})
    error = assert_refused(send(client, "post", f"/api/devices/{device}/commands", body))
    assert error["code"] == "invalid_params"
    assert error["details"] == {"field": field}
    assert says in error["message"] and error["message"].startswith(field)
    assert stored_rows() == before


def test_the_agent_checks_a_command_by_the_same_declaration():
    from agent.protocol import ProtocolError, validate_command_params

    for name, params, field, _says in WRONG_SHAPES:
        with pytest.raises(ProtocolError) as refused:
            validate_command_params(name, params)
        assert (refused.value.code, refused.value.field) == ("invalid_params", field)


@pytest.mark.parametrize(
    "path", ["/console/", "/desktop/setup", "/project.html", "/device.html", "/admin/login/"]
)
def test_every_page_carries_a_content_security_policy_without_inline_script(client, path):
    policy = client.get(path)["Content-Security-Policy"]
    rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";"))
    assert rules["script-src"] == "'self'" and rules["style-src"] == "'self'"
    assert rules["connect-src"] == "'self'" and rules["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_a_wide_body_with_long_keys_is_checked_in_bounded_memory(signed_in):
    # Every node's path built up front would cost 150,000 copies of a 400 KB key.
    import tracemalloc

    client, device = signed_in
    body = json.dumps({"k" * 400_000: [0] * 150_000 + ["\udc00"]})
    tracemalloc.start()
    try:
        error = assert_refused(send(client, "post", f"/api/devices/{device}/commands", body))
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error["code"] == "invalid_text"
    assert len(error["details"]["field"]) <= 200
    assert peak < 200 * 1024 * 1024


def test_an_input_item_whose_type_is_not_text_is_refused_not_a_500(signed_in):
    client, device = signed_in
    for kind in ([], {}, 5, None):
        item = {"type": kind}
        body = json.dumps({"name": "startTurn", "params": {"threadId": "t", "input": [item]}})
        error = assert_refused(send(client, "post", f"/api/devices/{device}/commands", body))
        assert error["code"] == "invalid_params"
