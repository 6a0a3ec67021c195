"""The install flow (SPEC AGT-2): resolve, preload and verify, pair, write the config,
complete, start the host runtime, and check — a bounded number of times — that the relay
sees this computer online."""

from __future__ import annotations

import os
import shutil
import sys
import time
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..local import autostart, config, lifecycle, release
from ..local.codex_discovery import find_codex
from ..protocol import device_wss_url
from ..relay_client import RelayClient, RelayError
from ..runtime.control import DEFAULT as DEFAULT_CONTROL
from ..terminal import Failure, say
from . import pairing, profile
from .install_commands import install_commands
from .servers import resolve_server

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
    # `login`: pair again even when the saved pairing still holds.
    pair_again: bool = False


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
    codex = find_codex(options.codex_path)
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


def show(details: Plan, manifest: dict[str, Any]) -> None:
    say("Relay", "服务器")
    click.echo(f"  {details.relay_url}")
    for label, value in [
        ("Agent release", f"{manifest['agentVersion']} ({len(manifest['files'])} files)"),
        ("Device id", details.device_id),
        ("Device name", details.device_name),
        ("Workspace", details.workspace),
        ("Codex", details.codex_path),
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


def _clean_node_era(directory: Path) -> None:
    for name in NODE_ERA:
        target = directory / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        elif target.exists():
            target.unlink()


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


def print_commands(server: str | None) -> None:
    """The one-line installers for this relay, to run on another computer."""
    commands = install_commands(resolve_server(server))
    say("Install the agent on another computer with", "在其他电脑上用以下命令安装 agent")
    click.echo(f"  macOS / Linux: {commands['unix']}")
    click.echo(f"  Windows (PowerShell): {commands['windows']}")


def install(options: Options) -> None:
    if options.print_command:
        print_commands(options.server)
        return
    details = plan(options)
    if options.dry_run:
        # Everything the real install checks before it changes anything, the same way.
        show(details, release.fetch_manifest(RelayClient(details.relay_url)))
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


def _kept_binding(client: RelayClient, details: Plan) -> dict[str, Any] | None:
    """The saved settings of this computer's pairing with this relay, if the relay still
    accepts its token: installing again then changes the settings and keeps the pairing."""
    try:
        current = config.load(details.config_path)
    except Failure:
        return None
    if current.get("deviceId") != details.device_id or current.get("relayUrl") != (
        details.relay_url
    ):
        return None
    try:
        client.get("/api/agent/device", token=current["deviceToken"])
    except RelayError as error:
        if error.status in (401, 403, 404):
            return None  # revoked, removed or disabled: pair again
        raise Failure(
            f"The relay could not check this computer's pairing: {error.message}",
            "服务器无法确认绑定",
            "Try again in a moment.",
        ) from None
    return current


def _keep_unless_given(options: Options, details: Plan, kept: dict[str, Any]) -> None:
    """Installing again changes what is given (options or CODEXPANEL_* variables) and keeps
    the rest of the saved settings, not the defaults of wherever it is run from."""
    if not (options.workspace or os.environ.get("CODEXPANEL_WORKSPACE")):
        details.workspace = kept.get("workspace") or details.workspace
    if not (options.device_name or os.environ.get("CODEXPANEL_DEVICE_NAME")):
        details.device_name = kept.get("deviceName") or details.device_name
    saved_codex = str(kept.get("codexPath") or "")
    given = options.codex_path or os.environ.get("CODEXPANEL_CODEX_PATH")
    if not given and saved_codex and Path(saved_codex).is_file():
        details.codex_path = saved_codex


def _pair(options: Options, client: RelayClient, details: Plan, manifest: dict[str, Any]) -> Any:
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
    pairing.print_link(started)
    if options.token_login:
        return pairing.token_login(client, started)
    if not options.no_browser:
        click.prompt(
            "Resources are ready. Press Enter to open the browser and bind this computer.",
            default="",
            show_default=False,
        )
        webbrowser.open(started["verificationUrl"])
    return pairing.poll(client, started)


def _install(options: Options, details: Plan, log_file: Path) -> None:
    client = RelayClient(details.relay_url)
    manifest = release.fetch_manifest(client)
    staged = details.directory / "app.staged"
    release.download(client, manifest, staged)
    kept = None if options.pair_again else _kept_binding(client, details)
    if kept is not None:
        _keep_unless_given(options, details, kept)
    approval = None if kept is not None else _pair(options, client, details, manifest)
    app_dir = details.directory / "app"
    lifecycle.stop(details.directory)
    if kept is not None:
        # Read again now that the agent stopped: it saves its control state and panel.
        kept = {**kept, **config.load(details.config_path)}
    release.switch(staged, app_dir)
    _clean_node_era(details.directory)
    binding = (
        {
            key: kept[key]
            for key in ("userId", "deviceToken", "controlState", "panel")
            if key in kept
        }
        if kept is not None
        else {
            "userId": approval["userId"],
            "deviceToken": approval["deviceToken"],
            "controlState": dict(DEFAULT_CONTROL),
        }
    )
    settings = {
        "relayUrl": details.relay_url,
        "deviceId": details.device_id,
        "deviceName": details.device_name,
        "deviceWssUrl": device_wss_url(details.relay_url),
        "workspace": details.workspace,
        "codexPath": details.codex_path,
        "providerTransport": "stdio://",
        "logPath": str(log_file),
        "agentVersion": manifest["agentVersion"],
        **binding,
    }
    config.save(settings, details.config_path)
    if approval is not None:
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
    else:
        say(
            "Already paired: the settings are updated and the pairing kept "
            "(`python -m agent login` pairs again)",
            "已绑定:设置已更新,绑定保持不变",
            fg="green",
        )
    if not options.no_autostart:
        launch = autostart.Launch(sys.executable, app_dir, details.config_path)
        try:
            where = autostart.register(launch, log_file)
            say(f"Starts at logon: {where}", "已设置开机启动")
        except OSError as error:
            say(f"Could not set up start at logon: {error}", "开机启动设置失败", fg="yellow")
    if options.no_start:
        return
    lifecycle.start(details.config_path, app_dir, log_file)
    pid = lifecycle.wait_started(details.directory)
    if options.no_autostart:
        say(
            f"The agent runs in the background (pid {pid}) until this computer restarts; "
            "`python -m agent stop` stops it, `python -m agent start` starts it again",
            "agent 已在后台运行;用 python -m agent stop 停止",
        )
    if _wait_online(client, settings["deviceToken"]):
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
