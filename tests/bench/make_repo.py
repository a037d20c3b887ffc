#!/usr/bin/env python3
"""Writes a benchmark git repository that looks like a real one, with one `git fast-import`.

    python3 tests/bench/make_repo.py DEST [--size-mb 80] [--files 8000] [--commits 20000]
                                          [--tags 10000] [--seed 14]

DEST becomes a bare repository. Its final tree is real source text: the Python standard
library's `.py` files (under `python/`) and whole crates from the local cargo registry (under
`vendor/`, in a seeded order), text files of at most `--max-file-kb` each, added until both
`--size-mb` and `--files` are reached. Its history has `--commits` commits on `main` (and 300 more on other branches): the files
arrive over the first sixth of it, each in an early version with a few runs of its lines missing,
and every later commit puts back one run in one to three files, so each version of a file is a
small change of the one before and the pack holds real deltas (every version of a file is written
right after the previous one, so fast-import deltifies against it). `--tags` tags name every
other commit of `main` (one in five annotated), and four branches fork from `main` with a few
commits of their own. The same sources and seed give the same repository, object ids included.

Prints the repository's shape as JSON on the last line of stdout (bench.py reads it).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}
AUTHORS = [f"Dev{n:02d} <dev{n:02d}@example.com>" for n in range(40)]
START_TIME = 1420070400  # 2015-01-01T00:00:00Z
BRANCHES = [("release/1.x", 0.60, 120), ("release/2.x", 0.85, 90), ("develop", 0.97, 60),
            ("feature/new-parser", 0.99, 30)]
COMMENT = {".py": b"#", ".toml": b"#", ".yml": b"#", ".yaml": b"#", ".sh": b"#", ".rs": b"//",
           ".c": b"//", ".h": b"//", ".js": b"//", ".ts": b"//", ".go": b"//"}


def default_sources():
    sources = []
    python = sorted(Path("/usr/lib").glob("python3.*"))
    if python:
        sources.append(("python", python[-1], [".py"]))
    registry = Path.home() / ".cargo" / "registry" / "src"
    for index in sorted(registry.glob("*/")) if registry.exists() else []:
        sources.append(("vendor", index, None))
    return sources


def is_text(data):
    return b"\0" not in data[:8192]


def walk_files(top, suffixes, max_bytes):
    """Regular text files below `top`, sorted, as (relative path, bytes)."""
    found = []
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in (".git", "target", "__pycache__"))
        for name in sorted(files):
            if name.startswith(".cargo") or name.endswith(".orig"):
                continue
            if suffixes and not any(name.endswith(s) for s in suffixes):
                continue
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > max_bytes:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            if is_text(data):
                found.append((os.path.relpath(path, top), data))
    return found


def pick_files(args, rng):
    """The final tree: [(path, bytes)], sorted by path."""
    max_bytes = args.max_file_kb * 1024
    picked, total = [], 0
    for prefix, top, suffixes in default_sources():
        if suffixes:  # the standard library: all of it
            for rel, data in walk_files(top, suffixes, max_bytes):
                picked.append((f"{prefix}/{rel}", data))
                total += len(data)
            continue
        crates = sorted(p for p in top.iterdir() if p.is_dir())
        rng.shuffle(crates)
        for crate in crates:
            if total >= args.size_mb * 1e6 and len(picked) >= args.files:
                break
            for rel, data in walk_files(crate, None, max_bytes):
                picked.append((f"{prefix}/{crate.name}/{rel}", data))
                total += len(data)
    if total < args.size_mb * 1e6 or len(picked) < args.files:
        sys.exit(f"not enough source text: {len(picked)} files, {total / 1e6:.1f} MB")
    picked.sort()
    return picked


class File:
    """One file of the final tree and the runs of lines its early versions lack."""

    def __init__(self, path, data):
        self.path = path
        self.lines = data.split(b"\n")
        self.runs = []  # (start, end) line ranges, in the order they are put back

    def plan(self, revisions, rng):
        n = len(self.lines)
        revisions = min(revisions, n // 4)
        if revisions == 0:
            return 0
        step = n // revisions
        runs = []
        for i in range(revisions):
            length = rng.randint(1, max(1, min(20, step // 2)))
            start = i * step + rng.randrange(0, max(1, step - length))
            runs.append((start, start + length))
        rng.shuffle(runs)
        self.runs = runs
        return revisions

    def version(self, k):
        """The file after `k` of its runs are back (k == len(runs) is the final text)."""
        missing = sorted(self.runs[k:])
        if not missing:
            return b"\n".join(self.lines)
        kept, at = [], 0
        for start, end in missing:
            kept.extend(self.lines[at:start])
            at = end
        kept.extend(self.lines[at:])
        return b"\n".join(kept)


def data_cmd(payload):
    return b"data %d\n" % len(payload) + payload + b"\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--size-mb", type=float, default=80)
    parser.add_argument("--files", type=int, default=8000)
    parser.add_argument("--commits", type=int, default=20000)
    parser.add_argument("--tags", type=int, default=10000)
    parser.add_argument("--max-file-kb", type=int, default=256)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    shape = make_repo(args.dest, args)
    print(json.dumps(shape))


def make_repo(dest, args):
    started = time.perf_counter()
    rng = random.Random(args.seed)
    files = [File(path, data) for path, data in pick_files(args, rng)]
    n_main = args.commits
    if n_main < 2 * args.tags or n_main < 100:
        sys.exit("--commits must be at least 100 and twice --tags")

    # Each main commit changes one to three files: the first sixth add the files, the rest put
    # back one run of lines each. Revisions go to files in proportion to a skewed weight, as
    # real projects have hot files.
    sizes = [rng.choice((1, 1, 2, 2, 2, 3)) for _ in range(n_main)]
    n_events = sum(sizes)
    n_mods = max(0, n_events - len(files))
    weights = [rng.paretovariate(1.5) for _ in files]
    wanted = [0] * len(files)
    for index in rng.choices(range(len(files)), weights=weights, k=n_mods):
        wanted[index] += 1
    revisions = [f.plan(w, rng) for f, w in zip(files, wanted)]
    # Events: (time, file index, version). Files are added in [0, 1/6), revisions after that.
    events = []
    for index, f in enumerate(files):
        added = rng.random() / 6
        events.append((added, index, 0))
        times = sorted(rng.uniform(added, 1) for _ in range(revisions[index]))
        events.extend((t, index, k + 1) for k, t in enumerate(times))
    events.sort()

    dest.mkdir(parents=True, exist_ok=False)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(dest)], env=GIT_ENV, check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=dest, env=GIT_ENV,
                            stdin=subprocess.PIPE)
    out = proc.stdin

    # Blobs first, every version of a file right after the one before it.
    mark = 0
    blob_mark = []  # per file: the mark of version 0; version k is that + k
    for f in files:
        blob_mark.append(mark + 1)
        for k in range(len(f.runs) + 1):
            mark += 1
            out.write(b"blob\nmark :%d\n" % mark + data_cmd(f.version(k)))

    # main, grouping the events into commits of the planned sizes (a commit that would hold two
    # versions of one file keeps the later one).
    when = START_TIME
    commit_marks = []
    state = [None] * len(files)  # the version of each file at the current commit
    forks = {int(frac * n_main) - 1: name for name, frac, _ in BRANCHES}
    snapshots = {}
    position = 0
    for number in range(n_main):
        group = events[position:position + sizes[number]] if number < n_main - 1 else events[position:]
        position += len(group)
        changed = {}
        for _, index, version in group:
            changed[index] = version
            state[index] = version
        when += rng.randint(600, 4 * 3600)
        author = AUTHORS[rng.randrange(len(AUTHORS))].encode()
        names = ", ".join(files[i].path.rsplit("/", 1)[-1] for i in sorted(changed)) or "nothing"
        verb = "add" if all(v == 0 for v in changed.values()) else "update"
        message = f"{verb} {names}\n\nChange {number + 1} of the benchmark history.\n".encode()
        mark += 1
        commit_marks.append(mark)
        out.write(b"commit refs/heads/main\nmark :%d\n" % mark)
        out.write(b"author %s %d +0000\ncommitter %s %d +0000\n" % (author, when, author, when))
        out.write(data_cmd(message))
        if number:
            out.write(b"from :%d\n" % commit_marks[number - 1])
        for index in sorted(changed):
            out.write(b"M 100644 :%d %s\n" % (blob_mark[index] + changed[index], files[index].path.encode()))
        out.write(b"\n")
        if number in forks:
            snapshots[forks[number]] = (mark, list(state), when)
    assert position == len(events), (position, len(events))

    # Tags: every other commit of main, newest last; one in five annotated.
    tagged = commit_marks[1::2][-args.tags:] if args.tags else []
    for n, target in enumerate(tagged):
        name = f"v{n // 1000}.{(n // 50) % 20}.{n % 50}".encode()
        if n % 5 == 0:
            out.write(b"tag %s\nfrom :%d\ntagger Release Bot <release@example.com> %d +0000\n"
                      % (name, target, START_TIME + n * 3600))
            out.write(data_cmd(b"Release " + name + b"\n"))
        else:
            out.write(b"reset refs/tags/%s\nfrom :%d\n\n" % (name, target))

    # Branches: a few commits of their own on top of main at their fork point, each appending a
    # comment line to one or two files.
    for name, _, count in BRANCHES:
        parent, versions, when = snapshots[name]
        present = [i for i, v in enumerate(versions) if v is not None]
        contents = {}
        for n in range(count):
            when += rng.randint(600, 4 * 3600)
            author = AUTHORS[rng.randrange(len(AUTHORS))].encode()
            mark += 1
            out.write(b"commit refs/heads/%s\nmark :%d\n" % (name.encode(), mark))
            out.write(b"author %s %d +0000\ncommitter %s %d +0000\n" % (author, when, author, when))
            out.write(data_cmd(f"{name}: change {n + 1}\n".encode()))
            out.write(b"from :%d\n" % parent)
            for index in sorted(set(rng.choice(present) for _ in range(rng.randint(1, 2)))):
                f = files[index]
                text = contents.get(index) or f.version(versions[index])
                marker = COMMENT.get(os.path.splitext(f.path)[1], b"#")
                text += b"\n%s %s change %d\n" % (marker, name.encode(), n + 1)
                contents[index] = text
                out.write(b"M 100644 inline %s\n" % f.path.encode() + data_cmd(text))
            out.write(b"\n")
            parent = mark
    out.write(b"done\n")
    out.close()
    if proc.wait() != 0:
        sys.exit("git fast-import failed")
    subprocess.run(["git", "pack-refs", "--all"], cwd=dest, env=GIT_ENV, check=True)
    return describe(dest, time.perf_counter() - started)


def describe(repo, seconds=None):
    """The repository's shape: its main tree's files and bytes, commits, tags, branches, pack."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True,
                              capture_output=True, text=True).stdout

    tree = [line.split(None, 4) for line in git("ls-tree", "-r", "-l", "main").splitlines()]
    pack = sum(p.stat().st_size for p in (Path(repo) / "objects" / "pack").glob("*.pack"))
    shape = {
        "files": len(tree),
        "bytes": sum(int(entry[3]) for entry in tree),
        "commits": int(git("rev-list", "--all", "--count").strip()),
        "main_commits": int(git("rev-list", "--count", "main").strip()),
        "tags": len(git("for-each-ref", "--format=x", "refs/tags").splitlines()),
        "branches": git("for-each-ref", "--format=%(refname:short)", "refs/heads").split(),
        "pack_bytes": pack,
    }
    if seconds is not None:
        shape["seconds"] = round(seconds, 1)
    return shape


if __name__ == "__main__":
    main()
