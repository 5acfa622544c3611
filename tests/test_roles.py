"""The role table, pure: who may send which command, for which window."""
from __future__ import annotations

import pytest

from queue_server.commands import SCHEMAS
from queue_server.roles import ROLE_COMMANDS, WINDOW_COMMANDS, Member, Roles

ROLES = Roles([Member("kiosk-1", "kiosk"), Member("display-1", "display"), Member("pad-3", "window", (3,)),
               Member("bridge", "window", (4, 5)), Member("console", "console"), Member("manager", "manager"),
               Member("server-x", "server")],
              ticket_window=lambda t: {"A001": 3, "A002": 4}.get(t),
              ticket_kiosk=lambda t: {"A001": "kiosk-1", "A002": ""}.get(t))


def args_for(command):
    return {"window": 3, "clerk": "c", "ticket": "A001", "business_type": "A", "open": True, "score": 5}


@pytest.mark.parametrize("command", sorted(SCHEMAS))
def test_every_command_has_a_role_that_may_send_it_and_the_manager_sends_all(command):
    assert ROLES.check("manager", command, args_for(command)) is None
    assert ROLES.check("display-1", command, args_for(command)).code == "forbidden"
    assert ROLES.check("server-x", command, args_for(command)).code == "forbidden"
    assert ROLES.check("stranger", command, args_for(command)).code == "forbidden"


def test_the_table():
    assert ROLE_COMMANDS["kiosk"] == {"issue", "cancel", "ticket_status", "check_in", "booking_status"}
    assert WINDOW_COMMANDS <= ROLE_COMMANDS["window"] and WINDOW_COMMANDS <= ROLE_COMMANDS["console"]
    assert "set_business_type" not in ROLE_COMMANDS["console"] | ROLE_COMMANDS["window"]


def test_a_window_device_acts_for_its_windows_only():
    assert ROLES.check("pad-3", "call_next", {"window": 3, "clerk": "c"}) is None
    assert ROLES.check("pad-3", "call_next", {"window": 4, "clerk": "c"}).code == "forbidden"
    assert ROLES.check("bridge", "sign_in", {"window": 5, "clerk": "c"}) is None
    assert ROLES.check("bridge", "sign_in", {"window": 3, "clerk": "c"}).code == "forbidden"


def test_ratings_only_for_visits_served_at_the_devices_window():
    args = {"ticket": "A001", "score": 1}
    assert ROLES.check("pad-3", "rate", args) is None and args["window"] == 3  # filled in
    assert ROLES.check("bridge", "rate", {"ticket": "A001", "score": 1, "window": 4}).code == "forbidden"
    assert ROLES.check("bridge", "rate", {"ticket": "A002", "score": 1}).code == "forbidden"  # which window?
    assert ROLES.check("bridge", "rate", {"ticket": "A002", "score": 1, "window": 4}) is None


def test_a_kiosk_cancels_its_own_tickets():
    assert ROLES.check("kiosk-1", "cancel", {"ticket": "A001"}) is None
    assert ROLES.check("kiosk-1", "cancel", {"ticket": "A002"}).code == "forbidden"
    assert ROLES.check("kiosk-1", "cancel", {"ticket": "Z999"}) is None  # unknown: the engine says so
