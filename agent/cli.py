"""`python -m agent …` (SPEC AGT-1): install (the default), login, run, status."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from . import __version__
from .local import autostart, config, lifecycle, update
from .local.codex_discovery import find_codex
from .local.panel import Panel, local_status, new_token
from .relay_client import RelayClient, RelayError
from .runtime.host import HostRuntime, RuntimeSettings
from .setup.installer import Options, install
from .terminal import Failure, say

RETIRED = {
    "--terminal-login": "--terminal-login has been retired. Use browser sign-in or --token-login.",
    "--legacy-tunnel": "--legacy-tunnel has been retired: device traffic uses the server WSS "
    "gateway.",
    "--no-tunnel": "--no-tunnel has been retired: device traffic uses the server WSS gateway.",
}
COMMANDS = {"install", "login", "run", "start", "stop", "status", "update", "uninstall"}


def _install_options(function: Any) -> Any:
    options = [
        click.option("--server", help="production, prod, test, jd, local or a URL"),
        click.option("--workspace", "--cwd", "workspace", help="the folder Codex works in"),
        click.option("--device-name", "--name", "device_name", help="how the console names it"),
        click.option("--codex-path", help="the Codex CLI to run"),
        click.option("--token-login", is_flag=True, help="type a one-time token instead"),
        click.option("--no-browser", is_flag=True, help="do not open a browser"),
        click.option("--no-autostart", is_flag=True, help="do not start at logon"),
        click.option("--no-start", is_flag=True, hidden=True),
        click.option(
            "--dry-run",
            is_flag=True,
            help="check the relay and Codex and show the plan, change nothing",
        ),
        click.option(
            "--print-command",
            is_flag=True,
            help="print the one-line installers for this relay and exit",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codexpanel agent")
def main() -> None:
    """The codexpanel desktop agent / codexpanel 电脑端 agent."""


@main.command("install")
@_install_options
def install_command(**options: Any) -> None:
    """Pair this computer with your account and start the agent; on a paired computer,
    change its settings and keep the pairing."""
    install(Options(**options))


@main.command("login")
@_install_options
def login_command(**options: Any) -> None:
    """Pair again (for example with --token-login) and restart the agent."""
    install(Options(**options, pair_again=True))


@main.command("run")
@click.option(
    "--codex-path", envvar="CODEXPANEL_CODEX_PATH", help="the Codex CLI to run, over the saved one"
)
@click.option(
    "--workspace",
    "--cwd",
    "workspace",
    envvar="CODEXPANEL_WORKSPACE",
    help="the folder Codex works in, over the saved one",
)
def run_command(codex_path: str | None, workspace: str | None) -> None:
    """Run the host runtime in the foreground (autostart runs this)."""
    if os.name == "posix":
        os.umask(0o077)  # the outbox and logs hold code, diffs and command output
    settings = config.load()
    codex = find_codex(codex_path) if codex_path else settings.get("codexPath") or find_codex()
    if workspace:
        workspace = str(Path(workspace).expanduser().resolve())
        if not Path(workspace).is_dir():
            raise Failure(f"No folder at {workspace}", "工作目录不存在")
    lock = config.single_instance(lifecycle.lock_file(config.config_path().parent))
    if lock is None:
        say("The agent is already running", "agent 已在运行")
        return
    log_path = Path(settings.get("logPath") or config.log_dir() / "agent.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[
            logging.StreamHandler(),
            logging.handlers.RotatingFileHandler(
                log_path, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8"
            ),
        ],
    )
    app_dir = config.config_path().parent / "app"
    runtime = HostRuntime(
        RuntimeSettings(
            relay_url=settings["relayUrl"],
            device_wss_url=settings["deviceWssUrl"],
            device_token=settings["deviceToken"],
            workspace=workspace or settings["workspace"],
            codex_path=codex,
            state_dir=config.config_path().parent / "state",
            control_state=settings.get("controlState") or {},
            log_dir=log_path.parent,
            app_dir=app_dir if app_dir.is_dir() else None,
        )
    )

    def remember(state: dict[str, Any]) -> None:
        config.save({**config.load(), "controlState": state})

    runtime.on_control_change.append(remember)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    pid_file = lifecycle.pid_file(config.config_path().parent)
    pid_file.write_text(str(os.getpid()))
    try:
        runtime.start()
    except Exception as exc:
        raise Failure(f"The agent could not start: {exc}", "agent 启动失败") from exc
    panel = _start_panel(runtime, settings, log_path)
    say("Agent running; Ctrl+C stops it", "agent 运行中")
    click.echo(f"Local panel / 本地面板: {panel.url}")
    stopped.wait()
    panel.stop()
    runtime.stop()
    pid_file.unlink(missing_ok=True)


def _start_panel(runtime: HostRuntime, settings: dict[str, Any], log_path: Path) -> Panel:
    """The local panel on its recorded port if that is free, else on any free port; its
    address and token go into agent-runtime.json for the installer and the user."""
    recorded = settings.get("panel") or {}
    token = recorded.get("token") or new_token()
    paths = {
        "log": str(log_path),
        "config": str(config.config_path()),
        "installDirectory": str(config.config_path().parent),
        "codex": runtime.settings.codex_path,
    }
    try:
        panel = Panel(runtime, token, paths, port=int(recorded.get("port") or 0))
    except OSError:
        panel = Panel(runtime, token, paths)
    panel.start()
    current = config.load()
    current["panel"] = {"host": "127.0.0.1", "port": panel.port, "token": token}
    config.save(current)
    return panel


@main.command("update")
def update_command() -> None:
    """Install the relay's newer agent release, if there is one."""
    settings = config.load()
    app_dir = config.config_path().parent / "app"
    outcome = update.update(settings["relayUrl"], app_dir)
    if outcome.updated:
        say(f"Updated to {outcome.version}; restarting the agent applies it", "已更新", fg="green")
    else:
        say(outcome.message, "已是最新版本")


@main.command("uninstall")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def uninstall_command(yes: bool) -> None:
    """Stop the agent, remove its start at logon and its files from this computer."""
    directory = config.config_path().parent
    if not yes:
        click.confirm(f"Remove the agent and {directory}?", abort=True)
    with contextlib.suppress(Failure):  # removed all the same
        lifecycle.stop(directory)
    for entry in autostart.unregister():
        click.echo(f"Removed {entry}")
    if directory.exists():
        shutil.rmtree(directory, ignore_errors=True)
        click.echo(f"Removed {directory}")
    say(
        "Uninstalled. The device stays in your account until you remove it in the console",
        "已卸载;设备仍在账号中,可在控制台移除",
    )


@main.command("start")
def start_command() -> None:
    """Start the agent in the background, if it is not running."""
    settings = config.load()
    directory = config.config_path().parent
    pid = lifecycle.running_pid(directory)
    if pid is not None:
        say(f"The agent is already running (pid {pid or '?'})", "agent 已在运行")
        return
    log_path = Path(settings.get("logPath") or config.log_dir() / "agent.log")
    lifecycle.start(config.config_path(), directory / "app", log_path)
    pid = lifecycle.wait_started(directory)
    if not pid:
        raise Failure(
            "The agent did not start", "agent 未能启动", f"Its log may say why: {log_path}"
        )
    say(f"The agent runs in the background (pid {pid})", "agent 已在后台运行", fg="green")


@main.command("stop")
def stop_command() -> None:
    """Stop the background agent; it starts again at the next logon or with `start`."""
    config.load()  # a clear message on a computer that was never paired
    pid = lifecycle.stop(config.config_path().parent)
    if pid is None:
        say("The agent is not running", "agent 未在运行")
    else:
        say(f"Stopped the agent (pid {pid})", "agent 已停止", fg="green")


@main.command("status")
def status_command() -> None:
    """Show this computer's binding, the agent process, its relay connection and Codex."""
    settings = config.load()
    directory = config.config_path().parent
    click.echo(f"Relay: {settings['relayUrl']}")
    click.echo(f"Device: {settings.get('deviceName')} ({settings['deviceId']})")
    click.echo(f"Workspace: {settings['workspace']}")
    click.echo(f"Config: {config.config_path()}")
    pid = lifecycle.running_pid(directory)
    live = local_status(settings) if pid is not None else None
    if pid is None:
        say("Agent: not running (`python -m agent start`)", "agent 未运行", fg="yellow")
    else:
        click.echo(f"Agent: running (pid {pid or '?'})")
    if live is not None:
        codex = live.get("codex") or {}
        click.echo(f"Relay connection: {live['wss']['state']}")
        click.echo(f"Codex: {codex.get('version') or '?'} ({codex.get('stdioBridge')})")
        if codex.get("versionNote"):
            say(codex["versionNote"], fg="yellow")
        for notice in codex.get("notices") or []:
            say(f"Codex deprecation: {notice}", fg="yellow")
        errors = [codex.get("error"), live.get("lastHeartbeatError"), live.get("lastError")]
        click.echo(f"Last error: {next((e for e in errors if e), 'none')}")
    try:
        device = RelayClient(settings["relayUrl"]).get(
            "/api/agent/device", token=settings["deviceToken"]
        )
    except RelayError as error:
        raise Failure(f"The relay refused this device: {error.message}", "服务器拒绝") from None
    if device.get("online"):
        say("Online", "在线", fg="green")
    else:
        say("Offline", "离线", fg="yellow")


def run(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    for arg in args:
        if arg.split("=", 1)[0] in RETIRED:
            click.secho(f"Error: {RETIRED[arg.split('=', 1)[0]]}", err=True, fg="red")
            raise SystemExit(2)
    if not args or (args[0] not in COMMANDS and args[0] not in ("-h", "--help", "--version")):
        args.insert(0, "install")
    main.main(args=args, prog_name="python -m agent")
