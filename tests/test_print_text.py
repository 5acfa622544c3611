"""Text width on a thermal printer, line wrapping, and the ticket check character."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.printing.checkdigit import ALPHABET, is_valid, mod37_2, parse_ticket_code, ticket_code
from hardware.printing.textwidth import Glue, Keep, char_width, clip, text_width, wrap


def test_a_chinese_character_takes_two_columns_and_ascii_one():
    assert text_width("A001") == 4
    assert text_width("参保登记") == 8
    assert text_width("（原件1份）") == 2 * 5 + 1
    assert char_width("·") == 2 and char_width("×") == 2  # ambiguous: wide on a Chinese printer
    assert char_width("\u0301") == 0
    assert clip("城乡居民ABC", 9) == "城乡居民A"


def test_wrapping_breaks_between_chinese_characters_and_between_english_words():
    assert wrap("城乡居民参保登记", 8) == ["城乡居民", "参保登记"]
    assert wrap("one two three four", 9) == ["one two", "three", "four"]


def test_closing_punctuation_never_starts_a_line():
    lines = wrap("参保人员住院治疗，因急诊未能直接结算。", 18)
    assert all(not line.startswith(("，", "。", "）")) for line in lines)


def test_a_hanging_indent_lines_up_under_the_first_words():
    lines = wrap("有效身份证件或医保电子凭证和其他证明", 16, indent=3, first_prefix="1. ")
    assert lines[0].startswith("1. ") and all(line.startswith("   ") for line in lines[1:])


def test_glue_keeps_a_copy_count_with_the_end_of_the_name():
    lines = wrap(["有效身份证件或医保电子凭证", Glue("（原件1份）")], 20, indent=3, first_prefix="1. ")
    holder = next(line for line in lines if "（原件1份）" in line)
    assert holder.rstrip().endswith("证（原件1份）")
    lines = wrap(["Valid identity document or e-voucher", Glue(" (1 original)")], 24)
    assert any(line.endswith("e-voucher (1 original)") for line in lines)


def test_a_kept_run_stays_whole():
    lines = wrap(["咨询电话：12393", "  ", Keep("投诉电话：12345")], 24)
    assert lines == ["咨询电话：12393", "投诉电话：12345"]


def test_a_word_longer_than_the_line_is_split_rather_than_overflowing():
    lines = wrap("https://ybfw.example.gov.cn/guide/HB:2036023002", 16)
    assert all(text_width(line) <= 16 for line in lines)
    assert "".join(lines) == "https://ybfw.example.gov.cn/guide/HB:2036023002"


text_alphabet = st.sampled_from(list("参保登记有效身份证件（原件1份）。，ab cdefXYZ 0123-:") + ["  "])


@settings(max_examples=300, deadline=None)
@given(st.lists(text_alphabet, min_size=0, max_size=80).map("".join), st.integers(4, 48), st.integers(0, 6))
def test_no_wrapped_line_is_ever_wider_than_the_paper_and_no_text_is_lost(text, columns, indent):
    lines = wrap(text, columns, indent=indent)
    assert all(text_width(line) <= columns for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("参保登记有效身份证件") + [" ", "ID", "card", "（居住证）"]), min_size=1, max_size=40)
       .map("".join), st.integers(1, 9), st.integers(20, 48))
def test_a_glued_count_is_never_alone_on_its_line(name, copies, columns):
    # (20 columns: a hanging indent, the last word with its punctuation and the widest count fit a line)
    name = name.strip() or "证"
    count = f"（原件{copies}份）"
    lines = wrap([name, Glue(count)], columns, indent=3, first_prefix="1. ")
    holder = [line for line in lines if count in line]
    assert len(holder) == 1
    assert holder[0].strip() != count  # something of the name is with it
    assert all(text_width(line) <= columns for line in lines)


def test_the_check_character_follows_iso_7064_mod_37_2():
    assert mod37_2("G123489654321") == "Y"  # the standard's own example
    assert is_valid("G123489654321", "Y") and not is_valid("G123489654321", "X")
    assert set(mod37_2(f"A{i:03d}") for i in range(1000)) <= set(ALPHABET)


def test_a_ticket_code_round_trips_and_catches_a_misread():
    code = ticket_code("demo-county:2026-11-23:A001")
    assert code.startswith("demo-county:2026-11-23:A001:") and len(code) == len("demo-county:2026-11-23:A001") + 2
    assert parse_ticket_code(code) == "demo-county:2026-11-23:A001"
    with pytest.raises(ValueError, match="check character"):
        parse_ticket_code(code.replace("A001", "A007"))
    with pytest.raises(ValueError, match="not a ticket code"):
        parse_ticket_code("hello")


ids = st.builds(lambda site, n, p: f"{site}:2026-11-23:{p}{n:03d}",
                st.from_regex(r"[a-z][a-z0-9-]{2,12}", fullmatch=True), st.integers(1, 999),
                st.sampled_from("ABCDEF"))


@settings(max_examples=300, deadline=None)
@given(ids, st.data())
def test_every_single_substitution_and_adjacent_transposition_is_caught(ticket_id, data):
    check = mod37_2(ticket_id)
    sig = [i for i, c in enumerate(ticket_id) if c.isalnum()]
    i = data.draw(st.sampled_from(sig))
    repl = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"))
    changed = ticket_id[:i] + repl + ticket_id[i + 1:]
    if changed.upper() != ticket_id.upper():
        assert not is_valid(changed, check)
    j = data.draw(st.sampled_from(sig[:-1]))
    k = sig[sig.index(j) + 1]  # the next significant character (separators do not count)
    swapped = list(ticket_id)
    swapped[j], swapped[k] = swapped[k], swapped[j]
    swapped = "".join(swapped)
    if swapped.upper() != ticket_id.upper():
        assert not is_valid(swapped, check)
