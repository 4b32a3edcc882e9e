"""The ``faxpush`` command line: one module per command group, wired up in :mod:`.main`."""
