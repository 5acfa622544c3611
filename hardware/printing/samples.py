"""Sample documents for a site: what `onewindow print-sample`, docs/make_images.py and the bench print."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hardware.printing import layouts
from hardware.printing.document import Document


def sample_time(site: Any) -> datetime:
    """A fixed Monday morning (09:01:02 local), so sample output does not change from run to run."""
    return datetime(2026, 11, 23, 9, 1, 2, tzinfo=site.tz)


def sample_ticket(site: Any, item: Any | None = None, now: datetime | None = None, ahead: int = 4) -> dict:
    """A ticket dict shaped like the server's issue reply."""
    now = now or sample_time(site)
    prefix = item.business_type if item is not None else site.business_types[0].prefix
    bt = site.business_type(prefix)
    number = f"{prefix}{ahead + 1:03d}"
    day = now.date().isoformat()
    return {"id": f"{site.site_id}:{day}:{number}", "number": number, "business_type": prefix,
            "item": item.code if item is not None else None, "issued_at": now.isoformat(timespec="seconds"),
            "service_day": day, "ahead": ahead,
            "estimated_wait_min": round(ahead * (bt.service_minutes if bt else 6) / 2, 1), "priority_group": None}


def sample_documents(site: Any, item_code: str | None = None, lang: str = "zh", paper: int = 80,
                     refusal: bool = False) -> list[Document]:
    """A ticket and the notice slip for `item_code` (default: the catalogue's longest item), optionally a refusal."""
    cat = site.catalogue
    item = cat.item(item_code) if item_code else cat.longest_item()
    if item_code and item is None:
        raise KeyError(f"no item {item_code!r} in the catalogue (codes: {', '.join(i.code for i in cat.items)})")
    now = sample_time(site)
    docs = [layouts.ticket(site, sample_ticket(site, item, now), lang, paper)]
    if item is not None:
        docs.append(layouts.notice_slip(site, item, now, lang, paper))
    if refusal:
        next_open = (now + timedelta(days=1)).replace(hour=8, minute=30, second=0)
        docs.append(layouts.refusal_slip(site, "quota_reached", now, next_open=next_open,
                                         business_type=item.business_type if item else None, lang=lang,
                                         paper=paper))
    return docs
