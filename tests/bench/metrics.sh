#!/bin/bash
# Wall time of the code-metrics tools on real trees, with the argv codepup gives them, beside
# `cat | wc -l` of the same files (the reference, measured in the same run). Not run in CI.
# Usage: tests/bench/metrics.sh NAME:DIR[ DIR...]:JSCPD_FORMAT:EXTENSION ...
# e.g.   tests/bench/metrics.sh "pylint:/opt/codepup-linters/lib/python3.11/site-packages/pylint:python:py"
set -u
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seconds() { echo "$2 - $1" | bc; }
for spec in "$@"; do
  IFS=: read -r name dirs format ext <<<"$spec"
  out="$work/$name"
  mkdir -p "$out"
  echo '{}' >"$out/cfg.json"
  # shellcheck disable=SC2086 # DIRS is a space-separated list of directories
  find $dirs -name "*.$ext" -type f >"$out/list"
  files=$(wc -l <"$out/list")
  t0=$(date +%s.%N)
  lines=$(tr '\n' '\0' <"$out/list" | xargs -0 cat | wc -l)
  t1=$(date +%s.%N)
  for dir in $dirs; do
    jscpd --silent --noSymlinks --absolute --config "$out/cfg.json" --reporters json \
      --output "$out/r-$(basename "$dir")" --format "$format" --min-tokens 50 --min-lines 5 \
      --max-lines 20000 --max-size 1mb "$dir" >/dev/null 2>&1
  done
  t2=$(date +%s.%N)
  lizard --csv --input_file "$out/list" >"$out/lizard.csv"
  t3=$(date +%s.%N)
  dup=$(python3 - "$out" <<'PY'
import glob, json, sys
reports = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/r-*/jscpd-report.json")]
lines = sum(r["statistics"]["total"]["lines"] for r in reports)
copied = sum(r["statistics"]["total"]["duplicatedLines"] for r in reports)
print(sum(len(r["duplicates"]) for r in reports), round(copied * 100 / max(1, lines), 2))
PY
)
  over=$(awk -F, '$2 > 20' "$out/lizard.csv" | wc -l)
  functions=$(wc -l <"$out/lizard.csv")
  printf '%s | %s files | %s lines | wc %.2f s | jscpd %.2f s (%s pairs, rate %s%%) | lizard %.2f s (%s functions, %s over 20)\n' \
    "$name" "$files" "$lines" "$(seconds "$t0" "$t1")" "$(seconds "$t1" "$t2")" "${dup% *}" "${dup#* }" \
    "$(seconds "$t2" "$t3")" "$functions" "$over"
done
