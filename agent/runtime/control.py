"""Control state (SPEC §6): the work mode and permission preset the console picks, and the
Codex settings each preset means. The agent fills them into thread/start, thread/resume and
turn/start, so what Codex runs with is what the console shows."""

from __future__ import annotations

from typing import Any

from ..protocol import PERMISSION_PRESETS, WORK_MODES

# What each of the wire's presets (PERMISSION_PRESETS) means for Codex.
PRESETS: dict[str, dict[str, Any]] = {
    "ask": {
        "sandbox": "workspace-write",
        "approvalPolicy": "on-request",
        "approvalsReviewer": "user",
        "networkAccess": False,
    },
    "auto": {
        "sandbox": "workspace-write",
        "approvalPolicy": "on-request",
        "approvalsReviewer": "auto_review",
        "networkAccess": False,
    },
    "full": {
        "sandbox": "danger-full-access",
        "approvalPolicy": "never",
        "approvalsReviewer": "user",
        "networkAccess": True,
    },
}
DEFAULT = {"workMode": "default", "permissionPreset": "ask", **PRESETS["ask"]}


class ControlError(ValueError):
    pass


def control_state(work_mode: str, preset: str) -> dict[str, Any]:
    if work_mode not in WORK_MODES:
        raise ControlError(f"workMode must be one of {', '.join(WORK_MODES)}")
    if preset not in PERMISSION_PRESETS or preset not in PRESETS:
        raise ControlError(f"permissionPreset must be one of {', '.join(PERMISSION_PRESETS)}")
    return {"workMode": work_mode, "permissionPreset": preset, **PRESETS[preset]}


def updated(current: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    state = {**DEFAULT, **(current or {})}
    return control_state(
        changes.get("workMode", state["workMode"]),
        changes.get("permissionPreset", state["permissionPreset"]),
    )


def thread_params(state: dict[str, Any]) -> dict[str, Any]:
    """thread/start and thread/resume spell the sandbox as a mode string."""
    return {
        "approvalPolicy": state["approvalPolicy"],
        "approvalsReviewer": state["approvalsReviewer"],
        "sandbox": state["sandbox"],
    }


def turn_params(
    state: dict[str, Any], cwd: str | None, model: str | None = None, effort: str | None = None
) -> dict[str, Any]:
    """turn/start spells the sandbox as a policy object; plan mode travels as the turn's
    collaboration mode, which names the thread's model (and overrides turn/start's own
    model and effort, so a chosen effort rides in it too)."""
    if state["sandbox"] == "danger-full-access":
        policy: dict[str, Any] = {"type": "dangerFullAccess"}
    else:
        policy = {
            "type": "workspaceWrite",
            "writableRoots": [cwd] if cwd else [],
            "networkAccess": bool(state["networkAccess"]),
        }
    params: dict[str, Any] = {
        "approvalPolicy": state["approvalPolicy"],
        "approvalsReviewer": state["approvalsReviewer"],
        "sandboxPolicy": policy,
    }
    if state.get("workMode") == "plan" and model:
        params["collaborationMode"] = {
            "mode": "plan",
            "settings": {
                "model": model,
                "reasoning_effort": effort,
                "developer_instructions": None,
            },
        }
    return params
