"""Every text file of the repository is UTF-8 with no mojibake (SPEC §9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .textscan import problems_in, repository_files, scan_file

ROOT = Path(__file__).resolve().parent.parent


def test_every_text_file_is_utf8_without_mojibake():
    files = repository_files(ROOT)
    assert len(files) > 20
    report = {str(path.relative_to(ROOT)): issues for path in files if (issues := scan_file(path))}
    assert report == {}


@pytest.mark.parametrize(
    "broken",
    [
        # Built at run time so this file itself stays clean for the repository scan.
        "[\u6d93\ue15f\u6783\u9417\u581f\u6e70](README.zh.md)",  # an old README's "中文版本"
        "用户名或密码错误".encode().decode("gbk", errors="replace"),
        "Café and it’s".encode().decode("cp1252"),
        "lost \ufffd byte",
    ],
)
def test_the_scan_recognises_mojibake(broken: str):
    assert problems_in(broken)


@pytest.mark.parametrize(
    "sound",
    [
        "用户名或密码错误。",
        "你的 codexpanel 登录验证码是 %(code)s。它在 %(minutes)d 分钟后过期，只能使用一次。",
        "绑定成功。你可以关闭此浏览器或返回安装程序。",
        "Downloading host-runtime files / 预下载资源",
        "Café, naïve, Zürich — “quoted” · ±5 €",
    ],
)
def test_the_scan_accepts_real_chinese_and_accented_text(sound: str):
    assert problems_in(sound) == []


def test_the_scan_refuses_files_that_are_not_utf8(tmp_path):
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes("中文".encode("gbk"))
    assert scan_file(legacy) == ["not UTF-8 at byte 0"] or scan_file(legacy)[0].startswith(
        "not UTF-8"
    )
