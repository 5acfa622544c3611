"""A whole hall on one machine: broker, queue server, simulated kiosks and clerks (`onewindow demo`)."""
