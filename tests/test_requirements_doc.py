"""docs/requirements.md lists every requirement number the repository cites, each once,
so that a ``# ORG-7`` in the code can be looked up from a clone."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS_DOC = PROJECT_ROOT / "docs" / "requirements.md"

FAMILIES = ("ACC", "ORG", "SVC", "CON", "REQ", "ANON", "SEC")
CITATION = re.compile(r"\b(?:" + "|".join(FAMILIES) + r")-\d+\b")
# A listed requirement: a bullet that starts with its number in bold.
LISTED = re.compile(r"^- \*\*(" + CITATION.pattern + r")\*\*\s+\S", re.MULTILINE)

# What is not the project's own text: virtualenvs, caches, local data, build output.
SKIPPED_DIRECTORIES = {
    ".git",
    ".venv",
    ".venv-fuzz",
    "var",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".schemathesis",
    "node_modules",
}
SKIPPED_PATHS = {Path("bench/results")}
BINARY_SUFFIXES = {".mo", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".woff", ".woff2", ".sqlite3", ".xlsx", ".zip"}


def repository_text_files() -> list[Path]:
    found = []
    pending = [PROJECT_ROOT]
    while pending:
        directory = pending.pop()
        for entry in directory.iterdir():
            relative = entry.relative_to(PROJECT_ROOT)
            if entry.is_symlink() or relative in SKIPPED_PATHS:
                continue
            if entry.is_dir():
                if entry.name not in SKIPPED_DIRECTORIES:
                    pending.append(entry)
            elif entry.suffix.lower() not in BINARY_SUFFIXES:
                found.append(entry)
    return found


def cited_requirements() -> dict[str, set[str]]:
    """Every requirement number cited outside docs/requirements.md, with where."""
    citations: dict[str, set[str]] = {}
    for path in repository_text_files():
        if path == REQUIREMENTS_DOC:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number in CITATION.findall(text):
            citations.setdefault(number, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return citations


def listed_requirements() -> Counter:
    return Counter(LISTED.findall(REQUIREMENTS_DOC.read_text(encoding="utf-8")))


def test_every_cited_requirement_is_listed():
    listed = listed_requirements()
    citations = cited_requirements()
    # The scan works: the code cites requirements of every family.
    assert {number.split("-")[0] for number in citations} == set(FAMILIES)
    missing = {number: sorted(where)[:3] for number, where in citations.items() if number not in listed}
    assert not missing, f"cited but not listed in docs/requirements.md: {missing}"


def test_every_requirement_is_listed_once():
    listed = listed_requirements()
    assert listed, "docs/requirements.md lists no requirement"
    assert not [number for number, count in listed.items() if count > 1]


def test_numbers_run_without_gaps_within_each_family():
    """A gap means a requirement was dropped or a number mistyped."""
    by_family: dict[str, list[int]] = {}
    for number in listed_requirements():
        family, index = number.split("-")
        by_family.setdefault(family, []).append(int(index))
    assert set(by_family) == set(FAMILIES)
    for family, indexes in by_family.items():
        assert sorted(indexes) == list(range(1, len(indexes) + 1)), family


def test_every_line_that_mentions_a_requirement_first_is_a_listing():
    """A line starting a bullet with a number not in bold would be missed by the
    listing check above; there is none."""
    text = REQUIREMENTS_DOC.read_text(encoding="utf-8")
    loose = [line for line in text.splitlines() if re.match(r"^- \W*" + CITATION.pattern, line)]
    assert [line for line in loose if not LISTED.match(line)] == []


def test_the_readme_points_to_the_list_in_the_repository():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/requirements.md" in readme
    assert "../shared/" not in readme
