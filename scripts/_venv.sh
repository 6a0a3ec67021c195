# Sourced by scripts/relay and scripts/test: make sure .venv holds this checkout's
# dependencies (created on first use, refreshed when pyproject.toml changes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

pick_python() {
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "codexpanel needs Python 3.11 or newer on PATH." >&2
    exit 1
}

STAMP=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x .venv/bin/python ]; then
    "$(pick_python)" -m venv .venv
fi
if [ ! -f "$STAMP" ]; then
    echo "Installing codexpanel and its dependencies into .venv ..." >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >&2
    .venv/bin/python -m pip install --quiet -e '.[test]' >&2
    rm -f .venv/.installed-*
    touch "$STAMP"
fi
