#!/usr/bin/env bash
# Scans a codepup project, waits for the result, and fails when the scan or its quality gate does.
# CODEPUP_PROJECT_URL: the project's API URL, e.g.
#   https://codepup.example.com/server/main/api/orgs/acme/teams/web/repos/1/projects/1
# CODEPUP_TOKEN: an API token of a team member. Needs curl (7.76 or newer) and jq.
set -euo pipefail
answer=$(curl -sS --fail-with-body -X POST "$CODEPUP_PROJECT_URL/scans/create/" \
  -H "Authorization: Token $CODEPUP_TOKEN" -H 'Content-Type: application/json' \
  -d '{"incr_scan": true, "async_flag": false}') || { echo "no scan: $answer" >&2; exit 2; }
jq -r '.data.job | "job \(.id) closed with \(.result_code): \(.result_msg)",
  if .gate == null then "no quality gate" elif .gate.passed then "quality gate passed"
  else "quality gate failed:", (.gate.reasons[] | "  " + .) end' <<<"$answer"
jq -e '.data.job.result_code < 100 and .data.job.gate.passed != false' <<<"$answer" >/dev/null
