"""Docstrings point to rules a reader can open: docs/rules.md, never the team-only brief.

The domain brief lives outside the repository, so a reference to it resolves for nobody who clones the
project. Every "docs/rules.md §N" (or §N.M) must name a numbered heading that exists in docs/rules.md.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "docs" / "rules.md"
THIS_FILE = Path(__file__).resolve()
NO_BRIEF_DIRS = ("mobile_api", "device_agent", "scripts", "bench", "tests")
REFERENCING = (*NO_BRIEF_DIRS, "docs", "deploy", "README.md", "Makefile", "pyproject.toml")
SKIP_PARTS = {"__pycache__", ".venv", ".git", "node_modules"}
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".cfg", ".ini", ".html", ".js", ".css", ".json", ".yaml", ".yml",
                 ".sh", ".env", ".example", ".j2", ""}

BRIEF = "domain" + ".md"  # spelled in two parts so this file does not match itself
REFERENCE = re.compile(r"docs/rules\.md((?:(?:,| and|,? or)?\s*§\s*\d+(?:\.\d+)?)+)")
SECTION = re.compile(r"§\s*(\d+(?:\.\d+)?)")
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", re.MULTILINE)


def _text_files(*roots: str) -> list[Path]:
    found: list[Path] = []
    for name in roots:
        base = ROOT / name
        candidates = [base] if base.is_file() else sorted(base.rglob("*")) if base.is_dir() else []
        for path in candidates:
            if (path.is_file() and path.suffix in TEXT_SUFFIXES and not SKIP_PARTS & set(path.parts)
                    and path.resolve() != THIS_FILE):
                found.append(path)
    return found


def _sections() -> set[str]:
    return set(HEADING.findall(RULES.read_text(encoding="utf-8")))


def test_rules_document_has_numbered_sections():
    sections = _sections()
    assert {"1", "2", "3", "4", "5", "6", "7", "8"} <= sections


def test_no_file_refers_to_the_team_only_brief():
    offenders = []
    for path in _text_files(*NO_BRIEF_DIRS):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if BRIEF in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "point to docs/rules.md instead:\n" + "\n".join(offenders)


def test_every_rules_reference_names_an_existing_section():
    sections = _sections()
    references = dangling = 0
    problems = []
    for path in _text_files(*REFERENCING):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in REFERENCE.finditer(text):
            for section in SECTION.findall(match.group(1)):
                references += 1
                if section not in sections:
                    dangling += 1
                    line = text.count("\n", 0, match.start()) + 1
                    problems.append(f"{path.relative_to(ROOT)}:{line}: docs/rules.md §{section}")
    assert not problems, f"{dangling} reference(s) to missing sections:\n" + "\n".join(problems)
    assert references > 0  # the scan found the references it is meant to check


def test_reference_pattern_reads_lists_and_subsections():
    found = [SECTION.findall(m.group(1)) for m in REFERENCE.finditer(
        "see docs/rules.md §1, §3, §4 and docs/rules.md §2.4's grace; not docs/rules.md alone")]
    assert found == [["1", "3", "4"], ["2.4"]]
