#!/usr/bin/env python3
"""What confinement costs per tool run: a program started directly, then the same program
started through `codepup sandbox-exec` (namespaces, rlimits, tool user, Landlock), as the scan
engine does, then the same again in a cgroup of its own, made, limited and removed around each
run as the engine does (`src/sandbox/cgroup.rs`; as root on a machine with cgroup v1 or v2).
Prints a Markdown table for BENCHMARKS.md.

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


def own_cgroup_dirs():
    """This process's cgroup directories the engine would use: [v2] or [v1 memory, v1 pids]."""
    with open("/proc/self/cgroup") as file:
        own = [line.rstrip("\n").split(":", 2) for line in file]
    with open("/proc/self/mountinfo") as file:
        mounts = [line.split(" - ") for line in file]

    def find(controller):
        paths = [path for (hid, names, path) in own
                 if (controller is None and hid == "0") or controller in names.split(",")]
        for mount, fs in mounts:
            kind, _source, options = fs.split()[:3]
            root, point = mount.split()[3:5]
            wanted = kind == "cgroup2" if controller is None else (
                kind == "cgroup" and controller in options.split(","))
            if wanted and paths and paths[0].startswith(root):
                return point + paths[0][len(root.rstrip("/")):]
        return None

    v2 = find(None)
    if v2:
        with open(os.path.join(v2, "cgroup.controllers")) as file:
            if "memory" in file.read().split():
                return [v2], True
    return [d for d in (find("memory"), find("pids")) if d], False


class RunGroups:
    """Makes a group per run below a base of its own, with the engine's limits."""

    def __init__(self):
        dirs, self.v2 = own_cgroup_dirs()
        self.bases = [os.path.join(d, f"codepup-bench-{os.getpid()}") for d in dirs]
        for base in self.bases:
            os.mkdir(base)
        if self.v2:
            with open(os.path.join(self.bases[0], "cgroup.subtree_control"), "w") as file:
                file.write("+memory +pids")
        self.runs = 0

    def make(self, limits):
        self.runs += 1
        dirs = [os.path.join(base, f"run-{self.runs}") for base in self.bases]
        memory = str(limits["memory_mb"] << 20)
        tasks = str(limits["processes"] + 2)
        writes = ([("memory.max", memory), ("memory.swap.max", "0"), ("memory.oom.group", "1"),
                   ("pids.max", tasks)] if self.v2 else
                  [("memory.limit_in_bytes", memory), ("memory.memsw.limit_in_bytes", memory),
                   ("memory.oom_control", "1")])
        for d in dirs:
            os.mkdir(d)
        for name, value in writes:
            path = os.path.join(dirs[0], name)
            if os.path.exists(path):
                with open(path, "w") as file:
                    file.write(value)
        if not self.v2 and len(dirs) > 1:
            with open(os.path.join(dirs[1], "pids.max"), "w") as file:
                file.write(tasks)
        return dirs

    def remove(self, dirs):
        for d in reversed(dirs):
            os.rmdir(d)

    def close(self):
        for base in self.bases:
            os.rmdir(base)


def timed_in_group(binary, work, program, args, runs, groups):
    """Like `timed` for the confined argv, with a group made before and removed after each run
    (and the engine's one read of the OOM state when the run ends)."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        dirs = groups.make(LIMITS)
        argv = sandboxed(binary, work, program, args,
                         [os.path.join(d, "cgroup.procs") for d in dirs])
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        state = "memory.events" if groups.v2 else "memory.oom_control"
        with open(os.path.join(dirs[0], state)) as file:
            file.read()
        groups.remove(dirs)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


def parts(groups, runs):
    """The cgroup's own costs, median / p90 ms: a group made and removed with no process in it,
    then a forked child that exits at once, then one that writes itself into the group first."""

    def child(procs):
        pid = os.fork()
        if pid == 0:
            if procs:
                for path in procs:
                    with open(path, "w", encoding="ascii") as file:
                        file.write("0")
            os._exit(0)
        os.waitpid(pid, 0)

    def sample(action):
        samples = []
        for _ in range(runs):
            dirs = groups.make(LIMITS)
            started = time.perf_counter()
            action(dirs)
            samples.append((time.perf_counter() - started) * 1000)
            groups.remove(dirs)
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]

    def make_and_remove():
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            groups.remove(groups.make(LIMITS))
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]

    return [("a group made, limited and removed", make_and_remove()),
            ("a forked child that exits", sample(lambda dirs: child(None))),
            ("the same child, joining the group first",
             sample(lambda dirs: child([os.path.join(d, "cgroup.procs") for d in dirs])))]


LIMITS = {"memory_mb": 8192, "cpu_seconds": 3600, "processes": 512,
          "file_size_mb": 1024, "open_files": 4096, "wall_seconds": 1800}


def sandboxed(binary, work, program, args, cgroup=()):
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
        "limits": LIMITS,
        "user": {"uid": 65534, "gid": 65534} if os.geteuid() == 0 else None,
        "require_landlock": True,
        "report": os.path.join(work, "report.json"),
        "output": {"stdout": 1 << 24, "stderr": 1 << 24, "stdout_is_log": True},
        "cgroup": list(cgroup),
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
    groups = RunGroups()
    print(f"{options.runs} runs of /bin/true; uid {os.geteuid()}; "
          f"cgroup {'v2' if groups.v2 else 'v1'} below {groups.bases}")
    print("| program | direct, median / p90 | confined, median / p90 | added | "
          "confined in a cgroup, median / p90 | the cgroup adds |")
    print("|---|---|---|---|---|---|")
    try:
        for label, program, args, runs in rows:
            os.chdir(checkout)
            direct = timed([program] + args, runs)
            confined = timed(sandboxed(options.binary, work, program, args), runs)
            grouped = timed_in_group(options.binary, work, program, args, runs, groups)
            print(f"| {label} | {direct[0]:.1f} / {direct[1]:.1f} ms | "
                  f"{confined[0]:.1f} / {confined[1]:.1f} ms | {confined[0] - direct[0]:.1f} ms | "
                  f"{grouped[0]:.1f} / {grouped[1]:.1f} ms | {grouped[0] - confined[0]:.1f} ms |")
        print()
        print("| the cgroup's parts | median / p90 |")
        print("|---|---|")
        for label, (median, p90) in parts(groups, options.runs):
            print(f"| {label} | {median:.2f} / {p90:.2f} ms |")
    finally:
        groups.close()
        os.chdir("/")
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
