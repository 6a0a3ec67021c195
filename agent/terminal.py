"""Terminal lines in English and Simplified Chinese, as the original installer printed
them (SPEC AGT-1): "Downloading host-runtime files / 预下载资源"."""

from __future__ import annotations

import click


def say(english: str, chinese: str = "", *, err: bool = False, fg: str | None = None) -> None:
    line = f"{english} / {chinese}" if chinese else english
    click.secho(line, err=err, fg=fg)


class Failure(click.ClickException):
    """A failure the installer explains: what happened and what to do next."""

    def __init__(self, english: str, chinese: str = "", hint: str = "") -> None:
        message = f"{english} / {chinese}" if chinese else english
        if hint:
            message += f"\n{hint}"
        super().__init__(message)
