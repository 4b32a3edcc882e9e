"""``make run``: the demo (:mod:`faxpush.emulator.demo`) with the operator API and the web
console mounted at ``/admin`` like ``faxpush serve`` does; it prints the console's URL and
a user to log in with. ``python -m faxpush.cli.demo [--port N]``."""

from __future__ import annotations

from faxpush.cli._console import admin_mounts
from faxpush.emulator.demo import main

if __name__ == "__main__":
    raise SystemExit(main(mounts_for=lambda settings: admin_mounts(settings, metrics=None)))
