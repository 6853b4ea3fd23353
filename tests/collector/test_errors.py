"""Every error the collector raises on purpose has one root, CollectorError; ValueError stays a base."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.errors import CollectorError
from collector.kb import ArticleError, KnowledgeBase
from collector.rules.settings import SettingsError, load_settings


@pytest.mark.parametrize("error", [ArticleError, SettingsError])
def test_each_error_is_a_collector_error_and_still_a_value_error(error: type[Exception]) -> None:
    assert issubclass(error, CollectorError) and issubclass(error, ValueError)


def test_a_bad_rules_file_is_caught_as_a_collector_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("no_such_rule = 1\n")
    with pytest.raises(CollectorError, match=r"rules\.toml"):
        load_settings(rules)


def test_a_bad_article_is_caught_as_a_collector_error(tmp_path: Path) -> None:
    (tmp_path / "broken.md").write_text("no front matter here\n", encoding="utf-8")
    with pytest.raises(CollectorError, match="broken"):
        KnowledgeBase.load(tmp_path)
