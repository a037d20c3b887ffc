#!/usr/bin/env python3
"""Peak memory of a scan of repositories built to hurt it (numbers go in BENCHMARKS.md).

Run from the repository root after `cargo build --release`:

    python3 tests/bench/bombs.py [--binary PATH] [--files 1000000] [--only NAME ...]

For each scenario it builds a repository with the git CLI, starts a fresh release server on a
loopback port with a fresh data directory, registers the repository with a project on the
default template (line counting and the built-in checker), runs one synchronous full scan, and
reports the scan's wall time, the job's result and the server's peak resident memory (VmHWM
from /proc/<pid>/status; git's own processes are not included), then does the same for a
repeat full scan, which reads the per-file results of the first back. Scenarios:

- newlines: one commit holding a 1 GiB file of newlines (about 1 MB once git compresses it);
- files:    1,000,000 tiny files (distinct contents, 1,000 per directory);
- deep:     a file whose path is 4,097 bytes, next to a few ordinary files;
- inflate:  1,700 paths to one 60 MiB blob of newlines: about 100 GiB once checked out;
- flaws:    200 files of 1 MiB, each made of 524,288 lines of trailing whitespace.

Everything runs on this machine; nothing but loopback traffic.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-admin-token-0123456789abcdef"
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
MIB = 1 << 20


def git(repo, *args, input=None):
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, input=input,
                          stdout=subprocess.PIPE)
    return done.stdout.decode().strip()


def stream_blob(repo, size, fill=b"\n"):
    """Writes a blob of `size` bytes repeating `fill` into the object store, without a file."""
    proc = subprocess.Popen(["git", "hash-object", "-w", "--stdin"], cwd=repo, env=GIT_ENV,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    chunk = (fill * (MIB // len(fill) + 1))[:MIB]
    left = size
    while left > 0:
        n = min(left, len(chunk))
        proc.stdin.write(chunk[:n])
        left -= n
    proc.stdin.close()
    blob = proc.stdout.read().decode().strip()
    assert proc.wait() == 0
    return blob


def init(repo):
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")


def commit_index(repo, message):
    git(repo, "commit", "-q", "-m", message)


def stage(repo, blob, path):
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")


def small_files(repo):
    stage(repo, git(repo, "hash-object", "-w", "--stdin", input=b"print('hi')\n"), "src/main.py")
    stage(repo, git(repo, "hash-object", "-w", "--stdin", input=b"# notes\n"), "README.md")


def build_newlines(repo, args):
    init(repo)
    small_files(repo)
    stage(repo, stream_blob(repo, args.newlines_mib * MIB), "big.txt")
    commit_index(repo, "a big file of newlines")
    return f"one {args.newlines_mib} MiB file of newlines next to 2 small files"


def build_files(repo, args):
    """`args.files` tiny files, each with its own content, written with one `git fast-import`."""
    init(repo)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, env=GIT_ENV,
                            stdin=subprocess.PIPE)
    out = proc.stdin
    out.write(b"commit refs/heads/main\ncommitter bench <bench@example.com> 1767225600 +0000\n"
              b"data 10\nmany files\n")
    for i in range(args.files):
        content = f"x = {i}\n".encode()
        out.write(f"M 100644 inline d{i // 1000:04d}/f{i:07d}.py\ndata {len(content)}\n".encode())
        out.write(content)
        out.write(b"\n")
    out.close()
    assert proc.wait() == 0
    return f"{args.files:,} tiny files, 1,000 per directory"


def build_deep(repo, args):
    init(repo)
    small_files(repo)
    path = "a/" * 2045 + "deep.py"
    stage(repo, git(repo, "hash-object", "-w", "--stdin", input=b"print(1)\n"), path)
    commit_index(repo, "a deep path")
    return f"a {len(path.encode()):,}-byte path next to 2 small files"


def build_inflate(repo, args):
    init(repo)
    blob = stream_blob(repo, args.inflate_blob_mib * MIB)
    copies = args.inflate_gib * 1024 // args.inflate_blob_mib
    entries = "".join(f"100644 blob {blob}\tcopy{i:05d}.txt\n" for i in range(copies))
    tree = git(repo, "mktree", input=entries.encode())
    commit = git(repo, "commit-tree", tree, "-m", "one blob, many paths")
    git(repo, "update-ref", "refs/heads/main", commit)
    return (f"{copies:,} paths to one {args.inflate_blob_mib} MiB blob of newlines "
            f"({copies * args.inflate_blob_mib / 1024:,.0f} GiB checked out)")


def build_flaws(repo, args):
    init(repo)
    blob = stream_blob(repo, MIB, b" \n")
    entries = "".join(f"100644 blob {blob}\tflaws{i:04d}.txt\n" for i in range(args.flaw_files))
    tree = git(repo, "mktree", input=entries.encode())
    commit = git(repo, "commit-tree", tree, "-m", "flaws")
    git(repo, "update-ref", "refs/heads/main", commit)
    return (f"{args.flaw_files} files of 1 MiB, each 524,288 lines of trailing whitespace "
            f"({args.flaw_files * 524288:,} flaws)")


SCENARIOS = {
    "newlines": build_newlines,
    "files": build_files,
    "deep": build_deep,
    "inflate": build_inflate,
    "flaws": build_flaws,
}


class Server:
    def __init__(self, binary, data, repos):
        wrap = os.environ.get("BOMBS_WRAP", "").split()
        self.proc = subprocess.Popen(
            [*wrap, str(binary), "serve", "--bind", "127.0.0.1:0", "--data-dir", str(data),
             "--allow-local-repos", str(repos), "--workers", "1"],
            env={**os.environ, "CODEPUP_ADMIN_TOKEN": TOKEN, "RUST_LOG": "warn,codepup=info"},
            stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if "listening on http://" in line:
                self.host, self.port = line.split("listening on http://")[1].split()[0].split(":")
                break
        # Keep reading the log so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def call(self, method, path, body=None, raw=False):
        conn = http.client.HTTPConnection(self.host, int(self.port), timeout=7200)
        headers = {"Authorization": f"Token {TOKEN}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, "/server/main/api/" + path, body=payload, headers=headers)
        response = conn.getresponse()
        text = response.read()
        conn.close()
        if raw:
            return text.decode()
        data = json.loads(text)
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {data}")
        return data["data"]

    def status(self, key):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def run_scenario(name, args, work):
    repos = work / "repos"
    repo = repos / name
    started = time.perf_counter()
    what = SCENARIOS[name](repo, args)
    built = time.perf_counter() - started
    server = Server(args.binary, work / f"data-{name}", repos)
    try:
        idle_kib = server.status("VmHWM")
        server.call("POST", "v3/orgs/", {"name": "bench", "org_sid": "bench"})
        server.call("POST", "v3/orgs/bench/teams/", {"name": "t"})
        registered = server.call("POST", "orgs/bench/teams/t/repos/", {"scm_url": str(repo)})
        repo_path = f"orgs/bench/teams/t/repos/{registered['id']}"
        if args.scheme == "default":
            body = {"branch": "main", "global_scheme_id": 1}
        else:
            scheme = {"count": {"name": "count"},
                      "check": {"name": "check", "cloc_scan_enabled": False, "lint_enabled": True,
                                "tools": ["codepup"]}}[args.scheme]
            created = server.call("POST", f"{repo_path}/initscheme/", scheme)
            body = {"branch": "main", "scan_scheme_id": created["scan_scheme"]}
        project = server.call("POST", f"{repo_path}/projects/", body)
        base = f"orgs/bench/teams/t/repos/{registered['id']}/projects/{project['id']}"
        started = time.perf_counter()
        job = server.call("POST", f"{base}/scans/create/", {"incr_scan": False, "async_flag": False})["job"]
        elapsed = time.perf_counter() - started
        peak_kib = server.status("VmHWM")
        log = server.call("GET", f"{base}/jobs/{job['id']}/log/", raw=True)
        detail = server.call("GET", f"{base}/jobs/{job['id']}/detail/")
        # A repeat full scan reads the project's per-file results back instead of the blobs.
        started = time.perf_counter()
        repeat = server.call("POST", f"{base}/scans/create/", {"incr_scan": False, "async_flag": False})["job"]
        repeat_elapsed = time.perf_counter() - started
        repeat_peak_kib = server.status("VmHWM")
    finally:
        server.stop()
        shutil.rmtree(work / f"data-{name}", ignore_errors=True)
        shutil.rmtree(repo, ignore_errors=True)
    print(f"== {name}: {what} (built in {built:.0f} s)")
    print(f"   scan: {elapsed:.1f} s, result {job['result_code']} ({job['result_msg']}), "
          f"code lines {detail.get('code_line_num')}")
    for task in detail.get("tasks", []):
        print(f"   task {task['task_name']}: {task['result_msg']}")
    print(f"   server peak RSS (VmHWM): {peak_kib / 1024:.1f} MiB (after start: {idle_kib / 1024:.1f} MiB)")
    print(f"   repeat full scan: {repeat_elapsed:.1f} s, result {repeat['result_code']}, "
          f"peak RSS since start {repeat_peak_kib / 1024:.1f} MiB")
    print("   job log:")
    for line in log.splitlines():
        print("     " + (line if len(line) < 300 else line[:300] + "..."))
    sys.stdout.flush()
    return peak_kib


def main():
    parser = argparse.ArgumentParser()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument("--binary", type=Path, default=target / "release" / "codepup")
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--newlines-mib", type=int, default=1024)
    parser.add_argument("--inflate-blob-mib", type=int, default=60)
    parser.add_argument("--inflate-gib", type=int, default=100)
    parser.add_argument("--flaw-files", type=int, default=200)
    parser.add_argument("--scheme", choices=["default", "count", "check"], default="default",
                        help="the default template, or line counting alone, or the checker alone")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=list(SCENARIOS))
    args = parser.parse_args()
    if not args.binary.exists():
        sys.exit(f"{args.binary} not found: build first (cargo build --release) or pass --binary")
    work = Path(tempfile.mkdtemp(prefix="codepup-bombs-"))
    try:
        peaks = {name: run_scenario(name, args, work) for name in args.only}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("peak RSS per scenario:")
    for name, kib in peaks.items():
        print(f"  {name}: {kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
