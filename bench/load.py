"""Load benchmark of the production stack: the roster page and the API member
list under concurrent clients, against a floor measured in the same run.

Run by hand at full size, and by ``make test`` at a tiny size:

    .venv/bin/python bench/load.py --members 100000 --clients 16 --duration 20
    .venv/bin/python bench/load.py --members 200 --clients 4 --duration 2 --web-processes 2   # the smoke run

It starts the stack that ``make serve`` runs (``tests/stack.py``: ``config.serve`` with
gunicorn, two Celery workers and beat, in the production profile, on its own PostgreSQL
in its durable profile -- fsync on, as in production -- and redis-server), seeds one
organization of ``--members`` roster entries and ``--clients`` sub-administrators with
the roster rights on the whole organization, and signs each client in through the real
two-step flow (password, then the authenticator's code). Only two settings differ from
a deployment: ``CUSTODIA_LOCAL_HTTP`` (plain HTTP on loopback) and the API throttles,
raised so that they do not cut the measurement short (the benchmark measures capacity,
not the limits); the stack also serves one more URL, the floor (``bench/load_urls.py``).

Per endpoint, for ``--duration`` seconds, ``--clients`` concurrent clients (wrk, one
connection and one session each, ``bench/load.lua``) request:

- ``floor``: ``/bench/floor/``, the least an authenticated page costs through the same
  middleware (session, user, second factor, headers): the baseline;
- ``roster``: ``/orgs/<id>/roster/``, page 1 of the roster (ORG-7);
- ``api``: ``/api/v1/organizations/<id>/members/?page_size=50``, the same 50 members
  through the REST API (the REST API).

It prints throughput, p50/p95/p99 and errors (anything but a 200: 5xx, a redirect to
the sign-in, a socket error) per endpoint, each endpoint's throughput as a share of the
floor's (measured first and again last in each round: the mean of the two, and their
spread as a sign of how much the shared machine moved), and, with
``--web-processes 2,1``, the same with one web process (the scaling from one to two).
Before the load it counts the queries of one roster page and one API list request in
this process (the same database, a signed-in test client) and compares them with the
counts the test suite pins. Last line:

    load rps_roster=<n> rps_api=<n> rps_floor=<n> ratio_min=<min endpoint/floor>
         p95_ms_max=<n> errors=<n> [scale_2v1=<min over endpoints of 2 processes / 1>]

The load tool is wrk (Debian's package): written in C on epoll, it costs the two-core
machine a few percent of one core where a Python tool (locust and the like, which
would also need their own virtualenv for the PyPI ``requests`` library) costs a good
part of one, which would skew the one-vs-two-process comparison it is meant to make.
Its Lua hooks give each connection its own session and count non-200 answers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "load.lua"
API_PAGE_SIZE = 50


def endpoints(organization: int) -> dict[str, str]:
    return {
        "floor": "/bench/floor/",
        "roster": f"/orgs/{organization}/roster/",
        "api": f"/api/v1/organizations/{organization}/members/?page_size={API_PAGE_SIZE}",
    }


def run_wrk(url: str, cookies: list[str], clients: int, duration: float) -> dict:
    command = [
        "wrk", "-t", str(clients), "-c", str(clients), "-d", f"{max(1, round(duration))}s",
        "--timeout", "30s", "-s", str(LUA), url,
    ]  # fmt: skip
    result = subprocess.run(
        command, env={**os.environ, "LOAD_COOKIES": "|".join(cookies)}, capture_output=True, text=True, timeout=600
    )
    line = next((line for line in result.stdout.splitlines() if line.startswith("LOAD_RESULT ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line.removeprefix("LOAD_RESULT "))
    seconds = raw["duration_us"] / 1e6
    errors = raw["not_ok"] + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / seconds,
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "statuses": raw["statuses"],
        "socket_errors": {k: raw[k] for k in ("connect", "read", "write", "timeout") if raw[k]},
    }


def session_cookies(stack, people: list[dict]) -> list[str]:
    from tests.stack import Browser

    cookies = []
    for person in people:
        browser = Browser(stack.base_url)
        browser.sign_in(person["phone"], person["password"], person["totp_key"])
        cookies.append(f"sessionid={browser.cookie('sessionid')}; csrftoken={browser.cookie('csrftoken')}")
    return cookies


# --------------------------------------------------------------------------- query counts


def pinned_counts() -> dict[str, dict[str, int]]:
    """The query counts the test suite pins (tests/organizations): the roster page with
    the session and the user; the API list after authentication, plus the session and
    the user when the API is called from a signed-in browser."""
    from tests.organizations.api.test_organizations_api_members import LIST_QUERIES
    from tests.organizations.test_roster_views import ROSTER_QUERIES

    return {
        "roster": dict(ROSTER_QUERIES),
        "api": {role: count + 2 for role, count in LIST_QUERIES.items()},
    }


def count_queries(stack, people: dict[str, dict]) -> dict[str, dict[str, int]]:
    """Queries of one request per endpoint and role, in this process on the stack's
    database, signed in through the real flow with a test client."""
    from binascii import unhexlify

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django_otp.oath import TOTP

    organization = stack.seeded["organization"]
    paths = endpoints(organization)
    counts: dict[str, dict[str, int]] = {"roster": {}, "api": {}}
    for role, person in people.items():
        client = Client(HTTP_HOST="127.0.0.1", HTTP_ACCEPT_LANGUAGE="en")
        login = {"method": "password", "phone": person["phone"], "password": person["password"]}
        assert client.post(reverse("accounts:login"), login).status_code == 302
        generator = TOTP(unhexlify(person["totp_key"]), step=30, t0=0, digits=6, drift=0)
        generator.time = time.time()
        second = client.post(reverse("accounts:sign_in_second_step"), {"code": f"{generator.token():06d}"})
        assert second.status_code == 302 and "sign-in" not in second["Location"], second.get("Location")
        for name in ("roster", "api"):
            assert client.get(paths[name]).status_code == 200  # warm: the cached notices, the templates
            with CaptureQueriesContext(connection) as captured:
                response = client.get(paths[name])
            assert response.status_code == 200, (name, response.status_code)
            counts[name][role] = len(captured.captured_queries)
    return counts


def query_counts(stack, people: list[dict]) -> tuple[dict, list[str]]:
    """Counted in this process, which reads the stack's database; and where over the pins."""
    os.environ.update(stack.env)
    import django

    django.setup()
    counts = count_queries(stack, {"owner": people[0], "sub_admin": people[1]})
    pinned = pinned_counts()
    over = [
        f"{name} {role}: {count} > {pinned[name][role]}"
        for name, by_role in counts.items()
        for role, count in by_role.items()
        if count > pinned[name][role]
    ]
    print(f"queries per request: {json.dumps(counts)}; pinned by the tests: {json.dumps(pinned)}", flush=True)
    return counts, over


# --------------------------------------------------------------------------- the run


def measure_round(stack, cookies: list[str], clients: int, duration: float) -> dict:
    """Each endpoint in turn, the floor first and again last: its throughput is the mean
    of the two, and their spread tells how much the machine moved during the round."""
    paths = endpoints(stack.seeded["organization"])
    order = [*paths, "floor"]
    runs: dict[str, list[dict]] = {}
    for name in paths:  # warm every process on every endpoint first: templates, connections, caches
        run_wrk(stack.base_url + paths[name], cookies, clients, min(3.0, duration))
    for name in order:
        r = run_wrk(stack.base_url + paths[name], cookies, clients, duration)
        runs.setdefault(name, []).append(r)
        print(
            f"  {name:7} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  "
            f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']} {r['statuses'] or ''}{r['socket_errors'] or ''}",
            flush=True,
        )
    results = {name: measured[0] for name, measured in runs.items()}
    first, last = runs["floor"]
    results["floor"] = {
        **first,
        "rps": (first["rps"] + last["rps"]) / 2,
        "p95_ms": max(first["p95_ms"], last["p95_ms"]),
        "errors": first["errors"] + last["errors"],
        "spread": abs(first["rps"] - last["rps"]) / max(first["rps"], last["rps"]),
    }
    print(f"  floor, mean of both: {results['floor']['rps']:.1f} req/s (spread {results['floor']['spread']:.0%})")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--departments", type=int, default=300)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (connections and sessions)")
    parser.add_argument("--duration", type=float, default=20, help="seconds per endpoint and round")
    parser.add_argument(
        "--web-processes", default="2,1", help="web processes per round, e.g. 2,1 (the first is the main figure)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("bench/load.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    rounds = [int(n) for n in args.web_processes.split(",")]

    sys.path.insert(0, str(ROOT))
    from tests.stack import ProductionStack

    stack = ProductionStack(
        web_processes=rounds[0],
        workers=2,
        worker_concurrency=1,
        durable_postgres=True,
        extra_env={
            "DJANGO_SETTINGS_MODULE": "bench.load_settings",
            "API_THROTTLE_PER_TOKEN": "100000000/minute",
            "API_THROTTLE_PER_ADDRESS": "100000000/minute",
        },
    )
    try:
        started = time.perf_counter()
        stack.prepare()
        seeded = stack.seed(members=args.members, admins=args.clients + 2, departments=args.departments)
        print(
            f"stack prepared and seeded ({args.members:,} members, {seeded['departments']} departments, "
            f"{args.clients + 2} administrators) in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        people = seeded["administrators"]
        by_round = {}
        cookies: list[str] = []
        counts: dict = {}
        over: list[str] = []
        for web in rounds:
            stack.start(web_processes=web)
            # Signed in once (an authenticator code is accepted once); sessions outlive a restart.
            cookies = cookies or session_cookies(stack, people[2:])
            if not counts:
                counts, over = query_counts(stack, people)  # once the static files are collected
            load = os.getloadavg()
            print(f"round: {web} web process(es), {args.clients} clients, {args.duration:g}s per endpoint; "
                  f"load average before {load[0]:.2f}", flush=True)  # fmt: skip
            by_round[web] = measure_round(stack, cookies, args.clients, args.duration)
            stack.stop_processes()
        problems = stack.log_problems()
    finally:
        stack.stop(keep=args.keep)
        if args.keep:
            print(f"kept {stack.workdir}")

    main_round = by_round[rounds[0]]
    floor = main_round["floor"]["rps"]
    measured = [name for name in main_round if name != "floor"]
    ratio_min = min(main_round[name]["rps"] / floor for name in measured)
    for name in measured:
        print(f"{name}: {main_round[name]['rps'] / floor:.2f} of the floor's throughput")
    errors = sum(r["errors"] for results in by_round.values() for r in results.values()) + len(problems)
    if problems:
        print("log problems:\n  " + "\n  ".join(problems[:20]))
    if over:
        print("over the pinned query counts: " + "; ".join(over))
    scale = ""
    if 1 in by_round and 2 in by_round:
        ratios = {name: by_round[2][name]["rps"] / by_round[1][name]["rps"] for name in by_round[2]}
        print("2 web processes / 1: " + ", ".join(f"{name} {ratio:.2f}" for name, ratio in ratios.items()))
        scale = f" scale_2v1={min(ratios.values()):.2f}"
    print(
        f"load rps_roster={main_round['roster']['rps']:.1f} rps_api={main_round['api']['rps']:.1f} "
        f"rps_floor={floor:.1f} ratio_min={ratio_min:.2f} "
        f"p95_ms_max={max(r['p95_ms'] for r in main_round.values()):.1f} errors={errors + len(over)}{scale}"
    )
    return 1 if errors or over else 0


if __name__ == "__main__":
    sys.exit(main())
