"""gunicorn's configuration for the web processes (``gunicorn -c config/gunicorn.py config.wsgi``).

Read by gunicorn itself, never by Django. Every knob is an environment variable read by
the typed helpers of ``config.env`` (a bad value stops the start with a clear message):

- ``WEB_CONCURRENCY``: web processes; by default 2 x the CPUs this process may use + 1
  (gunicorn's own rule of thumb for sync workers: one process computes while another
  waits on PostgreSQL). Mind PostgreSQL's ``max_connections``: each process keeps one
  connection (``CONN_MAX_AGE``), and so does each Celery worker process.
- ``GUNICORN_BIND``: where to listen, comma-separated (default ``127.0.0.1:8000``;
  behind a reverse proxy on another host, ``0.0.0.0:8000`` or a unix socket).
- ``GUNICORN_TIMEOUT``: seconds a request may take before its process is killed and
  replaced (default 30). Keep it below the proxy's own read timeout (nginx's
  ``proxy_read_timeout`` is 60 s by default), so that a stuck request ends here, with a
  line in our log, and never as an anonymous 504 at the proxy while the process still
  holds its database connection.

Sync workers: Django and psycopg are synchronous, and in production a buffering reverse
proxy (nginx, a cloud load balancer) absorbs slow clients, as gunicorn's documentation
recommends; so one request per process at a time, and no thread pool to size.

The access log leaves out what may be personal data: no query strings (a roster search
carries a name or a phone number), no client address, no referrer (it holds the
previous page's query string), no user agent; and path segments that are secrets (an
invitation token) are masked. Logged: time, process, method, path, protocol, status,
size, duration. Client addresses of security-relevant actions are in the audit trail.
"""

from __future__ import annotations

import os
import re

from gunicorn.glogging import Logger

from config.env import env_int, env_list


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs a container or taskset grants us
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


wsgi_app = "config.wsgi:application"
bind = env_list("GUNICORN_BIND", ["127.0.0.1:8000"])
workers = env_int("WEB_CONCURRENCY", 2 * _usable_cpus() + 1, minimum=1)
worker_class = "sync"
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=1)
# The heartbeat files in memory: on a disk-backed /tmp (some containers) a worker can
# block on them and be killed as silent.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn's control socket lives at one path per user: two instances on one host (web
# and a rehearsal, or parallel CI jobs) would fight over it, and nothing here uses it.
control_socket_disable = True
proc_name = "custodia-web"

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(t)s %(p)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'

# Path segments that are bearer secrets: whoever reads the log could use them.
SECRET_PATH_SEGMENTS = (re.compile(r"(/orgs/invitations/)[^/]+"),)


def redact_path(path: str) -> str:
    for pattern in SECRET_PATH_SEGMENTS:
        path = pattern.sub(r"\1…", path)
    return path


class PrivacyAccessLogger(Logger):
    """gunicorn's logger with only the atoms of ``access_log_format``: a format changed
    later cannot pull in the query string, cookies, addresses or other headers."""

    def atoms(self, resp, req, environ, request_time):
        full = super().atoms(resp, req, environ, request_time)
        kept = {key: full[key] for key in ("t", "p", "m", "H", "s", "B", "M", "T", "D", "L")}
        kept["U"] = redact_path(environ.get("PATH_INFO") or "")
        return kept


logger_class = PrivacyAccessLogger
