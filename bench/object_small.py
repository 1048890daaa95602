"""4 KiB objects: PUT and GET requests/s with 16 concurrent clients (`wrk -t2 -c16`), against
GET /info (no token, no database, no disk) in the same run as the HTTP stack's ceiling.
Targets: >= 1,000 PUT/s and >= 3,000 GET/s. Beside each rate: the server process's CPU time
per request (user + system, all its threads), which a busy machine moves far less than rates.

Run: .venv/bin/python bench/object_small.py [seconds] [--baseline REV] [--rounds N]
(default 10 s). With --baseline, the same figures are measured in the same run, round by
round, for the code of git revision REV (its src/ extracted to a temporary directory and put
first on PYTHONPATH), so the machine's load hits both alike.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import admin_token, running_cloud

OBJECTS = 1000
PUT = """
local body = string.rep("x", 4096)
local headers = {{["X-Auth-Token"] = "{token}"}}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1  -- every PUT a new name (wrk's threads share one random seed)
  return wrk.format("PUT", "{path}/p" .. tid .. "-" .. n, headers, body)
end
"""
GET = """
request = function()
  return wrk.format("GET", "{path}/o" .. math.random(0, {last}), {{["X-Auth-Token"] = "{token}"}})
end
"""


def storage_url(auth_url: str, token: str) -> str:
    """The object-store endpoint of the token's project, from its catalog."""
    catalog = httpx.get(f"{auth_url}/auth/catalog", headers={"X-Auth-Token": token}).json()
    return next(
        e["url"]
        for s in catalog["catalog"]
        if s["type"] == "object-store"
        for e in s["endpoints"]
        if e["interface"] == "public"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, script: str, workdir: Path, pid: int) -> tuple[float, int, float]:
    """Requests/s, non-2xx responses, and the server's CPU µs per request."""
    lua = workdir / "s.lua"
    lua.write_text(script)
    cpu = cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(lua), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(pid) - cpu
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    count = re.search(r"(\d+) requests in", out)
    assert rate and count, out
    per_request = cpu / max(int(count.group(1)), 1) * 1e6
    return float(rate.group(1)), int(errors.group(1)) if errors else 0, per_request


def disk_ceiling(root: Path, seconds: float) -> float:
    """4 KiB files/s the disk takes the way the store writes them (write, fsync, rename,
    fsync the directory), from 16 threads: the most PUT/s durable writes allow here."""
    import os
    import threading

    stop = time.monotonic() + seconds
    done = [0] * 16

    def work(n: int) -> None:
        folder = root / f"d{n % 4}"
        folder.mkdir(exist_ok=True)
        i = 0
        while time.monotonic() < stop:
            tmp, final = folder / f"{n}-{i}.tmp", folder / f"{n}-{i}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, b"z" * 4096)
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, final)
            dfd = os.open(folder, os.O_RDONLY)
            os.fsync(dfd)
            os.close(dfd)
            i += 1
        done[n] = i

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / seconds


def measure(tmp: Path, seconds: int, extra_env: dict[str, str]) -> dict[str, float]:
    """GET /info, PUT and GET 4 KiB figures of one cloud."""
    with running_cloud(
        tmp / "cloud", services=("identity", "object"), extra_env=extra_env
    ) as cloud:
        token = admin_token(cloud.auth_url)
        url = storage_url(cloud.auth_url, token)
        path = httpx.URL(url).path + "/bench"
        base = f"http://127.0.0.1:{cloud.ports['object']}"
        with httpx.Client(headers={"X-Auth-Token": token}) as http:
            http.put(f"{url}/bench")
            for i in range(OBJECTS):
                http.put(f"{url}/bench/o{i}", content=b"y" * 4096)
        assert cloud.proc is not None
        pid = cloud.proc.pid
        info, _, _ = wrk(f"{base}/info", seconds, "", tmp, pid)
        put, put_err, put_cpu = wrk(base, seconds, PUT.format(path=path, token=token), tmp, pid)
        get_script = GET.format(path=path, token=token, last=OBJECTS - 1)
        get, get_err, get_cpu = wrk(base, seconds, get_script, tmp, pid)
    return {"info": info, "put": put, "get": get, "errors": put_err + get_err,
            "put_cpu": put_cpu, "get_cpu": get_cpu}  # fmt: skip


def extract(rev: str, into: Path) -> Path:
    """The src/ tree of git revision `rev`, extracted under `into`."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main() -> None:
    args = sys.argv[1:]
    seconds = int(args[0]) if args and args[0].isdigit() else 10
    baseline = args[args.index("--baseline") + 1] if "--baseline" in args else ""
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 1
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        (Path(tmp) / "disk").mkdir()
        disk = disk_ceiling(Path(tmp) / "disk", seconds)
        variants: dict[str, dict[str, str]] = {"current": {}}
        if baseline:
            (Path(tmp) / "base").mkdir()
            variants = {
                f"baseline {baseline}": {"PYTHONPATH": str(extract(baseline, Path(tmp) / "base"))},
                "current": {},
            }
        print(f"write+fsync+rename+fsync dir, 16 threads (disk ceiling): {disk:8.0f} files/s")
        print(
            "round  code                   load1  GET /info   PUT 4KiB   GET 4KiB  errors"
            "   PUT cpu/req   GET cpu/req"
        )
        for round_ in range(rounds):
            for name, env in variants.items():
                run = Path(tmp) / f"run-{round_}-{len(name)}"
                run.mkdir()
                load = os.getloadavg()[0]
                got = measure(run, seconds, env)
                print(
                    f"{round_ + 1:5d}  {name:21s} {load:6.1f} {got['info']:9.0f} "
                    f"{got['put']:10.0f} {got['get']:10.0f} {got['errors']:7.0f} "
                    f"{got['put_cpu']:10.0f}µs {got['get_cpu']:10.0f}µs",
                    flush=True,
                )
    print("targets: PUT >= 1000 req/s, GET >= 3000 req/s (16 clients, wrk -t2 -c16)")


if __name__ == "__main__":
    main()
