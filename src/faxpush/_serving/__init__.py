"""Serving HTTP apps with uvicorn behind request deadlines and a connection limit.

Shared by every server faxpush runs: ``faxpush listen``, ``faxpush serve`` and the demo's
receiver. :mod:`.limits` and :mod:`.throttle` import nothing beyond the standard library;
:mod:`.connections` and :mod:`.server` import uvicorn, which is only needed to serve;
:mod:`.answers` holds the answers the emulator's and the operator's APIs give alike.
"""
