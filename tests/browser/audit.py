"""Checks every page a browser test shows: accessibility with axe-core, and the
language of the interface (SEC-5 keeps the CSP strict, so axe is injected
through the DevTools protocol, never served).

How it watches: ``PageAudit.watch(context)`` adds an init script to the context --
axe-core and a small runner, evaluated in every document through the DevTools protocol,
so the strict CSP stays as it is -- and a binding the runner reports to. Each document
announces itself when it starts and, once loaded, runs axe and reads its visible text,
then reports. The context's requests are routed: before a page navigates away (a link,
a form, ``page.goto``), the route handler waits until the document still shown has
reported, then lets the request go. At the end of the test the open documents are
waited for. So every document a test sees is checked exactly once, and no check is
lost to a test that moves on quickly. (The route handler never evaluates in the page:
an evaluation waits for the very navigation the handler holds.)

The hold is short (``HOLD_SECONDS``), well inside the test's own action timeout, so a
slow check never turns into a test's click timing out: a page shown by a GET that has
not reported by then is opened again at the end of the test, with the session the
test had, and checked there (``WAIT_SECONDS``). Only a page shown by a POST, which
cannot be opened again, is held for the whole ``WAIT_SECONDS``.

What it checks:

* axe-core (``tests/browser/axe``, pinned in its package-lock.json): no violation of
  impact "serious" or "critical".
* English pages: no raw choice value (a ``TextChoices`` value shown as a whole element's
  text instead of its label) and no code-like token (``in_progress``,
  ``request.completed``) outside ``translate="no"`` elements.
* The same pages again in Chinese, at the end of the test (``zh-hans``, with the
  session the test had when it saw them): every ASCII word of the visible text must be
  a data value (found in the test's database), a proper noun or a code in a
  ``translate="no"`` element -- anything else is interface text left in English. Text
  inside an element marked with another ``lang`` (the language switcher's "English")
  is that language's, on purpose. A page pattern (path with ids replaced) is revisited
  once per test session, not once per test.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_FILE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")

# Words a Chinese page may show in Latin letters: names, formats, standards, units.
PROPER_NOUNS = frozenset(
    [
        "Custodia",
        "DingTalk",
        "English",  # a language's name, shown in that language (the switcher, the profile)
        "ZIP",
        "GBK",
        "PNG",
        "JPEG",
        "JPG",
        "SHA",
        "Bearer",
        "POST",  # an HTTP method, named as such in Chinese technical text too
        "README",  # the name of a file in the archive of a person's data
        "API",
        "APIs",
        "REST",
        "JSON",
        "CSV",
        "XLSX",
        "Excel",
        "SMS",
        "OTP",
        "TOTP",
        "QR",
        "URL",
        "URLs",
        "HTTP",
        "HTTPS",
        "ID",
        "IDs",
        "IP",
        "PDF",
        "UTF",
        "BOM",
        "OAuth",
        "OpenID",
        "GPC",
        "EEA",
        "GDPR",
        "PIPL",
        "CCPA",
        "APPI",
        "HK",
        "SAR",
        "SG",
        "CN",
        "EU",
        "UK",
        "US",
        "USA",
        "AU",
        "PRC",
        "ICP",
        "Cookie",
        "Cookies",
        "cookie",
        "cookies",
        "App",
        "Apps",
        "app",
        "SDK",
        "iOS",
        "Android",
        "Windows",
        "Mac",
        "WiFi",
        "Wi-Fi",
        "Bluetooth",
        "Python",
        "Django",
        "Celery",
        "Redis",
        "PostgreSQL",
        "SQLite",
        "GitHub",
        "Playwright",
        "Authenticator",
        "Google",
        "Microsoft",
        "YYYY",
        "MM",
        "DD",
        "HH",
        "AM",
        "PM",
        "UTC",
        "GMT",
        "CST",
        "KB",
        "MB",
        "GB",
        "TB",
        "min",
    ]
)
# Parts of a command name the console prints ("manage.py verify_audit_chain" is stripped
# whole; these stay for safety).
CONSOLE_WORDS = frozenset({"manage", "py"})

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
_CODE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b[a-z_]+\.[a-z_]+\b")
# Left out of the word checks: addresses, file names and extensions, domains, common
# abbreviations, and identifiers such as references and requirement numbers
# (R-EPSNEVG4M2, SI-20261207-BBCA95, REQ-4) -- data, not interface text.
_URLISH = re.compile(
    r"https?://\S+|\S+@\S+\.\S+|\S*\.(?:csv|xlsx?|docx?|pptx?|json|zip|pdf|png|jpe?g|txt|md|html)\b|/[\w/.-]+/"
    r"|\b[1-5]xx\b"
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|cn|net|org|io|dev|test|example|invalid)\b"
    r"|\b(?:e\.g|i\.e|etc|a\.m|p\.m)\b\.?|\bmanage\.py(?: [a-z_]+)?"
    r"|\b(?=[A-Z0-9-]*\d)[A-Z0-9]+(?:-[A-Z0-9]+)+\b"
)
_NUMBERED = re.compile(r"/\d+(?=/|$)")

# The runner each document evaluates after axe-core (an init script): it announces the
# document, waits for the load event, runs axe, reads the visible text -- skipping what
# is hidden, marked translate="no", in another language than the page, or script/style
# -- and reports both.
RUNNER = """
(() => {
  if (window.top !== window || !window.__custodiaReport) return;
  if (!/^https?:$/.test(location.protocol)) return;
  const id = Math.random().toString(36).slice(2);
  window.__custodiaReport({event: "started", id: id, url: location.href});
  const describe = (element) => {
    const parts = [];
    for (let node = element; node && parts.length < 3 && node !== document.body; node = node.parentElement) {
      const mark = node.id ? "#" + node.id : node.className ? "." + String(node.className).split(" ")[0] : "";
      parts.unshift(node.tagName.toLowerCase() + mark);
    }
    return parts.join(" > ");
  };
  const visibleText = () => {
    const pageLang = (document.documentElement.lang || "").toLowerCase();
    const out = [];
    const skipped = (element) => {
      for (let node = element; node && node !== document.documentElement; node = node.parentElement) {
        if (["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(node.tagName)) return true;
        if (node.getAttribute && node.getAttribute("translate") === "no") return true;
        const lang = node.getAttribute && node.getAttribute("lang");
        if (lang && lang.toLowerCase() !== pageLang) return true;
      }
      return false;
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const text = node.nodeValue.replace(/\\s+/g, " ").trim();
      if (!text) continue;
      const element = node.parentElement;
      if (!element || skipped(element)) continue;
      const hidden = element.checkVisibility && !element.checkVisibility({visibilityProperty: true});
      if (element.tagName !== "OPTION" && hidden && !element.closest(".visually-hidden")) continue;
      out.push({t: text, w: describe(element)});
    }
    for (const el of document.querySelectorAll("[aria-label], [placeholder], [title]")) {
      if (skipped(el)) continue;
      for (const name of ["aria-label", "placeholder", "title"]) {
        const value = el.getAttribute(name);
        if (value && value.trim()) out.push({t: value.trim(), w: describe(el) + "@" + name});
      }
    }
    return {lang: pageLang, texts: out};
  };
  const run = () => setTimeout(async () => {
    // Django's own debug pages (DEBUG only) are not ours to check.
    const debugPage = !!document.querySelector("head style") && !!document.querySelector('meta[name="robots"]');
    const html = document.contentType === "text/html" && !debugPage;
    const report = {event: "done", id: id, url: location.href, html: html};
    try {
      if (report.html) {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        report.violations = result.violations
          .filter((violation) => ["serious", "critical"].includes(violation.impact))
          .map((violation) => ({
            id: violation.id,
            impact: violation.impact,
            help: violation.help,
            nodes: violation.nodes.slice(0, 5).map(
              (node) => node.target.join(" ") + " :: " + (node.failureSummary || "").split("\\n").slice(-1)[0]
            ),
          }));
        report.seen = visibleText();
      }
    } catch (error) {
      report.error = String(error);
    }
    window.__custodiaReport(report);
  }, 0);
  if (document.readyState === "complete") run(); else window.addEventListener("load", run);
})();
"""
WAIT_SECONDS = 30  # longest wait for a document's report before it counts as unchecked
HOLD_SECONDS = 5  # longest a navigation away from a GET page waits for that page's report


def pattern_of(url: str) -> str:
    """The page pattern of ``url``: ids replaced, query values dropped."""
    parts = urlsplit(url)
    keys = sorted({pair.split("=", 1)[0] for pair in parts.query.split("&") if pair})
    return _NUMBERED.sub("/<id>", parts.path) + ("?" + "&".join(keys) if keys else "")


@dataclass
class Visit:
    url: str
    state: dict
    user_id: int | None  # who the session belonged to, for a new session if it ended


def session_user(state: dict) -> int | None:
    """The signed-in person of the session cookie in ``state`` (one query), if any."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    cookie = _session_cookie(state)
    if cookie is None:
        return None
    user_id = SessionStore(session_key=cookie["value"]).get(SESSION_KEY)
    return int(user_id) if user_id else None


def signed_in_session(user_id: int) -> str:
    """A new session for ``user_id`` that passed both factors (as ``force_login``)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.services.two_factor import VERIFIED_SESSION_KEY

    user = get_user_model().objects.get(pk=user_id)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[VERIFIED_SESSION_KEY] = {"user": user.pk, "device": "tests/page-audit", "at": int(time.time())}
    store.save()
    return store.session_key


@dataclass
class PageAudit:
    """One test's checks; ``problems`` lists what failed, one line each."""

    base_url: str
    axe_source: str
    choice_values: frozenset[str]
    problems: list[str] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    deferred: list[Visit] = field(default_factory=list)  # GET pages to check again at the end
    contexts: list = field(default_factory=list)
    checked: int = 0
    checked_pages: list[str] = field(default_factory=list)
    seconds: float = 0.0
    chinese_pages: list = field(default_factory=list)

    # ------------------------------------------------------------------ watching

    def watch(self, context, *, language: str = "en") -> None:
        """Check every document of ``context``: reported by the init script, waited for
        before each navigation away and when the context closes."""
        self.contexts.append(context)
        state = {"pending": {}, "navigation": {}, "language": language}
        context._custodia_audit = state

        def on_report(source, report) -> None:
            page = source["page"]
            if report["event"] == "started":
                state["pending"][page] = report["id"]
                return
            if state["pending"].get(page) == report["id"]:
                del state["pending"][page]
            self.record(page, report, state["navigation"].get(page), state["language"])

        def on_response(response) -> None:
            request = response.request
            try:
                main = request.is_navigation_request() and request.frame == request.frame.page.main_frame
            except Exception:  # a frame or page already gone
                return
            if main:
                state["navigation"][request.frame.page] = (request.method, response.status)

        def on_route(route) -> None:
            request = route.request
            try:
                if request.resource_type == "document" and request.is_navigation_request():
                    frame = request.frame
                    if frame == frame.page.main_frame:
                        self.hold_for_report(frame.page)
            finally:
                route.fallback()

        context.expose_binding("__custodiaReport", on_report)
        context.add_init_script(script=self.axe_source + "\n;" + RUNNER)
        context.on("response", on_response)
        context.route("**/*", on_route)
        original_close = context.close

        def close(*args, **kwargs):
            self.finish_context(context)
            return original_close(*args, **kwargs)

        context.close = close

    def wait_for_report(self, page, seconds: float = WAIT_SECONDS) -> bool:
        """Until the document ``page`` shows has reported (never evaluating in it), at
        most ``seconds``; whether it did."""
        state = page.context._custodia_audit
        started = time.monotonic()
        deadline = started + seconds
        try:
            while page in state["pending"] and not page.is_closed():
                if time.monotonic() > deadline:
                    return False
                page.wait_for_timeout(25)
            return True
        finally:
            self.seconds += time.monotonic() - started

    def hold_for_report(self, page) -> None:
        """Before ``page`` navigates away: its document's report, or -- a GET page still
        checking after ``HOLD_SECONDS`` -- the promise to open it again at the end."""
        state = page.context._custodia_audit
        if self.wait_for_report(page, HOLD_SECONDS):
            return
        if state["navigation"].get(page, ("GET",))[0] == "GET" and state["language"] == "en":
            storage = page.context.storage_state()
            self.deferred.append(Visit(url=page.url, state=storage, user_id=session_user(storage)))
            state["pending"].pop(page, None)
            return
        self.give_up_on(page)

    def give_up_on(self, page) -> None:
        if not self.wait_for_report(page):
            self.problems.append(f"not checked: {page.url} did not report within {WAIT_SECONDS} s")
            page.context._custodia_audit["pending"].pop(page, None)

    def finish_context(self, context) -> None:
        if getattr(context, "_custodia_finished", False):
            return
        context._custodia_finished = True
        try:
            pages = list(context.pages)
        except Exception:
            return
        for open_page in pages:
            self.give_up_on(open_page)
        with contextlib.suppress(Exception):
            context.unroute("**/*")

    def finish_open_pages(self, browser) -> None:
        for context in self.contexts:
            self.finish_context(context)
        self.check_deferred(browser)

    def check_deferred(self, browser) -> None:
        """The GET pages the test left before they reported, opened again as the test
        saw them."""
        while self.deferred:
            self.open_again(browser, self.deferred.pop(0))

    def open_again(self, browser, visit: Visit, *, language: str = "en") -> None:
        """``visit``'s page in a new watched context, with the session the test had then
        (a new one for the same person if the test has signed out since), in
        ``language`` ("en": with the test's own language cookie)."""
        state = self.with_live_session(visit)
        locale = "en-US"
        if language != "en":
            locale = "zh-CN"
            state["cookies"] = [c for c in state["cookies"] if c["name"] != "django_language"]
            state["cookies"].append(
                {"name": "django_language", "value": language, "domain": urlsplit(self.base_url).hostname, "path": "/",
                 "expires": -1, "httpOnly": False, "secure": False, "sameSite": "Lax"}
            )  # fmt: skip
        context = browser.new_context(
            base_url=self.base_url, locale=locale, storage_state=state, _custodia_unwatched=True
        )
        self.watch(context, language=language)
        try:
            context.new_page().goto(visit.url)
        finally:
            context.close()  # waits for the page's report (finish_context)

    # ------------------------------------------------------------------ one document

    def record(self, page, report: dict, navigation, language: str) -> None:
        """The findings of one document's report."""
        url = report["url"]
        if not url.startswith(self.base_url) or not report.get("html"):
            return
        where = urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")
        if report.get("error"):
            self.problems.append(f"could not check {where}: {report['error']}")
            return
        self.checked += 1
        self.checked_pages.append(where)
        seen = report["seen"]
        for violation in report["violations"]:
            self.problems.append(
                f"axe {violation['impact']} {violation['id']} on {where} ({seen['lang']}): {violation['help']}; "
                + " | ".join(violation["nodes"])
            )
        if seen["lang"] == "zh-hans":
            # Checked at the end, against the data the test's database holds then.
            self.chinese_pages.append((seen, where))
        else:
            self.problems += [f"{problem} on {where} ({seen['lang']})" for problem in self.text_problems(seen)]
        if language == "en" and navigation == ("GET", 200) and seen["lang"] != "zh-hans":
            state = page.context.storage_state()
            self.visits.append(Visit(url=url, state=state, user_id=session_user(state)))

    def text_problems(self, seen: dict, allowed_words: frozenset[str] = frozenset()) -> list[str]:
        problems = []
        for item in seen["texts"]:
            text, where = item["t"], item["w"]
            if text in self.choice_values:
                problems.append(f"raw choice value {text!r} ({where})")
                continue
            plain = _URLISH.sub(" ", text)
            for code in _CODE.findall(plain):
                if code not in allowed_words and code not in CONSOLE_WORDS:
                    problems.append(f"code-like text {code!r} in {text[:80]!r} ({where})")
            if seen["lang"] == "zh-hans":
                for word in _WORD.findall(plain):
                    if word in PROPER_NOUNS or word in allowed_words or word in CONSOLE_WORDS:
                        continue
                    if word.lower() in allowed_words or word.strip("'’-") in allowed_words:
                        continue
                    problems.append(f"untranslated {word!r} in {text[:80]!r} ({where})")
        return sorted(set(problems))

    # ------------------------------------------------------------------ Chinese

    def revisit_in_chinese(self, browser, allowed_words: frozenset[str], seen_patterns: set[str]) -> None:
        """Open each GET page the test saw again in Chinese, with the session the test
        had then (a new one for the same person when the test signed out since), then
        check the text of every Chinese page, these and those the test itself showed in
        Chinese, against the data words."""
        for visit in self.visits:
            key = pattern_of(visit.url) + ("#signed-in" if _session_cookie(visit.state) else "")
            if key in seen_patterns:
                continue
            seen_patterns.add(key)
            self.open_again(browser, visit, language="zh-hans")
        for seen, where in self.chinese_pages:
            self.problems += [f"{problem} on {where} (zh-hans)" for problem in self.text_problems(seen, allowed_words)]

    @staticmethod
    def with_live_session(visit: Visit) -> dict:
        """``visit``'s browser state, its session replaced by a new one for the same
        person when the test has signed out since."""
        state = json.loads(json.dumps(visit.state))
        session = _session_cookie(state)
        if session and visit.user_id and not _session_alive(session["value"]):
            session["value"] = signed_in_session(visit.user_id)
        return state


def _session_alive(session_key: str) -> bool:
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    return SessionStore(session_key=session_key).get(SESSION_KEY) is not None


def _session_cookie(state: dict) -> dict | None:
    from django.conf import settings

    return next((c for c in state.get("cookies", []) if c["name"] == settings.SESSION_COOKIE_NAME), None)


# Longer texts (a policy's full text) would hold most English words and blunt the check.
DATA_TEXT_LIMIT = 300


def data_words() -> frozenset[str]:
    """Every ASCII word stored in a short text column value of the test's database:
    names, departments, services, titles, short notes -- data, which stays in the
    language it was written in."""
    from django.apps import apps
    from django.db import models

    words: set[str] = set()
    for model in apps.get_models():
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField, models.JSONField)) and not f.primary_key
        ]
        if not columns:
            continue
        for row in model._default_manager.values_list(*columns).iterator():
            for value in row:
                if value:
                    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    if len(text) <= DATA_TEXT_LIMIT:
                        words.update(_WORD.findall(text))
                        words.update(_CODE.findall(text))
    return frozenset(words)


def raw_choice_values() -> frozenset[str]:
    """The stored values of every choice field of the project's models that differ from
    their English label (``in_progress`` vs "in progress"; ``active`` vs "Active")."""
    from django.apps import apps
    from django.utils import translation

    values: set[str] = set()
    with translation.override("en"):
        for model in apps.get_models():
            if model._meta.app_label not in {"accounts", "organizations", "consent", "requests", "dataprotection"}:
                continue
            for model_field in model._meta.concrete_fields:
                for value, label in model_field.choices or ():
                    if isinstance(value, str) and value and value != str(label):
                        values.add(value)
    return frozenset(values)
