"""Token issue and validate throughput with 16 concurrent clients, on SQLite and PostgreSQL.

Starts a real identity process (bcrypt cost 12, the default), drives it with `wrk` (16
connections, 2 threads) and prints requests per second for: version discovery (the HTTP
stack's ceiling, measured in the same run as the baseline), token validate, and token issue
(repeat logins of one user: the bcrypt HMAC cache applies, as it does for real clients), each
for a project-scoped token, a system-scoped one and a trust-scoped one (issue 15: no
regression against the project-scoped figures of the same run).
Targets (issue 2): validate >= 2000/s, issue >= 300/s on a 2-core machine.

Run: .venv/bin/python bench/identity_tokens.py [--seconds 10] [--backend sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import Cloud, admin_token, password_body, running_cloud

LOGIN = password_body()
LOGIN_SYSTEM = password_body(project=None)
LOGIN_SYSTEM["auth"]["scope"] = {"system": {"all": True}}


def trust_login(cloud: Cloud) -> dict[str, object]:
    """A login body for a trust-scoped token: a new user, trustee of the admin's member role on
    the admin project (unlimited uses)."""
    admin = admin_token(cloud.auth_url)
    headers = {"X-Auth-Token": admin}
    api = cloud.auth_url
    user = httpx.post(
        f"{api}/users", headers=headers, json={"user": {"name": "bench-trustee", "password": "pw"}}
    ).json()["user"]
    me = httpx.get(f"{api}/auth/tokens", headers={**headers, "X-Subject-Token": admin}).json()
    trust = httpx.post(
        f"{api}/OS-TRUST/trusts",
        headers=headers,
        json={
            "trust": {
                "trustor_user_id": me["token"]["user"]["id"],
                "trustee_user_id": user["id"],
                "project_id": me["token"]["project"]["id"],
                "impersonation": False,
                "roles": [{"name": "member"}],
            }
        },
    ).json()["trust"]
    body = password_body("bench-trustee", "pw", None)
    body["auth"]["scope"] = {"OS-TRUST:trust": {"id": trust["id"]}}
    return body


def wrk(url: str, seconds: int, script: str, workdir: Path) -> float:
    lua = workdir / "s.lua"
    lua.write_text(script)
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(lua), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx and url.endswith("/v3/auth/tokens"):
        raise SystemExit(f"errors during the run:\n{out}")
    assert match, out
    return float(match.group(1))


def bench(backend: str, seconds: int) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_cloud(
            Path(tmp), backend=backend, extra_env={"MINISTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "12"}
        ) as cloud,
    ):
        base = f"http://127.0.0.1:{cloud.ports['identity']}"
        results = {"baseline GET /v3 (no DB)": wrk(f"{base}/v3", seconds, "", Path(tmp))}
        logins = (("project", LOGIN), ("system", LOGIN_SYSTEM), ("trust", trust_login(cloud)))
        for scope, login in logins:
            resp = httpx.post(f"{cloud.auth_url}/auth/tokens", json=login, timeout=30)
            token = resp.headers["X-Subject-Token"]
            results[f"token validate ({scope})"] = wrk(
                f"{base}/v3/auth/tokens",
                seconds,
                f'wrk.headers["X-Auth-Token"] = "{token}"\n'
                f'wrk.headers["X-Subject-Token"] = "{token}"\n',
                Path(tmp),
            )
            results[f"token issue ({scope})"] = wrk(
                f"{base}/v3/auth/tokens",
                seconds,
                'wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = [[{json.dumps(login)}]]\n",
                Path(tmp),
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--backend", default="sqlite,postgresql")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    for backend in args.backend.split(","):
        for name, rps in bench(backend, args.seconds).items():
            print(f"{backend:10} {name:28} {rps:9.0f} req/s")


if __name__ == "__main__":
    main()
