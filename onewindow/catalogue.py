"""The service-item catalogue: what each item needs, so a citizen can finish it in one trip.

A catalogue is data (TOML, versioned with the site configuration). `load_catalogue_data` returns a
`Catalogue` and a list of problems, each naming the item and the field (`item 'CB-01'.material[1].copies`).

Top-level keys: `version`, `online_base_url` (an item's online guide is `online_base_url` + its code unless
the item gives `online_url`) and `[[item]]` tables. An item's keys are the fields of `Item`; a material's
the fields of `Material`. Unknown keys are reported (a misspelt `materail` would silently drop a list).
English lists (`conditions_en`, `steps_en`), when given, must match the Chinese ones item for item.
Where and when an item is done, and the phone numbers, come from the site configuration.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, fields
from typing import Any, Iterable
from urllib.parse import quote

MATERIAL_FORMS = ("original", "copy", "original_and_copy", "form")
APPLICANTS = ("individual", "unit", "institution", "")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,31}$")
CATALOGUE_KEYS = {"version", "online_base_url", "item"}


@dataclass(frozen=True)
class Material:
    name: str
    name_en: str = ""
    copies: int = 1
    form: str = "original"  # original | copy | original_and_copy | form (a form filled in at the hall)
    issuer: str = ""
    issuer_en: str = ""


@dataclass(frozen=True)
class Item:
    code: str
    business_type: str
    name: str
    name_en: str
    service_minutes: float
    category: str = ""
    category_en: str = ""
    legal_basis: str = ""
    legal_basis_en: str = ""
    conditions: tuple[str, ...] = ()
    conditions_en: tuple[str, ...] = ()
    materials: tuple[Material, ...] = ()
    steps: tuple[str, ...] = ()
    steps_en: tuple[str, ...] = ()
    fee: str = "不收费"
    fee_en: str = "Free of charge"
    time_limit: str = ""
    time_limit_en: str = ""
    time_limit_days: int | None = None  # working days; 0 = done on the spot
    online_url: str = ""
    note: str = ""
    note_en: str = ""
    applicant: str = ""  # individual | unit | institution

    def text_size(self) -> int:
        """How much there is to print about this item (characters of its notice slip), for "the longest item"."""
        parts = [self.name, self.legal_basis, self.fee, self.time_limit, self.note, *self.conditions, *self.steps]
        parts += [m.name + m.issuer for m in self.materials]
        return sum(len(p) for p in parts)


@dataclass(frozen=True)
class Catalogue:
    items: tuple[Item, ...]
    version: str = ""
    online_base_url: str = ""
    _by_code: dict[str, Item] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_code.update({i.code: i for i in self.items})

    def item(self, code: str) -> Item | None:
        return self._by_code.get(code)

    def items_of(self, prefix: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.business_type == prefix)

    def url_for(self, item: Item) -> str:
        """The item's online guide: its own `online_url`, else `online_base_url` + its code ("" if neither)."""
        if item.online_url:
            return item.online_url
        return self.online_base_url + quote(item.code, safe=":") if self.online_base_url else ""

    def longest_item(self) -> Item | None:
        """The item with the most to print (the notice slip a layout test should try)."""
        return max(self.items, key=Item.text_size, default=None)


# Control characters (C0, DEL, C1) and bidirectional overrides: on a thermal printer they are commands
# (one fed 37 cm of paper and cut a slip in two), on a screen they reorder or hide text.
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def control_chars(text: str) -> list[tuple[int, str]]:
    """(position, character) of each control character in `text`."""
    return [(i, ch) for i, ch in enumerate(text) if unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS]


def _no_controls(value: str, key: str, errors: list) -> bool:
    found = control_chars(value)
    if found:
        where = ", ".join(f"U+{ord(ch):04X} at {i}" for i, ch in found[:3])
        errors.append((key, value, f"contains control characters ({where}): printers and screens would obey them"))
    return not found


def _text_list(raw: dict, key: str, where: str, errors: list) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append((f"{where}.{key}", value, "must be a list of non-empty strings"))
        return ()
    if not all([_no_controls(v, f"{where}.{key}[{i}]", errors) for i, v in enumerate(value)]):
        return ()
    return tuple(value)


def _text(raw: dict, key: str, where: str, errors: list, required: bool = False, default: str = "") -> str:
    value = raw.get(key, None)
    if value is None:
        if required:
            errors.append((f"{where}.{key}", None, "is required"))
        return default
    if not isinstance(value, str) or (required and not value.strip()):
        errors.append((f"{where}.{key}", value, "must be a non-empty string" if required else "must be a string"))
        return default
    return value if _no_controls(value, f"{where}.{key}", errors) else default


def load_catalogue_data(raw: dict, prefixes: Iterable[str] | None = None) -> tuple[Catalogue, list[tuple[str, Any, str]]]:
    """Validate raw catalogue data; return the catalogue and its problems (key, value, why)."""
    errors: list[tuple[str, Any, str]] = []
    known = set(prefixes) if prefixes is not None else None
    raw_items = raw.get("item", [])
    if not isinstance(raw_items, list):
        return Catalogue(items=()), [("item", raw_items, "must be an array of [[item]] tables")]
    for key in raw:
        if key not in CATALOGUE_KEYS:
            errors.append((key, raw[key], f"unknown key (known: {', '.join(sorted(CATALOGUE_KEYS))})"))
    base = raw.get("online_base_url", "")
    if not isinstance(base, str) or (base and not base.startswith(("https://", "http://"))):
        errors.append(("online_base_url", base, "must be an http(s) address"))
        base = ""
    items: list[Item] = []
    for i, it in enumerate(raw_items):
        if not isinstance(it, dict):
            errors.append((f"item[{i}]", it, "must be a table"))
            continue
        item = _item(it, i, known, errors)
        if any(other.code == item.code for other in items):
            where = f"item {item.code!r}" if item.code else f"item[{i}]"
            errors.append((f"{where}.code", item.code, "is used by another item"))
        items.append(item)
    version = raw.get("version", "")
    return Catalogue(items=tuple(items), version=str(version), online_base_url=base), errors


def _item(it: dict, i: int, known: set[str] | None, errors: list) -> Item:
    """One [[item]] table."""
    code = it.get("code")
    where = f"item {code!r}" if isinstance(code, str) and code else f"item[{i}]"
    for key in it:
        if key not in ITEM_KEYS:
            errors.append((f"{where}.{key}", it[key], "unknown field"))
    code = _text(it, "code", where, errors, required=True)
    if code and not CODE_RE.match(code):
        errors.append((f"{where}.code", code, "must be 1-32 letters, digits or : . _ - (no spaces)"))
    bt = _text(it, "business_type", where, errors, required=True)
    if known is not None and bt and bt not in known:
        errors.append((f"{where}.business_type", bt, f"is not a business type of this site ({', '.join(sorted(known))})"))
    minutes = it.get("service_minutes", 8)
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0.5 <= minutes <= 240:
        errors.append((f"{where}.service_minutes", minutes, "must be a number of minutes from 0.5 to 240"))
        minutes = 8
    days = it.get("time_limit_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 365):
        errors.append((f"{where}.time_limit_days", days, "must be a whole number of working days, 0 to 365"))
        days = None
    applicant = _text(it, "applicant", where, errors)
    if applicant not in APPLICANTS:
        errors.append((f"{where}.applicant", applicant, "must be individual, unit or institution"))
        applicant = ""
    for zh_key in ("conditions", "steps"):
        zh, en = it.get(zh_key, []), it.get(f"{zh_key}_en", [])
        if isinstance(zh, list) and isinstance(en, list) and en and len(en) != len(zh):
            errors.append((f"{where}.{zh_key}_en", en,
                           f"has {len(en)} entries but {zh_key} has {len(zh)}: translate each one"))
    url = _text(it, "online_url", where, errors)
    if url and not url.startswith(("https://", "http://")):
        errors.append((f"{where}.online_url", url, "must be an http(s) address"))

    def text(key: str, **kw) -> str:
        return _text(it, key, where, errors, **kw)

    def texts(key: str) -> tuple[str, ...]:
        return _text_list(it, key, where, errors)

    return Item(
        code=code, business_type=bt, name=text("name", required=True), name_en=text("name_en"),
        service_minutes=float(minutes), category=text("category"), category_en=text("category_en"),
        legal_basis=text("legal_basis"), legal_basis_en=text("legal_basis_en"),
        conditions=texts("conditions"), conditions_en=texts("conditions_en"),
        materials=_materials(it.get("material", []), where, errors),
        steps=texts("steps"), steps_en=texts("steps_en"),
        fee=text("fee", default="不收费"), fee_en=text("fee_en", default="Free of charge"),
        time_limit=text("time_limit"), time_limit_en=text("time_limit_en"), time_limit_days=days,
        online_url=url, note=text("note"), note_en=text("note_en"), applicant=applicant,
    )


def _materials(raw_mats: Any, where: str, errors: list) -> tuple[Material, ...]:
    """An item's [[item.material]] tables."""
    if not isinstance(raw_mats, list):
        errors.append((f"{where}.material", raw_mats, "must be an array of [[item.material]] tables"))
        return ()
    materials: list[Material] = []
    for j, m in enumerate(raw_mats):
        mw = f"{where}.material[{j}]"
        if not isinstance(m, dict):
            errors.append((mw, m, "must be a table"))
            continue
        for key in m:
            if key not in MATERIAL_KEYS:
                errors.append((f"{mw}.{key}", m[key], "unknown field"))
        copies = m.get("copies", 1)
        if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= 20:
            errors.append((f"{mw}.copies", copies, "must be a whole number from 1 to 20"))
            copies = 1
        form = m.get("form", "original")
        if form not in MATERIAL_FORMS:
            errors.append((f"{mw}.form", form, f"must be one of {', '.join(MATERIAL_FORMS)}"))
            form = "original"
        materials.append(Material(
            name=_text(m, "name", mw, errors, required=True), name_en=_text(m, "name_en", mw, errors),
            copies=copies, form=form, issuer=_text(m, "issuer", mw, errors),
            issuer_en=_text(m, "issuer_en", mw, errors)))
    return tuple(materials)


ITEM_KEYS = {f.name for f in fields(Item)} - {"materials"} | {"material"}
MATERIAL_KEYS = {f.name for f in fields(Material)}
