"""The DEV-3 commands, each mapped onto `codex app-server` methods (SPEC AGT-5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .. import protocol
from . import attachments, control
from .appserver import AppServerError

if TYPE_CHECKING:
    from .appserver import AppServer
    from .settings import RuntimeSettings
    from .wss import DeviceWssClient


class HostRuntime(Protocol):
    """What the commands use of the host runtime (host.py), which dispatches them here."""

    settings: RuntimeSettings
    client: DeviceWssClient
    control_state: dict[str, Any]
    thread_models: dict[str, str | None]
    active_turns: dict[str, str]

    def codex_client(self) -> AppServer: ...

    def soon(self, action: Any) -> None: ...

    def reexec(self) -> None: ...

    def restart_codex_soon(self, reason: str) -> None: ...

    def resolve_approval(self, request_key: str, answer: dict[str, Any]) -> None: ...

    def set_control_state(self, changes: dict[str, Any]) -> dict[str, Any]: ...


class CommandFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _input(runtime: HostRuntime, value: Any) -> list[dict[str, Any]]:
    """app-server's UserInput items for a command's input: text as it is, and each attached
    image fetched from the relay and given to Codex as a local image."""
    if isinstance(value, str):
        return [{"type": "text", "text": value, "text_elements": []}]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise CommandFailed("invalid_params", "input must be text or a list of input items")
    items = []
    for item in value:
        if item.get("type") == "attachment":
            try:
                path = attachments.fetch(
                    runtime.settings.relay_url,
                    runtime.settings.device_token,
                    item.get("attachmentId") or "",
                    runtime.settings.state_dir / "attachments",
                )
            except attachments.AttachmentFailed as failed:
                raise CommandFailed(failed.code, failed.message) from None
            items.append({"type": "localImage", "path": str(path)})
        elif item.get("type") == "text":
            items.append({"type": "text", "text": item.get("text", ""), "text_elements": []})
        else:
            raise CommandFailed("invalid_params", "input items are text or attachment")
    return items


def _thread_id(params: dict[str, Any]) -> str:
    thread_id = params.get("threadId")
    if not isinstance(thread_id, str) or not thread_id:
        raise CommandFailed("invalid_params", "threadId is required")
    return thread_id


def list_sessions(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    query = {"limit": int(params.get("limit") or 25), "sortKey": "updated_at"}
    for key in ("cursor", "archived", "searchTerm"):
        if params.get(key) is not None:
            query[key] = params[key]
    return runtime.codex_client().request("thread/list", query)


# A session's history is read a page of turns at a time, newest first, up to this many
# turns: more than a phone shows, and the answer stays well inside one relay message.
TURNS_PAGE = 50
MAX_READ_TURNS = 500


def read_session(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    """The thread and its turns with their items. `thread/read` with `includeTurns` is
    deprecated for paginated threads: read the metadata, then page `thread/turns/list`."""
    codex = runtime.codex_client()
    thread_id = _thread_id(params)
    result = codex.request("thread/read", {"threadId": thread_id})
    turns: list[Any] = []
    cursor = None
    while len(turns) < MAX_READ_TURNS:
        query = {"threadId": thread_id, "itemsView": "full", "sortDirection": "desc"}
        query["limit"] = min(TURNS_PAGE, MAX_READ_TURNS - len(turns))
        query.update({"cursor": cursor} if cursor else {})
        try:
            page = codex.request("thread/turns/list", query)
        except AppServerError as error:
            # A thread is written down with its first message; until then it has no turns
            # to list, and app-server says so ("… is not materialized yet …").
            if cursor is None and "materialized" in error.message:
                break
            raise
        turns += page.get("data") or []
        cursor = page.get("nextCursor")
        if not cursor or not page.get("data"):
            break
    result["thread"]["turns"] = turns[::-1]
    # Said when a very long session shows only its latest turns.
    result["olderTurnsOmitted"] = bool(cursor) and len(turns) >= MAX_READ_TURNS
    return result


def _remember_model(runtime: HostRuntime, result: Any) -> Any:
    """Plan mode must name the thread's model; thread/start and thread/resume say it."""
    if isinstance(result, dict) and isinstance(result.get("thread"), dict):
        runtime.thread_models[result["thread"].get("id")] = result.get("model")
    return result


def start_thread(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    cwd = params.get("cwd") or runtime.settings.workspace
    result = runtime.codex_client().request(
        "thread/start", {"cwd": cwd, **control.thread_params(runtime.control_state)}
    )
    return _remember_model(runtime, result)


def resume_thread(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    result = runtime.codex_client().request(
        "thread/resume",
        {"threadId": _thread_id(params), **control.thread_params(runtime.control_state)},
    )
    return _remember_model(runtime, result)


def start_turn(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    thread_id = _thread_id(params)
    cwd = params.get("cwd") or runtime.settings.workspace
    if runtime.control_state.get("workMode") == "plan" and thread_id not in runtime.thread_models:
        resume_thread(runtime, {"threadId": thread_id})
    # A chosen model and effort stay the thread's in app-server for later turns.
    choice = {key: params[key] for key in ("model", "effort") if params.get(key)}
    if "model" in choice:
        runtime.thread_models[thread_id] = choice["model"]
    request = {
        "threadId": thread_id,
        "input": _input(runtime, params.get("input")),
        **control.turn_params(
            runtime.control_state,
            cwd,
            runtime.thread_models.get(thread_id),
            choice.get("effort"),
        ),
        **choice,
    }
    codex = runtime.codex_client()
    try:
        return codex.request("turn/start", request)
    except Exception as error:
        # A thread from before this app-server started must be loaded first.
        if "not found" not in str(error).lower() and "not loaded" not in str(error).lower():
            raise
        resume_thread(runtime, {"threadId": thread_id})
        return codex.request("turn/start", request)


def _active_turn(runtime: HostRuntime, params: dict[str, Any], thread_id: str) -> str:
    turn_id = params.get("turnId") or runtime.active_turns.get(thread_id)
    if not turn_id:
        raise CommandFailed("no_active_turn", "this thread has no running turn")
    return turn_id


def steer_turn(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    thread_id = _thread_id(params)
    return runtime.codex_client().request(
        "turn/steer",
        {
            "threadId": thread_id,
            "input": _input(runtime, params.get("input")),
            "expectedTurnId": _active_turn(runtime, params, thread_id),
        },
    )


def interrupt_turn(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    thread_id = _thread_id(params)
    return runtime.codex_client().request(
        "turn/interrupt",
        {"threadId": thread_id, "turnId": _active_turn(runtime, params, thread_id)},
    )


def resolve_approval(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    answer = {
        key: params[key]
        for key in (*protocol.ANSWER_KINDS, "scope", "content", "persist")
        if key in params
    }
    runtime.resolve_approval(params.get("requestId"), answer)
    # The result is stored on the relay: what was decided, never what was typed (a
    # question or a form field may be secret).
    said = {key: value for key, value in answer.items() if key not in ("answers", "content")}
    return {"requestId": params.get("requestId"), **said}


def set_control_state(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    return {"controlState": runtime.set_control_state(params)}


def archive_thread(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    return runtime.codex_client().request("thread/archive", {"threadId": _thread_id(params)})


def restart_codex(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    runtime.restart_codex_soon("requested from the console")
    return {"restarting": "codex"}


def reconnect(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    runtime.soon(runtime.client.reconnect)
    return {"reconnecting": True}


def list_models(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    """The models this Codex offers, with the reasoning efforts each supports."""
    models: list[Any] = []
    query: dict[str, Any] = {}
    for _page in range(10):  # a handful of models; the bound only guards against a loop
        page = runtime.codex_client().request("model/list", query)
        models += page.get("data") or []
        if not page.get("nextCursor"):
            break
        query = {"cursor": page["nextCursor"]}
    return {"data": [model for model in models if not model.get("hidden")]}


def restart_agent(runtime: HostRuntime, params: dict[str, Any]) -> Any:
    runtime.soon(runtime.reexec)
    return {"restarting": "agent"}


HANDLERS: dict[str, Callable[[HostRuntime, dict[str, Any]], Any]] = {
    "listSessions": list_sessions,
    "readSession": read_session,
    "startThread": start_thread,
    "resumeThread": resume_thread,
    "startTurn": start_turn,
    "steerTurn": steer_turn,
    "interruptTurn": interrupt_turn,
    "resolveApproval": resolve_approval,
    "setControlState": set_control_state,
    "archiveThread": archive_thread,
    "restartCodex": restart_codex,
    "reconnect": reconnect,
    "restartAgent": restart_agent,
    "listModels": list_models,
}


def handle_command(runtime: HostRuntime, name: str, params: dict[str, Any]) -> Any:
    handler = HANDLERS.get(name)
    if handler is None:
        raise CommandFailed("unknown_command", f"this agent does not know {name!r}")
    # The relay checked the same declaration; a relay of another version may not have.
    try:
        protocol.validate_command_params(name, params)
    except protocol.ProtocolError as error:
        raise CommandFailed(error.code, error.message) from None
    return handler(runtime, params)
