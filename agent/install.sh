#!/bin/sh
# codexpanel agent installer for macOS and Linux (SPEC AGT-0).
#
#   curl -fsSL https://RELAY/agent/install.sh | sh -s -- --server https://RELAY [options]
#
# Creates the agent's own virtual environment, downloads the agent files the relay lists in
# /agent/version (each checked against its sha256), installs the agent's few dependencies,
# then runs `python -m agent install` with the arguments given.
set -eu

say() { printf '%s\n' "$*" >&2; }
fail() { say "Error: $*"; exit 1; }

server=""
previous=""
for arg in "$@"; do
    case "$previous" in --server) server="$arg" ;; esac
    case "$arg" in --server=*) server="${arg#--server=}" ;; esac
    previous="$arg"
done
[ -n "$server" ] || server="${CODEXPANEL_SERVER:-}"
case "$server" in
    http://*|https://*) ;;
    *) fail "pass --server https://your-relay (the address this script came from)" ;;
esac
server="${server%/}"

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python="$(command -v "$candidate")"
        break
    fi
done
[ -n "$python" ] || fail "Python 3.11 or newer is needed (python.org, or your package manager)"

if [ "$(uname -s)" = "Darwin" ]; then
    home_dir="$HOME/Library/Application Support/CodexPanelAgent"
else
    home_dir="${XDG_DATA_HOME:-$HOME/.local/share}/CodexPanelAgent"
fi
mkdir -p "$home_dir"
say "Install directory / 安装目录: $home_dir"

# A venv left half-made (no python3-venv on Debian, say) is made again.
if ! "$home_dir/venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$home_dir/venv"
    say "Creating the agent's Python environment / 创建 Python 环境"
    "$python" -m venv "$home_dir/venv" || fail "python -m venv failed (Debian/Ubuntu: apt install python3-venv)"
fi
venv_python="$home_dir/venv/bin/python"

say "Downloading host-runtime files / 预下载资源"
"$venv_python" - "$server" "$home_dir/bootstrap" <<'PY'
import hashlib, json, pathlib, shutil, sys, urllib.request

server, target = sys.argv[1], pathlib.Path(sys.argv[2])
def fetch(path):
    with urllib.request.urlopen(server + path, timeout=30) as response:
        return response.read()
manifest = json.loads(fetch("/agent/version"))
staged = target.with_name(target.name + ".new")
shutil.rmtree(staged, ignore_errors=True)
for entry in manifest["files"]:
    relative = pathlib.PurePosixPath(entry["path"])
    if relative.is_absolute() or ".." in relative.parts:
        sys.exit(f"Error: unsafe path in the manifest: {relative}")
    content = fetch("/agent/" + entry["path"])
    if hashlib.sha256(content).hexdigest() != entry["sha256"]:
        sys.exit(f"Error: {relative} does not match its sha256; run the installer again")
    destination = staged / "agent" / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(content)
shutil.rmtree(target, ignore_errors=True)
staged.rename(target)
print(f"agent {manifest['agentVersion']}: {len(manifest['files'])} files verified", file=sys.stderr)
PY

say "Installing the agent's dependencies / 安装依赖"
"$venv_python" -m pip install --quiet --disable-pip-version-check \
    -r "$home_dir/bootstrap/agent/requirements.txt" || fail "pip could not install the dependencies"

# Piped into sh, stdin is this script: the installer's questions need the terminal.
if [ ! -t 0 ] && (exec </dev/tty) 2>/dev/null; then
    exec </dev/tty
fi
PYTHONPATH="$home_dir/bootstrap" exec "$venv_python" -m agent install "$@"
