"""Pairing as the installer and a browser do it, over HTTP, for the setup-flow tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from .conftest import PASSWORD, csrf_token, post_json

PROFILE = {
    "deviceId": "a1b2c3d4e5f60718293a4b5c",
    "deviceName": "studio / ada Codex Desktop Agent",
    "workspace": "/home/ada/src",
    "platform": "linux",
    "agentVersion": "0.2.0",
}


@dataclass
class Installer:
    """The CLI's side: no cookies, only the flow's own secrets."""

    profile: dict[str, Any] = field(default_factory=lambda: dict(PROFILE))
    client: Client = field(default_factory=Client)
    address: str = "198.51.100.7"
    started: dict[str, Any] = field(default_factory=dict)

    def call(self, path: str, body: dict[str, Any], **extra: str) -> Any:
        return post_json(self.client, path, body, REMOTE_ADDR=self.address, **extra)

    def start(self) -> Any:
        response = self.call("/api/desktop/setup/start", self.profile)
        if response.status_code == 201:
            self.started = response.json()
        return response

    @property
    def flow_id(self) -> str:
        return self.started["flowId"]

    @property
    def code(self) -> str:
        return self.started["oneTimeCode"]

    def poll(self, secret: str | None = None) -> Any:
        body = {"flowId": self.flow_id, "flowSecret": secret or self.started["flowSecret"]}
        return self.call("/api/desktop/setup/poll", body)

    def login_token(self, token: str, confirm_rebind: bool = False) -> Any:
        body = {
            "flowId": self.flow_id,
            "flowSecret": self.started["flowSecret"],
            "token": token,
            "confirmRebind": confirm_rebind,
        }
        return self.call("/api/iam/desktop/setup/login-token", body)

    def context(self, setup_token: str) -> Any:
        return self.call("/api/desktop/setup/context", {"setupToken": setup_token})

    def complete(self, setup_token: str, **updates: str) -> Any:
        return self.call("/api/desktop/setup/complete", {"setupToken": setup_token, **updates})

    def device_status(self, device_token: str) -> Any:
        return self.client.get("/api/agent/device", HTTP_AUTHORIZATION=f"Bearer {device_token}")


class Person:
    """A browser with a session, enforcing CSRF like a real page."""

    def __init__(self, username: str | None = None) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.username = username

    def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        self.username = username
        return self.post("/api/iam/auth/login", {"username": username, "password": password})

    def post(self, path: str, body: dict[str, Any], **extra: str) -> Any:
        return post_json(self.client, path, body, HTTP_X_CSRFTOKEN=csrf_token(self.client), **extra)

    def look(self, installer: Installer, code: str | None = None) -> Any:
        body = {"flowId": installer.flow_id, "code": code or installer.code}
        return self.post("/api/desktop/setup/poll", body)

    def approve(self, installer: Installer, code: str | None = None, **extra: Any) -> Any:
        body = {"flowId": installer.flow_id, "code": code or installer.code, **extra}
        return self.post("/api/desktop/setup/approve", body)

    def terminal_token(self, installer: Installer, code: str | None = None) -> Any:
        body = {"flowId": installer.flow_id, "code": code or installer.code}
        return self.post("/api/iam/desktop/setup/terminal-token", body)


def reinstaller(device_token: str) -> Installer:
    """The installer run again on a computer that is already paired: it presents the
    existing install's token, which proves it holds the computer."""
    return Installer(profile={**PROFILE, "deviceToken": device_token})


def pair(person: Person, installer: Installer, clock: Any) -> dict[str, Any]:
    """Start → approve → poll → complete; returns the handed-off tokens."""
    assert installer.start().status_code == 201
    assert person.approve(installer).status_code == 200, "approve failed"
    clock.advance(seconds=10)
    handoff = installer.poll().json()
    assert handoff["status"] == "approved" and "deviceToken" in handoff, handoff
    assert installer.complete(handoff["setupToken"]).status_code == 200
    return handoff
