"""The Simplified Chinese catalog is complete and faithful (Chinese and English
throughout).

Every user-facing string is written in English in the source and translated in
``config/locale/zh_Hans/LC_MESSAGES/django.po``. These tests read that catalog with a small
pure-Python parser (no gettext binaries needed) and check that:

* the header declares the language, UTF-8 and Chinese's single plural form;
* every entry has a non-empty translation and none is marked fuzzy;
* every placeholder (``%(name)s``, ``%(n)d``, ``{name}``) and HTML tag in a msgid appears
  identically in its translation, so formatting never raises or drops a value;
* the compiled ``django.mo`` exists and is current: Django's ``gettext``/``ngettext``
  under ``zh-hans`` return exactly the .po translation for every entry. A stale .mo
  (someone ran ``makemessages`` and forgot ``compilemessages``) fails here.

To refresh the catalog::

    .venv/bin/python manage.py makemessages -l zh_Hans --no-obsolete \\
        --ignore=.venv --ignore=var --ignore=tests --ignore=bench
    # translate, then
    .venv/bin/python manage.py compilemessages -l zh_Hans --ignore=.venv
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
LC_MESSAGES = ROOT / "config" / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")
_PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%[-#0 +]*\d*(?:\.\d+)?[sdif]|\{\w*\}")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def label(self) -> str:
        return f"django.po:{self.line} {self.msgid!r}"


def _unquote(token: str) -> str:
    """Turn one PO string literal (with its quotes) into text."""
    assert token.startswith('"') and token.endswith('"'), token
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def parse_po(path: Path) -> list[Entry]:
    """Parse a PO file into entries (the header included, obsolete ``#~`` entries not)."""
    entries: list[Entry] = []
    entry: Entry | None = None
    pending_flags: set[str] = set()
    target: tuple[str, int | None] | None = None  # which field continuation lines extend

    def finish() -> None:
        nonlocal entry
        if entry is not None:
            entries.append(entry)
        entry = None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            target = None
            continue
        if line.startswith("#~"):
            continue  # obsolete entry
        if line.startswith("#,"):
            finish()
            pending_flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#"):
            if entry is not None and entry.msgstr:
                finish()
            continue
        if line.startswith('"'):
            assert entry is not None and target is not None, f"stray string at line {number}"
            name, index = target
            text = _unquote(line)
            if name == "msgstr":
                entry.msgstr[index] += text
            else:
                setattr(entry, name, (getattr(entry, name) or "") + text)
            continue
        match = _KEYWORD.match(line)
        assert match, f"cannot parse line {number}: {raw!r}"
        keyword, index, literal = match.groups()
        text = _unquote(literal)
        if keyword in ("msgctxt", "msgid") and entry is not None and entry.msgstr:
            finish()  # a new entry started without a blank line
        if entry is None:
            entry = Entry(flags=pending_flags, line=number)
            pending_flags = set()
        if keyword.startswith("msgstr"):
            slot = int(index) if index is not None else 0
            entry.msgstr[slot] = text
            target = ("msgstr", slot)
        else:
            setattr(entry, keyword, text)
            target = (keyword, None)
    finish()
    return entries


def _catalog() -> tuple[dict[str, str], list[Entry]]:
    entries = parse_po(PO_FILE)
    header = next(e for e in entries if e.msgid == "" and e.msgctxt is None)
    fields = dict(line.split(":", 1) for line in header.msgstr[0].splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in fields.items()}, [e for e in entries if e is not header]


HEADER, ENTRIES = _catalog() if PO_FILE.exists() else ({}, [])


def test_catalog_exists_and_is_not_trivial():
    assert PO_FILE.exists(), f"{PO_FILE} is missing; run makemessages -l zh_Hans"
    assert len(ENTRIES) > 100, f"only {len(ENTRIES)} entries; was makemessages run from the project root?"


def test_header_declares_simplified_chinese():
    assert HEADER.get("Language") == "zh_Hans"
    assert HEADER.get("Content-Type") == "text/plain; charset=UTF-8"
    assert HEADER.get("Plural-Forms", "").replace(" ", "") == "nplurals=1;plural=0;"


def test_every_entry_is_translated_and_none_is_fuzzy():
    fuzzy = [e.label for e in ENTRIES if "fuzzy" in e.flags]
    untranslated = [e.label for e in ENTRIES if not e.msgstr or not all(s.strip() for s in e.msgstr.values())]
    assert not fuzzy, f"fuzzy entries must be reviewed: {fuzzy}"
    assert not untranslated, f"untranslated entries: {untranslated}"


def test_plural_entries_have_exactly_the_single_chinese_form():
    plural = [e for e in ENTRIES if e.msgid_plural is not None]
    assert plural, "the catalog is expected to contain ngettext entries"
    wrong = [(e.label, sorted(e.msgstr)) for e in plural if sorted(e.msgstr) != [0]]
    assert not wrong, f"zh has nplurals=1, so only msgstr[0] is allowed: {wrong}"


@pytest.mark.parametrize("pattern", [_PLACEHOLDER, _HTML_TAG], ids=["placeholders", "html-tags"])
def test_translations_keep_placeholders_and_markup(pattern):
    problems = []
    for entry in ENTRIES:
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural is not None else [])
        expected = Counter(pattern.findall(sources[-1]))
        if any(Counter(pattern.findall(source)) != expected for source in sources):
            problems.append(f"{entry.label}: singular and plural msgids differ")
        for index, text in entry.msgstr.items():
            found = Counter(pattern.findall(text))
            if found != expected:
                problems.append(f"{entry.label} msgstr[{index}]: expected {sorted(expected)}, found {sorted(found)}")
    assert not problems, "\n".join(problems)


def test_compiled_catalog_is_current():
    """The .mo Django loads gives the .po's translation for every entry, plural ones via
    ``ngettext``; this proves ``compilemessages`` ran after the last .po change."""
    assert MO_FILE.exists(), f"{MO_FILE} is missing; run compilemessages -l zh_Hans"
    stale = []
    with translation.override("zh-hans"):
        for entry in ENTRIES:
            if entry.msgid_plural is not None:
                for n in (1, 2, 5):
                    if entry.msgctxt is not None:
                        got = translation.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
                    else:
                        got = translation.ngettext(entry.msgid, entry.msgid_plural, n)
                    if got != entry.msgstr[0]:
                        stale.append(f"{entry.label} (n={n}): {got!r}")
            else:
                if entry.msgctxt is not None:
                    got = translation.pgettext(entry.msgctxt, entry.msgid)
                else:
                    got = translation.gettext(entry.msgid)
                if got != entry.msgstr[0]:
                    stale.append(f"{entry.label}: {got!r}")
    assert not stale, "django.mo is stale; run compilemessages -l zh_Hans:\n" + "\n".join(stale)


def test_core_screens_render_in_chinese():
    with translation.override("zh-hans"):
        assert translation.gettext("Sign in") == "登录"
        assert translation.gettext("Create your account") == "创建账号"
        assert translation.gettext("Sub-administrator") == "子管理员"
        assert translation.gettext("Operations console") == "运营后台"
        assert translation.gettext("Custodia") == "Custodia"
        message = translation.ngettext(
            "The code is wrong. %(n)d attempt left.", "The code is wrong. %(n)d attempts left.", 3
        ) % {"n": 3}
        assert message == "验证码错误，还可尝试 3 次。"
    with translation.override("en"):
        assert translation.gettext("Sign in") == "Sign in"


def test_parser_handles_the_po_syntax_it_relies_on(tmp_path):
    sample = tmp_path / "sample.po"
    sample.write_text(
        'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\n#| msgid "old"\nmsgid ""\n"Hello %(name)s, "\n"\\"quoted\\""\n'
        'msgstr "你好 %(name)s，\\"引号\\""\n\n'
        'msgctxt "menu"\nmsgid "One"\nmsgid_plural "Many"\nmsgstr[0] "多个"\n\n'
        '#~ msgid "gone"\n#~ msgstr "已删除"\n',
        encoding="utf-8",
    )
    header, fuzzy, plural = parse_po(sample)
    assert header.msgstr == {0: "Language: zh_Hans\n"}
    assert fuzzy.msgid == 'Hello %(name)s, "quoted"'
    assert fuzzy.msgstr == {0: '你好 %(name)s，"引号"'}
    assert fuzzy.flags == {"fuzzy", "python-format"}
    assert (plural.msgctxt, plural.msgid, plural.msgid_plural, plural.msgstr) == ("menu", "One", "Many", {0: "多个"})


SOURCE_DIRS = ("config", "accounts", "organizations", "consent", "requests", "dataprotection", "templates")


def test_catalog_covers_every_string_in_the_source(tmp_path):
    """Re-extract the strings from a copy of the source: a string added without a
    translation (someone forgot makemessages) leaves an untranslated entry and fails."""
    import os
    import shutil
    import subprocess
    import sys

    from tests.conftest import require

    require(None if shutil.which("xgettext") else "xgettext is not installed: apt-get install gettext")
    for name in SOURCE_DIRS:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    env = {**os.environ, "CUSTODIA_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", "--ignore=var"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    fresh = parse_po(tmp_path / "config" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    missing = [entry.label for entry in fresh if entry.msgid and (
        "fuzzy" in entry.flags or not all(entry.msgstr.values()) or not entry.msgstr)]  # fmt: skip
    assert missing == [], "untranslated after makemessages:\n" + "\n".join(missing[:40])


def test_translation_functions_keep_names_makemessages_extracts():
    """``makemessages`` finds strings by function name (``gettext``, ``gettext_lazy``,
    ``_``...): a string marked through another alias (``gettext_lazy as _lazy``) is never
    extracted, so it stays English for Chinese readers. Only ``_`` may rename one."""
    import ast

    renamed = []
    for name in SOURCE_DIRS:
        for path in (ROOT / name).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
                    renamed += [
                        f"{path.relative_to(ROOT)}: {alias.name} as {alias.asname}"
                        for alias in node.names
                        if alias.asname not in (None, "_")
                    ]
    assert renamed == []
