"""The three-party system on 127.0.0.1 (issuer and verifier processes, a trust list), for
the end-to-end tests and the wallet benchmark."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from passerelle import trustlist
from passerelle.keys import DEV_PASSPHRASE, KeyStore, generate_key
from tests.factories import vct

SLUG = "cfp-e2e"
#: the installed console script of this virtualenv (what a user runs)
PASSERELLE = [str(Path(sys.executable).with_name("passerelle"))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a starting server: bounded by the deadline
    raise RuntimeError(f"{url} did not come up within {deadline} s")


@dataclass
class System:
    issuer: str
    verifier: str
    admin_key: str
    env: dict[str, str] = field(default_factory=dict)

    def wallet(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``passerelle wallet ARGS`` as its own process."""
        return subprocess.run(
            [*PASSERELLE, "wallet", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@contextmanager
def running_system(tmp: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[System]:
    """A demo centre (``passerelle issuer init``), an accreditation body's signed trust list
    naming its key, and the issuer and the verifier serving on free ports of 127.0.0.1,
    their logs in ``tmp``; both stopped on the way out (their last log lines are printed
    when something failed)."""
    issuer_port, verifier_port = free_port(), free_port()
    issuer_url = f"http://127.0.0.1:{issuer_port}"
    verifier_url = f"http://127.0.0.1:{verifier_port}"
    env = {
        **os.environ,
        "PASSERELLE_DEV": "1",
        "DATABASE_URL": f"sqlite:///{tmp / 'issuer.db'}",
        "ISSUER_KEY_STORE": str(tmp / "keys"),
        "ISSUER_PUBLIC_URL": issuer_url,
        **(extra_env or {}),
    }
    init = subprocess.run(
        [*PASSERELLE, "issuer", "init", "--slug", SLUG, "--name", "fr=Centre E2E",
         "--country", "MA", "--prefix", "E2E"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    admin_key = next(w for w in init.stdout.split() if w.startswith("psk_"))

    anchor = generate_key()
    jwks = KeyStore(tmp / "keys" / SLUG, DEV_PASSPHRASE).jwks()["keys"]
    source = {
        "iss": "http://127.0.0.1/accreditation",
        "jurisdiction": "MA",
        "issuers": [
            {
                "id": f"{issuer_url}/tenants/{SLUG}",
                "names": {"fr": "Centre E2E"},
                "country": "MA",
                "accreditation": {"body": {"fr": "Organisme"}, "id": "MA-E2E", "scope": [vct()]},
                "status": "active",
                "valid_from": "2024-01-01T00:00:00Z",
                "jwks": {"keys": [{**k, "valid_from": "2024-01-01T00:00:00Z"} for k in jwks]},
            }
        ],
    }
    payload = trustlist.build_trust_list(source, now=int(time.time()), lifetime=86400)
    (tmp / "list.jwt").write_text(trustlist.sign_trust_list(payload, anchor))
    (tmp / "anchor.jwk.json").write_text(json.dumps(anchor.public.to_jwk()))

    processes: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for name, args in (
            ("issuer", ["issuer", "serve", "--port", str(issuer_port)]),
            ("verifier", ["verifier", "serve", "--port", str(verifier_port),
                          "--trust-anchor", str(tmp / "anchor.jwk.json"),
                          "--trust-list", str(tmp / "list.jwt"),
                          "--allow-http-host", "127.0.0.1", "--public-url", verifier_url]),
        ):  # fmt: skip
            log = (tmp / f"{name}.log").open("wb")
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    [*PASSERELLE, *args], env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
        wait_until_up(f"{issuer_url}/health", processes[0])
        wait_until_up(f"{verifier_url}/healthz", processes[1])
        yield System(issuer_url, verifier_url, admin_key, env)
    except BaseException:
        for log_path in sorted(tmp.glob("*.log")):
            tail = log_path.read_text(errors="replace").splitlines()[-20:]
            print(f"--- last lines of {log_path.name}", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        for log in logs:
            log.close()
