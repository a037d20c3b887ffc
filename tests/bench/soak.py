#!/usr/bin/env python3
"""Soak: steady API load on the release server for a while, sampling its resident memory, to see
whether memory levels off (issue 8, hole 7). Each client loops over starting a scan (async,
forced, of a small repository with a count-only scheme), listing the project's jobs, a job's
detail and the queue summary, on one keep-alive connection.

    cargo build --release
    python3 tests/bench/soak.py --minutes 20 --clients 8
"""

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench  # noqa: E402  (the Server class and the git helper)


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def threads_of(pid):
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def setup(server, repo):
    server.call("POST", "v3/orgs/", {"name": "soak", "org_sid": "soak"})
    server.call("POST", "v3/orgs/soak/teams/", {"name": "t"})
    server.call("POST", "orgs/soak/teams/t/repos/", {"scm_url": str(repo)})
    scheme = server.call("POST", "orgs/soak/teams/t/repos/1/initscheme/",
                         {"name": "count", "tools": ["codecount"]})
    server.call("POST", "orgs/soak/teams/t/repos/1/projects/",
                {"branch": "main", "scan_scheme_id": scheme["scan_scheme"]})
    return "orgs/soak/teams/t/repos/1/projects/1/"


def client(server_args, project, deadline, counts, index):
    server = bench.Server.__new__(bench.Server)
    server.host, server.port = server_args
    server.conn = bench.http.client.HTTPConnection(server.host, int(server.port), timeout=60)
    done = 0
    while time.monotonic() < deadline:
        job = server.call("POST", project + "scans/create/", {"force_create": True, "incr_scan": False})
        server.call("GET", project + "jobs/?limit=10")
        server.call("GET", project + f"jobs/{job['job']['id']}/detail/")
        server.call("GET", "v3/jobs/summary/")
        done += 4
    counts[index] = done


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sample-seconds", type=float, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codepup-soak-") as work:
        work = Path(work)
        repo = work / "repos" / "small"
        repo.mkdir(parents=True)
        for n in range(50):
            (repo / f"f{n}.py").write_text("def f():\n    return 1\n" * 20)
        bench.git(repo, "init", "-q", "-b", "main")
        bench.git(repo, "add", "-A")
        bench.git(repo, "commit", "-q", "-m", "soak")
        server = bench.Server(work / "data", work / "repos", 2)
        project = setup(server, repo)
        deadline = time.monotonic() + options.minutes * 60
        counts = [0] * options.clients
        workers = [threading.Thread(target=client, args=((server.host, server.port), project, deadline, counts, i))
                   for i in range(options.clients)]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        print("| minute | RSS MiB | threads |")
        print("|---|---|---|")
        while time.monotonic() < deadline:
            minute = (time.monotonic() - started) / 60
            print(f"| {minute:.1f} | {rss_kib(server.proc.pid) / 1024:.1f} | {threads_of(server.proc.pid)} |",
                  flush=True)
            time.sleep(options.sample_seconds)
        for worker in workers:
            worker.join()
        print(f"| end | {rss_kib(server.proc.pid) / 1024:.1f} | {threads_of(server.proc.pid)} |")
        print(f"{sum(counts)} requests in {options.minutes} minutes from {options.clients} clients; "
              f"peak RSS {server.rss_peak_kib() / 1024:.1f} MiB")
        server.stop()


if __name__ == "__main__":
    main()
