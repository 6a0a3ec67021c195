"""The install flow (SPEC AGT-2): resolve, preload and verify, pair, write the config,
complete, start the host runtime, and check — a bounded number of times — that the relay
sees this computer online."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import segno

from . import __version__, autostart, config, profile, release
from .codex_discovery import find_codex
from .control import DEFAULT as DEFAULT_CONTROL
from .install_commands import install_commands
from .protocol import device_wss_url
from .relay_client import RelayClient, RelayError
from .servers import resolve_server
from .terminal import Failure, say

SETUP_TIMEOUT = 600
ONLINE_CHECKS = 10
# Files an installation of the original Node agent left behind.
NODE_ERA = (
    "desktop-agent.js",
    "app-server-connector.js",
    "host-runtime.cjs",
    "runtime",
    "cloudflared",
    "cloudflared.exe",
)


@dataclass
class Options:
    server: str | None = None
    workspace: str | None = None
    device_name: str | None = None
    codex_path: str | None = None
    token_login: bool = False
    no_browser: bool = False
    no_autostart: bool = False
    no_start: bool = False
    dry_run: bool = False
    print_command: bool = False


@dataclass
class Plan:
    relay_url: str
    workspace: str
    device_name: str
    device_id: str
    codex_path: str | None
    directory: Path
    config_path: Path


def plan(options: Options) -> Plan:
    workspace = options.workspace or os.environ.get("CODEXPANEL_WORKSPACE") or os.getcwd()
    try:
        codex: str | None = find_codex(options.codex_path)
    except Failure:
        if not options.dry_run:
            raise
        codex = None
    return Plan(
        relay_url=resolve_server(options.server),
        workspace=str(Path(workspace).expanduser().resolve()),
        device_name=options.device_name
        or os.environ.get("CODEXPANEL_DEVICE_NAME")
        or profile.default_device_name(),
        device_id=profile.device_id(),
        codex_path=codex,
        directory=config.install_dir(),
        config_path=config.config_path(),
    )


def show(details: Plan) -> None:
    say("Relay", "服务器")
    click.echo(f"  {details.relay_url}")
    for label, value in [
        ("Device id", details.device_id),
        ("Device name", details.device_name),
        ("Workspace", details.workspace),
        ("Codex", details.codex_path or "not found (npm i -g @openai/codex)"),
        ("Install directory", str(details.directory)),
        ("Config", str(details.config_path)),
        ("Device socket", device_wss_url(details.relay_url)),
    ]:
        click.echo(f"  {label}: {value}")


def _existing_token(details: Plan) -> str:
    """The current install's token, which proves this computer's binding (SET-4)."""
    try:
        current = config.load(details.config_path)
    except Failure:
        return ""
    if current.get("deviceId") != details.device_id:
        return ""
    return str(current.get("deviceToken") or "")


def _print_link(started: dict[str, Any]) -> None:
    say("Open this link to bind this computer", "打开链接绑定这台电脑")
    click.echo(f"  {started['verificationUrl']}")
    say(f"Code: {started['oneTimeCode']}", f"验证码:{started['oneTimeCode']}")
    # A QR code is a convenience for a phone; the link above is enough.
    with contextlib.suppress(OSError, ValueError):
        segno.make(started["verificationUrl"], error="l").terminal(compact=True)


def _poll(client: RelayClient, started: dict[str, Any]) -> dict[str, Any]:
    interval = float(started.get("interval") or 5)
    deadline = time.monotonic() + min(SETUP_TIMEOUT, started.get("expiresIn") or SETUP_TIMEOUT)
    body = {"flowId": started["flowId"], "flowSecret": started["flowSecret"]}
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            answer = client.post("/api/desktop/setup/poll", body)
        except RelayError as error:
            if error.code == "slow_down":
                interval = float((error.details or {}).get("interval") or interval + 5)
                continue
            raise Failure(error.message) from None
        if answer.get("deviceToken"):
            return answer
        if answer["status"] in ("expired", "denied"):
            raise Failure(f"Setup {answer['status']}", "绑定未完成", "Run the installer again.")
    raise Failure("Setup login timed out after 10 minutes.", "绑定超时")


def _token_login(client: RelayClient, started: dict[str, Any]) -> dict[str, Any]:
    say(
        "Open the link, sign in, and press “Generate one-time terminal token”",
        "打开链接登录后点击生成终端一次性 token",
    )
    body = {"flowId": started["flowId"], "flowSecret": started["flowSecret"]}
    for _attempt in range(3):
        token = click.prompt(
            "One-time CodexPanel terminal token from setup page", hide_input=False
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


def _clean_node_era(directory: Path) -> None:
    for name in NODE_ERA:
        target = directory / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        elif target.exists():
            target.unlink()


def stop_running_agent(directory: Path) -> None:
    """A reinstall replaces the running agent: it holds the old token."""
    pid_file = directory / "agent.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 10
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def start_runtime(config_file: Path, app_dir: Path, log_file: Path) -> int:
    """Start `python -m agent run` in the background from the installed release."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CODEXPANEL_AGENT_CONFIG": str(config_file), "PYTHONPATH": str(app_dir)}
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent", "run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            # Not the release folder: Windows cannot rename a process's working folder,
            # and updates replace the release by renaming.
            cwd=str(app_dir.parent),
        )
    return process.pid


def _wait_online(client: RelayClient, token: str) -> bool:
    for _check in range(ONLINE_CHECKS):
        time.sleep(1.5)
        try:
            if client.get("/api/agent/device", token=token).get("online"):
                return True
        except (RelayError, Failure):
            continue
    return False


def _open_panel(config_path: Path, open_browser: bool) -> None:
    try:
        panel = config.load(config_path).get("panel") or {}
    except Failure:
        return
    if panel.get("port") and panel.get("token"):
        url = f"http://127.0.0.1:{panel['port']}/?token={panel['token']}"
        say("Local panel", "本地面板")
        click.echo(f"  {url}")
        if open_browser:
            webbrowser.open(url)


def install(options: Options) -> None:
    details = plan(options)
    if options.dry_run:
        show(details)
        say("Dry run: nothing was installed", "仅预览,未安装")
        return
    log_file = details.directory / "logs" / "agent.log"
    try:
        _install(options, details, log_file)
    except Failure as failure:
        failure.message += (
            f"\nInstall directory / 安装目录: {details.directory}\nLog / 日志: {log_file}"
        )
        raise


def _install(options: Options, details: Plan, log_file: Path) -> None:
    client = RelayClient(details.relay_url)
    manifest = release.fetch_manifest(client)
    staged = details.directory / "app.staged"
    release.download(client, manifest, staged)
    started = client.post(
        "/api/desktop/setup/start",
        {
            "deviceId": details.device_id,
            "deviceName": details.device_name,
            "workspace": details.workspace,
            "platform": profile.platform_name(),
            "agentVersion": manifest["agentVersion"],
            "deviceToken": _existing_token(details),
        },
    )
    _print_link(started)
    if options.token_login:
        approval = _token_login(client, started)
    else:
        if not options.no_browser:
            click.prompt(
                "Resources are ready. Press Enter to open the browser and bind this computer.",
                default="",
                show_default=False,
            )
            webbrowser.open(started["verificationUrl"])
        approval = _poll(client, started)
    app_dir = details.directory / "app"
    stop_running_agent(details.directory)
    release.switch(staged, app_dir)
    _clean_node_era(details.directory)
    settings = {
        "relayUrl": details.relay_url,
        "userId": approval["userId"],
        "deviceId": details.device_id,
        "deviceName": details.device_name,
        "deviceToken": approval["deviceToken"],
        "deviceWssUrl": device_wss_url(details.relay_url),
        "workspace": details.workspace,
        "codexPath": details.codex_path,
        "providerTransport": "stdio://",
        "logPath": str(log_file),
        "agentVersion": manifest["agentVersion"],
        "controlState": dict(DEFAULT_CONTROL),
    }
    config.save(settings, details.config_path)
    client.post(
        "/api/desktop/setup/complete",
        {
            "setupToken": approval["setupToken"],
            "agentVersion": manifest["agentVersion"] or __version__,
            "platform": profile.platform_name(),
            "workspace": details.workspace,
        },
    )
    say("Binding succeeded", "绑定成功", fg="green")
    if not options.no_autostart:
        launch = autostart.Launch(sys.executable, app_dir, details.config_path)
        try:
            where = autostart.register(launch, log_file)
            say(f"Starts at logon: {where}", "已设置开机启动")
        except OSError as error:
            say(f"Could not set up start at logon: {error}", "开机启动设置失败", fg="yellow")
    if options.no_start:
        return
    start_runtime(details.config_path, app_dir, log_file)
    if _wait_online(client, approval["deviceToken"]):
        say("This computer is online in the console", "电脑已在线", fg="green")
        _open_panel(details.config_path, open_browser=not options.no_browser)
    else:
        say(
            "The relay does not see this computer online yet. Check the console, "
            "`python -m agent status` and the log",
            "服务器暂未看到电脑在线,请查看控制台、状态和日志",
            fg="yellow",
        )
        click.echo(f"  Log: {log_file}")
    if options.print_command:
        commands = install_commands(details.relay_url)
        click.echo(f"macOS/Linux: {commands['unix']}\nWindows: {commands['windows']}")
