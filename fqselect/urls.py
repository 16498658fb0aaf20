"""Stream URLs: which inputs are live streams, and their passwords kept out of everything fqselect
writes or shows (logs, records, manifests, reports, the process title). Only `re` is imported here: the
command hides its title before anything heavy loads."""

from __future__ import annotations

import re
import sys

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "rtmps://", "udp://", "tcp://", "srt://")
_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@/\s]*@")


def is_stream(path: str) -> bool:
    """A URL fqselect reads as a live stream, or a capture device."""
    return path.lower().startswith(STREAM_SCHEMES) or re.fullmatch(r"/dev/video\d+", path) is not None


def masked(text: str) -> str:
    """`text` with the password of every URL in it replaced by ***."""
    return _PASSWORD.sub(r"\1***@", text)


def hide_credentials(argv: list[str] | None = None) -> None:
    """The process title (`ps`, /proc/PID/cmdline) without the passwords of URLs on the command line."""
    argv = sys.argv if argv is None else argv
    if any(masked(arg) != arg for arg in argv):
        import setproctitle

        setproctitle.setproctitle(masked(" ".join(["fqselect", *argv[1:]])))
