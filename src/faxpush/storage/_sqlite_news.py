"""How the SQLite store hears that another connection committed: ``PRAGMA data_version``.

SQLite sends no notifications, but each connection keeps a number, ``PRAGMA data_version``,
that changes when another connection, in this process or any other, has committed to the
database since the connection last looked, and never for the connection's own commits. A read
takes about 16 µs and no lock that a writer waits for. :class:`CommitWatch` looks every
:data:`POLL_S` while the dispatcher waits for news (``SqliteStore.wait_for_work``), so a push
that ``faxpush admin`` queues wakes a ``faxpush worker`` on the same file within about one
poll instead of at its next claim (``FAXPUSH_POLL_INTERVAL``, 1 s).

Two connections are read, so that neither idling nor being busy costs much:

* every poll, a read-only connection of the watch's own, on the event loop: a hop to the
  store's thread and back would cost about 150 µs of CPU more per look (measured: 100 looks
  a second cost 3 % of a core that way, 1.6 % on the loop). Its number changes on every
  commit, the store's own included;
* only when that one changed, the connection that writes for the store: its number ignores
  the store's own commits (the dispatcher's claims, results, lease renewals), so only another
  writer is news. With a store process that is the process's connection
  (:mod:`._sqlite_process`; the thread's connection only reads there and sees every commit
  of the process); without one, or before it runs, the thread's.

So a busy worker is not woken by its own work, and an idle one pays one timer and one read
per look. Why 25 ms: on the shared 2-core machine of ``docs/benchmarks.md`` the timer is most
of that cost (a bare 100 Hz asyncio timer takes about 1 % of a core). An idle ``faxpush
worker`` (its process and store process, 30 s, from ``/proc/*/schedstat``) used 0.13 % of a
core before; 1.0 % with a look every 20 ms, 0.78 % every 25 ms. A commit by another process
through another connection then wakes the waiter 17 ms later in the median, 20 ms at most
(20 commits).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable

from faxpush._db.sqlite import connect
from faxpush.core.errors import ConfigurationError
from faxpush.storage._sqlite_hot import sqlite_work_committing_itself, work_name

POLL_S = 0.025

# Which connection a version was read on, and the version: versions of different
# connections are not comparable.
Reading = tuple[str, int]


# Marked as committing itself so that a store process runs it as it is, outside a write
# transaction: it only reads a counter, and must not wait for SQLite's write lock.
@sqlite_work_committing_itself
def data_version(conn: sqlite3.Connection) -> int:
    """The connection's ``PRAGMA data_version``."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


DATA_VERSION = work_name(data_version)


class CommitWatch:
    """Tells when another connection has committed to the database at ``location``; see
    the module docstring. The versions last read are kept between waits: a commit that lands
    between two waits is news for the second. Close with :meth:`close`."""

    def __init__(self, location: str) -> None:
        self._location = location
        self._watch: sqlite3.Connection | None = None
        self._watched: int | None = None  # the watch connection's last version
        self._seen: Reading | None = None  # the writing connection's last reading
        self._closed = False

    async def wait(self, timeout: float, read_writer: Callable[[], Awaitable[Reading]]) -> bool:  # noqa: ASYNC109 - the store's long poll
        """True as soon as another connection has committed since the last look (the first
        look only notes where the database stands), False after ``timeout`` seconds.
        ``read_writer`` reads the writing connection's version."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            if self._anyone_committed() and self._news(await read_writer()):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(POLL_S, remaining))

    def close(self) -> None:
        """Close the watch connection for good (a wait still under way asks only the
        writing connection, which says that the store is closed). Safe to call twice."""
        self._closed = True
        self._drop_watch()

    def _drop_watch(self) -> None:
        watch, self._watch, self._watched = self._watch, None, None
        if watch is not None:
            watch.close()

    def _anyone_committed(self) -> bool:
        """Whether any connection, the store's own included, may have committed since the
        last look. A watch connection that cannot be opened or read (a moment of WAL
        recovery: it never waits for a lock) answers yes; the writing connection decides."""
        if self._closed:
            return True
        try:
            if self._watch is None:
                self._watch = _open_watch(self._location)
            version = int(self._watch.execute("PRAGMA data_version").fetchone()[0])
        except (sqlite3.Error, ConfigurationError):
            self._drop_watch()
            return True
        changed = version != self._watched
        self._watched = version
        return changed

    def _news(self, reading: Reading) -> bool:
        """Whether the writing connection's ``reading`` differs from the last one. A reading
        of another connection (the store process started, or started again) counts as news:
        a commit between the two cannot be ruled out."""
        seen, self._seen = self._seen, reading
        return seen is not None and seen != reading


def _open_watch(location: str) -> sqlite3.Connection:
    if location == ":memory:":  # no other connection can write to it: nothing to watch
        return sqlite3.connect(location)
    return connect(location, 0.0, read_only=True)  # never waits for a lock
