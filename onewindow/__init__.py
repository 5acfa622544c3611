"""onewindow: a single-window kiosk and queue system for medical-insurance service points."""

__version__ = "0.1.0"
PROTOCOL_VERSION = 2  # 2: the sender's identity is in the command topic
