"""The announcer in simulated time: calls announced in order, never overlapping, never cut off; a
backlog drops repeats, never a first announcement."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from display.announcer import Announcer, simulate


def durations(lang: str, text: str) -> float:
    return 3.9 if lang == "zh" else 2.6


def call(i: int, at: float, calls: int = 1):
    number = f"A{i:03d}"
    return (at, (f"demo:2026-11-23:{number}", calls), f"请 {number} 号到 3 号窗口办理",
            f"Number {number}, please go to window 3")


def check_never_overlapping_never_cut(played):
    for a, b in zip(played, played[1:]):
        assert b.start >= a.end, f"{b.sentence.text} started before {a.sentence.text} ended"
    for p in played:
        assert abs((p.end - p.start) - p.sentence.duration) < 1e-9


def test_one_call_is_said_in_chinese_then_english_twice():
    played = simulate(Announcer(durations, repeat=2, english=True), [call(1, 0.0)])
    assert [(p.sentence.lang, p.sentence.repeat) for p in played] == [("zh", 0), ("en", 0), ("zh", 1), ("en", 1)]
    assert played[0].sentence.text == "请 A001 号到 3 号窗口办理"
    check_never_overlapping_never_cut(played)


def test_ten_calls_in_one_second_are_all_announced_in_order():
    a = Announcer(durations, repeat=2, english=False, max_waiting=4)
    played = simulate(a, [call(i, i * 0.1) for i in range(1, 11)])
    firsts = [p.sentence.text for p in played if p.sentence.first]
    assert firsts == [f"请 A{i:03d} 号到 3 号窗口办理" for i in range(1, 11)]
    check_never_overlapping_never_cut(played)
    assert a.dropped and all(not s.first for s in a.dropped)  # the backlog cost repeats only


def test_a_sentence_playing_is_not_cut_off_by_a_new_call():
    a = Announcer(durations, repeat=1, english=False)
    a.add(("t1", 1), "one", "", 0.0)
    assert a.start_next(0.0).sentence.text == "one"
    a.add(("t2", 1), "two", "", 1.0)
    assert a.start_next(1.0) is None  # "one" still playing
    assert a.start_next(3.0) is None
    assert a.start_next(3.9 + a.gap).sentence.text == "two"


def test_a_call_seen_twice_is_announced_once_but_a_recall_again():
    a = Announcer(durations, repeat=1, english=False)
    assert a.add(("t1", 1), "x", "", 0.0)
    assert not a.add(("t1", 1), "x", "", 0.5)  # the same call from the retained display state
    assert a.add(("t1", 2), "x", "", 1.0)  # a recall
    assert len(a.waiting) == 2


def test_stale_repeats_are_dropped_even_without_a_long_queue():
    a = Announcer(durations, repeat=3, english=False, max_waiting=100, stale_after=5.0)
    played = simulate(a, [call(1, 0.0)])
    assert [p.sentence.repeat for p in played] == [0, 1]  # the third would start 8.4 s after the call
    assert [s.repeat for s in a.dropped] == [2]


bursts = st.lists(st.tuples(st.floats(0, 60, allow_nan=False), st.integers(1, 3)), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(bursts, st.integers(1, 3), st.booleans(), st.integers(0, 8))
def test_random_bursts_never_overlap_never_cut_never_lose_a_first_announcement(arrivals, repeat, english,
                                                                               max_waiting):
    calls = []
    for i, (at, n) in enumerate(sorted(arrivals)):
        calls.append(call(i, at, calls=n))
    a = Announcer(durations, repeat=repeat, english=english, max_waiting=max_waiting)
    played = simulate(a, calls)
    check_never_overlapping_never_cut(played)
    firsts = [p.sentence.call_key for p in played if p.sentence.first and p.sentence.lang == "zh"]
    assert firsts == [c[1] for c in calls]  # every call, in the order it came
    assert all(not s.first for s in a.dropped)
    for p in played:  # nothing starts before its call arrived
        assert p.start >= p.sentence.queued_at
    keys = {c[1] for c in calls}
    said = {(p.sentence.call_key, p.sentence.repeat, p.sentence.lang) for p in played}
    dropped = {(s.call_key, s.repeat, s.lang) for s in a.dropped}
    langs = ("zh", "en") if english else ("zh",)
    assert said | dropped == {(k, r, lang) for k in keys for r in range(repeat) for lang in langs}
    assert not said & dropped
