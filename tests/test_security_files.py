"""`onewindow credentials` writes files a real Mosquitto accepts: hashes, ACL, TLS, owners and modes."""
from __future__ import annotations

import grp
import hashlib
import os
import stat
import subprocess
import time

import pytest

from broker import security
from onewindow import config
from tests.secure_broker import Probe, SecureBroker

SITE = "demo-county"


@pytest.fixture(scope="module")
def secure(county_module):
    broker = SecureBroker(county_module).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def county_module():
    from tests.support import county_site
    return county_site()


def test_the_password_hash_is_mosquittos_own_format():
    salt = bytes(range(12))
    h = security.hash_password("secret", salt=salt)
    _, seven, iterations, salt64, digest64 = h.split("$")
    assert seven == "7" and iterations == "101"
    import base64
    assert base64.b64decode(digest64) == hashlib.pbkdf2_hmac("sha512", b"secret", salt, 101, 64)


def test_files_mosquitto_reads_are_root_mosquitto_640(secure):
    f = secure.files
    for path in (f.passwd, f.acl, f.key, f.cert):
        st = path.stat()
        assert stat.S_IMODE(st.st_mode) == 0o640, path
        if os.geteuid() == 0:
            assert st.st_uid == 0 and st.st_gid == grp.getgrnam("mosquitto").gr_gid
    assert stat.S_IMODE(f.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(f.device_file("kiosk-1").stat().st_mode) == 0o600


def test_a_device_with_its_password_connects_on_both_listeners(secure):
    for tls in (False, True):
        probe = Probe(secure, "kiosk-1", tls=tls)
        assert probe.connect(), (tls, probe.rc)
        probe.close()


def test_anonymous_and_wrong_passwords_are_refused(secure):
    for user, password in ((None, None), ("kiosk-1", "wrong"), ("nobody-here", "x"), ("kiosk-1", "")):
        probe = Probe(secure, user, password)
        assert not probe.connect(), (user, password)
        probe.close()


def test_tls_needs_the_site_ca(secure, tmp_path):
    import paho.mqtt.client as paho
    import ssl
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    c.username_pw_set("kiosk-1", secure.password("kiosk-1"))
    c.tls_set(cert_reqs=ssl.CERT_REQUIRED)  # the system's CAs: the site CA is not among them
    with pytest.raises(ssl.SSLError):
        c.connect("127.0.0.1", secure.tls_port)


def test_running_again_keeps_passwords_and_rotation_changes_them(secure, county_module, tmp_path):
    files = security.generate(county_module, tmp_path / "sec")
    before = {u: files.password(u) for u in ("kiosk-1", "window-3", "server-demo-county")}
    ca = files.ca.read_bytes()
    files = security.generate(county_module, tmp_path / "sec", rotate=("window-3",))
    assert files.password("kiosk-1") == before["kiosk-1"] and files.ca.read_bytes() == ca
    assert files.password("window-3") != before["window-3"]
    security.generate(county_module, tmp_path / "sec", rotate_ca=True)
    assert files.ca.read_bytes() != ca


def test_the_device_registry_is_validated(county_module):
    import tomllib
    raw = tomllib.loads(config.sample_path().read_text(encoding="utf-8"))
    base = config.sample_path().parent
    raw["device"] = [{"id": "kiosk-1", "role": "kiosk"}, {"id": "kiosk-1", "role": "kiosk"},
                     {"id": "pad-3", "role": "window"}, {"id": "pad-99", "role": "window", "window": 99},
                     {"id": "bad/id", "role": "kiosk"}, {"id": "x", "role": "wizard"},
                     {"id": "server-demo-county", "role": "console"}, {"id": "d", "role": "display", "window": 1}]
    with pytest.raises(config.ConfigError) as err:
        config.from_dict(raw, base_dir=base)
    keys = [k for k, _, _ in err.value.errors]
    assert keys.count("device[1].id") == 1 and "device[2].window" in keys and "device[3].window" in keys
    assert "device[4].id" in keys and "device[5].role" in keys and "device[6].id" in keys
    assert "device[7].window" in keys
    raw["device"] = [{"id": "pad-3", "role": "window", "window": 3}, {"id": "bridge", "role": "window",
                                                                     "window": [1, 2]}]
    site = config.from_dict(raw, base_dir=base)
    assert site.devices == (config.Device("pad-3", "window", (3,)), config.Device("bridge", "window", (1, 2)))


def test_the_command_line_writes_the_files(tmp_path):
    from cli.main import main
    assert main(["credentials", "--out", str(tmp_path / "s"), "--host", "hall.local", "--host", "10.0.0.5",
                 "--url", "mqtts://hall.local:8883"]) == 0
    text = (tmp_path / "s" / "devices" / "kiosk-1.conf").read_text()
    assert "username = kiosk-1" in text and "url = mqtts://hall.local:8883" in text
    out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "s" / "ca.crt"),
                          str(tmp_path / "s" / "server.crt")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    san = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                          str(tmp_path / "s" / "server.crt")], capture_output=True, text=True).stdout
    assert "hall.local" in san and "10.0.0.5" in san
