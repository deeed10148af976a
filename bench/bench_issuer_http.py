"""Issuer service benchmark (issue 4): single issuance over HTTP beside the trivial endpoint.

``passerelle issuer init`` makes a demo tenant in a temporary directory (SQLite by
default, ``PASSERELLE_DEV=1``), ``passerelle issuer serve --workers 2`` serves it on
127.0.0.1, and ``wrk`` drives, with 32 connections, first ``GET /health`` (the framework's
floor) then ``POST /api/v1/credentials`` (a QualificationCredential with the claims of
``schemas/qualification/example.json`` less ``credential_number``, which the service then
allocates; ``Authorization: Bearer <admin key>``). Reported per phase: requests/s, p50/p99
latency and the server's CPU time per request (utime + stime of the worker processes from
``/proc/<pid>/stat``, before and after, over the requests). Target: p99 < 50 ms.
The server runs with ``--log-level warning`` (no access log line per request, as behind a
reverse proxy that keeps one), as ``bench_verifier.py`` runs the verifier.

    .venv/bin/python bench/bench_issuer_http.py [--duration 15] [--rounds 2]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB]

Every issued credential is a database row: the run issues tens of thousands of them into
a database of its own (the temporary SQLite file, or the one named, which must be empty).
Needs ``wrk`` (Debian).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_verifier import free_port, lua_script, phase, serving, worker_pids, wrk  # noqa: E402

PASSERELLE = str(ROOT / ".venv" / "bin" / "passerelle")
TYPE = "QualificationCredential"


def claims() -> dict[str, Any]:
    example = json.loads((ROOT / "schemas" / "qualification" / "example.json").read_text("utf-8"))
    example.pop("credential_number", None)  # numbered by the service, as in real use
    return dict(example)


def environment(folder: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ISSUER_", "PASSERELLE_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "PASSERELLE_DEV": "1",
            "ISSUER_DATABASE_URL": database_url,
            "ISSUER_KEY_STORE": str(folder / "keys"),
            # issuer identifiers must be https; nothing fetches from this origin here
            "ISSUER_PUBLIC_URL": "https://issuer.example",
        }
    )
    return env


def init_tenant(env: dict[str, str]) -> str:
    """The demo tenant's admin API key."""
    done = subprocess.run(
        [PASSERELLE, "issuer", "init", "--slug", "demo", "--name", "en=Demo training centre"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for line in done.stdout.splitlines():
        if line.startswith("admin key:"):
            return line.partition(":")[2].strip()
    raise RuntimeError(f"no admin key in: {done.stdout} {done.stderr}")


@contextlib.contextmanager
def served(folder: Path, env: dict[str, str], port: int, workers: int) -> Iterator[int]:
    """The supervisor pid of ``passerelle issuer serve`` (its log in ``folder``)."""
    command = [
        PASSERELLE, "issuer", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    with serving(command, env, folder, f"http://127.0.0.1:{port}/health", workers) as pid:
        yield pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per wrk phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up")
    parser.add_argument("--rounds", type=int, default=2, help="health + issuance rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--database-url", help="an empty database (default: SQLite, temp dir)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    figures: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
        "rounds": [],
    }
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        database_url = args.database_url or f"sqlite:///{folder}/issuer.db"
        figures["database"] = database_url.split(":", 1)[0]
        port = free_port()
        env = environment(folder, database_url)
        key = init_tenant(env)
        body = json.dumps({"type": TYPE, "claims": claims(), "valid_days": 3650})
        auth = {"Authorization": f"Bearer {key}"}
        base = f"http://127.0.0.1:{port}"
        health = lua_script(folder, "health")
        issue = lua_script(folder, "issue", "POST", body, auth)
        with served(folder, env, port, args.workers) as pid:
            workers = worker_pids(pid)
            first = httpx.post(
                f"{base}/api/v1/credentials",
                content=body,
                headers={**auth, "content-type": "application/json"},
                timeout=10,
            )
            assert first.status_code == 201, first.text
            figures["credential_chars"] = len(first.json()["credential"])
            wrk(f"{base}/api/v1/credentials", issue, args.warmup, args.connections, args.threads)
            wrk(f"{base}/health", health, args.warmup, args.connections, args.threads)
            for number in range(1, args.rounds + 1):
                trivial = phase(f"{base}/health", health, workers, args)
                issued = phase(f"{base}/api/v1/credentials", issue, workers, args)
                figures["rounds"].append({"round": number, "health": trivial, "issue": issued})
    figures["loadavg_after"] = os.getloadavg()
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


def report(figures: dict[str, Any]) -> None:
    load = (figures["loadavg_before"][0], figures["loadavg_after"][0])
    print(f"date {figures['date']}, {figures['cpus']} CPUs, load {load[0]:.2f} -> {load[1]:.2f}")
    print(f"database {figures['database']}; credential {figures['credential_chars']} characters")
    for entry in figures["rounds"]:
        for name in ("health", "issue"):
            f = entry[name]
            print(
                f"round {entry['round']} {name:7} {f['rps']:8.0f} req/s  p50 {f['p50_ms']:.2f} "
                f"ms  p99 {f['p99_ms']:.2f} ms  CPU {f['cpu_us_per_request']:.0f} us/req  "
                f"({f['requests']} requests, {f['errors']} errors, {f['non_2xx']} non-2xx)"
            )
        verdict = "meets" if entry["issue"]["p99_ms"] < 50 else "misses"
        print(f"round {entry['round']} issuance p99 {verdict} the 50 ms target")


if __name__ == "__main__":
    main()
