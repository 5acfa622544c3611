"""The kiosk: where citizens take a ticket and their one-time notice slip."""
