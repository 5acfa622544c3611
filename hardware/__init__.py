"""Hardware at a service point: thermal printers (and their fakes for tests)."""
