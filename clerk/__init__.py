"""The window device bridge (`onewindow bridge`): clerk call pads and rating pads on an RS-485 bus,
speaking to the queue server through MQTT like any other client."""
