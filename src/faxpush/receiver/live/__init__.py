"""``faxpush listen --ui``: a page listing the pushes as they arrive (see :mod:`.app`)."""

from faxpush.receiver.live.app import PREFIX, LiveApp, render_push
from faxpush.receiver.live.ring import DEFAULT_KEEP, LivePush, LiveRing

__all__ = ["DEFAULT_KEEP", "PREFIX", "LiveApp", "LivePush", "LiveRing", "render_push"]
