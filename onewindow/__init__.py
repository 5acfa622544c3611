"""onewindow: a single-window kiosk and queue system for medical-insurance service points.

This package is the shared foundation every process builds on (site configuration, catalogue, topic
tree, transport, client, state mirror); it imports no other package of the project. The processes
live in their own packages (docs/ARCHITECTURE.md).
"""

__version__ = "0.1.0"
PROTOCOL_VERSION = 2  # 2: the sender's identity is in the command topic
