#!/usr/bin/env python3
"""Findings per 10,000 lines of the `default` template, with the built-in checker's default rules
and with every rule on (what the template reported before issue 11), on real repositories.

    python3 tests/bench/rules_noise.py --binary target/debug/codepup --work /tmp/noise \
        --repo actix-web=~/.cargo/registry/src/*/actix-web-4.18.1 --repo flask=/tmp/flask-3.1.0 ...

Each `--repo NAME=DIR` is copied, `git init`-ed and committed as one commit, registered with a
server on a loopback port, and scanned with a project on the `default` template (line counting
and the built-in checker): first with the scheme as it comes (the default rules), then, after
turning every rule of the checker on in the scheme, again (a full scan: the rules changed). The
open findings after each scan, per rule, and the line count go in a markdown table; the
findings of each scan are written to `<work>/<name>-default.txt` and `<name>-all.txt`, for
reading. Nothing but
loopback traffic.
"""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import GIT_ENV, Server, default_binary  # noqa: E402  (a sibling script)

ALL_RULES = ["conflict-marker", "private-key", "secret-token", "trailing-whitespace",
             "mixed-indentation", "long-line", "missing-final-newline", "file-too-large",
             "invalid-utf8"]


def make_repo(source, target):
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".cargo-ok", ".cargo_vcs_info.json"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "import"]):
        subprocess.run(["git", *args], cwd=target, env=GIT_ENV, check=True)


def open_findings(server, analysis, query=""):
    path = f"{analysis}/codelint/issues/?state=1&limit=1000{query}"
    status, content = server.request("GET", "/server/analysis/api/" + path)
    data = json.loads(content)["data"]
    items = data["results"]
    offset = 1000
    while data["next"]:
        status, content = server.request("GET", f"/server/analysis/api/{path}&offset={offset}")
        data = json.loads(content)["data"]
        items += data["results"]
        offset += 1000
    return items


def by_rule(items):
    counts = {}
    for item in items:
        counts[item["checkrule_display_name"]] = counts.get(item["checkrule_display_name"], 0) + 1
    return counts


def measure(server, name, work):
    repo_id = server.call("POST", "orgs/bench/teams/t/repos/", {"scm_url": str(work / "repos" / name)})["id"]
    repo_path = f"orgs/bench/teams/t/repos/{repo_id}"
    project = server.call("POST", f"{repo_path}/projects/",
                          {"branch": "main", "global_scheme_id": 1, "custom_scheme_name": f"default-{name}"})
    base = f"{repo_path}/projects/{project['id']}"
    analysis = base
    scheme_id = project["scan_scheme"]["id"]
    results = {}
    for label in ("default", "all"):
        if label == "all":
            server.call("PUT", f"{repo_path}/schemes/{scheme_id}/checkprofile/rules/modifystate/",
                        {"checktool": "codepup", "checkrules": ALL_RULES, "state": 1})
        job = server.call("POST", f"{base}/scans/create/", {"incr_scan": True, "async_flag": False})["job"]
        if job["result_code"] != 0:
            raise RuntimeError(f"{name}: {job}")
        detail = server.call("GET", f"{base}/jobs/{job['id']}/detail/")
        items = open_findings(server, analysis)
        results[label] = (detail, items)
        with open(work / f"{name}-{label}.txt", "w") as out:
            for item in items:
                out.write(f"{item['checkrule_display_name']}\t{item['file_path']}:{item['line']}\t"
                          f"{item['msg']}\n")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=default_binary())
    parser.add_argument("--work", type=Path, default=Path("/tmp/rules-noise"))
    parser.add_argument("--repo", action="append", required=True, help="NAME=DIR")
    args = parser.parse_args()
    work = args.work.resolve()
    repos = work / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    names = []
    for spec in args.repo:
        name, source = spec.split("=", 1)
        make_repo(Path(source).expanduser(), repos / name)
        names.append(name)
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    server = Server(args.binary, data, repos, 2)
    try:
        server.call("POST", "v3/orgs/", {"name": "bench", "org_sid": "bench"})
        server.call("POST", "v3/orgs/bench/teams/", {"name": "t"})
        print("| repository | lines (total) | findings, every rule on (before) | per 10k lines | "
              "findings, default rules (after) | per 10k lines | by rule, every rule on |")
        print("|---|---|---|---|---|---|---|")
        for name in names:
            results = measure(server, name, work)
            lines = results["default"][0]["total_line_num"]
            before, after = len(results["all"][1]), len(results["default"][1])
            rules = ", ".join(f"{rule} {n:,}" for rule, n in sorted(by_rule(results["all"][1]).items()))
            print(f"| {name} | {lines:,} | {before:,} | {before * 10000 / lines:.1f} | {after:,} | "
                  f"{after * 10000 / lines:.2f} | {rules} |", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
