"""Generated hostile input (SPEC §7), by hypothesis: JSON of every shape and depth, text
with NUL bytes and lone surrogates, wrong types for the fields each endpoint reads, huge
numbers. Thrown at every JSON endpoint, at command parameters and at the agent protocol;
asserted: never a 500, always the API's error shape, nothing stored when refused, and
the relay still serving afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import protocol

from .conftest import IN_CI
from .pairing import csrf_token
from .realtime import connect_agent
from .test_hostile_input import DEVICE, ENDPOINTS, stored_rows

pytestmark = pytest.mark.django_db(transaction=True)

# Python text of every code point, lone surrogates and NUL included.
TEXT = st.text(alphabet=st.characters(codec=None), max_size=40) | st.text(
    alphabet=st.characters(codec=None), min_size=300, max_size=3000
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()  # NaN and the infinities included: json.dumps writes them as literals
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
# The fields the endpoints read, so generated bodies get past "unknown field" to the checks.
FIELDS = [
    "username",
    "password",
    "email",
    "code",
    "flowId",
    "name",
    "params",
    "queue",
    "endpoint",
    "keys",
    "kinds",
    "token",
    "plan",
    "profile",
    "setupToken",
    "confirmRebind",
]
SHAPED = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6)
DEEP = st.integers(min_value=65, max_value=3000).map(lambda n: "[" * n + "]" * n)
BODIES = (
    SHAPED.map(json.dumps)
    | JSON.map(json.dumps)
    | DEEP
    | TEXT.map(lambda text: text.encode("utf-8", "surrogatepass"))
)
COMMAND_NAMES = st.sampled_from([*protocol.COMMANDS, "formatDisk"])
PARAMETERS = sorted({key for shape in protocol.COMMANDS.values() for key in shape} | {"x"})
# CI draws the same examples every run (derandomized), so it needs fewer; each local run
# draws new ones.
EXAMPLES = 12 if IN_CI else 40
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def signed_in(person: Any, paired: Any) -> tuple[Any, str]:
    device, _token = paired
    return person.client, device.device_id


def assert_answered(response: Any) -> None:
    assert response.status_code < 500, response.content[:300]
    assert response["content-type"].startswith("application/json")
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[path for _m, path in ENDPOINTS])
def test_generated_bodies_never_break_an_endpoint_or_store_what_was_refused(
    signed_in, method, path
):
    client, device = signed_in
    target = path.replace(DEVICE, device)

    @PROPERTY
    @given(body=BODIES)
    def throw(body: str | bytes) -> None:
        before = stored_rows()
        response = getattr(client, method)(
            target, body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf_token(client)
        )
        assert_answered(response)
        if response.status_code >= 400:
            assert stored_rows() == before

    throw()
    assert client.get("/api/iam/auth/status").status_code == 200


def test_generated_commands_are_refused_cleanly_or_stored_as_given(signed_in):
    client, device = signed_in

    @PROPERTY
    @given(name=COMMAND_NAMES, params=st.dictionaries(st.sampled_from(PARAMETERS), JSON))
    def throw(name: str, params: dict[str, Any]) -> None:
        before = stored_rows()
        body = json.dumps({"name": name, "params": params, "queue": True})
        response = client.post(
            f"/api/devices/{device}/commands",
            body,
            content_type="application/json",
            HTTP_X_CSRFTOKEN=csrf_token(client),
        )
        assert_answered(response)
        if response.status_code >= 400:
            assert stored_rows() == before

    throw()


@PROPERTY
@given(name=COMMAND_NAMES, params=st.dictionaries(st.sampled_from(PARAMETERS), JSON) | JSON)
def test_the_agent_protocol_checks_any_command_without_an_unexpected_error(name, params):
    try:
        protocol.validate_command_params(name, params)
    except protocol.ProtocolError as refused:
        assert refused.code in ("unknown_command", "invalid_params")
    else:
        assert protocol.json_problem(params) is None


FRAME_TYPES = st.sampled_from([*sorted(protocol.AGENT_MESSAGES), "nonsense"])
FRAMES = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    FRAME_TYPES,
    st.dictionaries(st.sampled_from(["events", "seq", "token", "state", "ok", "x"]), JSON),
)


@PROPERTY
@given(frame=FRAMES.map(json.dumps) | JSON.map(json.dumps) | DEEP)
def test_any_frame_is_parsed_or_refused_with_a_protocol_error(frame):
    try:
        message = protocol.parse_frame(frame, protocol.AGENT_MESSAGES)
    except protocol.ProtocolError as refused:
        assert refused.code and refused.message
    else:
        assert protocol.json_problem(message) is None


@PROPERTY
@given(value=JSON)
def test_what_the_agent_repairs_is_always_what_the_relay_takes(value):
    fixed = protocol.repaired(value)
    assert protocol.json_problem(fixed) is None
    assert json.loads(protocol.encode({"v": fixed}))["v"] == fixed


@settings(
    max_examples=EXAMPLES // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(FRAMES.map(json.dumps) | DEEP, min_size=1, max_size=4))
def test_a_device_socket_survives_any_frames_after_its_hello(paired, frames):
    _device, token = paired

    async def run() -> None:
        socket, _welcome = await connect_agent(token)
        for frame in frames:
            await socket.send_to(text_data=frame)
        # Still answering: a second hello is refused as it always is.
        await socket.send_json_to({"type": "device.hello", "protocolVersion": 1})
        while True:
            output = await socket.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                assert output.get("code") != protocol.Close.INTERNAL_ERROR
                await socket.disconnect(output.get("code", 1000))
                return
            if json.loads(output["text"]).get("code") == "already_connected":
                break
        await socket.disconnect()

    async_to_sync(run)()
