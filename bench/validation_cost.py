"""Benchmark: what the request-validation layer (issue 9) costs, before and after in one run.

Two clouds run side by side from the same virtual environment: "before" from the source of the
commit just before `common/validation.py` was added (exported with `git archive` and put first
on PYTHONPATH), "after" from this tree. Rounds alternate between them so machine noise hits
both alike, and measure:

- `POST /servers` -> 202 latency (p50, p90), one request at a time, alternating between the
  two clouds request by request, with a body that exercises the schema (name, image, flavor,
  networks, metadata, description, scheduler hints);
- token validate rate (`GET /v3/auth/tokens`, wrk, 16 connections): the path every API call
  takes, unchanged by design, so a regression here would be collateral;
- token issue rate (`POST /v3/auth/tokens`): its body is now checked by a schema.

Target: "after" no more than 5 % slower than "before".
Usage: .venv/bin/python bench/validation_cost.py [--rounds 5] [--posts 40] [--seconds 4]
       [--before REV]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import Cloud, password_body, running_cloud

ROOT = Path(__file__).resolve().parent.parent

SERVICES = ("identity", "image", "placement", "compute")
ENV = {
    "MINISTACK_COMPUTE_FAKE_HOSTS": "3",
    "MINISTACK_COMPUTE_FAKE_MEMORY_MB": "1048576",
    "MINISTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4",
}


def before_rev() -> str:
    """The commit just before the validation layer was added."""
    added = subprocess.run(
        [
            "git",
            "log",
            "--diff-filter=A",
            "--format=%H",
            "--",
            "src/ministack/common/validation.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not added:
        raise SystemExit("common/validation.py is not in this tree's history; pass --before")
    return f"{added[-1]}^"


def export_src(rev: str, into: Path) -> Path:
    """`rev`'s src/ tree unpacked under `into`; returns the src directory."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "src.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


@contextlib.contextmanager
def cloud_from(tmp: Path, src: Path | None) -> Iterator[Cloud]:
    env = dict(ENV)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    with running_cloud(tmp, services=SERVICES, extra_env=env) as cloud:
        yield cloud


class Subject:
    """One cloud prepared for the measurements: an image, a flavor, quotas off."""

    def __init__(self, label: str, cloud: Cloud) -> None:
        self.label, self.cloud = label, cloud
        conn = cloud.connect()
        image = conn.image.create_image(
            name="b",
            data=b"\0" * 512,
            disk_format="raw",
            container_format="bare",
            visibility="public",
        )
        flavor = conn.compute.create_flavor(name="b1", ram=64, vcpus=1, disk=1)
        conn.compute.update_quota_set(
            conn.current_project_id, instances=-1, cores=-1, ram=-1, metadata_items=-1
        )
        self.token = conn.auth_token
        headers = {"X-Auth-Token": self.token, "OpenStack-API-Version": "compute 2.38"}
        self.http = httpx.Client(base_url=cloud.url("compute"), headers=headers, timeout=60)
        self.body = {
            "server": {
                "name": "bench-server",
                "imageRef": image.id,
                "flavorRef": flavor.id,
                "networks": "none",
                "metadata": {f"key{i}": f"value {i}" for i in range(8)},
                "description": "a server made by bench/validation_cost.py",
                "accessIPv4": "192.0.2.10",
                "config_drive": False,
            },
            "os:scheduler_hints": {"different_host": []},
        }
        # prove which code runs: only the validation layer refuses an unknown sort key
        probe = self.http.get("/v2.1/servers?sort_key=password").status_code
        assert probe == (400 if label == "after" else 200), (label, probe)
        self.posts: list[float] = []
        self.validate: list[float] = []
        self.issue: list[float] = []

    def post_servers(self, count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            resp = self.http.post("/v2.1/servers", json=self.body)
            self.posts.append((time.perf_counter() - started) * 1000)
            assert resp.status_code == 202, resp.text


def wrk(url: str, seconds: int, script: str, workdir: Path) -> float:
    lua = workdir / "s.lua"
    lua.write_text(script)
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(lua), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit(f"errors during the run:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def tokens(subject: Subject, seconds: int, workdir: Path) -> None:
    url = f"{subject.cloud.auth_url}/auth/tokens"
    validate = f'wrk.headers["X-Auth-Token"] = "{subject.token}"\n'
    validate += f'wrk.headers["X-Subject-Token"] = "{subject.token}"\n'
    subject.validate.append(wrk(url, seconds, validate, workdir))
    issue = 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
    issue += f"wrk.body = [[{json.dumps(password_body())}]]\n"
    subject.issue.append(wrk(url, seconds, issue, workdir))


def step_cost(body: dict[str, object]) -> tuple[float, float]:
    """Microseconds one schema check takes in this process (median of 7 x 2000 runs): the
    server create body at 2.38 and a password token request."""
    from ministack.common.validation import compile_schema
    from ministack.compute.api import schemas as compute
    from ministack.identity.api import schemas as identity

    server = compute.create_server.pick((2, 38))
    assert server is not None
    token = compile_schema(identity.issue_token)
    login = password_body()

    def per_call(fn: Callable[[], None]) -> float:
        return statistics.median(timeit.repeat(fn, number=2000, repeat=7)) / 2000 * 1e6

    return (
        per_call(lambda: server.check(body, "nova")),
        per_call(lambda: token.check(login, "openstack")),
    )


def report(before: Subject, after: Subject) -> None:
    def q(samples: list[float], frac: float) -> float:
        return sorted(samples)[int(frac * (len(samples) - 1))]

    rows = [
        ("POST /servers -> 202 p50 (ms)", statistics.median, "posts", True),
        ("POST /servers -> 202 p90 (ms)", lambda s: q(s, 0.9), "posts", True),
        ("token validate (req/s, median)", statistics.median, "validate", False),
        ("token issue (req/s, median)", statistics.median, "issue", False),
    ]
    print(f"{'':34} {'before':>10} {'after':>10} {'change':>8}")
    for name, stat, attr, lower_is_better in rows:
        b, a = stat(getattr(before, attr)), stat(getattr(after, attr))
        slower = (a / b - 1) if lower_is_better else (b / a - 1)
        print(f"{name:34} {b:10.2f} {a:10.2f} {slower * 100:+7.1f}%  (+ = slower)")
    print("target: after no more than 5 % slower")
    for attr in ("validate", "issue"):
        b = " ".join(f"{x:.0f}" for x in getattr(before, attr))
        a = " ".join(f"{x:.0f}" for x in getattr(after, attr))
        print(f"rounds, {attr}: before [{b}]  after [{a}]")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--before", default=None, help="git revision of 'before'")
    args = parser.parse_args()
    rev = args.before or before_rev()
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as tmp:
        base = Path(tmp)
        old_src = export_src(rev, base / "before")
        (base / "a").mkdir()
        (base / "b").mkdir()
        with cloud_from(base / "a", old_src) as old, cloud_from(base / "b", None) as new:
            before, after = Subject("before", old), Subject("after", new)
            for subject in (before, after):  # warm-up, not counted
                subject.post_servers(5)
                subject.posts.clear()
            for i in range(args.rounds):
                order = (before, after) if i % 2 == 0 else (after, before)
                for _ in range(args.posts):  # one POST each in turn: drift hits both alike
                    for subject in order:
                        subject.post_servers(1)
                for subject in order:
                    tokens(subject, args.seconds, base)
    print(f"before = {rev} (exported source), after = working tree; {args.rounds} rounds")
    report(before, after)
    server_us, token_us = step_cost(after.body)
    p50 = statistics.median(after.posts) * 1000
    print(
        f"the schema check itself, in process: POST /servers body {server_us:.0f} us "
        f"({server_us / p50 * 100:.2f} % of the after p50), token request {token_us:.0f} us"
    )


if __name__ == "__main__":
    main()
