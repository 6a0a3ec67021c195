"""Finds text that is not UTF-8 or that went through a wrong decode (mojibake): UTF-8
bytes shown as GBK or as Windows-1252 (tests/test_repository_text.py has examples)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

# Mojibake of UTF-8 read as GBK mixes CJK with bopomofo, Greek, box drawing and the like.
CJK_RUN = re.compile(r"[^\x00-\x7f]{3,}")
LATIN_RUN = re.compile(
    r"[\u00c2-\u00f4][\u0080-\u00bf\u0152-\u0178\u02c6\u02dc\u2013-\u203a\u20ac\u2122]+"
)
CJK_PAIR = re.compile(r"[\u3400-\u9fff]{2}")
BINARY_SUFFIXES = {
    ".mo",
    ".png",
    ".ico",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".woff",
    ".woff2",
    ".sqlite3",
    ".gz",
    ".zip",
    ".pdf",
}


def _gbk_mojibake(run: str) -> bool:
    """Undo a suspected UTF-8-shown-as-GBK decode and see whether Chinese comes back."""
    try:
        raw = run.encode("gbk", errors="replace")
    except UnicodeEncodeError:
        return False
    recovered = raw.decode("utf-8", errors="replace")
    # Two CJK characters in a row need six bytes in exactly UTF-8's pattern: mojibake
    # gives them back readily, genuine GBK-encodable Chinese practically never does.
    return CJK_PAIR.search(recovered) is not None


def _latin_mojibake(run: str) -> bool:
    try:
        return run.encode("cp1252").decode("utf-8") != run
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False


def problems_in(text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if "\ufffd" in line:
            found.append(f"line {number}: replacement character")
        for run in CJK_RUN.findall(line):
            if _gbk_mojibake(run):
                found.append(f"line {number}: UTF-8 shown as GBK: {run!r}")
        for run in LATIN_RUN.findall(line):
            if _latin_mojibake(run):
                found.append(f"line {number}: UTF-8 shown as Windows-1252: {run!r}")
    return found


def scan_file(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.suffix.lower() in BINARY_SUFFIXES or b"\0" in data:
        return []
    if data.startswith(b"\xef\xbb\xbf"):
        return ["starts with a byte-order mark"]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"not UTF-8 at byte {exc.start}"]
    return problems_in(text)


def repository_files(root: Path) -> list[Path]:
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        )
        .stdout.decode("utf-8")
        .split("\0")
    )
    return [root / name for name in listed if name and (root / name).is_file()]
