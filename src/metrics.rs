//! What an operator's Prometheus scrapes from `--metrics-bind`: counters and histograms kept as
//! things happen (HTTP requests, tool runs, closed jobs, durations), and gauges read at scrape
//! time (jobs by state, queue age, file sizes). `prometheus-client` encodes them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    pub tool: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabels {
    pub class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WhatLabels {
    pub what: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

/// The values read at scrape time.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// (state name, jobs in it), for the states a job passes through before CLOSED.
    pub open_jobs: Vec<(String, i64)>,
    pub oldest_waiting_seconds: Option<i64>,
}

/// Every metric of the server.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Family<RouteLabels, Histogram>,
    tool_runs: Family<ToolLabels, Counter>,
    jobs_closed: Family<ClassLabels, Counter>,
    job_seconds: Histogram,
    phase_seconds: Family<PhaseLabels, Histogram>,
    task_seconds: Family<TaskLabels, Histogram>,
    jobs: Family<StateLabels, Gauge>,
    oldest_waiting: Gauge,
    db_bytes: Gauge,
    wal_bytes: Gauge,
    git_cache_bytes: Gauge,
    retention_removed: Family<WhatLabels, Counter>,
    retention_passes: Counter,
    retention_longest_write: Histogram,
    /// The git cache is walked at most once a minute.
    git_cache_measured: Mutex<Option<Instant>>,
    data_dir: PathBuf,
}

/// Request latencies: 0.5 ms to 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    pub fn new(data_dir: &Path) -> Metrics {
        let buckets = |start, count| Histogram::new(exponential_buckets(start, 2.0, count));
        let mut metrics = Metrics {
            registry: Registry::with_prefix("codepup"),
            http_requests: Family::default(),
            http_seconds: Family::new_with_constructor(latency_histogram),
            tool_runs: Family::default(),
            jobs_closed: Family::default(),
            job_seconds: buckets(0.05, 18),
            phase_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 20))
            }),
            task_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 20))
            }),
            jobs: Family::default(),
            oldest_waiting: Gauge::default(),
            db_bytes: Gauge::default(),
            wal_bytes: Gauge::default(),
            git_cache_bytes: Gauge::default(),
            retention_removed: Family::default(),
            retention_passes: Counter::default(),
            retention_longest_write: buckets(0.001, 14),
            git_cache_measured: Mutex::new(None),
            data_dir: data_dir.to_path_buf(),
        };
        metrics.register_requests_and_jobs();
        metrics.register_storage();
        metrics
    }

    /// The HTTP, tool and job metrics, named and described in the registry.
    fn register_requests_and_jobs(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            self.http_requests.clone(),
        );
        registry.register(
            "http_request_seconds",
            "HTTP request latency by route",
            self.http_seconds.clone(),
        );
        registry.register(
            "tool_runs",
            "Tool processes run, by tool and outcome",
            self.tool_runs.clone(),
        );
        registry.register(
            "jobs_closed",
            "Jobs closed since the server started, by result-code class",
            self.jobs_closed.clone(),
        );
        registry.register(
            "job_seconds",
            "Time from a job's claim to its close",
            self.job_seconds.clone(),
        );
        registry.register(
            "phase_seconds",
            "Time of the phases of a job: source (fetch and resolve) and store (results and close)",
            self.phase_seconds.clone(),
        );
        registry.register(
            "task_seconds",
            "Time of a job's task, by tool",
            self.task_seconds.clone(),
        );
        registry.register("jobs", "Jobs not yet closed, by state", self.jobs.clone());
        registry.register(
            "queue_oldest_waiting_seconds",
            "Age of the oldest waiting job (0 when none waits)",
            self.oldest_waiting.clone(),
        );
    }

    /// The database, retention and git cache metrics, named and described in the registry.
    fn register_storage(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "database_bytes",
            "Size of codepup.db",
            self.db_bytes.clone(),
        );
        registry.register(
            "database_wal_bytes",
            "Size of codepup.db-wal",
            self.wal_bytes.clone(),
        );
        registry.register(
            "retention_removed",
            "What retention passes removed, by kind (jobs, tasks, sightings, logs, ...)",
            self.retention_removed.clone(),
        );
        registry.register(
            "retention_passes",
            "Retention passes run by the housekeeping thread",
            self.retention_passes.clone(),
        );
        registry.register(
            "retention_longest_write_seconds",
            "The longest write transaction of each retention pass",
            self.retention_longest_write.clone(),
        );
        registry.register(
            "git_cache_bytes",
            "Size of the cached clones (measured at most once a minute)",
            self.git_cache_bytes.clone(),
        );
    }

    pub fn http_request(&self, labels: HttpLabels, took: Duration) {
        self.http_seconds
            .get_or_create(&RouteLabels {
                route: labels.route.clone(),
            })
            .observe(took.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    pub fn tool_run(&self, tool: &str, outcome: &str) {
        self.tool_runs
            .get_or_create(&ToolLabels {
                tool: tool.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// A job closed with `result_code` (by its worker, a cancel, a timeout or a supersede).
    pub fn job_closed(&self, result_code: i64) {
        self.jobs_closed
            .get_or_create(&ClassLabels {
                class: result_class(result_code).to_string(),
            })
            .inc();
    }

    /// A worker spent `took` on a job, from its claim to the end of its run.
    pub fn job_ran(&self, took: Duration) {
        self.job_seconds.observe(took.as_secs_f64());
    }

    pub fn task(&self, tool: &str, took: Duration) {
        self.task_seconds
            .get_or_create(&TaskLabels {
                tool: tool.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn phase(&self, phase: &str, took: Duration) {
        self.phase_seconds
            .get_or_create(&PhaseLabels {
                phase: phase.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// A retention pass removed `counts` (kind, how many), its longest write taking `longest`.
    pub fn retention_pass(&self, counts: &[(&str, u64)], longest: Duration) {
        for (what, n) in counts {
            self.retention_removed
                .get_or_create(&WhatLabels {
                    what: (*what).to_string(),
                })
                .inc_by(*n);
        }
        self.retention_passes.inc();
        self.retention_longest_write.observe(longest.as_secs_f64());
    }

    /// The text a scrape gets, with the scrape-time values of `snapshot` and the files on disk.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        self.jobs.clear();
        for (state, count) in &snapshot.open_jobs {
            self.jobs
                .get_or_create(&StateLabels {
                    state: state.clone(),
                })
                .set(*count);
        }
        self.oldest_waiting
            .set(snapshot.oldest_waiting_seconds.unwrap_or(0));
        let size = |name: &str| {
            std::fs::metadata(self.data_dir.join(name)).map_or(0, |meta| meta.len() as i64)
        };
        self.db_bytes.set(size("codepup.db"));
        self.wal_bytes.set(size("codepup.db-wal"));
        self.measure_git_cache();
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    fn measure_git_cache(&self) {
        let mut measured = self
            .git_cache_measured
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if measured.is_some_and(|at| at.elapsed() < Duration::from_secs(60)) {
            return;
        }
        *measured = Some(Instant::now());
        self.git_cache_bytes
            .set(dir_size(&self.data_dir.join("git"), 0) as i64);
    }
}

/// TCA's classes of result codes.
pub fn result_class(code: i64) -> &'static str {
    match code {
        0 => "success",
        1 => "no_change",
        2..=99 => "other_success",
        100..=199 => "server_error",
        200..=299 => "tool_error",
        300..=399 => "user_error",
        _ => "unknown",
    }
}

/// Bytes of the regular files below `dir` (symlinks are not followed).
fn dir_size(dir: &Path, depth: usize) -> u64 {
    if depth > 64 {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_size(&entry.path(), depth + 1),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |meta| meta.len()),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_has_every_family_with_the_values_recorded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("codepup.db"), vec![0u8; 4096]).unwrap();
        let metrics = Metrics::new(dir.path());
        metrics.http_request(
            HttpLabels {
                method: "GET".to_string(),
                route: "/healthz".to_string(),
                status: 200,
            },
            Duration::from_millis(2),
        );
        metrics.tool_run("ruff", "ok");
        metrics.job_closed(211);
        metrics.job_ran(Duration::from_secs(3));
        metrics.task("ruff", Duration::from_millis(300));
        metrics.phase("source", Duration::from_millis(40));
        metrics.retention_pass(&[("jobs", 7), ("logs", 0)], Duration::from_millis(3));
        let text = metrics.render(&Snapshot {
            open_jobs: vec![("waiting".to_string(), 3)],
            oldest_waiting_seconds: Some(12),
        });
        for line in [
            "codepup_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1",
            "codepup_tool_runs_total{tool=\"ruff\",outcome=\"ok\"} 1",
            "codepup_jobs_closed_total{class=\"tool_error\"} 1",
            "codepup_jobs{state=\"waiting\"} 3",
            "codepup_queue_oldest_waiting_seconds 12",
            "codepup_database_bytes 4096",
            "codepup_retention_removed_total{what=\"jobs\"} 7",
            "codepup_retention_removed_total{what=\"logs\"} 0",
            "codepup_retention_passes_total 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(text.contains("codepup_job_seconds_count 1"), "{text}");
        assert!(text.contains("codepup_phase_seconds_count{phase=\"source\"} 1"));
        assert!(text.contains("codepup_task_seconds_count{tool=\"ruff\"} 1"));
    }
}
