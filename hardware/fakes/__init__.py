"""Device simulators you can tell to misbehave (see hardware/README.md)."""
