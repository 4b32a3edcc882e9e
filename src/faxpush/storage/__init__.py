"""Storage backends behind one async :class:`~faxpush.storage.base.Store` protocol."""
