"""Start at logon on each platform, simulated where this machine is not that platform
(SPEC AGT-4, AGT-3), and `uninstall` taking it all away."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import agent
from agent.local import autostart, config
from agent.local.autostart import Launch

from .conftest import require
from .test_agent_lifecycle import hold

# The agent has no Django: the relay's database and channel layer change nothing here.
pytestmark = pytest.mark.agent_alone

ROOT = Path(__file__).resolve().parent.parent
# A folder as people name theirs: a space, a quote, and what unit files and desktop entries
# treat as their own (a specifier or field code, an expansion, an escape).
AWKWARD = 'O\'Brien 50%zoff $HOME "x" \\y'


def awkward_launch(tmp_path: Path) -> Launch:
    folder = tmp_path / AWKWARD
    folder.mkdir()
    (folder / "python").symlink_to(sys.executable)
    return Launch(str(folder / "python"), folder / "app", folder / "agent-runtime.json")


def agent_version_through(arguments: list[str], environment: dict[str, str]) -> str:
    """Run what a launcher declares, with `--version` for `run`, as the OS would start it."""
    assert arguments[-1] == "run"
    done = subprocess.run(
        [*arguments[:-1], "--version"],
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def launch(tmp_path: Path) -> Launch:
    return Launch("/opt/venv/bin/python", tmp_path / "app", tmp_path / "agent-runtime.json")


class Recorder:
    def __init__(self, answer: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.answer = answer

    def __call__(self, command):
        self.calls.append(list(command))
        return self.answer


def test_linux_with_user_systemd_gets_an_enabled_unit(tmp_path, launch, monkeypatch):
    monkeypatch.setattr(autostart.shutil, "which", lambda name: "/usr/bin/systemctl")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    runner = Recorder()
    unit = autostart.register_linux(launch, tmp_path, run=runner)
    assert unit == tmp_path / ".config/systemd/user/codexpanel-agent.service"
    text = unit.read_text()
    assert 'ExecStart="/opt/venv/bin/python" "-m" "agent" "run"' in text
    assert f'Environment="PYTHONPATH={launch.app_dir}"' in text
    assert "Restart=on-failure" in text
    assert ["systemctl", "--user", "enable", "codexpanel-agent.service"] in runner.calls


def test_linux_without_user_systemd_uses_xdg_autostart(tmp_path, launch, monkeypatch):
    monkeypatch.setattr(autostart.shutil, "which", lambda name: None)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    entry = autostart.register_linux(launch, tmp_path, run=Recorder())
    assert entry == tmp_path / "cfg/autostart/codexpanel-agent.desktop"
    assert f'Exec="env" "PYTHONPATH={launch.app_dir}"' in entry.read_text()


def test_linux_uninstall_removes_ours_and_the_node_agents_entries(tmp_path, launch, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    old = tmp_path / "cfg/autostart/codexpanel.desktop"
    old.parent.mkdir(parents=True)
    old.write_text("[Desktop Entry]\n")
    monkeypatch.setattr(autostart.shutil, "which", lambda name: None)
    ours = autostart.register_linux(launch, tmp_path, run=Recorder())
    removed = autostart.unregister_linux(tmp_path, run=Recorder())
    assert set(removed) == {ours, old}
    assert not ours.exists() and not old.exists()


def test_macos_gets_a_launch_agent_that_keeps_the_agent_alive(tmp_path, launch):
    runner = Recorder()
    plist_path = autostart.register_macos(launch, tmp_path, tmp_path / "agent.log", run=runner)
    assert plist_path == tmp_path / "Library/LaunchAgents/com.codexpanel.agent.plist"
    plist = plistlib.loads(plist_path.read_bytes())
    assert plist["ProgramArguments"] == ["/opt/venv/bin/python", "-m", "agent", "run"]
    assert plist["EnvironmentVariables"]["CODEXPANEL_AGENT_CONFIG"] == str(launch.config_file)
    assert plist["RunAtLoad"] is True
    assert any(call[1] == "bootstrap" for call in runner.calls)
    assert autostart.unregister_macos(tmp_path, run=runner) == [plist_path]
    assert not plist_path.exists()


def test_the_systemd_unit_passes_systemd_analyze_even_in_an_awkward_folder(tmp_path):
    """systemd-analyze checks the unit as systemd reads it. Not proven here: a user manager
    starting it at logon (this machine runs no user systemd session)."""
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze (apt-get install systemd)")
    unit = tmp_path / autostart.UNIT
    unit.write_text(autostart.systemd_unit(awkward_launch(tmp_path)))
    checked = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    # The check is real: the unit as written before, with the program named directly and
    # `%` left bare, is refused for each.
    text = unit.read_text()
    for broken in (text.replace('"/usr/bin/env" ', ""), text.replace("%%", "%")):
        unit.write_text(broken)
        assert subprocess.run([analyze, "verify", str(unit)], capture_output=True).returncode


def test_the_xdg_autostart_entry_passes_desktop_file_validate_in_an_awkward_folder(tmp_path):
    """Not proven here: a desktop session starting it at logon (this machine has none)."""
    validate = shutil.which("desktop-file-validate")
    require(validate is not None, "desktop-file-validate (apt-get install desktop-file-utils)")
    entry = tmp_path / autostart.DESKTOP
    entry.write_text(autostart.desktop_entry(awkward_launch(tmp_path)))
    checked = subprocess.run([validate, str(entry)], capture_output=True, text=True)
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout
    entry.write_text(entry.read_text().replace("%%", "%"))
    assert subprocess.run([validate, str(entry)], capture_output=True).returncode != 0


def test_the_launch_agent_is_a_valid_plist_whose_command_starts_this_agent(tmp_path):
    """plistlib reads it back as launchd's keys, and its command and environment start this
    agent. Not proven here: launchd loading it (no macOS, no plutil on this machine)."""
    launch = Launch(sys.executable, ROOT, tmp_path / AWKWARD / "agent-runtime.json")
    plist = plistlib.loads(autostart.launch_agent(launch, tmp_path / "agent.log"))
    assert set(plist) == {
        "Label", "ProgramArguments", "EnvironmentVariables", "RunAtLoad", "KeepAlive",
        "StandardOutPath", "StandardErrorPath",
    }  # fmt: skip
    assert plist["Label"] == autostart.LABEL
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert Path(plist["ProgramArguments"][0]).is_absolute()
    assert all(isinstance(value, str) for value in plist["EnvironmentVariables"].values())
    assert plist["EnvironmentVariables"]["CODEXPANEL_AGENT_CONFIG"] == str(launch.config_file)
    version = agent_version_through(plist["ProgramArguments"], plist["EnvironmentVariables"])
    assert version.endswith(agent.__version__)


class FakeWinreg(types.ModuleType):
    """The calls RunKey makes of winreg, as Windows answers them. Not proven here: the real
    registry, and Windows running the entry at logon (this machine is not Windows)."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    REG_SZ = 1

    def __init__(self) -> None:
        super().__init__("winreg")
        self.keys: dict[str, dict[str, tuple[int, str]]] = {}

    class Key:
        def __init__(self, values: dict[str, tuple[int, str]]) -> None:
            self.values = values

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def CreateKey(self, root: str, path: str):
        return self.Key(self.keys.setdefault(f"{root}\\{path}", {}))

    def OpenKey(self, root: str, path: str, reserved: int, access: int):
        assert access == self.KEY_SET_VALUE
        if f"{root}\\{path}" not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self.Key(self.keys[f"{root}\\{path}"])

    def SetValueEx(self, key, name: str, reserved: int, kind: int, value: str) -> None:
        key.values[name] = (kind, value)

    def DeleteValue(self, key, name: str) -> None:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del key.values[name]


def test_the_windows_run_key_is_written_and_removed_through_winreg(tmp_path, monkeypatch):
    winreg = FakeWinreg()
    monkeypatch.setitem(sys.modules, "winreg", winreg)
    assert autostart.unregister_windows() == []  # no Run key yet: nothing to remove
    launch = Launch(str(tmp_path / "venv" / "python.exe"), ROOT, tmp_path / "missing.json")
    command = autostart.register_windows(launch)
    run_key = winreg.keys["HKCU\\" + autostart.RunKey.PATH]
    assert run_key == {autostart.RUN_VALUE: (winreg.REG_SZ, command)}
    run_key["CodexPanel"] = (winreg.REG_SZ, "node desktop-agent.js")  # the Node agent's
    assert sorted(autostart.unregister_windows()) == ["CodexPanel", autostart.RUN_VALUE]
    assert run_key == {}


def test_on_windows_the_entry_prefers_pythonw_and_falls_back_to_python(tmp_path, monkeypatch):
    monkeypatch.setattr(autostart.sys, "platform", "win32")
    python = tmp_path / "venv" / "python.exe"
    launch = Launch(str(python), ROOT, tmp_path / "cfg.json")
    launcher = tmp_path / "launch-agent.py"
    assert autostart.windows_command(launch, launcher) == f'"{python}" "{launcher}"'
    python.parent.mkdir()
    (python.parent / "pythonw.exe").write_bytes(b"")
    assert autostart.windows_command(launch, launcher) == (
        f'"{python.parent / "pythonw.exe"}" "{launcher}"'
    )


def test_the_windows_launcher_starts_this_agent_from_its_release_folder(tmp_path):
    """Run with this machine's Python: the launcher reaches this agent's own CLI, which
    says the computer is not paired (its config is not there)."""
    config_file = tmp_path / AWKWARD / "agent-runtime.json"
    launcher = tmp_path / "launch-agent.py"
    launcher.write_text(autostart.windows_launcher(Launch("python", ROOT, config_file)))
    done = subprocess.run(
        [sys.executable, str(launcher)],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )
    assert done.returncode == 1
    assert f"not paired yet ({config_file} is missing)" in done.stderr


class FakeRunKey(autostart.RunKey):
    def __init__(self) -> None:
        self.values: dict[str, str] = {"CodexPanel": "node desktop-agent.js"}

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> bool:
        return self.values.pop(name, None) is not None


def test_windows_gets_a_per_user_run_entry_that_sets_up_its_environment(tmp_path):
    # A folder name with a quote in it, as Windows user names may have.
    folder = tmp_path / "O'Brien"
    launch = Launch(str(folder / "venv" / "python.exe"), folder / "app", folder / "cfg.json")
    registry = FakeRunKey()
    command = autostart.register_windows(launch, registry)
    launcher = folder / "launch-agent.py"
    assert registry.values["CodexPanelAgent"] == command
    assert command == f'"{folder / "venv" / "pythonw.exe"}" "{launcher}"'
    source = launcher.read_text()
    compile(source, "launch-agent.py", "exec")
    assert f"os.environ['PYTHONPATH'] = {str(folder / 'app')!r}" in source
    assert "runpy.run_module('agent'" in source
    assert sorted(autostart.unregister_windows(registry)) == ["CodexPanel", "CodexPanelAgent"]
    assert registry.values == {}


def test_install_folders_follow_each_platform(monkeypatch, tmp_path):
    monkeypatch.delenv("CODEXPANEL_AGENT_CONFIG", raising=False)
    monkeypatch.setattr(config, "on_windows", lambda: True)
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert config.install_dir() == tmp_path / "Local" / "CodexPanelAgent"
    monkeypatch.setattr(config, "on_windows", lambda: False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert config.install_dir() == tmp_path / "data" / "CodexPanelAgent"
    monkeypatch.setenv("CODEXPANEL_AGENT_CONFIG", str(tmp_path / "elsewhere.json"))
    assert config.config_path() == tmp_path / "elsewhere.json"


def test_the_config_file_is_for_the_user_only_and_bad_files_are_explained(tmp_path):
    path = config.save({"relayUrl": "http://r", "deviceToken": "cpd_x"}, tmp_path / "c.json")
    assert (path.stat().st_mode & 0o777) == 0o600
    with pytest.raises(config.Failure, match="lacks"):
        config.load(path)
    path.write_text("{not json")
    with pytest.raises(config.Failure, match="Cannot read"):
        config.load(path)


def test_uninstall_stops_the_agent_and_removes_its_files_and_autostart(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "PYTHONPATH": str(ROOT),
    }
    directory = tmp_path / "data" / "CodexPanelAgent"
    (directory / "app" / "agent").mkdir(parents=True)
    (directory / "agent-runtime.json").write_text("{}")
    # Holds the agent lock and writes its pid, as `python -m agent run` does.
    sleeper = hold(directory)
    entry = tmp_path / "cfg" / "autostart" / "codexpanel-agent.desktop"
    entry.parent.mkdir(parents=True)
    entry.write_text("[Desktop Entry]\n")
    done = subprocess.run(
        [sys.executable, "-m", "agent", "uninstall", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sleeper.wait(timeout=10) == 0  # it heard SIGTERM and left
    assert not directory.exists() and not entry.exists()
    assert "Uninstalled" in done.stdout
    assert os.environ.get("HOME") != str(tmp_path)  # the real home was never touched
