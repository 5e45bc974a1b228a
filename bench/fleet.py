"""Fleet benchmark: 200 organizations (199 small, one of 100k leads) on a single server and on
the local Citus cluster; beat's minute sweep with two Celery workers.

    bench/fleet                          # both targets, 200 organizations, a 60 s sweep interval
    bench/fleet --targets citus --orgs 20 --big-leads 5000 --interval 30   # a quick try

For each target (database `handoff_fleet` on the embedded server, and on scripts/citus.py's
cluster) it creates the organizations once (later runs reuse them), then measures two phases:

- **with the big organization**: every organization gets two fresh MQLs through the API whose
  first-contact clocks fall due spread over one sweep interval; beat and two workers run
  until every clock has its breach alert (or a time limit);
- **without it**: the same with the big organization deactivated (beat skips it), to show what
  its sweep does to the others.

Measured: per sweep round, the time from the first organization's sweep starting to the last
one finishing (beat's fan-out done); per organization, the lag from due time to breach alert
(its worst clock); the median and worst organization. Goal: every organization alerted within
one sweep interval + 15 s. Results go to bench/results/fleet.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TENANT = [sys.executable, str(ROOT / "bench" / "fleet_tenant.py")]
DATABASE = "handoff_fleet"
GOAL_SLACK_S = 15
# DATABASE_OWNER_URL of a target's DATABASE_URL where it has its own (the cluster's owner role).
OWNER_URLS: dict[str, str] = {}


def log(message: str) -> None:
    print(f"fleet: {message}", file=sys.stderr, flush=True)


def single_url() -> str:
    """handoff_fleet on the server of DATABASE_URL (the embedded one), created if missing."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return parts._replace(path=f"/{DATABASE}").geturl()


def citus_url() -> str:
    """handoff_fleet on the local Citus cluster (built and started if needed)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "citus.py"), "createdb", "--name", DATABASE],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"scripts/citus.py createdb failed:\n{done.stderr}")
    # Its `export DATABASE_URL=…` (the app role) and `export DATABASE_OWNER_URL=…` lines.
    exported = dict(
        shlex.split(line)[1].split("=", 1) for line in done.stdout.splitlines() if line.strip()
    )
    url = exported["DATABASE_URL"]
    OWNER_URLS[url] = exported["DATABASE_OWNER_URL"]
    return url


def env_for(url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, EMAIL_URL="dummymail://", PYTHONUNBUFFERED="1")
    if url in OWNER_URLS:
        env["DATABASE_OWNER_URL"] = OWNER_URLS[url]
    # bench/_django.py runs with production settings, which require signing keys; this
    # throwaway database's sign-offs get a benchmark key unless one is given.
    env.setdefault("SLA_SIGNING_KEYS", "fleet:" + "fleet-benchmark-signing-key-" * 2)
    env.update(extra)
    return env


def tenant(url: str, *args: str, timeout: float = 7200) -> dict:
    done = subprocess.run(
        [*TENANT, *args],
        cwd=ROOT,
        env=env_for(url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"fleet_tenant {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(url: str, orgs: int, big_leads: int, small_leads: int, jobs: int) -> dict:
    """Migrations and the organizations (reused when already there); how long it took."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env_for(url),
        check=True,
    )
    status = tenant(url, "status")
    small = orgs - 1
    if status["organizations"] < orgs or status["big_leads"] < big_leads:
        log(f"creating {small} small organizations in {jobs} processes (reused on later runs)")
        share = -(-small // jobs)
        procs = [
            subprocess.Popen(
                [
                    *TENANT,
                    "setup",
                    "--first",
                    str(first),
                    "--count",
                    str(min(share, small - first)),
                    "--small-leads",
                    str(small_leads),
                ],
                cwd=ROOT,
                env=env_for(url),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for first in range(0, small, share)
        ]
        log(f"creating the big organization ({big_leads:,} leads)")
        tenant(url, "big", "--leads", str(big_leads))
        for proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"setup failed:\n{err[-4000:]}")
    log("first sweep of every organization never swept (its history's snapshots)")
    tenant(url, "warm")
    return {"seconds": round(time.monotonic() - started, 1), **tenant(url, "status")}


def start_celery(url: str, interval: int, workdir: Path) -> list[subprocess.Popen]:
    """Two workers and one beat, as the Procfile runs them, with the sweep every `interval` s."""
    env = env_for(
        url, SWEEP_INTERVAL_SECONDS=str(interval), DASHBOARD_CHARTS_REFRESH_SECONDS="3600"
    )
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
    )
    procs = []
    for name in ("fleet1", "fleet2"):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool=solo",
                    "-n",
                    f"{name}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel=WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(workdir / f"{name}.log").open("w"),
            )
        )
    procs.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=WARNING",
                "-s",
                str(workdir / "beat-schedule"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "beat.log").open("w"),
        )
    )
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def rounds(runs: list[dict], interval: int) -> list[dict]:
    """Group sweep runs into beat rounds (a round's runs start within one interval of its first)."""
    runs = sorted((r for r in runs if r["finished"]), key=lambda r: r["started"])
    grouped: list[list[dict]] = []
    for run in runs:
        if grouped and run["started"] - grouped[-1][0]["started"] < interval * 0.9:
            grouped[-1].append(run)
        else:
            grouped.append([run])
    return [
        {
            "organizations": len(group),
            "fan_out_s": round(max(r["finished"] for r in group) - group[0]["started"], 1),
            "slowest_org_sweep_s": round(max(r["finished"] - r["started"] for r in group), 1),
        }
        for group in grouped
    ]


def phase(url: str, *, interval: int, big: bool, workdir: Path, timeout: float) -> dict:
    """Arm fresh clocks, run beat + two workers until every one is alerted; the figures."""
    armed = tenant(url, "arm", "--per-org", "2")
    tenant(url, "active", "--big", "on" if big else "off")
    since = time.time()
    # The first due time a little after the workers are up; the rest spread over one interval.
    first_due = since + 20
    tenant(url, "due", "--at", str(first_due), "--spread", str(interval))
    procs = start_celery(url, interval, workdir)
    deadline = time.monotonic() + timeout
    try:
        while True:
            time.sleep(10)
            got = tenant(url, "collect", "--since", str(since - 1))
            pending = [
                s
                for s, o in got["organizations"].items()
                if o["active"] and o["alerted"] < o["clocks"]
            ]
            if not pending or time.monotonic() > deadline:
                break
            log(
                f"{'with' if big else 'without'} the big organization: {len(pending)} organizations still waiting"
            )
        time.sleep(interval)  # one more round after the last alert, for the round figures
        got = tenant(url, "collect", "--since", str(since - 1))
    finally:
        stop(procs)
        tenant(url, "active", "--big", "on")
    orgs = {s: o for s, o in got["organizations"].items() if o["active"]}
    lags = sorted(o["max_lag_s"] for o in orgs.values() if o["max_lag_s"] is not None)
    small_lags = sorted(
        o["max_lag_s"] for s, o in orgs.items() if s != "fleetbig" and o["max_lag_s"] is not None
    )
    missing = sorted(s for s, o in orgs.items() if o["alerted"] < o["clocks"])
    worst = max(orgs.items(), key=lambda item: item[1]["max_lag_s"] or 0)
    all_rounds = rounds(got["runs"], interval)
    full = [r for r in all_rounds if r["organizations"] >= len(orgs)]
    return {
        "big_organization_active": big,
        "organizations": len(orgs),
        "armed_clocks": sum(o["clocks"] for o in orgs.values()),
        "armed_leads": armed["armed_leads"],
        "not_alerted": missing,
        "lag_median_org_s": round(statistics.median(lags), 1) if lags else None,
        "lag_p95_org_s": round(lags[int(0.95 * (len(lags) - 1))], 1) if lags else None,
        "lag_worst_org_s": round(lags[-1], 1) if lags else None,
        "worst_org": worst[0],
        "lag_worst_small_org_s": round(small_lags[-1], 1) if small_lags else None,
        "lag_big_org_s": orgs.get("fleetbig", {}).get("max_lag_s"),
        "rounds": all_rounds,
        "fan_out_median_s": round(statistics.median([r["fan_out_s"] for r in full]), 1)
        if full
        else None,
        "fan_out_max_s": max((r["fan_out_s"] for r in full), default=None),
        "goal_s": interval + GOAL_SLACK_S,
        "goal_met": not missing and bool(lags) and lags[-1] <= interval + GOAL_SLACK_S,
    }


def markdown(results: dict) -> str:
    lines = [
        "# Fleet benchmark",
        "",
        f"{results['organizations']} organizations (one of {results['big_leads']:,} leads), sweep every "
        f"{results['interval_s']} s, two Celery workers (solo pool) and one beat; {results['machine']}.",
        "",
        "| target | big org | fan-out round (median / max) | breach lag median org | worst org | worst small org | big org | goal ≤ interval + 15 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target, result in results["targets"].items():
        for p in result["phases"]:
            lines.append(
                f"| {target} | {'on' if p['big_organization_active'] else 'off'} | "
                f"{p['fan_out_median_s']} s / {p['fan_out_max_s']} s | {p['lag_median_org_s']} s | "
                f"{p['lag_worst_org_s']} s ({p['worst_org']}) | {p['lag_worst_small_org_s']} s | "
                f"{p['lag_big_org_s'] if p['lag_big_org_s'] is not None else '–'} s | "
                f"{'met' if p['goal_met'] else 'MISSED'} |"
            )
    lines += ["", "Set-up (organizations created, reused on later runs):", ""]
    for target, result in results["targets"].items():
        lines.append(f"- {target}: {result['prepare']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", default="single,citus")
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--big-leads", type=int, default=100_000)
    parser.add_argument("--small-leads", type=int, default=200)
    parser.add_argument("--interval", type=int, default=60, help="sweep interval, seconds")
    parser.add_argument("--jobs", type=int, default=3, help="processes creating organizations")
    parser.add_argument("--output", default=str(RESULTS / "fleet"))
    args = parser.parse_args()
    results = {
        "organizations": args.orgs,
        "big_leads": args.big_leads,
        "small_leads": args.small_leads,
        "interval_s": args.interval,
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "targets": {},
    }
    workdir = ROOT / ".data" / "fleet-work"  # worker and beat logs, beat schedule
    workdir.mkdir(parents=True, exist_ok=True)
    for target in args.targets.split(","):
        url = {"single": single_url, "citus": citus_url}[target]()
        log(f"{target}: {url}")
        prepared = prepare(url, args.orgs, args.big_leads, args.small_leads, args.jobs)
        log(f"{target}: ready {prepared}")
        phases = [
            phase(
                url,
                interval=args.interval,
                big=big,
                workdir=workdir,
                timeout=args.interval * 6 + 120,
            )
            for big in (True, False)
        ]
        results["targets"][target] = {"prepare": prepared, "phases": phases}
        for p in phases:
            log(f"{target}: {json.dumps({k: v for k, v in p.items() if k != 'rounds'})}")
    output = Path(args.output)
    output.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
