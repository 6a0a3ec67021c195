"""Waiting for the person to approve this computer (SPEC AGT-2, SET-6): the link and code
to open, the countdown while the browser flow runs, or a one-time terminal token typed in."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any

import click
import segno

from ..relay_client import RelayClient, RelayError
from ..terminal import Failure, say

SETUP_TIMEOUT = 600


def print_link(started: dict[str, Any]) -> None:
    say("Open this link to bind this computer", "打开链接绑定这台电脑")
    click.echo(f"  {started['verificationUrl']}")
    say(f"Code: {started['oneTimeCode']}", f"验证码:{started['oneTimeCode']}")
    # A QR code is a convenience for a phone; the link above is enough.
    with contextlib.suppress(OSError, ValueError):
        segno.make(started["verificationUrl"], error="l").terminal(compact=True)


def waiting_line(seconds_left: float) -> str:
    minutes, seconds = divmod(max(0, int(seconds_left)), 60)
    left = f"{minutes}:{seconds:02d}"
    return f"Waiting for approval… {left} left / 等待批准… 剩余 {left}"


def _show_waiting(seconds_left: float) -> None:
    # On a terminal the line rewrites itself each second; in a log, a line each minute.
    if sys.stdout.isatty():
        click.echo("\r" + waiting_line(seconds_left) + " ", nl=False)
    elif int(seconds_left) % 60 == 0:
        click.echo(waiting_line(seconds_left))


def poll(client: RelayClient, started: dict[str, Any]) -> dict[str, Any]:
    interval = float(started.get("interval") or 5)
    deadline = time.monotonic() + min(SETUP_TIMEOUT, started.get("expiresIn") or SETUP_TIMEOUT)
    body = {"flowId": started["flowId"], "flowSecret": started["flowSecret"]}
    next_poll = time.monotonic() + interval
    try:
        while time.monotonic() < deadline:
            _show_waiting(deadline - time.monotonic())
            time.sleep(max(0.0, min(1.0, next_poll - time.monotonic())))
            if time.monotonic() < next_poll:
                continue
            next_poll = time.monotonic() + interval
            try:
                answer = client.post("/api/desktop/setup/poll", body)
            except RelayError as error:
                if error.code == "slow_down":
                    interval = float((error.details or {}).get("interval") or interval + 5)
                    continue
                raise Failure(error.message) from None
            if answer.get("deviceToken"):
                return answer
            if answer["status"] == "denied":
                raise Failure(
                    "The pairing was denied in the browser",
                    "绑定已被拒绝",
                    "Run the installer again.",
                )
            if answer["status"] == "expired":
                raise Failure(
                    "The pairing link expired", "绑定链接已过期", "Run the installer again."
                )
    finally:
        if sys.stdout.isatty():
            click.echo()
    raise Failure("Setup login timed out after 10 minutes.", "绑定超时", "Run the installer again.")


def token_login(client: RelayClient, started: dict[str, Any]) -> dict[str, Any]:
    say(
        "Open the link, sign in, and press “Generate one-time terminal token”",
        "打开链接登录后点击生成终端一次性 token",
    )
    body = {"flowId": started["flowId"], "flowSecret": started["flowSecret"]}
    for _attempt in range(3):
        # Hidden as a password is: the token pairs a computer with the account.
        token = click.prompt(
            "One-time terminal token from the setup page / 设置页面上的一次性终端 token",
            hide_input=True,
        ).strip()
        try:
            return client.post("/api/iam/desktop/setup/login-token", {**body, "token": token})
        except RelayError as error:
            if error.code == "device_rebind_required":
                return _confirm_rebind(client, {**body, "token": token})
            if error.code in ("invalid_terminal_token", "terminal_token_expired"):
                say(error.message, fg="yellow")
                continue
            raise Failure(error.message) from None
    raise Failure("Too many wrong tokens", "token 错误次数过多", "Run the installer again.")


def _confirm_rebind(client: RelayClient, body: dict[str, Any]) -> dict[str, Any]:
    click.echo("This computer is bound to another account and will not be switched automatically.")
    answer = click.prompt(
        "Type YES to rebind this computer to the current account / 输入 YES 切换绑定",
        default="",
        show_default=False,
    )
    if answer.strip() != "YES":
        raise Failure(
            "Setup kept the existing binding. Run the installer again if you want to switch later."
        )
    try:
        return client.post("/api/iam/desktop/setup/login-token", {**body, "confirmRebind": True})
    except RelayError as error:
        raise Failure(error.message) from None
