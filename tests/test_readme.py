"""What a newcomer meets: the README opens with the two commands, and documents every config key."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from onewindow.config import SITES_DIR

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_opens_with_the_demo_and_test_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1).splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["./run demo", "./run test"]
    assert README.index("```sh") < 40
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./run test" in ci


def keys_of(table: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for entry in value:
                keys |= keys_of(entry, f"{prefix}{key}.")
        elif isinstance(value, dict):
            keys |= keys_of(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def test_every_key_of_the_sample_sites_is_in_the_readme():
    section = README[README.index("## Configuration"):README.index("## Development")]
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)?)`", section))
    used = set()
    for path in SITES_DIR.glob("*.toml"):
        if "catalogue" not in path.name:
            used |= keys_of(tomllib.loads(path.read_text(encoding="utf-8")))
    missing = sorted(k for k in used if k not in documented)
    assert not missing, f"config keys missing from the README: {missing}"


SECTION_READERS = {"_site_section": "site", "_business_types": "business_type", "_windows": "window",
                   "_priority": "priority", "_calls": "calls", "_ratings_enabled": "ratings"}


def keys_the_loader_reads() -> set[str]:
    """section.key for every key name a section reader of onewindow/config.py mentions (table names,
    dict keys of its results, keyword values and words with spaces or dots left out)."""
    tree = ast.parse((ROOT / "onewindow" / "config.py").read_text(encoding="utf-8"))
    read = set()
    for fn in tree.body:
        section = SECTION_READERS.get(getattr(fn, "name", ""))
        if section is None:
            continue
        skip = {id(k) for node in ast.walk(fn) if isinstance(node, ast.Dict) for k in node.keys}
        skip |= {id(node.value) for node in ast.walk(fn) if isinstance(node, ast.keyword)}  # default="void"
        for node in ast.walk(fn):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                    and re.fullmatch(r"[a-z_]+", node.value) and node.value != section):
                read.add(f"{section}.{node.value}")
    return read


def test_every_key_the_loader_reads_is_in_the_readme():
    read = keys_the_loader_reads()
    assert len(read) > 25 and {"site.day_reset", "window.serves", "priority.line_step_minutes", "window.hours"} <= read
    missing = sorted(k for k in read if f"`{k}`" not in README)
    assert not missing, missing


def test_every_picture_the_readme_shows_exists():
    pictures = re.findall(r'src="([^"]+)"', README)
    assert pictures
    missing = [p for p in pictures if not (ROOT / p).is_file()]
    assert not missing, missing
