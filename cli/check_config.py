"""`onewindow check-config`: validate a site configuration and its catalogue."""
from __future__ import annotations

import argparse

from onewindow.config import add_config_argument, site_or_report


def register(sub) -> None:
    p = sub.add_parser("check-config", help="validate a site configuration and its catalogue")
    add_config_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    site = site_or_report(args)
    if site is None:
        return 1
    print(f"{site.source}: site {site.site_id} ({site.name}) is valid: {len(site.business_types)} business "
          f"types, {len(site.windows)} windows, {len(site.catalogue.items)} catalogue items")
    return 0
