"""Starting the agent at logon (SPEC AGT-4): a systemd user unit on Linux (XDG autostart
where there is no user systemd), a LaunchAgent on macOS, the per-user Run key on Windows.
`uninstall` removes whichever was made, including the original Node agent's entries."""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

LABEL = "com.codexpanel.agent"
UNIT = "codexpanel-agent.service"
DESKTOP = "codexpanel-agent.desktop"
RUN_VALUE = "CodexPanelAgent"
# What the original (Node) agent registered; removed so two agents never start.
NODE_ERA_ENTRIES = ("codexpanel-desktop-agent.service", "codexpanel.desktop", "CodexPanel")

Runner = Callable[[Sequence[str]], int]


def run_quietly(command: Sequence[str]) -> int:
    try:
        return subprocess.run(list(command), capture_output=True, timeout=30).returncode  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return 127


@dataclass(frozen=True)
class Launch:
    """How to start the agent: interpreter, the release folder and the config file."""

    python: str
    app_dir: Path
    config_file: Path

    @property
    def arguments(self) -> list[str]:
        return [self.python, "-m", "agent", "run"]

    @property
    def environment(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.app_dir), "CODEXPANEL_AGENT_CONFIG": str(self.config_file)}


def _config_home(home: Path) -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")


# --- Linux ---------------------------------------------------------------------------------


def _systemd_quoted(value: str, *, command: bool = False) -> str:
    """One quoted word of a unit file. A folder may hold a space, a quote, `%` (a systemd
    specifier) or `$` (expanded in a command's arguments): each is written so it stays."""
    text = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{text.replace("$", "$$") if command else text}"'


def systemd_unit(launch: Launch) -> str:
    environment = "\n".join(
        f"Environment={_systemd_quoted(f'{k}={v}')}" for k, v in launch.environment.items()
    )
    # systemd refuses a program whose path holds a quote or a backslash (a folder named
    # O'Brien, say): env starts it instead, the path then an argument like any other.
    # `$` is expanded in a command's arguments, never in the program's own name.
    program, *arguments = launch.arguments
    if set(program) & set("'\"\\"):
        program, arguments = "/usr/bin/env", [program, *arguments]
    command = " ".join(
        [_systemd_quoted(program), *(_systemd_quoted(part, command=True) for part in arguments)]
    )
    return (
        "[Unit]\nDescription=codexpanel desktop agent\nAfter=network-online.target\n\n"
        f"[Service]\n{environment}\nExecStart={command}\nRestart=on-failure\nRestartSec=5\n\n"
        "[Install]\nWantedBy=default.target\n"
    )


def _desktop_quoted(value: str) -> str:
    """One argument of a desktop entry's Exec key: quoted, with `"`, `` ` ``, `$` and `\\`
    escaped inside the quotes, every backslash then escaped again as the file's string
    values require, and `%` (a field code) doubled."""
    inner = re.sub(r'(["`$\\\\])', r"\\\1", value)
    return '"' + inner.replace("\\", "\\\\").replace("%", "%%") + '"'


def desktop_entry(launch: Launch) -> str:
    words = ["env", *(f"{k}={v}" for k, v in launch.environment.items()), *launch.arguments]
    return (
        "[Desktop Entry]\nType=Application\nName=codexpanel agent\n"
        f"Exec={' '.join(_desktop_quoted(word) for word in words)}\n"
        "X-GNOME-Autostart-enabled=true\nNoDisplay=true\n"
    )


def register_linux(launch: Launch, home: Path, run: Runner = run_quietly) -> Path:
    config_home = _config_home(home)
    if shutil.which("systemctl") and run(["systemctl", "--user", "show-environment"]) == 0:
        unit = config_home / "systemd" / "user" / UNIT
        unit.parent.mkdir(parents=True, exist_ok=True)
        unit.write_text(systemd_unit(launch))
        run(["systemctl", "--user", "daemon-reload"])
        run(["systemctl", "--user", "enable", UNIT])
        return unit
    entry = config_home / "autostart" / DESKTOP
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(desktop_entry(launch))
    return entry


def unregister_linux(home: Path, run: Runner = run_quietly) -> list[Path]:
    config_home = _config_home(home)
    removed = []
    for name in (UNIT, *NODE_ERA_ENTRIES):
        unit = config_home / "systemd" / "user" / name
        if unit.exists():
            run(["systemctl", "--user", "disable", name])
            unit.unlink()
            removed.append(unit)
    for name in (DESKTOP, *NODE_ERA_ENTRIES):
        entry = config_home / "autostart" / name
        if entry.exists():
            entry.unlink()
            removed.append(entry)
    return removed


# --- macOS ---------------------------------------------------------------------------------


def launch_agent(launch: Launch, log_file: Path) -> bytes:
    return plistlib.dumps(
        {
            "Label": LABEL,
            "ProgramArguments": launch.arguments,
            "EnvironmentVariables": launch.environment,
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "StandardOutPath": str(log_file),
            "StandardErrorPath": str(log_file),
        }
    )


def register_macos(launch: Launch, home: Path, log_file: Path, run: Runner = run_quietly) -> Path:
    plist = home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    plist.parent.mkdir(parents=True, exist_ok=True)
    plist.write_bytes(launch_agent(launch, log_file))
    domain = f"gui/{os.getuid()}" if hasattr(os, "getuid") else "gui"
    run(["launchctl", "bootout", domain, str(plist)])
    run(["launchctl", "bootstrap", domain, str(plist)])
    return plist


def unregister_macos(home: Path, run: Runner = run_quietly) -> list[Path]:
    removed = []
    folder = home / "Library" / "LaunchAgents"
    for name in (f"{LABEL}.plist", "com.codexpanel.desktop-agent.plist"):
        plist = folder / name
        if plist.exists():
            domain = f"gui/{os.getuid()}" if hasattr(os, "getuid") else "gui"
            run(["launchctl", "bootout", domain, str(plist)])
            plist.unlink()
            removed.append(plist)
    return removed


# --- Windows -------------------------------------------------------------------------------


def windows_launcher(launch: Launch) -> str:
    """A small Python file that sets the environment and runs the agent: the Run key
    cannot set environment variables, and a file needs no command-line quoting."""
    return (
        "import os, runpy, sys\n"
        f"os.environ['PYTHONPATH'] = {str(launch.app_dir)!r}\n"
        f"os.environ['CODEXPANEL_AGENT_CONFIG'] = {str(launch.config_file)!r}\n"
        f"sys.path.insert(0, {str(launch.app_dir)!r})\n"
        "sys.argv = ['agent', 'run']\n"
        "runpy.run_module('agent', run_name='__main__')\n"
    )


def windows_command(launch: Launch, launcher: Path) -> str:
    pythonw = Path(launch.python).with_name("pythonw.exe")
    python = pythonw if pythonw.exists() or sys.platform != "win32" else Path(launch.python)
    return f'"{python}" "{launcher}"'


class RunKey:
    """HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run through winreg."""

    PATH = r"Software\Microsoft\Windows\CurrentVersion\Run"

    def set(self, name: str, value: str) -> None:
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, self.PATH) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> bool:
        import winreg

        try:
            with winreg.OpenKey(
                winreg.HKEY_CURRENT_USER, self.PATH, 0, winreg.KEY_SET_VALUE
            ) as key:
                winreg.DeleteValue(key, name)
            return True
        except OSError:
            return False


def register_windows(launch: Launch, registry: RunKey | None = None) -> str:
    launcher = launch.config_file.parent / "launch-agent.py"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(windows_launcher(launch), encoding="utf-8")
    command = windows_command(launch, launcher)
    (registry or RunKey()).set(RUN_VALUE, command)
    return command


def unregister_windows(registry: RunKey | None = None) -> list[str]:
    registry = registry or RunKey()
    return [name for name in (RUN_VALUE, *NODE_ERA_ENTRIES) if registry.delete(name)]


# --- this platform -------------------------------------------------------------------------


def register(launch: Launch, log_file: Path, platform: str = sys.platform) -> str:
    home = Path.home()
    if platform == "win32":
        return register_windows(launch)
    if platform == "darwin":
        return str(register_macos(launch, home, log_file))
    return str(register_linux(launch, home))


def unregister(platform: str = sys.platform) -> list[str]:
    home = Path.home()
    if platform == "win32":
        return unregister_windows()
    if platform == "darwin":
        return [str(p) for p in unregister_macos(home)]
    return [str(p) for p in unregister_linux(home)]
