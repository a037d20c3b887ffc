#!/usr/bin/env python3
"""The server's CPU per `scans/create` request, load-proof: the time on the CPU (`schedstat`,
nanoseconds) of the server's threads but the scan workers and their blob readers, over
`--requests` async `force_create` requests from one keep-alive raw-socket client, divided by
the number of requests. Other processes' load slows the requests but does not change the CPU
they take, so two binaries compare on a busy machine. With `--perf FILE`, `perf record -g`
watches the server during the requests (read it with `perf report -i FILE --comms ...`).

It reuses the repository and store `bench.py --keep --only create` left in `--work`:

    python3 tests/bench/bench.py --binary B --work W --keep --only create
    python3 tests/bench/create_cpu.py --binary B --work W [--requests 4000] [--rounds 3]
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # the server and the raw client of the benchmarks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--work", required=True, type=Path, help="a `bench.py --keep` work directory")
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--perf", type=Path, help="record a `perf record -g` profile here")
    args = parser.parse_args()
    data = args.work / "cpu-data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(args.work / "data", data)
    server = bench.Server(args.binary, data, args.work / "repos", 1)
    try:
        measure(args, server)
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def measure(args, server):
    base = "orgs/bench/teams/t/repos/1/projects/1"
    client = bench.RawClient(server, f"{base}/scans/create/", {"force_create": True, "incr_scan": False})
    for _ in range(200):  # warm: the statement caches, the blocking pool's threads
        client.call()
    perf = None
    if args.perf:
        perf = subprocess.Popen(["perf", "record", "-F", "999", "--call-graph", "dwarf,16384", "-o", str(args.perf),
                                 "-p", str(server.proc.pid)], stderr=subprocess.DEVNULL)
        time.sleep(1)
    results = []
    for _ in range(args.rounds):
        before, started = server.request_cpu_seconds(), time.perf_counter()
        for _ in range(args.requests):
            client.call()
        elapsed = time.perf_counter() - started
        cpu = (server.request_cpu_seconds() - before) / args.requests
        results.append(cpu)
        print(f"{args.requests} requests: server CPU {cpu * 1e6:.0f} µs per request, "
              f"{args.requests / elapsed:,.0f} requests/s", flush=True)
    if perf:
        perf.send_signal(2)
        perf.wait()
    results.sort()
    print(f"median server CPU per request: {results[len(results) // 2] * 1e6:.0f} µs "
          f"(load {bench.os.getloadavg()[0]:.1f})")
    client.close()


if __name__ == "__main__":
    main()
