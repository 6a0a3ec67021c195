"""Start at logon on each platform, simulated where this machine is not that platform
(SPEC AGT-4, AGT-3), and `uninstall` taking it all away."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from agent.local import autostart, config
from agent.local.autostart import Launch

from .test_agent_lifecycle import hold

ROOT = Path(__file__).resolve().parent.parent


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
    assert f"Exec=env PYTHONPATH={launch.app_dir}" in entry.read_text()


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
