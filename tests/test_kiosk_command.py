"""`onewindow kiosk` starts the app against a real server and Mosquitto, publishes its device status,
and stops cleanly on SIGTERM; kiosk settings are validated with every problem listed."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import settings as ks
from onewindow.mqtt import MqttTransport
from tests.server_process import ServerProcess
from tests.support import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import make_kiosk_screens  # noqa: E402


def test_kiosk_settings_load_and_report_every_problem(tmp_path):
    good = tmp_path / "kiosk.toml"
    good.write_text('[kiosk]\nid = "kiosk-2"\nidle_seconds = 30\nscreen_px = [1920, 1080]\nscreen_mm = [476, 268]\n'
                    '[[printer]]\nid = "main"\nurl = "tcp://127.0.0.1:9100"\n', encoding="utf-8")
    s = ks.load(good)
    assert s.id == "kiosk-2" and s.idle_seconds == 30 and s.printers[0].id == "main"
    assert round(s.min_target_px) == 60
    bad = tmp_path / "bad.toml"
    bad.write_text('[kiosk]\nidle_seconds = 5\nlanguages = ["fr"]\nscreen_mm = [0, 1]\ncolour = "red"\n'
                   '[[printer]]\nid = "main"\nurl = "ftp://x"\n', encoding="utf-8")
    with pytest.raises(ks.KioskSettingsError) as err:
        ks.load(bad)
    keys = [k for k, _, _ in err.value.errors]
    assert {"kiosk.idle_seconds", "kiosk.languages", "kiosk.screen_mm", "kiosk.colour"} <= set(keys)
    assert any(k.startswith("printer") for k in keys)
    assert ks.load(None) == ks.KioskSettings()


def test_onewindow_kiosk_runs_publishes_its_status_and_stops_on_sigterm(tmp_path, broker):
    server = ServerProcess(broker.url, tmp_path / "queue.db").start()
    statuses: list[dict] = []
    watcher = MqttTransport(broker.settings, "demo-county", "watcher", role="manager").start()
    watcher.subscribe("onewindow/demo-county/device/+/status",
                      lambda t, p: p and statuses.append(json.loads(p)))
    env = make_kiosk_screens.kivy_env()
    settings = tmp_path / "kiosk.toml"
    settings.write_text(f'[kiosk]\nstate_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "cli", "kiosk", "--broker", broker.url, "--windowed",
                             "--kiosk", str(settings),
                             "--fake-printer", "--fake-scanner", "--id", "kiosk-9"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_until(lambda: any(s["device"] == "kiosk-9" and s["state"] == "ok" for s in statuses), 20), statuses
        last = statuses[-1]
        assert last["kind"] == "kiosk" and last["parts"]["scanner"] == "ok" and last["parts"]["idcard"] == "ok"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, out[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        watcher.stop()
        server.stop()
