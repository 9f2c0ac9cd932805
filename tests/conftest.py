"""Shared pytest configuration: test-only settings, real PostgreSQL and Redis servers,
a real Celery worker, the Playwright browser, and the standard cast of users.

Tests that need a binary which is absent are skipped with the reason on a developer's
machine; under ``CI=true`` they fail instead, and any skip at all fails the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests import servers

# Playwright's sync API runs an event loop in the main thread; Django's ORM calls made
# by the test around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = os.environ.get("CI", "").lower() == "true"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Test-only settings. The settings module is read before this file is imported, so the
# overrides are applied here rather than through environment variables.
# Tests read English text unless they ask for Chinese (Accept-Language, the language
# cookie or translation.override); the product's default stays zh-hans.
settings.LANGUAGE_CODE = "en"
settings.SMS_BACKEND = "accounts.services.sms_gateway.LocmemBackend"
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
settings.CELERY_TASK_ALWAYS_EAGER = True
settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}


def pytest_addoption(parser):
    parser.addoption(
        "--postgres",
        action="store_true",
        default=False,
        help="run the suite against a throwaway PostgreSQL cluster started from the server binaries",
    )


def pytest_configure(config):
    from config.celery import app

    app.conf.task_always_eager = True


def require(condition_message: str | None) -> None:
    """Skip (or, under CI, fail) when a needed binary is missing."""
    if condition_message is None:
        return
    if IN_CI:
        pytest.fail(f"CI must not skip: {condition_message}", pytrace=False)
    pytest.skip(condition_message)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) were skipped; a skip fails CI.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = servers.start_postgres()
    except servers.MissingBinary as exc:
        require(str(exc))
    yield server
    server.stop()


def sqlite_test_database(request) -> Path:
    """The SQLite test database file of this pytest process (one per xdist worker).

    Normally a fresh temporary directory, removed at the end. With ``--reuse-db`` a
    stable file under ``var/test-databases/``, kept between runs, so that the next run
    skips creating it: see ``ReusedSqliteDatabase``."""
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    if request.config.getoption("reuse_db"):
        reused = ReusedSqliteDatabase(Path(settings.VAR_DIR) / "test-databases", worker)
        reused.prepare(create=request.config.getoption("create_db"))
        return reused.database
    folder = Path(tempfile.mkdtemp(prefix=f"custodia-sqlite-{worker}-"))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    return folder / "test.sqlite3"


@dataclass
class ReusedSqliteDatabase:
    """A worker's SQLite test database kept between ``--reuse-db`` runs, and beside it
    the same database as the migrations left it (the "migrated" copy).

    Transactional tests empty every table when they end, the rows of data migrations
    (the published policies, the staff roles...) included, and a reused database is
    not migrated again; so each run starts from the migrated copy, saved after the
    database was set up (``save``). ``--create-db`` (e.g. after switching to a branch
    with other migrations) starts from nothing."""

    folder: Path
    worker: str

    @property
    def database(self) -> Path:
        return self.folder / f"test-{self.worker}.sqlite3"

    @property
    def migrated(self) -> Path:
        return self.folder / f"test-{self.worker}.migrated.sqlite3"

    def prepare(self, *, create: bool) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.migrated.exists() and not create:
            copy_sqlite(self.migrated, self.database)
        else:
            # Django creates and migrates it; ``save`` then keeps the migrated copy.
            self.migrated.unlink(missing_ok=True)
            self.database.unlink(missing_ok=True)

    def save(self) -> None:
        copy_sqlite(self.database, self.migrated)


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database, even while another connection has it open."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(source)) as origin, contextlib.closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, request):
    """pytest-django's set-up, then, with ``--reuse-db`` on SQLite, the migrated copy
    of the database saved for the next run (``ReusedSqliteDatabase``)."""
    if request.config.getoption("reuse_db") and not request.config.getoption("--postgres"):
        worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
        ReusedSqliteDatabase(Path(settings.VAR_DIR) / "test-databases", worker).save()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix):
    """Point the test database at a real PostgreSQL with --postgres; otherwise keep
    SQLite but in a file, so that a Celery worker process can open the same database."""
    from django.db import connections

    default = settings.DATABASES["default"]
    if request.config.getoption("--postgres"):
        server = request.getfixturevalue("postgres_server")
        default.clear()
        default.update(server.django_settings())
    else:
        default.setdefault("TEST", {})["NAME"] = str(sqlite_test_database(request))
    connections.close_all()
    for alias in list(connections):
        # Drop connection objects built from the old settings; never-opened ones are absent.
        with contextlib.suppress(AttributeError):
            del connections[alias]
    connections.configure_settings(settings.DATABASES)  # restores per-connection defaults


@pytest.fixture(autouse=True)
def _clear_outbox_and_caches():
    from django.contrib.contenttypes.models import ContentType
    from django.core.cache import cache

    from accounts.services.sms_gateway import LocmemBackend

    LocmemBackend.outbox.clear()
    cache.clear()
    ContentType.objects.clear_cache()
    yield


@pytest.fixture(autouse=True, scope="session")
def _force_login_passes_both_factors():
    """SEC-1: ``client.force_login(user)`` means a complete sign-in, second factor
    included, as before two-factor authentication existed: the session is marked
    verified (no device row, no query per request). Two-factor tests opt out with
    ``client.force_login(user, second_factor=False)``."""
    import time

    from django.test.client import ClientMixin

    from accounts.services.two_factor import VERIFIED_SESSION_KEY

    original = ClientMixin.force_login

    def force_login(self, user, backend=None, *, second_factor: bool = True):
        original(self, user, backend)
        if second_factor:
            session = self.session
            session[VERIFIED_SESSION_KEY] = {"user": user.pk, "device": "tests/force_login", "at": int(time.time())}
            session.save()

    # Patched once for the whole run; a private MonkeyPatch, so tests that call
    # ``monkeypatch.undo()`` keep this one.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ClientMixin, "force_login", force_login)
        yield


@pytest.fixture
def sms_outbox():
    from accounts.services.sms_gateway import LocmemBackend

    return LocmemBackend.outbox


def last_code(outbox: list[dict], phone: str) -> str:
    """The six-digit code in the newest SMS sent to ``phone``."""
    import re

    for message in reversed(outbox):
        if message["to"] == phone:
            return re.search(r"\b(\d{6})\b", message["body"]).group(1)
    raise AssertionError(f"no SMS was sent to {phone}")


# --------------------------------------------------------------------------- Redis and Celery


@pytest.fixture(scope="session")
def redis_server():
    try:
        server = servers.start_redis()
    except servers.MissingBinary as exc:
        require(str(exc))
    yield server
    server.stop()


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that lets another process open the test database."""
    from django.db import connection

    current = connection.settings_dict
    if current["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{current['NAME']}"
    return f"postgres://{current['USER']}@{current['HOST']}:{current['PORT']}/{current['NAME']}"


@dataclass
class WorkerHandle:
    process: subprocess.Popen
    log_path: Path
    sms_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def celery_on_broker(broker_url: str):
    """Make this process publish to a real broker instead of running tasks eagerly."""
    from config.celery import app

    saved = (app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport_options)
    app.conf.broker_url = broker_url
    app.conf.task_always_eager = False
    app.conf.broker_transport_options = {"visibility_timeout": settings.CELERY_BROKER_VISIBILITY_TIMEOUT}
    if saved[0] != broker_url:
        # Pools are bound to the broker they were made for; kombu keeps producer pools in
        # a global registry, so they are dropped, never closed, when the broker changes.
        app._pool = None
        app.amqp._producer_pool = None
    try:
        yield app
    finally:
        app.conf.task_always_eager = saved[1]


@pytest.fixture
def celery_worker(request, redis_server, transactional_db, tmp_path):
    """A real ``celery worker`` process on the real Redis, sharing the test database.
    Parametrized indirectly with a language code, the worker runs in that default
    language (``LANGUAGE_CODE``); otherwise in the product's default."""
    worker_language = getattr(request, "param", None)
    sms_path = tmp_path / "sms.jsonl"
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_BROKER_URL": redis_server.url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "SMS_BACKEND": "accounts.services.sms_gateway.FileBackend",
        "SMS_FILE_PATH": str(sms_path),
        "CUSTODIA_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": settings.SECRET_KEY,  # the worker must read what this process encrypted
        **({"LANGUAGE_CODE": worker_language} if worker_language else {}),
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname",
                "test@%h",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    handle = WorkerHandle(process=process, log_path=log_path, sms_path=sms_path)
    deadline = time.monotonic() + 60
    while "ready." not in handle.log():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the Celery worker did not start:\n{handle.log()}")
        time.sleep(0.2)
    with celery_on_broker(redis_server.url):
        yield handle
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


# --------------------------------------------------------------------------- browser


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        require("Debian's chromium is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        open_context = instance.new_context

        def new_context(*args, _custodia_unwatched: bool = False, **kwargs):
            """Every context a browser test opens is watched by the test's page audit."""
            context = open_context(*args, **kwargs)
            if not _custodia_unwatched and _PAGE_AUDITS:
                _PAGE_AUDITS[-1].watch(context)
            return context

        instance.new_context = new_context
        yield instance
        instance.close()


# --------------------------------------------------------------------------- page audit

_PAGE_AUDITS: list = []  # the running browser test's audit (tests/browser/audit.py)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core as pinned by tests/browser/axe/package-lock.json, installed from the npm
    registry on first use (``npm ci``); read once per session."""
    from tests.browser import audit

    if not audit.AXE_FILE.exists() and shutil.which("npm"):
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(audit.AXE_DIR)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    if not audit.AXE_FILE.exists():
        require("axe-core is not installed: npm ci --prefix tests/browser/axe (npm is missing)")
    return audit.AXE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def _chinese_patterns_seen() -> set:
    return set()


@pytest.fixture(autouse=True)
def page_audit(request):
    """every page a browser test shows is checked with axe-core (no serious or
    critical violation) and for interface text left untranslated or raw choice values,
    in English as the test sees it and again in Chinese (tests/browser/audit.py). The
    test fails at teardown with the list of problems."""
    if "browser" not in request.fixturenames:
        yield None
        return
    from tests.browser import audit as checks

    live_server = request.getfixturevalue("live_server")
    audit = checks.PageAudit(live_server.url, request.getfixturevalue("axe_source"), checks.raw_choice_values())
    _PAGE_AUDITS.append(audit)
    try:
        yield audit
    finally:
        _PAGE_AUDITS.remove(audit)
    report = getattr(request.node, "report_call", None)
    if report is None or not report.passed:
        return  # the test's own failure says what matters
    audit.finish_open_pages(request.getfixturevalue("browser"))
    audit.revisit_in_chinese(
        request.getfixturevalue("browser"), checks.data_words(), request.getfixturevalue("_chinese_patterns_seen")
    )
    if audit.problems:
        pytest.fail(
            f"{len(audit.problems)} accessibility or language problem(s) on the pages this test showed "
            f"({audit.checked} documents checked):\n" + "\n".join(audit.problems),
            pytrace=False,
        )


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="en-US", base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


# --------------------------------------------------------------------------- the cast


@dataclass
class Cast:
    """The standard cast: an organization with an owner, a sub-administrator holding
    view/edit roster on the Sales subtree, one holding them on Engineering, a member in
    Sales East, another organization's owner, operations staff, and the departments."""

    organization: object
    root: object
    sales: object
    sales_east: object
    engineering: object
    owner: object
    sub_admin: object
    out_of_scope_sub_admin: object
    member_user: object
    member: object
    other_org_admin: object
    staff: object


@pytest.fixture
def cast(db):
    from organizations.models import AdministratorRole, Right
    from organizations.services.grants import grant_rights
    from tests.factories import (
        AdministratorFactory,
        DepartmentFactory,
        MemberFactory,
        OrganizationFactory,
        UserFactory,
    )

    org = OrganizationFactory(name="Hangzhou Example Co.")
    root = DepartmentFactory(organization=org, name="Hangzhou Example Co.")
    sales = DepartmentFactory(organization=org, parent=root, name="Sales")
    sales_east = DepartmentFactory(organization=org, parent=sales, name="Sales East")
    engineering = DepartmentFactory(organization=org, parent=root, name="Engineering")
    owner = UserFactory(name="Owner")
    AdministratorFactory(organization=org, user=owner, role=AdministratorRole.OWNER)
    roster_rights = [Right.VIEW_ROSTER, Right.EDIT_ROSTER]
    sub_admin = UserFactory(name="Scoped sub-admin")
    AdministratorFactory(organization=org, user=sub_admin, scope=[sales])
    grant_rights(sub_admin, roster_rights, sales)
    out_of_scope = UserFactory(name="Engineering sub-admin")
    AdministratorFactory(organization=org, user=out_of_scope, scope=[engineering])
    grant_rights(out_of_scope, roster_rights, engineering)
    member_user = UserFactory(name="Member")
    member = MemberFactory(organization=org, user=member_user, name="Member", department=sales_east)
    other_org = OrganizationFactory(name="Other Org")
    other_admin = UserFactory(name="Other admin")
    AdministratorFactory(organization=other_org, user=other_admin, role=AdministratorRole.OWNER)
    staff = UserFactory(name="Operations", is_staff=True, is_superuser=True)
    return Cast(
        org,
        root,
        sales,
        sales_east,
        engineering,
        owner,
        sub_admin,
        out_of_scope,
        member_user,
        member,
        other_admin,
        staff,
    )
