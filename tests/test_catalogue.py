"""The service-item catalogue: the shipped samples are complete, and a broken entry is named by item and field."""
from __future__ import annotations

import pytest

from onewindow import config
from tests.support import county_site as county, village_site as village
from onewindow.catalogue import load_catalogue_data

# Provincial implementation codes published for items of the national list (from the domain notes' item list).
PUBLIC_CODES = {
    "HB:0736010001", "HB:0736010002", "HB:0736010004", "HB:0736010006", "HB:2036019001", "HB:2036019002",
    "HB:2036024001", "HB:2036024002", "HB:2036024003", "HB:2036024004", "HB:2036023001", "HB:2036023002",
    "HB:2036025000", "HB:0536004002", "HB:0536004003", "HB:2036021001", "HB:2036021002",
}


def test_the_county_catalogue_covers_all_six_business_types():
    site = county()
    for bt in site.business_types:
        assert site.catalogue.items_of(bt.prefix), f"no item for {bt.prefix} {bt.name}"
    assert len(site.catalogue.items) >= 25


def test_the_village_point_handles_five_to_eight_items_of_one_type():
    items = village().catalogue.items
    assert 5 <= len(items) <= 8 and {i.business_type for i in items} == {"A"}


@pytest.mark.parametrize("which", ["county", "village"])
def test_every_item_is_complete_in_both_languages(which):
    site = county() if which == "county" else village()
    for item in site.catalogue.items:
        where = item.code
        assert item.name and item.name_en, where
        assert item.materials and item.steps and item.conditions, where
        assert len(item.steps_en) == len(item.steps) and len(item.conditions_en) == len(item.conditions), where
        assert item.time_limit and item.time_limit_en and item.time_limit_days is not None, where
        assert item.legal_basis and item.legal_basis_en, where
        assert 1 <= item.service_minutes <= 60, where
        assert all(m.name_en for m in item.materials), where
        assert site.catalogue.url_for(item).startswith("https://"), where


def test_public_facing_items_ask_for_few_materials():
    # The national list: public-facing items ask for at most 4 materials (reimbursement adds a bank account).
    for item in county().catalogue.items:
        assert len(item.materials) <= 5, item.code


def test_items_keep_the_public_implementation_code_where_the_item_list_gives_one():
    codes = {i.code for i in county().catalogue.items}
    assert PUBLIC_CODES <= codes, sorted(PUBLIC_CODES - codes)
    assert "CB-01" in codes  # a local code, used by the protocol examples


def test_the_longest_item_is_the_one_with_the_most_to_print():
    cat = county().catalogue
    longest = cat.longest_item()
    assert all(longest.text_size() >= i.text_size() for i in cat.items)


def test_an_items_online_guide_is_its_own_url_or_the_base_url_and_code():
    raw = {"online_base_url": "https://x.example/g/",
           "item": [{"code": "HB:1", "business_type": "A", "name": "甲"},
                    {"code": "B-2", "business_type": "A", "name": "乙", "online_url": "https://y.example/b2"}]}
    cat, errors = load_catalogue_data(raw, {"A"})
    assert errors == []
    assert [cat.url_for(i) for i in cat.items] == ["https://x.example/g/HB:1", "https://y.example/b2"]


def broken(item_patch: dict, material_patch: dict | None = None, top: dict | None = None):
    item = {"code": "X-1", "business_type": "A", "name": "测试事项", "name_en": "Test",
            "material": [{"name": "身份证", **(material_patch or {})}], **item_patch}
    return load_catalogue_data({"item": [item], **(top or {})}, {"A"})[1]


@pytest.mark.parametrize("patch, material, key, why", [
    ({"business_type": "Z"}, None, "item 'X-1'.business_type", "not a business type"),
    ({"service_minutes": 0}, None, "item 'X-1'.service_minutes", "0.5 to 240"),
    ({"time_limit_days": -1}, None, "item 'X-1'.time_limit_days", "working days"),
    ({"materail": []}, None, "item 'X-1'.materail", "unknown field"),
    ({"steps": ["取号", "办结"], "steps_en": ["Take a ticket"]}, None, "item 'X-1'.steps_en", "translate each"),
    ({"conditions": "无"}, None, "item 'X-1'.conditions", "list of non-empty strings"),
    ({"online_url": "ftp://x"}, None, "item 'X-1'.online_url", "http(s)"),
    ({"applicant": "robot"}, None, "item 'X-1'.applicant", "individual, unit or institution"),
    ({"code": "X 1"}, None, "item 'X 1'.code", "no spaces"),
    ({}, {"copies": 0}, "item 'X-1'.material[0].copies", "1 to 20"),
    ({}, {"form": "photo"}, "item 'X-1'.material[0].form", "must be one of"),
    ({}, {"name": ""}, "item 'X-1'.material[0].name", "non-empty"),
    ({}, {"copise": 2}, "item 'X-1'.material[0].copise", "unknown field"),
])
def test_a_broken_entry_is_reported_by_item_and_field(patch, material, key, why):
    errors = broken(patch, material)
    assert any(k == key and why in w for k, _, w in errors), errors


def test_catalogue_level_problems_are_reported_too():
    errors = broken({}, None, {"online_base_url": "www.example", "versoin": "1"})
    keys = {k for k, _, _ in errors}
    assert {"online_base_url", "versoin"} <= keys


def test_two_items_with_one_code_are_reported():
    raw = {"item": [{"code": "A-1", "business_type": "A", "name": "甲"},
                    {"code": "A-1", "business_type": "A", "name": "乙"}]}
    errors = load_catalogue_data(raw, {"A"})[1]
    assert ("item 'A-1'.code", "A-1", "is used by another item") in errors


def test_the_site_loader_prefixes_catalogue_problems_with_the_catalogue(tmp_path):
    site_raw = (config.sample_path("village-point")).read_text(encoding="utf-8")
    (tmp_path / "site.toml").write_text(site_raw, encoding="utf-8")
    lines = ['version = "x"', '[[item]]', 'code = "CB-01"', 'business_type = "A"', 'name = "城乡居民参保登记"',
              '[[item.material]]', 'name = "身份证"', 'copies = 99']
    (tmp_path / "village-catalogue.toml").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(config.ConfigError) as exc:
        config.load(tmp_path / "site.toml")
    assert ("catalogue:item 'CB-01'.material[0].copies", 99, "must be a whole number from 1 to 20") in exc.value.errors
