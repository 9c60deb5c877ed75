"""A crontab's bytes as text, refused with the line named when it is not a crontab."""

from __future__ import annotations

from runner.errors import UsageError


class CrontabTextError(UsageError):
    """The crontab is not text cron and runwatch read alike (binary, not UTF-8)."""


def decode_crontab(data: bytes, source: str) -> str:
    """The crontab as text; CrontabTextError naming ``source:line`` for a NUL or bad UTF-8."""
    nul = data.find(b"\0")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if nul == -1 or exc.start < nul:
            line = data.count(b"\n", 0, exc.start) + 1
            raise CrontabTextError(
                f"{source}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}): "
                "is this a crontab?"
            ) from None
    if nul != -1:
        line = data.count(b"\n", 0, nul) + 1
        raise CrontabTextError(
            f"{source}:{line}: a NUL byte, which cron reads as the end of the line: "
            "is this a crontab?"
        )
    return text
