#!/usr/bin/env python3
"""What confinement costs per tool run: a program started directly, then the same program
started through `codepup sandbox-exec` (namespaces, rlimits, tool user, Landlock), as the scan
engine does. Prints a Markdown table for BENCHMARKS.md.

    cargo build --release
    python3 tests/bench/sandbox.py [--runs 200] [--binary target/release/codepup]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/opt", "/etc", "/proc"]


def timed(argv, runs):
    """Median and p90 wall time of `runs` runs of argv, in milliseconds."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


def sandboxed(binary, work, program, args):
    """The argv that runs program confined, with a spec like the engine's."""
    checkout = os.path.join(work, "checkout")
    scratch = os.path.join(work, "scratch")
    spec = {
        "program": program,
        "args": args,
        "cwd": checkout,
        "env": [["PATH", "/usr/local/bin:/usr/bin:/bin"], ["HOME", scratch]],
        "read": SYSTEM + [checkout],
        "write": [scratch],
        "network": False,
        "limits": {"memory_mb": 8192, "cpu_seconds": 3600, "processes": 512,
                   "file_size_mb": 1024, "open_files": 4096, "wall_seconds": 1800},
        "user": {"uid": 65534, "gid": 65534} if os.geteuid() == 0 else None,
        "require_landlock": True,
        "report": os.path.join(work, "report.json"),
        "output": {"stdout": 1 << 24, "stderr": 1 << 24, "stdout_is_log": True},
    }
    return [binary, "sandbox-exec", json.dumps(spec)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--binary", default="target/release/codepup")
    options = parser.parse_args()
    options.binary = os.path.abspath(options.binary)
    work = tempfile.mkdtemp(prefix="codepup-sandbox-bench-")
    os.chmod(work, 0o755)
    checkout = os.path.join(work, "checkout")
    scratch = os.path.join(work, "scratch")
    os.makedirs(checkout)
    os.makedirs(scratch)
    if os.geteuid() == 0:
        os.chown(scratch, 65534, 65534)
    with open(os.path.join(checkout, "a.py"), "w") as file:
        file.write("import os\n\n\ndef f(x):\n    return x + 1\n" * 50)
    rows = [("`/bin/true`", "/bin/true", [], options.runs)]
    ruff = shutil.which("ruff")
    if ruff:
        rows.append(("`ruff check` of one 250-line file", ruff,
                     ["check", "--no-cache", "--no-fix", "--exit-zero", "--output-format=json", "a.py"],
                     max(options.runs // 4, 10)))
    print(f"{options.runs} runs of /bin/true; uid {os.geteuid()}")
    print("| program | direct, median / p90 | confined, median / p90 | added |")
    print("|---|---|---|---|")
    for label, program, args, runs in rows:
        os.chdir(checkout)
        direct = timed([program] + args, runs)
        confined = timed(sandboxed(options.binary, work, program, args), runs)
        print(f"| {label} | {direct[0]:.1f} / {direct[1]:.1f} ms | "
              f"{confined[0]:.1f} / {confined[1]:.1f} ms | {confined[0] - direct[0]:.1f} ms |")
    os.chdir("/")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
