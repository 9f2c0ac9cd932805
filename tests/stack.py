"""The production stack on this machine, for the production-stack test and bench/load.py.

``ProductionStack`` starts a throwaway PostgreSQL and redis-server (``tests.servers``),
writes the environment of a deployment (``CUSTODIA_PROFILE=production`` with its
secrets, PostgreSQL, Redis as cache and broker; ``CUSTODIA_LOCAL_HTTP=true`` is the one
local difference: plain HTTP on loopback), migrates, seeds (``tests.stack_seed``), and
runs ``python -m config.serve`` -- what ``make serve`` runs: gunicorn, Celery workers,
beat -- with every line it prints in one log. ``log_problems()`` lists the lines that
mean something went wrong: an error or a traceback in any process, a 5xx in the access
log, an error in PostgreSQL's log.

``Browser`` is a person's browser without JavaScript, on the standard library only (the
PyPI ``requests`` library is shadowed here): cookies, the CSRF token, no redirect
followed unless asked, and the real two-step sign-in (password, then the code of the
authenticator, computed from the device's key as the person's app would).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from binascii import unhexlify
from dataclasses import dataclass, field
from pathlib import Path

from tests import servers

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_LINE = re.compile(r"\b(ERROR|CRITICAL|FATAL|PANIC)\b|Traceback \(most recent call last\)")
ACCESS_5XX = re.compile(r'"[A-Z]+ [^"]*" (5\d\d) ')


def totp_code(key_hex: str, *, at: float | None = None) -> str:
    """The six-digit code an authenticator app shows for the device's key (RFC 6238)."""
    from django_otp.oath import TOTP

    generator = TOTP(unhexlify(key_hex), step=30, t0=0, digits=6, drift=0)
    generator.time = time.time() if at is None else at
    return f"{generator.token():06d}"


# --------------------------------------------------------------------------- the browser


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def json(self):
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Browser:
    def __init__(self, base_url: str, *, language: str = "en"):
        self.base_url = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self.language = language
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect, urllib.request.ProxyHandler({})
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def request(self, method: str, path: str, *, data=None, files=None, headers=None, follow=False) -> Response:
        url = path if path.startswith("http") else self.base_url + path
        body = None
        sent = {"Accept-Language": self.language, **(headers or {})}
        if method == "POST":
            fields = dict(data or {})
            fields.setdefault("csrfmiddlewaretoken", self.cookie("csrftoken") or "")
            if files:
                body, content_type = _multipart(fields, files)
            else:
                body, content_type = (
                    urllib.parse.urlencode(fields, doseq=True).encode(),
                    "application/x-www-form-urlencoded",
                )
            sent["Content-Type"] = content_type
            sent["X-CSRFToken"] = fields["csrfmiddlewaretoken"]
        request = urllib.request.Request(url, data=body, method=method, headers=sent)
        try:
            with self.opener.open(request, timeout=60) as raw:
                response = Response(raw.status, {k.lower(): v for k, v in raw.headers.items()}, raw.read(), url)
        except urllib.error.HTTPError as error:
            response = Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read(), url)
        if follow and response.status in (301, 302, 303) and response.location:
            return self.request("GET", urllib.parse.urljoin(url, response.location), follow=True)
        return response

    def get(self, path: str, *, expect: int | None = 200, **kwargs) -> Response:
        response = self.request("GET", path, **kwargs)
        _expect(response, expect)
        return response

    def post(self, path: str, data=None, *, expect: int | None = 302, **kwargs) -> Response:
        response = self.request("POST", path, data=data, **kwargs)
        _expect(response, expect)
        return response

    def sign_in(self, phone: str, password: str, totp_key: str) -> Response:
        """ACC-4 then SEC-1: the password, then the authenticator's current code."""
        self.get("/accounts/sign-in/")
        first = self.post("/accounts/sign-in/", {"method": "password", "phone": phone, "password": password})
        assert first.location.endswith("/accounts/sign-in/second-step/"), first.location
        self.get(first.location)
        second = self.post(first.location, {"code": totp_code(totp_key)})
        assert "/accounts/sign-in/" not in second.location, (second.location, second.text[:500])
        assert self.cookie("sessionid"), "no session cookie after the second step"
        return second


def _expect(response: Response, expect: int | None) -> None:
    if expect is not None and response.status != expect:
        raise AssertionError(f"{response.url}: HTTP {response.status}, expected {expect}\n{response.text[:2000]}")


def _multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    boundary = "----custodia" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (file_name, content, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def wait_until(predicate, *, timeout: float, interval: float = 0.25, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout}s")
        time.sleep(interval)


# --------------------------------------------------------------------------- the stack


def _fernet_like_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


@dataclass
class ProductionStack:
    web_processes: int = 2
    workers: int = 2
    worker_concurrency: int = 1
    extra_env: dict = field(default_factory=dict)
    durable_postgres: bool = False
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="custodia-stack-")))
    postgres: servers.PostgresServer | None = None
    redis: servers.RedisServer | None = None
    process: subprocess.Popen | None = None
    port: int = 0
    env: dict = field(default_factory=dict)
    seeded: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "stack.log"

    @property
    def sms_path(self) -> Path:
        return self.workdir / "sms-outbox.jsonl"

    # -- set-up --------------------------------------------------------------------------

    def prepare(self) -> None:
        """The servers, the environment, the migrated database."""
        self.postgres = servers.start_postgres(durable=self.durable_postgres)
        self.redis = servers.start_redis()
        self._create_database()
        self.port = servers.free_port()
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PG_BINDIR", "REDIS_SERVER")
        self.env = {name: os.environ[name] for name in keep if name in os.environ}
        self.env.update(
            PYTHONUNBUFFERED="1",
            CUSTODIA_PROFILE="production",
            CUSTODIA_LOCAL_HTTP="true",  # the one local difference: plain HTTP on loopback
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECRET_KEY=secrets.token_urlsafe(50),
            FIELD_ENCRYPTION_KEYS="k1:" + _fernet_like_key(),
            FIELD_HASH_KEY=secrets.token_urlsafe(40),
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{self.postgres.port}/custodia",
            REDIS_URL=f"redis://127.0.0.1:{self.redis.port}/0",
            CELERY_BROKER_URL=f"redis://127.0.0.1:{self.redis.port}/1",
            CUSTODIA_VAR_DIR=str(self.workdir / "var"),
            SMS_BACKEND="accounts.services.sms_gateway.FileBackend",
            SMS_FILE_PATH=str(self.sms_path),
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY=str(self.web_processes),
        )
        self.env.update(self.extra_env)
        self.manage("migrate", "--noinput", "--verbosity=0")

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.postgres.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute("CREATE DATABASE custodia")

    def manage(self, *args: str, timeout: float = 900) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def seed(self, *, members: int, admins: int = 1, departments: int = 30) -> dict:
        out = self.workdir / "seed.json"
        result = subprocess.run(
            [sys.executable, "-m", "tests.stack_seed", "--members", str(members), "--admins", str(admins),
             "--departments", str(departments), "--out", str(out)],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{result.stdout}\n{result.stderr}")
        self.seeded = json.loads(out.read_text(encoding="utf-8"))
        return self.seeded

    # -- the processes -----------------------------------------------------------------

    def start(self, *, web_processes: int | None = None, timeout: float = 120) -> None:
        """``python -m config.serve`` (what ``make serve`` runs), then wait for /readyz."""
        if web_processes is not None:
            self.web_processes = web_processes
            self.env["WEB_CONCURRENCY"] = str(web_processes)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "config.serve", "--workers", str(self.workers),
             "--worker-concurrency", str(self.worker_concurrency)],
            cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() can end every child at once
        )  # fmt: skip
        log.close()

        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"config.serve exited with {self.process.returncode}:\n{self.log()[-5000:]}")
            try:
                with urllib.request.urlopen(self.base_url + "/readyz", timeout=15) as response:
                    return response.status == 200
            except (OSError, http.client.HTTPException):  # URLError, refused, timed out
                return False

        wait_until(ready, timeout=timeout, interval=0.3, what="/readyz answering 200")
        # The workers and beat log "ready" once connected; the web is ready already.
        wait_until(
            lambda: self.log().count("ready.") >= self.workers, timeout=timeout, what="the Celery workers starting"
        )

    def stop_processes(self) -> int | None:
        """SIGTERM to config.serve, which stops its children; the group is killed if not."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # anything left in the group
        status = self.process.wait()
        self.process = None
        return status

    def stop(self, *, keep: bool = False) -> None:
        try:
            self.stop_processes()
        finally:
            if self.redis is not None:
                self.redis.stop()
                self.redis = None
            if self.postgres is not None:
                self.postgres_log = self.postgres_log_text()
                self.postgres.stop()
                self.postgres = None
            if not keep:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # -- reading the logs --------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def postgres_log_text(self) -> str:
        path = self.postgres.root / "log" if self.postgres else None
        if path is None or not path.exists():
            return getattr(self, "postgres_log", "")
        return path.read_text(errors="replace")

    def log_problems(self) -> list[str]:
        """Lines of any process that report an error, and every 5xx in the access log."""
        problems = [line for line in self.log().splitlines() if PROBLEM_LINE.search(line) or ACCESS_5XX.search(line)]
        problems += [f"postgres| {line}" for line in self.postgres_log_text().splitlines() if PROBLEM_LINE.search(line)]
        return problems

    def access_lines(self) -> list[str]:
        return [line for line in self.log().splitlines() if line.startswith("web") and '" ' in line and "ms" in line]

    def last_sms_code(self, phone: str) -> str:
        for line in reversed(self.sms_path.read_text(encoding="utf-8").splitlines()):
            message = json.loads(line)
            if message.get("to") == phone:
                return re.search(r"\b(\d{6})\b", message["body"]).group(1)
        raise AssertionError(f"no SMS was sent to {phone}")
