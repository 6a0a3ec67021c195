"""Agent Protocol v1: the wire contract between the desktop agent and the relay (SPEC DEV-2,
DEV-3, DEV-4).

Plain Python (no Django): the agent runs it on every computer and the relay imports it,
so both sides share one definition. Every frame is one JSON object with a `type`:

agent → relay
    device.hello      {protocolVersion, token?, agentVersion, provider, capabilities}
    device.heartbeat  {state?: {controlState?, codex?}}  keeps the device online
    agent.event       {events: [{seq, eventType, threadId?, turnId?, at?, payload}]}
    command.result    {commandId, ok, result? | error: {code, message}}
relay → agent
    server.welcome    {deviceId, heartbeatIntervalSeconds, lastAckedSeq, agentVersion,
                       protocolVersion}
    server.command    {commandId, name, params}
    event.ack         {seq}                         every event up to seq is stored
either way
    error             {code, message, ref?, seq?}   seq: the agent event it refuses
    resource.chunk    {resourceId, index, total, data}  one slice of a frame too large to
                                                        send whole (see split_frame)

`seq` numbers an agent's events per device, from 1, with no gaps: the relay stores only the
next expected seq, acknowledges the highest stored one, and the agent re-sends everything
after it on every (re)connect. The welcome's lastAckedSeq is where the device's numbering
stands: an agent with nothing left to re-send (a fresh install, say) continues from
lastAckedSeq + 1, and one told `seq_gap` renumbers what it has not yet had acknowledged
from expectedSeq. Commands carry an id the agent remembers, so a command delivered twice
runs once.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .jsontext import MAX_JSON_DEPTH as MAX_JSON_DEPTH
from .jsontext import brackets, finite_float, might_hold_unsafe_text, not_a_constant
from .jsontext import json_problem as json_problem
from .jsontext import repaired as repaired
from .shapes import Field, Shape, ShapeError
from .shapes import check as check_shape

PROTOCOL_VERSION = 1
DEVICE_WSS_PATH = "/device-wss"

# Frames larger than this travel as resource.chunk slices.
MAX_FRAME_BYTES = 1024 * 1024
# A reassembled message may be at most this large, and a peer may have this many in flight.
MAX_RESOURCE_BYTES = 32 * 1024 * 1024
MAX_OPEN_RESOURCES = 4
MAX_CHUNKS = 1024
# One agent.event frame carries at most this many events.
MAX_EVENTS_PER_FRAME = 500
HELLO_TIMEOUT_SECONDS = 10
# A device that misses this many heartbeat intervals is offline.
STALE_AFTER_INTERVALS = 3

HELLO = "device.hello"
HEARTBEAT = "device.heartbeat"
AGENT_EVENT = "agent.event"
COMMAND_RESULT = "command.result"
WELCOME = "server.welcome"
COMMAND = "server.command"
EVENT_ACK = "event.ack"
ERROR = "error"
CHUNK = "resource.chunk"

AGENT_MESSAGES = {HELLO, HEARTBEAT, AGENT_EVENT, COMMAND_RESULT, ERROR, CHUNK}
RELAY_MESSAGES = {WELCOME, COMMAND, EVENT_ACK, ERROR, CHUNK}


class Close:
    """WebSocket close codes of /device-wss. 4000-4999 are the application's own."""

    NORMAL = 1000
    MESSAGE_TOO_BIG = 1009
    INVALID_TOKEN = 4001
    TOKEN_REVOKED = 4002
    DEVICE_DISABLED = 4003
    OWNER_DISABLED = 4004
    HELLO_TIMEOUT = 4005
    PROTOCOL_ERROR = 4006
    REPLACED = 4007  # the same device connected again; the newer connection wins
    SLOW_CONSUMER = 4008
    UNSUPPORTED_VERSION = 4009
    HEARTBEAT_TIMEOUT = 4010
    DEVICE_REMOVED = 4011
    SESSIONS_ENDED = 4012  # the owner's sessions ended (IAM-9); reconnecting may work
    # The relay failed on its side; reconnecting is the remedy. Not 1011: a WebSocket
    # server refuses to send the reserved codes on an application's behalf.
    INTERNAL_ERROR = 4013
    # Sent by the agent when it stops for good (not a restart): the relay then shows the
    # computer offline at once instead of waiting for it to reconnect.
    AGENT_STOPPED = 4014

    # Codes after which reconnecting with the same token cannot help.
    FATAL = frozenset(
        {INVALID_TOKEN, TOKEN_REVOKED, DEVICE_DISABLED, OWNER_DISABLED, DEVICE_REMOVED}
    )


# Commands that may wait for an offline device (queue=true) and run when it returns.
QUEUEABLE_COMMANDS = frozenset({"startTurn", "steerTurn"})
APPROVAL_DECISIONS = ("accept", "acceptForSession", "decline", "cancel")
# Decisions that carry what they add, as the request offered it: {"<name>": {...}}.
AMENDED_DECISIONS = ("acceptWithExecpolicyAmendment", "applyNetworkPolicyAmendment")
# app-server requests the person answers from the console; each travels as an event of
# the same name whose payload carries the requestId that resolveApproval names.
QUESTION_METHOD = "item/tool/requestUserInput"
PERMISSIONS_METHOD = "item/permissions/requestApproval"
PERMISSION_SCOPES = ("turn", "session")
# An MCP server's question (a form built from its schema, or a page to open), answered
# with an action; Codex asks its own approval of an MCP tool call the same way, and then
# lists in _meta.persist how long an approval may last.
ELICITATION_METHOD = "mcpServer/elicitation/request"
ELICITATION_ACTIONS = ("accept", "decline", "cancel")
ELICITATION_PERSIST = ("session", "always")
MAX_FORM_FIELDS = 50
MAX_FORM_NUMBER = 2**53
# A request of a kind this agent does not know travels as this event (payload: requestId,
# method, params); the person can only decline it, which answers with a JSON-RPC error.
UNKNOWN_REQUEST = "agent.request.unknown"
APPROVAL_METHODS = frozenset(
    {
        "item/commandExecution/requestApproval",
        "item/fileChange/requestApproval",
        "execCommandApproval",
        "applyPatchApproval",
        QUESTION_METHOD,
        PERMISSIONS_METHOD,
        ELICITATION_METHOD,
        UNKNOWN_REQUEST,
    }
)
# What json_problem's codes mean, after the spot they name.
PROBLEMS = {
    "invalid_text": "holds a NUL or a lone surrogate",
    "invalid_number": "is not a finite number",
    "too_deep": f"nests deeper than {MAX_JSON_DEPTH}",
}
# What a resolveApproval carries as its answer: exactly one of these.
ANSWER_KINDS = ("decision", "answers", "permissions", "action")
# Requests addressed to the client program rather than the person: the agent answers
# them itself with a JSON-RPC error and records that it did (CLIENT_REQUEST_REFUSED).
CLIENT_REQUESTS = frozenset(
    {"item/tool/call", "account/chatgptAuthTokens/refresh", "attestation/generate"}
)
CLIENT_REQUEST_REFUSED = "agent.request.refused"
# Stands in for an event the relay refused (payload: its eventType, code, message), so
# the agent's numbering keeps no gaps and its stream goes on past it.
EVENT_REFUSED = "agent.event.refused"
# The v1 approvals answer with a ReviewDecision, not the v2 decision names the console and
# the relay speak; the agent translates.
LEGACY_APPROVALS = frozenset({"execCommandApproval", "applyPatchApproval"})
LEGACY_DECISIONS = {
    "accept": "approved",
    "acceptForSession": "approved_for_session",
    "decline": "denied",
    "cancel": "abort",
}
MAX_QUESTIONS = 20
MAX_ANSWER_CHARS = 4000
# Events after which an approval no longer waits: app-server says it was answered, or a
# new app-server process started (its predecessor's questions died with it).
APPROVAL_RESOLVED = "serverRequest/resolved"
CODEX_STARTED = "agent.codex.started"
# app-server's word that a request used a deprecated form: the agent keeps it off the event log.
DEPRECATION_NOTICE = "deprecationNotice"
# The seed's older task events, and the commands that replaced them.
LEGACY_COMMANDS = {
    "task.start": "startTurn",
    "approval.resolve": "resolveApproval",
    "run.cancel": "interruptTurn",
}


# --- the DEV-3 commands and their parameters -------------------------------------------

# A model id as app-server's model/list names it, and a reasoning effort ("low", "xhigh").
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
EFFORT = re.compile(r"[a-z]{1,16}")
WORK_MODES = ("default", "plan", "goal")
PERMISSION_PRESETS = ("ask", "auto", "full")
MAX_INPUT_CHARS = 200_000
MAX_INPUT_ITEMS = 16

THREAD_ID = Field(str, required=True, min_length=1, max_length=256)
TURN_ID = Field(str, min_length=1, max_length=256)
FOLDER = Field(str, min_length=1, max_length=4096)
INPUT = Field((str, list), required=True, min_length=1, max_length=MAX_INPUT_CHARS)
# Each command's parameters, one declaration for the relay's API and the agent alike.
COMMANDS: dict[str, Shape] = {
    "listSessions": {
        "limit": Field(int, minimum=1, maximum=100),
        "cursor": Field(str, max_length=512),
        "archived": Field(bool),
        "searchTerm": Field(str, max_length=200),
    },
    "readSession": {"threadId": THREAD_ID},
    "startThread": {"cwd": FOLDER},
    "resumeThread": {"threadId": THREAD_ID},
    "startTurn": {
        "threadId": THREAD_ID,
        "input": INPUT,
        "cwd": FOLDER,
        "model": Field(str, pattern=MODEL_ID, form="a model id of letters, digits and ._:/-"),
        "effort": Field(str, pattern=EFFORT, form="a reasoning effort such as low or high"),
    },
    "steerTurn": {"threadId": THREAD_ID, "input": INPUT, "turnId": TURN_ID},
    "interruptTurn": {"threadId": THREAD_ID, "turnId": TURN_ID},
    "resolveApproval": {
        "requestId": Field(str, required=True, min_length=1, max_length=128),
        "decision": Field((str, dict)),
        "answers": Field(dict),
        "permissions": Field(dict),
        "scope": Field(str, choices=PERMISSION_SCOPES),
        "action": Field(str, choices=ELICITATION_ACTIONS),
        "content": Field(dict),
        "persist": Field(str, choices=ELICITATION_PERSIST),
    },
    "setControlState": {
        "workMode": Field(str, choices=WORK_MODES),
        "permissionPreset": Field(str, choices=PERMISSION_PRESETS),
    },
    "archiveThread": {"threadId": THREAD_ID},
    "restartCodex": {},
    "reconnect": {},
    "restartAgent": {},
    "listModels": {},
}


def decision_name(decision: Any) -> str | None:
    """An approval decision's name: itself, or the one key of a decision that carries what
    it adds ({"acceptWithExecpolicyAmendment": …})."""
    if isinstance(decision, str):
        return decision
    if isinstance(decision, dict) and len(decision) == 1:
        return next(iter(decision))
    return None


class ProtocolError(Exception):
    """A frame that breaks the protocol. `code` is stable; `message` is for people."""

    def __init__(
        self, code: str, message: str, *, seq: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # The agent event the refusal is about, when it is about one.
        self.seq = seq
        # The parameter that is wrong (params.threadId), when it is about one.
        self.field = field


def _require(condition: bool, code: str, message: str) -> None:
    if not condition:
        raise ProtocolError(code, message)


def _string(message: dict[str, Any], key: str, *, required: bool = True, limit: int = 256) -> None:
    value = message.get(key)
    if value is None and not required:
        return
    _require(
        isinstance(value, str) and 0 < len(value) <= limit,
        "invalid_field",
        f"{key} must be a non-empty string of at most {limit} characters",
    )


def _object(message: dict[str, Any], key: str, *, required: bool = False) -> None:
    value = message.get(key)
    if value is None and not required:
        return
    _require(isinstance(value, dict), "invalid_field", f"{key} must be an object")


def _seq(value: Any, name: str = "seq") -> None:
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        "invalid_field",
        f"{name} must be a non-negative integer",
    )


def _validate_event(event: Any) -> None:
    _require(isinstance(event, dict), "invalid_event", "each event must be an object")
    _seq(event.get("seq"))
    _require(event["seq"] >= 1, "invalid_event", "seq starts at 1")
    _string(event, "eventType", limit=128)
    _string(event, "threadId", required=False)
    _string(event, "turnId", required=False)
    _string(event, "at", required=False, limit=64)
    _require("payload" in event, "invalid_event", "each event needs a payload")


def validate_command_params(name: str, params: Any) -> None:
    """Check a command's name and parameters against COMMANDS, then what a shape cannot
    say (an answer's parts, input items); used by the relay's API and by the agent."""
    _require(name in COMMANDS, "unknown_command", f"unknown command {name!r}")
    _require(isinstance(params, dict), "invalid_params", "params must be an object")
    problem = json_problem(params)
    if problem is not None:
        code, where = problem
        text = PROBLEMS[code]
        raise ProtocolError("invalid_params", f"params.{where} {text}", field=f"params.{where}")
    _fits(params, COMMANDS[name], "params")
    if name == "resolveApproval":
        _answer(params)
    if isinstance(params.get("input"), list):
        _input_items(params["input"])


def _fits(values: dict[str, Any], shape: Shape, where: str) -> None:
    """Check values against their declared shape; a refusal names the field (where.name)."""
    try:
        check_shape(values, shape)
    except ShapeError as error:
        raise ProtocolError(
            "invalid_params", f"{where}.{error}", field=f"{where}.{error.field}"
        ) from None


def _answer(params: dict[str, Any]) -> None:
    _require(
        sum(key in params for key in ANSWER_KINDS) == 1,
        "invalid_params",
        "an answer has one of decision (approvals), answers (questions), permissions "
        "or action (MCP elicitations)",
    )
    if "action" in params:
        _elicitation_answer(params)
        return
    for key in ("content", "persist"):
        _require(key not in params, "invalid_params", f"{key} goes with action")
    if "answers" in params:
        _answers(params["answers"])
        return
    if "permissions" in params:
        return
    _require("scope" not in params, "invalid_params", "scope goes with permissions")
    decision = params["decision"]
    amended = (
        isinstance(decision, dict)
        and len(decision) == 1
        and next(iter(decision)) in AMENDED_DECISIONS
        and isinstance(next(iter(decision.values())), dict)
    )
    _require(
        decision in APPROVAL_DECISIONS or amended,
        "invalid_params",
        f"decision must be one of {', '.join(APPROVAL_DECISIONS + AMENDED_DECISIONS)}",
    )


# An image attached to a turn, as the relay names it (the agent fetches it by this id).
ATTACHMENT_ID = re.compile(r"att_[A-Za-z0-9_-]{16,43}")
MAX_ATTACHMENTS = 4
# What Codex takes as image input, told by a file's first bytes (relay and agent alike).
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)


def image_type(head: bytes) -> tuple[str, str] | None:
    """(content type, file suffix) of a PNG, JPEG, GIF or WebP image, else None."""
    for signature, content_type, suffix in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return content_type, suffix
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


INPUT_ITEMS: dict[str, Shape] = {
    "text": {
        "type": Field(str, required=True),
        "text": Field(str, required=True, max_length=MAX_INPUT_CHARS),
    },
    "attachment": {
        "type": Field(str, required=True),
        "attachmentId": Field(
            str, required=True, pattern=ATTACHMENT_ID, form="the id the relay gave the image"
        ),
    },
}


def _input_items(items: list[Any]) -> None:
    """A turn's input: text, and images attached through the relay. Nothing else: a path
    on the computer (localImage) is the agent's to choose, never a caller's."""
    _require(len(items) <= MAX_INPUT_ITEMS, "invalid_params", "input has too many items")
    for number, item in enumerate(items):
        where = f"params.input[{number}]"
        kind = item.get("type") if isinstance(item, dict) else None
        if not isinstance(kind, str) or kind not in INPUT_ITEMS:
            raise ProtocolError(
                "invalid_params", f"{where}: input items are text or attachment", field=where
            )
        _fits(item, INPUT_ITEMS[kind], where)
    attachments = sum(item["type"] == "attachment" for item in items)
    _require(
        attachments <= MAX_ATTACHMENTS,
        "invalid_params",
        f"a turn takes at most {MAX_ATTACHMENTS} images",
    )


def _answers(answers: Any) -> None:
    """Answers to Codex's questions: {questionId: {"answers": [text, …]}}."""
    _require(
        isinstance(answers, dict) and 0 < len(answers) <= MAX_QUESTIONS,
        "invalid_params",
        "answers maps each question's id to its answers",
    )
    for question, answer in answers.items():
        texts = answer.get("answers") if isinstance(answer, dict) else None
        _require(
            isinstance(question, str)
            and isinstance(texts, list)
            and 0 < len(texts) <= MAX_QUESTIONS
            and all(isinstance(text, str) and len(text) <= MAX_ANSWER_CHARS for text in texts),
            "invalid_params",
            f'each answer is {{"answers": [text, …]}} of at most {MAX_ANSWER_CHARS} characters',
        )


def _form_value(value: Any) -> bool:
    """What an MCP form field holds: text, a number, a yes/no, or a list of chosen texts."""
    if isinstance(value, str):
        return len(value) <= MAX_ANSWER_CHARS
    if isinstance(value, bool | int | float):
        # Numbers a JSON reader anywhere takes exactly (Codex's included).
        return isinstance(value, bool) or abs(value) <= MAX_FORM_NUMBER
    return (
        isinstance(value, list)
        and len(value) <= MAX_FORM_FIELDS
        and all(isinstance(item, str) and len(item) <= MAX_ANSWER_CHARS for item in value)
    )


def _elicitation_answer(params: dict[str, Any]) -> None:
    """An answer to an MCP elicitation: an action, the form's content when accepted, and
    for a tool-call approval how long it lasts (persist)."""
    action, content, persist = params["action"], params.get("content"), params.get("persist")
    _require(
        action in ELICITATION_ACTIONS,
        "invalid_params",
        f"action must be one of {', '.join(ELICITATION_ACTIONS)}",
    )
    _require(
        content is None
        or (
            action == "accept"
            and isinstance(content, dict)
            and len(content) <= MAX_FORM_FIELDS
            and all(isinstance(key, str) and _form_value(value) for key, value in content.items())
        ),
        "invalid_params",
        "content is the accepted form's fields: text, numbers, yes/no or lists of text",
    )
    _require(
        persist is None or (action == "accept" and persist in ELICITATION_PERSIST),
        "invalid_params",
        f"persist goes with accept and is one of {', '.join(ELICITATION_PERSIST)}",
    )


def _validate_hello(message: dict[str, Any]) -> None:
    version = message.get("protocolVersion")
    _require(
        version == PROTOCOL_VERSION,
        "unsupported_version",
        f"this relay speaks protocol version {PROTOCOL_VERSION}, not {version!r}",
    )
    _string(message, "token", required=False)
    _string(message, "agentVersion", required=False, limit=32)
    _object(message, "provider")
    _object(message, "capabilities")


# A heartbeat's `state.codex`: the agent's word on its app-server (agent/runtime/codex_status.py).
CODEX_REPORT: Shape = {
    "state": Field(str, max_length=16),
    "error": Field(str, max_length=1000),
    "version": Field(str, max_length=32),
    "versionNote": Field(str, max_length=500),
    "notices": Field(list, max_length=8),
}


def _validate_heartbeat(message: dict[str, Any]) -> None:
    _object(message, "state")
    codex = (message.get("state") or {}).get("codex")
    if codex is None:
        return
    _require(isinstance(codex, dict), "invalid_field", "state.codex must be an object")
    try:
        check_shape(codex, CODEX_REPORT)
    except ShapeError as error:
        raise ProtocolError("invalid_field", f"state.codex.{error}") from None
    for notice in codex.get("notices") or []:
        _require(
            isinstance(notice, str) and 0 < len(notice) <= 1000,
            "invalid_field",
            "state.codex.notices holds texts of at most 1000 characters",
        )


def _validate_result(message: dict[str, Any]) -> None:
    _string(message, "commandId", limit=64)
    _require(isinstance(message.get("ok"), bool), "invalid_field", "ok must be true or false")
    if not message["ok"]:
        error = message.get("error")
        _require(
            isinstance(error, dict) and isinstance(error.get("code"), str),
            "invalid_field",
            "a failed result needs error.code",
        )


def _validate_chunk(message: dict[str, Any]) -> None:
    _string(message, "resourceId", limit=64)
    _seq(message.get("index"), "index")
    _seq(message.get("total"), "total")
    _require(
        0 <= message["index"] < message["total"] <= MAX_CHUNKS,
        "invalid_field",
        f"index must be below total, and total at most {MAX_CHUNKS}",
    )
    _require(isinstance(message.get("data"), str), "invalid_field", "data must be a string")


def _validate_events(message: dict[str, Any]) -> None:
    events = message.get("events")
    _require(
        isinstance(events, list) and 0 < len(events) <= MAX_EVENTS_PER_FRAME,
        "invalid_field",
        f"events must be a list of 1 to {MAX_EVENTS_PER_FRAME} events",
    )
    for event in events:
        try:
            _validate_event(event)
        except ProtocolError as error:
            seq = event.get("seq") if isinstance(event, dict) else None
            named = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
            raise ProtocolError(error.code, error.message, seq=named) from None
    seqs = [event["seq"] for event in events]
    _require(
        seqs == list(range(seqs[0], seqs[0] + len(seqs))),
        "invalid_event",
        "the events of a frame must have consecutive seq numbers",
    )


_VALIDATORS = {
    HELLO: _validate_hello,
    HEARTBEAT: _validate_heartbeat,
    AGENT_EVENT: _validate_events,
    COMMAND_RESULT: _validate_result,
    ERROR: lambda m: _string(m, "code", limit=64),
    CHUNK: _validate_chunk,
    WELCOME: lambda m: (
        _string(m, "deviceId", limit=128),
        _seq(m.get("lastAckedSeq")),
        _seq(m.get("heartbeatIntervalSeconds"), "heartbeatIntervalSeconds"),
    ),
    COMMAND: lambda m: (_string(m, "commandId", limit=64), _string(m, "name", limit=64)),
    EVENT_ACK: lambda m: _seq(m.get("seq")),
}


def parse_frame(
    text: str | bytes, allowed: set[str] | frozenset[str], limit: int = MAX_FRAME_BYTES
) -> dict[str, Any]:
    """Decode and check one frame (or a reassembled message, with its larger limit);
    raises ProtocolError with a clear reason."""
    size = len(text) if isinstance(text, bytes) or len(text) * 4 <= limit else None
    if size is None:
        size = len(text.encode())
    _require(size <= limit, "frame_too_large", f"frame exceeds {limit} bytes")
    try:
        message = json.loads(text, parse_constant=not_a_constant, parse_float=finite_float)
    except RecursionError:
        raise ProtocolError("too_deep", f"JSON nests deeper than {MAX_JSON_DEPTH}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("malformed_frame", f"not JSON: {exc}") from None
    _require(isinstance(message, dict), "malformed_frame", "a frame is a JSON object")
    if might_hold_unsafe_text(text) or brackets(text) > MAX_JSON_DEPTH:
        _check_text(message)
    kind = message.get("type")
    _require(isinstance(kind, str), "malformed_frame", "a frame needs a string type")
    _require(kind in allowed, "unknown_type", f"unexpected message type {kind!r}")
    _VALIDATORS[kind](message)
    return message


def _check_text(message: dict[str, Any]) -> None:
    """Refuse a frame holding text nothing downstream can store, or nesting too deep; an
    event's refusal names its seq, so the agent can repair or drop that one event."""
    events = message.get("events") if message.get("type") == AGENT_EVENT else None
    parts: list[tuple[Any, Any]] = [(message, None)]
    if isinstance(events, list):
        # Depth counts from the event (the frame adds two levels of its own).
        rest = {key: value for key, value in message.items() if key != "events"}
        parts = [(rest, None)] + [
            (event, event.get("seq") if isinstance(event, dict) else None) for event in events
        ]
    for part, seq in parts:
        problem = json_problem(part)
        if problem is None:
            continue
        code, where = problem
        raise ProtocolError(
            code, f"{where} {PROBLEMS[code]}", seq=seq if isinstance(seq, int) else None
        )


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def split_frame(text: str, resource_id: str, limit: int = MAX_FRAME_BYTES) -> list[str]:
    """A frame as it goes on the wire: itself if small enough, else resource.chunk frames
    whose data joined in order is the original text."""
    if len(text.encode()) <= limit:
        return [text]
    # Leave room for the chunk envelope; slice by characters, each at most 4 bytes.
    step = max(1, (limit - 512) // 4)
    total = math.ceil(len(text) / step)
    return [
        encode(
            {
                "type": CHUNK,
                "resourceId": resource_id,
                "index": index,
                "total": total,
                "data": text[index * step : (index + 1) * step],
            }
        )
        for index in range(total)
    ]


@dataclass
class Reassembler:
    """Joins resource.chunk slices back into the frame they came from, within bounds: at
    most MAX_OPEN_RESOURCES at once and MAX_RESOURCE_BYTES each."""

    open: dict[str, dict[int, str]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def add(self, chunk: dict[str, Any]) -> str | None:
        """Store one slice; returns the whole frame's text once every slice is in."""
        resource, index, total = chunk["resourceId"], chunk["index"], chunk["total"]
        if resource not in self.open:
            _require(
                len(self.open) < MAX_OPEN_RESOURCES,
                "too_many_resources",
                f"at most {MAX_OPEN_RESOURCES} chunked messages may be open at once",
            )
            self.open[resource] = {}
            self.sizes[resource] = 0
            self.totals[resource] = total
        parts = self.open[resource]
        if total != self.totals[resource] or index in parts:
            self.drop(resource)
            raise ProtocolError("invalid_chunks", "chunks of one resource disagree")
        self.sizes[resource] += len(chunk["data"])
        if self.sizes[resource] > MAX_RESOURCE_BYTES:
            self.drop(resource)
            raise ProtocolError("resource_too_large", "a chunked message exceeds 32 MiB")
        parts[index] = chunk["data"]
        if len(parts) < total:
            return None
        self.drop(resource)
        return "".join(parts[i] for i in range(total))

    def drop(self, resource: str) -> None:
        self.open.pop(resource, None)
        self.sizes.pop(resource, None)
        self.totals.pop(resource, None)


def device_wss_url(relay_url: str) -> str:
    """The device socket of a relay: https://h → wss://h/device-wss, http://h → ws://…"""
    parts = urlsplit(relay_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s) relay address: {relay_url!r}")
    path = parts.path.rstrip("/") + DEVICE_WSS_PATH
    return urlunsplit((scheme, parts.netloc, path, "", ""))
