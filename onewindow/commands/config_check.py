"""`onewindow check-config`: validate a site configuration and its catalogue."""
from __future__ import annotations

import argparse

from onewindow import config as cfg


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", default=None,
                        help="site configuration (TOML); default: the sample county hall")


def load_config(args: argparse.Namespace) -> cfg.SiteConfig:
    return cfg.load(args.config or cfg.sample_path())


def site_or_report(args: argparse.Namespace) -> cfg.SiteConfig | None:
    """The site configuration, or None after printing every problem with it (the command exits 1)."""
    try:
        return load_config(args)
    except cfg.ConfigError as exc:
        print(exc)
        return None


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
