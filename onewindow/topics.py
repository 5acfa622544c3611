"""The MQTT topic tree of one site. Every topic starts with onewindow/{site}/ (see docs/PROTOCOL.md)."""
from __future__ import annotations

ROOT = "onewindow"


class Topics:
    def __init__(self, site_id: str):
        self.site_id = site_id
        self.root = f"{ROOT}/{site_id}"
        self.cmd_filter = f"{self.root}/cmd/+/+"  # cmd/{client}/{command}
        self.reply_prefix = f"{self.root}/reply/"
        self.display = f"{self.root}/state/display"
        self.site = f"{self.root}/state/site"
        self.catalogue = f"{self.root}/state/catalogue"
        self.calls = self.event("call")
        self.log = self.event("log")
        self.print_events = self.event("print")
        self.security = self.event("security")  # refusals a manager should hear about (server only)
        self.state_filter = f"{self.root}/state/#"
        self.presence_filter = self.presence("+")
        self.device_status_filter = self.device_status("+")

    def cmd(self, command: str, client: str) -> str:
        """Where `client` (its MQTT user name: the broker's ACL lets it publish only there) sends `command`."""
        return f"{self.root}/cmd/{client}/{command}"

    def event(self, kind: str) -> str:
        """A client's or the server's events of one kind: "call", "log", "print", ..."""
        return f"{self.root}/event/{kind}"

    def reply(self, client_id: str) -> str:
        return f"{self.reply_prefix}{client_id}"

    def window(self, number: int) -> str:
        return f"{self.root}/state/window/{number}"

    def queue(self, prefix: str) -> str:
        return f"{self.root}/state/queue/{prefix}"

    def presence(self, client_id: str) -> str:
        return f"{self.root}/presence/{client_id}"

    def device_status(self, device_id: str) -> str:
        return f"{self.root}/device/{device_id}/status"

    def sender_and_command(self, topic: str) -> tuple[str, str] | None:
        """(client, command) of a command topic of this site, or None."""
        head = f"{self.root}/cmd/"
        if topic.startswith(head):
            parts = topic[len(head):].split("/")
            if len(parts) == 2 and parts[0] and parts[1]:
                return parts[0], parts[1]
        return None

    def command_of(self, topic: str) -> str | None:
        """The command name of a command topic of this site, or None."""
        found = self.sender_and_command(topic)
        return found[1] if found else None
