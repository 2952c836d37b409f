"""Recover each cable's exact text and metadata from a mirror page; no Scrapy, no file writes."""

from cleaners.model import Cable, CleanerWarning, PageResult, RulesetInfo, Warn
from cleaners.pipeline import CLEANER_VERSION, clean, clean_page
from cleaners.ruleset import RulesError, Ruleset, load_rules

__all__ = [
    "CLEANER_VERSION",
    "Cable",
    "CleanerWarning",
    "PageResult",
    "RulesError",
    "Ruleset",
    "RulesetInfo",
    "Warn",
    "clean",
    "clean_page",
    "load_rules",
]
