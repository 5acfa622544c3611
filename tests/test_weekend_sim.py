"""A simulated Saturday that serves appointments only: bookings through the book, check-in by code."""
from __future__ import annotations

from sim.weekend import weekend_day, weekend_profile


def test_an_appointment_only_saturday_serves_the_booked_and_refuses_walk_ins():
    day = weekend_day(seed=3)
    assert day["kind"] == "appointments_only"
    assert day["walk_ins"] > 0 and day["walk_ins_refused"] == day["walk_ins"]
    assert day["bookings"] == day["checked_in"] + day["no_shows"]  # every booking ends one way or the other
    assert day["no_shows"] == day["stayed_away"] + day["late_refused"]  # late on such a day: no walk-in either
    assert day["served"] == day["checked_in"] and day["slots_over_capacity"] == 0
    assert day["booked_wait_p90_min"] < 30  # booked citizens are served around their slot


def test_a_busy_saturday_fills_slots_and_sends_citizens_to_the_next_free_one():
    day = weekend_day(seed=1, profile=weekend_profile(appointments_per_hour=60))
    assert day["rebooked_after_full_slot"] > 0 and day["no_slot_left"] > 0
    assert day["slots_over_capacity"] == 0
