"""A hall for manager-console tests: the console helper's HallStack (Mosquitto, the real queue server
over MQTT, the console) with the manager pages wired to the server's event log and an alerts database,
plus a kiosk-like client that can publish device status, presence and print failures."""
from __future__ import annotations

import json

from console.alerts import AlertPolicy
from onewindow import PROTOCOL_VERSION
from onewindow.broker import free_port
from onewindow.mqtt import MqttTransport
from onewindow.topics import Topics
from tests.console_support import PASSWORD, USERS, HallStack

__all__ = ["ManagerStack", "PASSWORD", "USERS"]


class ManagerStack(HallStack):
    def __init__(self, policy: AlertPolicy | None = None):
        super().__init__(console=False)
        self.policy = policy or AlertPolicy(wait_minutes=30, max_waiting=5)

    def start(self) -> "ManagerStack":
        super().start()
        from console.accounts import Accounts
        from console.runner import ConsoleRunner
        users = self.dir / "users.db"
        accounts = Accounts(users)
        for name, role, full, pin in USERS:
            accounts.add(name, role, password=PASSWORD, pin=pin, name=full)
        accounts.add("root", "admin", password=PASSWORD, name="管理员")
        accounts.close()
        manager = {"log_db": self.dir / "q.db", "alerts_db": self.dir / "console-alerts.db", "policy": self.policy}
        self.console = ConsoleRunner(self.broker.settings, self.site.site_id, users, port=free_port(),
                                     client_id="console-test", manager=manager).start()
        self.console.transport.wait_connected(10)
        return self

    @property
    def desk(self):
        return self.console.app.state.desk

    def device(self, client_id: str = "kiosk-7", role: str = "kiosk") -> MqttTransport:
        """A device's own MQTT connection (its presence is retained; stopping it publishes offline)."""
        t = MqttTransport(self.broker.settings, self.site.site_id, client_id, role=role).start(10)
        self._devices = getattr(self, "_devices", []) + [t]
        return t

    def publish(self, transport: MqttTransport, topic: str, payload: dict, retain: bool = False) -> None:
        transport.publish(topic, json.dumps({"v": PROTOCOL_VERSION, **payload}, ensure_ascii=False), qos=1, retain=retain)

    def topics(self) -> Topics:
        return Topics(self.site.site_id)

    def stop(self) -> None:
        for t in getattr(self, "_devices", []):
            t.stop()
        super().stop()


def simulated_day_db(path, seed: int = 3) -> str:
    """A SQLite log holding one simulated busy day (2026-11-23) of the sample county hall, written as
    the server writes it: realistic figures for the report pictures."""
    from bench.bench_reports import RecordingSimulation
    from queue_server.store import Store
    from sim.profiles import county_profile
    from tests.support import county_site
    site = county_site()
    sim = RecordingSimulation(site, county_profile(), seed=seed, estimates=False)
    sim.run()
    store = Store(path, site.site_id, site.timezone, checkpoint_rows=0)
    store.commit([(e, None) for e in sim.events], [])
    store.close()
    return str(path)
