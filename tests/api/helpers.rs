//! `TestApp`: a real codepup server on 127.0.0.1:0 with its data in a temp dir, plus helpers to
//! call it, and `make_git_repo` for real repositories built with the git CLI.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codepup::config::{parse_offset, Config, Retention, ScanLimits, ToolSettings};
use codepup::{Application, RunningServer};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

pub struct TestApp {
    /// Owns the data dir and the repositories: they live exactly as long as the test.
    pub dir: TempDir,
    pub config: Config,
    server: Option<RunningServer>,
    pub base: String,
    agent: ureq::Agent,
}

/// An answer, already checked against the envelope invariant.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// The `field`s named by `invalid_fields`.
    pub fn invalid_fields(&self) -> Vec<String> {
        self.body["invalid_fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .map(|field| field["field"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// An answer to a raw request, as it came over the wire.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    is_complete: bool,
}

impl RawReply {
    fn parse(bytes: &[u8]) -> Option<RawReply> {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&bytes[..end]);
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
            .collect();
        let body = bytes[end + 4..].to_vec();
        let length = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse::<usize>().ok());
        Some(RawReply {
            status,
            is_complete: length.is_some_and(|length| body.len() >= length),
            headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as an error envelope, after checking it is one (and matches the status).
    #[track_caller]
    pub fn envelope(&self) -> Value {
        assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "not JSON: {self:?}"
        );
        let body: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {self:?}"));
        assert_eq!(body["status_code"], json!(self.status), "{body}");
        if self.status >= 400 {
            assert!(body["code"].as_i64().is_some_and(|c| c != 0), "{body}");
            assert!(body["msg"].is_string(), "{body}");
            assert!(body.get("data").is_none(), "{body}");
        } else {
            assert_eq!(body["code"], 0, "{body}");
        }
        body
    }
}

pub enum Body<'a> {
    None,
    Json(Value),
    Form(&'a [(&'a str, &'a str)]),
    Raw(&'a str, Vec<u8>),
}

fn init_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        // The binary's default filter, unless RUST_LOG says otherwise.
        let _ = env_logger::Builder::from_env(
            env_logger::Env::default().default_filter_or(codepup::config::DEFAULT_LOG_FILTER),
        )
        .is_test(true)
        .try_init();
    }
}

impl TestApp {
    pub fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {})
    }

    /// Starts a server whose config `adjust` may change first.
    pub fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            bind: "127.0.0.1:0".to_string(),
            data_dir: dir.path().join("data"),
            scan_workers: 2,
            scan_nice: 10,
            http_workers: Some(1),
            local_repo_roots: vec![dir.path().join("repos")],
            tz_offset: parse_offset("+08:00").unwrap(),
            admin_token: Some(ADMIN_TOKEN.to_string()),
            tools_file: None,
            tools: ToolSettings {
                helper: Some(env!("CARGO_BIN_EXE_codepup").into()),
                ..ToolSettings::default()
            },
            metrics_bind: None,
            // Tests stop servers in the middle of jobs: no grace unless a test asks for it.
            shutdown_grace: Duration::ZERO,
            limits: ScanLimits::default(),
            trusted_proxies: Vec::new(),
            // No housekeeping pass while a test runs unless it asks for one: a pass of its own
            // would race the test's `codepup prune`.
            retention: Retention {
                first_pass_after: Duration::from_secs(24 * 60 * 60),
                ..Retention::default()
            },
            schedule_clock: codepup::schedule::Clock::adjustable(),
            webhook_allow_private: false,
            notify_clock: codepup::schedule::Clock::adjustable(),
            db_memory: codepup::db::Memory::for_this_machine(),
        };
        std::fs::create_dir_all(dir.path().join("repos")).unwrap();
        adjust(&mut config);
        let mut app = TestApp {
            dir,
            config,
            server: None,
            base: String::new(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
        };
        app.start();
        app
    }

    fn start(&mut self) {
        let server = Application::build(self.config.clone())
            .expect("the application builds")
            .spawn()
            .expect("the server starts");
        self.base = format!("http://127.0.0.1:{}", server.port);
        self.server = Some(server);
    }

    /// `http://127.0.0.1:PORT` of the metrics listener, when the config asked for one.
    pub fn metrics_base(&self) -> Option<String> {
        let port = self.server.as_ref()?.metrics_port?;
        Some(format!("http://127.0.0.1:{port}"))
    }

    /// Stops the server and starts a new one on the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// Where tests put repositories: below the allowed local root.
    pub fn repos_dir(&self) -> PathBuf {
        self.dir.path().join("repos")
    }

    /// Sends a request to `path` (below the host) and checks the envelope invariant.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Body<'_>) -> Reply {
        let url = format!("{}{}", self.base, path);
        let mut request = self.agent.request(method, &url);
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Token {token}"));
        }
        let result = match body {
            Body::None => request.call(),
            Body::Json(value) => request.send_json(value),
            Body::Form(pairs) => request.send_form(pairs),
            Body::Raw(content_type, bytes) => {
                request.set("Content-Type", content_type).send_bytes(&bytes)
            }
        };
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("{method} {path} failed: {error}"),
        };
        let status = response.status();
        let content_type = response
            .header("content-type")
            .unwrap_or_default()
            .to_string();
        let headers = response
            .headers_names()
            .into_iter()
            .map(|name| {
                let value = response.header(&name).unwrap_or_default().to_string();
                (name, value)
            })
            .collect();
        let text = response.into_string().unwrap_or_default();
        // Every refusal is an envelope, whatever refused (issue 8, hole 6).
        assert!(
            status < 400 || method == "HEAD" || content_type.starts_with("application/json"),
            "{method} {path}: {status} answered as {content_type:?}, not an envelope: {text}"
        );
        let body = if content_type.starts_with("application/json") {
            let body: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"));
            assert_eq!(
                body["status_code"],
                json!(status),
                "envelope status_code differs from HTTP: {body}"
            );
            if status < 400 {
                assert_eq!(
                    body["code"],
                    json!(0),
                    "success envelope without code 0: {body}"
                );
            } else {
                assert!(
                    body.get("data").is_none(),
                    "error envelope with data: {body}"
                );
                assert!(
                    body["code"].as_i64().is_some_and(|c| c != 0),
                    "error envelope without a code: {body}"
                );
                assert!(
                    body["msg"].is_string(),
                    "error envelope without msg: {body}"
                );
            }
            body
        } else {
            Value::String(text)
        };
        Reply {
            status,
            body,
            content_type,
            headers,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), Body::None)
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("POST", path, Some(token), Body::Json(body))
    }

    pub fn post_form(&self, path: &str, token: &str, pairs: &[(&str, &str)]) -> Reply {
        self.call("POST", path, Some(token), Body::Form(pairs))
    }

    /// Sends `request` byte for byte on a new connection (for requests ureq will not send) and
    /// reads the answer until the server closes the connection or the body is complete.
    pub fn raw(&self, request: &[u8]) -> RawReply {
        let address = self.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("the server accepts");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).expect("the request is sent");
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                // The server may reset a connection it refused while the request was still coming.
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(error) => panic!("reading the answer: {error}"),
            }
            if let Some(reply) = RawReply::parse(&bytes) {
                if reply.is_complete {
                    return reply;
                }
            }
        }
        RawReply::parse(&bytes).unwrap_or_else(|| {
            panic!(
                "no answer, only {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )
        })
    }

    /// Creates a user through the API and returns their token.
    pub fn create_user(&self, username: &str) -> String {
        let reply = self
            .post(
                "/server/main/api/v3/users/",
                ADMIN_TOKEN,
                json!({"username": username, "nickname": format!("{username}-nick")}),
            )
            .expect(201);
        reply.data()["token"].as_str().unwrap().to_string()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One API call with the admin's token to a server started as its own process at `base`
/// (`http://host:port`); the envelope, whatever the status.
pub fn call_process(base: &str, method: &str, path: &str, body: Value) -> Value {
    let request = ureq::request(method, &format!("{base}/server/main/api/{path}"))
        .set("Authorization", &format!("Token {ADMIN_TOKEN}"));
    let response = if method == "GET" {
        request.call()
    } else {
        request.send_json(body)
    };
    match response {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r.into_json().unwrap(),
        Err(error) => panic!("{error}"),
    }
}

/// Makes `username` an org member of `acme` and a member (role 2) of `team`; returns the token.
pub fn team_member(app: &TestApp, username: &str, team: &str) -> String {
    let token = app.create_user(username);
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": [username], "role": 2}),
    )
    .expect(200);
    app.post(
        &format!("/server/main/api/v3/orgs/acme/teams/{team}/memberconf/"),
        ADMIN_TOKEN,
        json!({"users": [username], "role": 2}),
    )
    .expect(200);
    token
}

/// `/server/main/api/orgs/<org>/teams/<team>` and so on.
pub fn team_path(org: &str, team: &str) -> String {
    format!("/server/main/api/orgs/{org}/teams/{team}")
}

/// A git repository at `dir` with one commit holding `files`, on branch `main`. The environment
/// is isolated (no system or global config, fixed author and dates), so hashes are stable.
pub fn make_git_repo(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    for (path, content) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "initial"]);
    dir.to_path_buf()
}

/// Runs git in `dir` with an isolated, fixed environment; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// An org `acme` with team `web` holding one repository and one project on `main`, created by
/// the admin. Paths and ids for tests that need a populated server.
pub struct World {
    pub org: String,
    pub team: String,
    pub repo_id: i64,
    pub project_id: i64,
    pub scheme_id: i64,
    pub repo_dir: PathBuf,
}

impl World {
    pub fn build(app: &TestApp) -> World {
        let repo_dir = make_git_repo(
            &app.repos_dir().join("demo"),
            &[("src/main.py", "print('hi')\n")],
        );
        app.post(
            "/server/main/api/v3/orgs/",
            ADMIN_TOKEN,
            json!({"name": "Acme", "org_sid": "acme"}),
        )
        .expect(201);
        app.post(
            "/server/main/api/v3/orgs/acme/teams/",
            ADMIN_TOKEN,
            json!({"name": "web"}),
        )
        .expect(201);
        let repo = app
            .post(
                &format!("{}/repos/", team_path("acme", "web")),
                ADMIN_TOKEN,
                json!({"scm_url": repo_dir.to_str().unwrap()}),
            )
            .expect(201);
        let repo_id = repo.data()["id"].as_i64().unwrap();
        let project = app
            .post(
                &format!("{}/repos/{repo_id}/projects/", team_path("acme", "web")),
                ADMIN_TOKEN,
                json!({"branch": "main", "global_scheme_id": 1}),
            )
            .expect(201);
        World {
            org: "acme".into(),
            team: "web".into(),
            repo_id,
            project_id: project.data()["id"].as_i64().unwrap(),
            scheme_id: project.data()["scan_scheme"]["id"].as_i64().unwrap(),
            repo_dir,
        }
    }

    pub fn team_path(&self) -> String {
        team_path(&self.org, &self.team)
    }

    pub fn repo_path(&self) -> String {
        format!("{}/repos/{}", self.team_path(), self.repo_id)
    }
}

impl TestApp {
    /// Starts a server whose `tools.toml` holds `tools` (TOML text).
    pub fn spawn_with_tools(tools: &str) -> TestApp {
        let tools = tools.to_string();
        TestApp::spawn_with(move |config| {
            let path = config.data_dir.parent().unwrap().join("tools.toml");
            std::fs::write(&path, tools).unwrap();
            config.tools_file = Some(path);
        })
    }

    /// Polls a job's detail until it is CLOSED (state 2) and returns the detail; panics with the
    /// last body after `timeout`.
    #[track_caller]
    pub fn wait_for_job(&self, project_path: &str, job_id: i64, timeout: Duration) -> Value {
        self.wait_for_detail(project_path, job_id, timeout, |detail| detail["state"] == 2)
    }

    /// Polls until `check` holds for the job's detail; panics with the last body after `timeout`.
    #[track_caller]
    pub fn wait_for_detail(
        &self,
        project_path: &str,
        job_id: i64,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let detail = self
                .get(
                    &format!("{project_path}/jobs/{job_id}/detail/"),
                    ADMIN_TOKEN,
                )
                .expect(200);
            if check(detail.data()) {
                return detail.data().clone();
            }
            assert!(
                Instant::now() < deadline,
                "job {job_id} never got there in {timeout:?}: {}",
                detail.body
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts a scan and returns `(job_id, scan_id)`.
    #[track_caller]
    pub fn start_scan(&self, project_path: &str, body: Value) -> (i64, i64) {
        let reply = self
            .post(&format!("{project_path}/scans/create/"), ADMIN_TOKEN, body)
            .expect(200);
        (
            reply.data()["job"]["id"].as_i64().unwrap(),
            reply.data()["scan"]["id"].as_i64().unwrap(),
        )
    }
}

impl World {
    /// A new scheme on the world's repository and a project on `branch` with it; returns the
    /// project's path (`.../projects/<id>`).
    pub fn project_with_scheme(&self, app: &TestApp, branch: &str, scheme: Value) -> String {
        let created = app
            .post(
                &format!("{}/initscheme/", self.repo_path()),
                ADMIN_TOKEN,
                scheme,
            )
            .expect(201);
        let scheme_id = created.data()["scan_scheme"].as_i64().unwrap();
        let project = app
            .post(
                &format!("{}/projects/", self.repo_path()),
                ADMIN_TOKEN,
                json!({"branch": branch, "scan_scheme_id": scheme_id}),
            )
            .expect(201);
        format!("{}/projects/{}", self.repo_path(), project.data()["id"])
    }

    /// The path of the world's own project (`default` template: line counting).
    pub fn project_path(&self) -> String {
        format!("{}/projects/{}", self.repo_path(), self.project_id)
    }
}

/// Whether a process whose command line contains `needle` is running.
pub fn process_running(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // A zombie has exited; only its parent's bookkeeping is left.
            let is_zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'));
            !is_zombie
                && String::from_utf8_lossy(&cmdline)
                    .replace('\0', " ")
                    .contains(needle)
        })
}

/// Waits until `condition` holds, up to `timeout`; returns whether it did.
pub fn eventually(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `tools.toml` of `codelint` tools: (name, command as a TOML array, extra lines).
pub fn tools(entries: &[(&str, &str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, command, extra)| {
            format!("[[tool]]\nname = \"{name}\"\nmodule = \"codelint\"\ncommand = {command}\n{extra}\n")
        })
        .collect()
}

/// The log of one task of a job.
pub fn task_log(app: &TestApp, project: &str, job_id: i64, task_id: &Value) -> String {
    let reply = app
        .get(
            &format!("{project}/jobs/{job_id}/tasks/{task_id}/log/"),
            ADMIN_TOKEN,
        )
        .expect(200);
    reply.body.as_str().unwrap().to_string()
}

/// Whether a linter is installed; in CI it must be (`.ci/run` installs it).
pub fn has_tool(name: &str) -> bool {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found || std::env::var_os("CI").is_none(),
        "{name} is missing, and CI must have it"
    );
    if !found {
        eprintln!("note: {name} is not installed; skipping");
    }
    found
}

impl World {
    /// The scheme of the project at `project_path`.
    pub fn scheme_of(&self, app: &TestApp, project_path: &str) -> i64 {
        let project = app
            .get(&format!("{project_path}/"), ADMIN_TOKEN)
            .expect(200);
        project.data()["scan_scheme"]["id"].as_i64().unwrap()
    }

    /// Turns `rules` of `tool` on or off in the scheme of the project at `project_path`.
    pub fn set_rules(
        &self,
        app: &TestApp,
        project_path: &str,
        tool: &str,
        rules: &[&str],
        on: bool,
    ) {
        let scheme_id = self.scheme_of(app, project_path);
        app.call(
            "PUT",
            &format!(
                "{}/schemes/{scheme_id}/checkprofile/rules/modifystate/",
                self.repo_path()
            ),
            Some(ADMIN_TOKEN),
            Body::Json(
                json!({"checktool": tool, "checkrules": rules, "state": if on { 1 } else { 2 }}),
            ),
        )
        .expect(200);
    }
}
