"""Pure core of faxpush: models, codecs, templates, status codes, retry and outcome rules.

Nothing in this package does I/O: no network, database or asyncio imports (a test checks it).
"""
