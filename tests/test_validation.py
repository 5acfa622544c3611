"""Payload validation at the edge: anything in, a clean command or a BadRequest out, never a crash."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onewindow import PROTOCOL_VERSION
from queue_server.commands import SCHEMAS, BadRequest, mask_text, parse

PREFIX = "onewindow/demo-county/reply/"


def payload(**fields):
    return json.dumps({"v": PROTOCOL_VERSION, "request_id": "r-1", "reply_to": PREFIX + "kiosk-1", **fields}).encode()


def test_a_valid_issue_comes_out_typed():
    rid, reply_to, args = parse("issue", payload(business_type="A", item="CB-01",
                                                 appointment={"ref": "apt-9", "start": "2026-11-23T10:00:00+08:00"}),
                                PREFIX)
    assert (rid, reply_to) == ("r-1", PREFIX + "kiosk-1")
    assert args["appointment"]["start"] == 1795399200.0


@pytest.mark.parametrize("fields, code, words", [
    ({"business_type": "a"}, "bad_request", "business_type: must match"),
    ({}, "bad_request", "business_type: is required"),
    ({"business_type": "A", "bussiness_type": "A"}, "bad_request", "bussiness_type: not a field of issue"),
    ({"business_type": "A", "v": 1}, "unsupported_version", "version 2"),
    ({"business_type": "A", "kiosk": "k 1"}, "bad_request", "kiosk"),
    ({"business_type": "A", "appointment": {"ref": "x", "start": "10:00"}}, "bad_request", "ISO-8601"),
    ({"business_type": "A", "kiosk": "13912345678"}, "personal_data", "ID or phone"),
])
def test_bad_fields_are_named_in_the_error(fields, code, words):
    with pytest.raises(BadRequest) as err:
        parse("issue", payload(**fields), PREFIX)
    assert err.value.code == code and words in err.value.message
    assert err.value.reply_to == PREFIX + "kiosk-1"


def test_personal_numbers_are_found_however_the_json_writes_them():
    """The check reads the payload's text in one pass, and value by value when the text has escapes, so
    neither a JSON number nor \\u-escaped digits slip past it."""
    good = payload(business_type="A", item="CB-01")
    for raw in (good.replace(b'"CB-01"', b'13912345678'),                       # a JSON number
                good.replace(b'CB-01', b'\\u0031\\u0033912345678'),         # escaped digits
                good.replace(b'CB-01', b'139 1234 5678')):                              # grouped
        with pytest.raises(BadRequest) as err:
            parse("issue", raw, PREFIX)
        assert err.value.code == "personal_data", raw
    assert parse("issue", good, PREFIX)[2]["item"] == "CB-01"
    # Escapes are read value by value: a \\u escape's digits never join the digits after it.
    note = json.dumps({"v": PROTOCOL_VERSION, "request_id": "r-1", "reply_to": PREFIX + "kiosk-1",
                       "text": "5月 20260523 101530"}).encode()  # ensure_ascii: 5\\u6708 2026...
    assert b"\\u6708" in note and parse("set_notice", note, PREFIX)[2]["text"].startswith("5月")


def test_a_reply_topic_outside_the_site_cannot_be_answered():
    for reply_to in ("onewindow/other/reply/x", PREFIX, PREFIX + "a/b", PREFIX + "#", 5):
        with pytest.raises(BadRequest) as err:
            parse("issue", json.dumps({"v": PROTOCOL_VERSION, "request_id": "r", "reply_to": reply_to,
                                       "business_type": "A"}).encode(), PREFIX)
        assert err.value.code == "bad_reply_to" and err.value.reply_to is None


def test_an_unknown_command_is_answered_when_it_says_where():
    with pytest.raises(BadRequest) as err:
        parse("issu", payload(business_type="A"), PREFIX)
    assert (err.value.code, err.value.request_id, err.value.reply_to) == ("unknown_command", "r-1", PREFIX + "kiosk-1")


def test_a_payload_over_8_kib_is_answered_too_large_when_its_envelope_comes_first():
    with pytest.raises(BadRequest) as err:
        parse("issue", payload(business_type="A", item="x" * 9000), PREFIX)
    assert (err.value.code, err.value.request_id, err.value.reply_to) == ("too_large", "r-1", PREFIX + "kiosk-1")
    late = json.dumps({"item": "x" * 9000, "v": 1, "request_id": "r-2", "reply_to": PREFIX + "k"}).encode()
    with pytest.raises(BadRequest) as err:
        parse("issue", late, PREFIX)  # only the first 8 KiB are looked at: nowhere to reply
    assert err.value.code == "too_large" and err.value.reply_to is None


def test_masking_keeps_only_the_ends_of_id_and_phone_numbers():
    assert mask_text("id 11010119900307123X tel 13912345678") == "id 1101**********123X tel 139****5678"


@settings(max_examples=400, deadline=None)
@given(command=st.sampled_from(sorted(SCHEMAS) + ["nope"]),
       body=st.one_of(st.binary(max_size=300),
                      st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                                   lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                                       st.sampled_from(["v", "request_id", "reply_to", "window", "clerk", "ticket",
                                                        "business_type", "score", "open", "appointment", "x"]),
                                       inner, max_size=6), max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_any_payload_gives_a_command_or_a_bad_request(command, body):
    try:
        parse(command, body, PREFIX)
    except BadRequest as bad:
        assert bad.code and bad.message


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["kiosk-1", "window-12", "console", "display-1", "k1"]), st.integers(1, 10**7))
def test_a_clients_own_request_ids_never_look_like_personal_data(client_id, counter):
    # A hex boot nonce can be all digits ("139176"), and with the dashes around it the request id
    # "kiosk-1-139176-10000" read as a phone number: the server refused an honest kiosk's issue.
    from onewindow.client import boot_nonce
    from queue_server.commands import contains_personal_data
    assert not contains_personal_data({"request_id": f"{client_id}-{boot_nonce()}-{counter}"})
    assert contains_personal_data({"request_id": f"{client_id}-139176-10000"})  # the old shape, for contrast


def test_a_lone_surrogate_escape_is_not_text_and_is_refused():
    raw = json.dumps({"v": PROTOCOL_VERSION, "request_id": "r-1", "reply_to": PREFIX + "kiosk-1",
                      "text": "\ud800 notice"}).encode()
    with pytest.raises(BadRequest) as err:
        parse("set_notice", raw, PREFIX)
    assert err.value.code == "bad_json" and "surrogate" in err.value.message
