"""`onewindow credentials`: the site broker's password file, ACL, TLS files and per-device credentials."""
from __future__ import annotations

import argparse

from broker import security
from onewindow.config import ConfigError, load, sample_path


def register(sub) -> None:
    p = sub.add_parser("credentials", help="write the broker's password file, ACL, site CA and device credentials",
                       description="From the [[device]] registry of the site configuration (a default one when "
                                   "it lists none) write passwd, acl, ca.crt/ca.key, server.crt/key and "
                                   "devices/<id>.conf into DIR. Existing passwords and the CA are kept unless "
                                   "rotated. See docs/SECURITY.md.")
    p.add_argument("-c", "--config", default=None, help="site configuration (default: the sample county hall)")
    p.add_argument("--out", default="var/broker/security", metavar="DIR", help="where to write (default: %(default)s)")
    p.add_argument("--host", action="append", default=None, metavar="NAME",
                   help="a name or IP address the broker is reached at (repeatable; default 127.0.0.1, localhost)")
    p.add_argument("--url", default=None, help="broker URL to write into each device file, e.g. mqtts://hall:8883")
    p.add_argument("--rotate", action="append", default=[], metavar="DEVICE",
                   help="give DEVICE a new password (repeatable; 'all' for every device)")
    p.add_argument("--rotate-ca", action="store_true", help="make a new site CA and broker certificate")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        site = load(args.config or sample_path())
    except ConfigError as exc:
        print(exc)
        return 1
    hosts = tuple(args.host or ("127.0.0.1", "localhost"))
    files = security.generate(site, args.out, hosts=hosts, url=args.url, rotate=tuple(args.rotate),
                              rotate_ca=args.rotate_ca)
    devices = security.registry(site)
    print(f"wrote the security files of site {site.site_id} to {files.directory}: {len(devices)} devices "
          f"+ the server, CA {files.ca}, certificate for {', '.join(hosts)}")
    if not site.devices:
        print("the site lists no [[device]]: used the default registry "
              f"({', '.join(d.id for d in devices)})")
    if args.rotate or args.rotate_ca:
        print("reload the broker (kill -HUP, or restart `onewindow broker`) and give the rotated devices "
              "their new files")
    return 0
