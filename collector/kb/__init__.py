"""Knowledge base: Markdown articles with TOML front matter, matched to incidents by condition.

An article starts with a front matter block between `+++` lines:

    +++
    title = "Printer out of toner"
    conditions = ["printer_toner_low", "printer_toner_empty", "supply_order"]
    last_reviewed = 2026-01-15
    +++

and its numbered list items are the steps shown with an incident. Articles not
reviewed for `STALE_DAYS` are flagged. Shipped articles live in `articles/`; an
operator's directory adds to them and replaces a shipped one with the same file name.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import msgspec

from collector.errors import CollectorError

SHIPPED = Path(__file__).with_name("articles")
STALE_DAYS = 180
_STEP = re.compile(r"^\s*\d+[.)]\s+(.*)$")


class FrontMatter(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: str
    conditions: list[str]
    last_reviewed: dt.date
    tags: list[str] = []


class ArticleError(CollectorError, ValueError):
    """An article that cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class Article:
    slug: str
    title: str
    conditions: tuple[str, ...]
    last_reviewed: dt.date
    body: str
    steps: tuple[str, ...]

    def stale(self, today: dt.date) -> bool:
        return (today - self.last_reviewed).days > STALE_DAYS


def parse_article(slug: str, text: str) -> Article:
    """One article from its Markdown text."""
    parts = text.split("+++", 2)
    if len(parts) != 3 or parts[0].strip():
        raise ArticleError(f"{slug}: no +++ front matter at the top")
    try:
        meta = msgspec.convert(tomllib.loads(parts[1]), FrontMatter)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as err:
        raise ArticleError(f"{slug}: {err}") from err
    body = parts[2].strip()
    steps = tuple(m.group(1).strip() for line in body.splitlines() if (m := _STEP.match(line)))
    return Article(slug, meta.title, tuple(meta.conditions), meta.last_reviewed, body, steps)


class KnowledgeBase:
    """All articles, by slug, with a lookup by condition."""

    def __init__(self, articles: list[Article]) -> None:
        self.articles = {a.slug: a for a in sorted(articles, key=lambda a: a.slug)}

    @classmethod
    def load(cls, *directories: Path) -> KnowledgeBase:
        found: dict[str, Article] = {}
        for directory in (SHIPPED, *directories):
            for path in sorted(directory.glob("*.md")):
                found[path.stem] = parse_article(path.stem, path.read_text(encoding="utf-8"))
        return cls(list(found.values()))

    def for_condition(self, *names: str) -> list[Article]:
        """Articles covering any of `names` (an incident passes its condition and its rule)."""
        wanted = set(names)
        return [a for a in self.articles.values() if wanted.intersection(a.conditions)]

    def stale(self, today: dt.date) -> list[Article]:
        return [a for a in self.articles.values() if a.stale(today)]
