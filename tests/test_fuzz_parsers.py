"""Hypothesis fuzz of every parser that takes outside input: command payloads and topics, broker URLs,
credential files, site configuration files, reply payloads, log masking and escaping. Each test counts
the inputs it ran and prints the count (pytest -s shows it)."""
from __future__ import annotations

import json
import re
import tomllib
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onewindow import PROTOCOL_VERSION, config
from onewindow.broker import BrokerSettings, read_credentials
from onewindow.client import QueueClient
from onewindow.logsafe import escape
from onewindow.topics import Topics
from queue_server.commands import SCHEMAS, BadRequest, contains_personal_data, log_excerpt, mask_text, parse

RAN: Counter = Counter()
SITE = "demo-county"
REPLY = Topics(SITE).reply_prefix
FAST = settings(max_examples=400, deadline=None, derandomize=True,  # the same inputs every run (CI)
                suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False),
                         st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)
field_names = st.sampled_from(sorted({f for schema in SCHEMAS.values() for f in schema} |
                                     {"v", "request_id", "reply_to", "extra"}))


def _report(name: str) -> None:
    print(f"\nfuzz {name}: {RAN[name]} inputs")


@FAST
@given(command=st.sampled_from(sorted(SCHEMAS) + ["nope", ""]), payload=st.binary(max_size=300))
def test_parse_takes_any_bytes(command, payload):
    RAN["parse(bytes)"] += 1
    try:
        parse(command, payload, REPLY)
    except BadRequest as bad:
        assert bad.code and bad.message


@FAST
@given(command=st.sampled_from(sorted(SCHEMAS)), fields=st.dictionaries(field_names, json_values, max_size=8),
       envelope=st.booleans())
def test_parse_takes_any_json_object(command, fields, envelope):
    RAN["parse(json)"] += 1
    if envelope:
        fields = {**fields, "v": PROTOCOL_VERSION, "request_id": "r-1", "reply_to": REPLY + "k1"}
    payload = json.dumps(fields).encode()
    try:
        request_id, reply_to, args = parse(command, payload, REPLY)
    except BadRequest as bad:
        assert bad.code in {"bad_json", "bad_request", "bad_reply_to", "unsupported_version", "personal_data",
                            "too_large", "unknown_command"}, bad.code
        return
    assert set(args) <= set(SCHEMAS[command]) and not contains_personal_data(args)


@FAST
@given(st.text(max_size=120))
def test_topics_of_any_shape(topic):
    RAN["topics"] += 1
    found = Topics(SITE).sender_and_command(topic)
    if found is not None:
        sender, command = found
        assert topic == Topics(SITE).cmd(command, sender)


@FAST
@given(st.one_of(st.text(max_size=80), st.builds(lambda s, h, p: f"{s}://{h}:{p}",
                                                  st.sampled_from(["mqtt", "mqtts", "tcp", "ssl", "http", ""]),
                                                  st.text(max_size=20), st.integers(-5, 70000))))
def test_broker_urls(url):
    RAN["broker URL"] += 1
    try:
        s = BrokerSettings.from_url(url)
    except ValueError:
        return
    assert 0 < s.port < 65536 and s.host and s.tls == url.startswith(("mqtts://", "ssl://"))


@FAST
@given(st.text(max_size=400))
def test_credential_files(tmp_path_factory, text):
    RAN["credential file"] += 1
    path = tmp_path_factory.mktemp("cred") / "device.conf"
    path.write_text(text, encoding="utf-8")
    creds = read_credentials(path)
    assert all(isinstance(k, str) and isinstance(v, str) and "\n" not in v for k, v in creds.items())


@FAST
@given(st.binary(max_size=200))
def test_reply_payloads_from_the_bus(payload):
    RAN["reply payload"] += 1

    class Bus:
        def subscribe(self, topic, handler):
            self.handler = handler
    bus = Bus()
    QueueClient(bus, SITE, "k1")
    bus.handler(REPLY + "k1", payload)  # never raises, whatever arrives


ESCAPES = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[nrt\\])")
digits = st.sampled_from("0123456789０１２３４５６７８９")
seps = st.sampled_from(["", "", "", " ", "-", "－", "　", " - "])


@FAST
@given(prefix=st.text(max_size=60), body=st.lists(st.tuples(digits, seps), min_size=11, max_size=18),
       suffix=st.text(max_size=60), cut=st.integers(0, 260))
def test_masking_leaves_no_personal_number_in_a_log_line(prefix, body, suffix, cut):
    RAN["masking"] += 1
    number = "".join(d + s for d, s in body).rstrip(" -－　")
    text = "x" * cut + prefix + " " + number + " " + suffix
    for shown in (mask_text(text), log_excerpt(text.encode())):
        # the escapes' own hex digits (\x19) are not the citizen's: read them as a space
        assert not contains_personal_data(ESCAPES.sub(" ", shown)), shown


@FAST
@given(st.text(max_size=200))
def test_escaped_log_text_has_no_control_characters(text):
    RAN["escape"] += 1
    shown = escape(text)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", shown)


BASE = tomllib.loads(config.sample_path().read_text(encoding="utf-8"))
sections = st.sampled_from(["site", "hours", "business_type", "window", "priority", "calls", "ratings",
                            "device", "catalogue"])


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(section=sections, value=json_values, devices=st.lists(st.dictionaries(
    st.sampled_from(["id", "role", "window", "x"]),
    st.one_of(st.text(max_size=10), st.integers(-2, 20), st.lists(st.integers(0, 14), max_size=3),
              st.sampled_from(["kiosk", "display", "window", "console", "manager"]))), max_size=4))
def test_site_configuration_files(section, value, devices):
    RAN["site config"] += 1
    raw = json.loads(json.dumps(BASE))
    raw[section] = value
    raw["device"] = devices
    try:
        site = config.from_dict(raw, base_dir=config.sample_path().parent)
    except config.ConfigError as err:
        assert err.errors and all(len(e) == 3 for e in err.errors)
        return
    assert all(d.role in config.DEVICE_ROLES for d in site.devices)


def _publish_packet(topic: str, payload: bytes) -> bytes:
    t = topic.encode()
    body = len(t).to_bytes(2, "big") + t + payload
    n, length = len(body), b""
    while True:
        n, byte = divmod(n, 128)
        length += bytes([byte | (0x80 if n else 0)])
        if not n:
            return b"\x30" + length + body


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(st.tuples(st.integers(0, 999), st.sampled_from([0, 1, 126, 127, 128, 5000, 70000])),
                         min_size=1, max_size=12),
       cuts=st.lists(st.integers(1, 9000), min_size=1, max_size=30))
def test_the_transport_reads_any_split_of_the_broker_stream(messages, cuts):
    """The MQTT transport's read buffer (onewindow/mqtt.py): packets from the broker however TCP splits
    them (mid-header, mid-length, mid-body, several per read, one bigger than a read) parse whole, in order."""
    import select
    import socket
    from paho.mqtt.enums import CallbackAPIVersion
    from onewindow.mqtt import _Client
    RAN["mqtt read buffer"] += 1
    sent = [(f"onewindow/{SITE}/state/{i}", bytes([i % 251]) * size) for i, size in messages]
    stream = b"".join(_publish_packet(t, p) for t, p in sent)
    got = []
    c = _Client(CallbackAPIVersion.VERSION2, client_id="fuzz")
    c.on_message = lambda client, userdata, m: got.append((m.topic, m.payload))
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    broker.settimeout(5)
    c._sock = ours
    try:
        at, k = 0, 0
        while at < len(stream):
            size = cuts[k % len(cuts)]
            broker.sendall(stream[at:at + size])
            at, k = at + size, k + 1
            for _ in range(10_000):  # a bug fails the test, never hangs it
                if not (c.buffered() or select.select([ours], [], [], 0)[0]):
                    break
                assert c.loop_read() == 0
            else:
                raise AssertionError("the reader never caught up with what was sent")
        assert got == sent
    finally:
        c._sock_close()
        broker.close()


def test_zz_report_counts():
    """Printed last: how many inputs each fuzz test ran (run with -s to see)."""
    for name in sorted(RAN):
        _report(name)
    assert all(n >= 100 for n in RAN.values()), RAN
