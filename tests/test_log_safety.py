"""Bad input cannot forge log lines, flood the log or leak personal numbers into it."""
from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given, settings, strategies as st

from onewindow import PROTOCOL_VERSION, personal
from onewindow.logsafe import SenderLog, add_rotating_file, escape
from queue_server.commands import BadRequest, contains_personal_data, log_excerpt, mask_text, parse
from tests.test_server import SITE, command, hall  # noqa: F401  (fixture)

REPLY = f"onewindow/{SITE}/reply/"


@pytest.mark.parametrize("written", [
    "11010119900307123X", "110101 19900307 123X", "110101-19900307-123x", "1101 0119 9003 0712 3X",
    "１１０１０１１９９００３０７１２３Ｘ", "110101－19900307－1234", "110101　19900307　1234",
])
def test_id_numbers_are_found_however_they_are_written(written):
    assert contains_personal_data({"note": f"身份证 {written} 请核对"})
    masked = mask_text(f"id {written}.")
    assert sum(ch.isdigit() for ch in masked) <= 8 and "**********" in masked


@pytest.mark.parametrize("written", ["13912345678", "139 1234 5678", "139-1234-5678", "+86 139 1234 5678",
                                     "１３９１２３４５６７８", "１３９－１２３４－５６７８"])
def test_mobile_numbers_are_found_however_they_are_written(written):
    assert contains_personal_data([f"tel:{written}"])
    assert "****" in mask_text(written) and "1234" not in mask_text(written).split("****")[0][3:]


_PIECES = ["139", "1234", "5678", "1", "12", "110101", "19900307", "123", "X", "x", "Ｘ", "１３９", "１２３４", "0",
           " ", "  ", "-", "－", "　", "\u2013", "a", ",", "\""]


@given(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join)
       | st.text(alphabet="0123456789１３９０ -－　\u2013Xx,a\"", max_size=60))
@settings(max_examples=3000, deadline=None)
def test_the_quick_first_look_never_misses_a_number(text):
    """personal_spans skips texts that cannot hold a number (a quick regex); it finds what the full search does."""
    assert personal._spans(text) == personal.personal_spans(text)


@pytest.mark.parametrize("harmless", ["2026-11-23T10:00:00+08:00", "demo-county:2026-11-23:A001",
                                      "kiosk-1-a3f9c1-17", "1764560000123", "0755-12345678", "A001 B002 C003",
                                      "1234567890", "12 13 14 15"])
def test_times_ids_and_ticket_numbers_are_not_personal(harmless):
    assert not contains_personal_data(harmless) and mask_text(harmless) == harmless


def test_a_command_carrying_a_grouped_or_full_width_number_is_refused():
    for note in ("138 0013 8000", "１３８００１３８０００", "110101-19900307-1234"):
        _, payload = command("hold", window=1, clerk="wang", note=note, request_id="r-hold")
        with pytest.raises(BadRequest) as bad:
            parse("hold", payload, REPLY)
        assert bad.value.code == "personal_data"


def test_an_id_straddling_the_cut_is_masked_whole():
    for offset in range(180, 201):
        text = "x" * offset + "110101199003071234 and more text after it" + "y" * 300
        shown = log_excerpt(text.encode())
        assert "0307" not in shown and "1990" not in shown and "199003071" not in shown
        digits = "".join(ch for ch in shown if ch.isdigit())
        assert not any(run in digits for run in ("0101199", "1990030", "0030712"))


def test_log_lines_escape_control_characters():
    forged = 'A"}\n12:00:00 INFO onewindow.server: issued A001 to kiosk-1\x1b[2J\r\u202edlrow\u2028next'
    shown = log_excerpt(forged.encode())
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown and "\u202e" not in shown
    assert "\u2028" not in shown and "\\n12:00:00" in shown and "\\x1b[2J" in shown and "\\u202e" in shown
    assert escape("a\\nb") == "a\\\\nb"  # a literal backslash-n cannot pass for an escaped newline


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_bad_input_is_rate_limited_per_sender_with_a_summary():
    logger = logging.getLogger("test.senderlog")
    handler = ListHandler()
    logger.addHandler(handler)
    now = [0.0]
    limited = SenderLog(logger, burst=5, window=10, clock=lambda: now[0])
    for i in range(100_000):
        limited.warning("flooder", "bad_json", f"bad line {i}\nforged")
    limited.warning("honest-kiosk", "bad_request", "one mistake")
    now[0] = 11
    limited.flush()
    logger.removeHandler(handler)
    assert len(handler.lines) == 5 + 1 + 1
    assert all("\n" not in line for line in handler.lines)
    assert "one mistake" in handler.lines[5]
    assert "suppressed 99,995 more bad commands from flooder" in handler.lines[-1]
    assert "bad_json: 99,995" in handler.lines[-1]


def test_the_server_logs_a_flood_of_bad_commands_in_a_few_lines(hall, caplog):
    srv = hall.server
    caplog.set_level(logging.WARNING, logger="onewindow.server")
    flood = [(f"onewindow/{SITE}/cmd/flooder/issue", b'{"v": 1, "reply_to": "' + REPLY.encode() + b'flooder", "x":\n')
             for _ in range(5000)]
    hall.send(*flood)
    srv.bad_log.flush(force=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "onewindow.server"]
    assert len(lines) <= 8 and any("suppressed" in line and "more bad commands from flooder" in line
                                   for line in lines), lines
    # past its budget (1,000 at once) the rest were dropped before parsing, and counted
    assert srv.stats["bad"] + srv.stats.get("dropped", 0) == 5000 and srv.stats["bad"] >= 1000


def test_the_server_masks_and_escapes_a_bad_payload(hall, caplog):
    caplog.set_level(logging.WARNING, logger="onewindow.server")
    body = {"v": PROTOCOL_VERSION, "request_id": "r1", "reply_to": REPLY + "k1", "business_type": "A",
            "note\n12:00 INFO forged": "x" * 150 + "１１０１０１ １９９００３０７ １２３４"}
    hall.send((f"onewindow/{SITE}/cmd/k1/issue", json.dumps(body, ensure_ascii=False).encode()))
    text = caplog.text
    assert "personal_data" in text and "１９９００３０７" not in text and "19900307" not in text
    caplog.clear()
    raw = b'{"v": 2, "reply_to": "x"\n12:00:00 INFO onewindow.server: issued A001\x1b[2J\r'
    hall.send((f"onewindow/{SITE}/cmd/k1/issue", raw))
    [line] = [r.getMessage() for r in caplog.records]
    assert "\n" not in line and "\x1b" not in line and "\r" not in line and "\\n12:00:00 INFO" in line


def test_log_files_rotate(tmp_path):
    logger = logging.getLogger("test.rotate")
    logger.propagate = False
    handler = add_rotating_file(tmp_path / "server.log", max_bytes=2000, backups=2, logger=logger)
    for i in range(200):
        logger.warning("line %d %s", i, "x" * 50)
    handler.close()
    logger.removeHandler(handler)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["server.log", "server.log.1", "server.log.2"]
    assert all(p.stat().st_size <= 2100 for p in tmp_path.iterdir())


def test_one_mask_per_kind_of_personal_datum_on_screens_slips_and_logs():
    """The kiosk's screen, the ID-card reader's log line and the server's log show an ID number alike."""
    from hardware.idcard import IdCard
    from kiosk.identity import mask_id as kiosk_mask
    from onewindow.personal import mask_text
    number = "33010619900101123X"
    shown = kiosk_mask(number)
    assert shown == "3301**********123X"
    assert mask_text(f"read {number} at the kiosk") == f"read {shown} at the kiosk"
    assert shown in repr(IdCard(name="张三丰", id_number=number)) and "张**" in repr(IdCard("张三丰", number))
    assert mask_text("call 139 1234 5678") == "call 139****5678"
