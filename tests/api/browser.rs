//! A headless Chromium driven over W3C WebDriver (plain HTTP with ureq), for the tests that use
//! a real browser: codepup's status page and TCA's own web UI.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::helpers::eventually;

const QUICK: Duration = Duration::from_secs(30);

/// A W3C WebDriver session on a headless Chromium, driven over HTTP with ureq. The driver is a
/// child process on a loopback port of its own; dropping the value ends the session and kills it.
pub struct Browser {
    driver: Child,
    url: String,
    agent: ureq::Agent,
    /// The fresh profile Chromium is told to use, removed with the value.
    _profile: TempDir,
}

/// How a test names an element.
#[derive(Debug)]
enum Locator<'a> {
    Css(&'a str),
    XPath(&'a str),
}

/// What WebDriver calls an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver and a session; `None` when chromium or chromedriver is missing.
    pub fn start() -> Option<Browser> {
        let chromium = Path::new("/usr/bin/chromium");
        let chromedriver = Path::new("/usr/bin/chromedriver");
        if !chromium.exists() || !chromedriver.exists() {
            return None;
        }
        // A free port: the OS picks one, and chromedriver binds it right after.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let driver_url = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir().expect("a temp dir for the profile");
        let mut browser = Browser {
            driver,
            url: driver_url.clone(),
            agent,
            _profile: profile,
        };
        let ready = eventually(QUICK, || {
            browser
                .agent
                .get(&format!("{driver_url}/status"))
                .call()
                .ok()
                .and_then(|response| response.into_json::<Value>().ok())
                .is_some_and(|status| status["value"]["ready"] == true)
        });
        assert!(ready, "chromedriver did not get ready on port {port}");
        let args = json!([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--window-size=1366,768",
            format!("--user-data-dir={}", browser._profile.path().display()),
        ]);
        let session = browser
            .send(
                "POST",
                "/session",
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": chromium, "args": args},
                }}}),
            )
            .expect("a WebDriver session starts");
        let session_id = session["sessionId"].as_str().expect("a session id");
        browser.url = format!("{driver_url}/session/{session_id}");
        browser
            .send(
                "POST",
                "/window/rect",
                json!({"width": 1366, "height": 768}),
            )
            .expect("the window takes 1366x768");
        Some(browser)
    }

    /// As `start`; a missing Chromium fails the test when `CI` is set (`.ci/run` installs it),
    /// and elsewhere prints a note that `what` did not run.
    pub fn start_or_note(what: &str) -> Option<Browser> {
        let browser = Browser::start();
        if browser.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have /usr/bin/chromium and /usr/bin/chromedriver (.ci/run installs them)"
            );
            eprintln!("note: chromium or chromedriver missing; {what} did not run");
        }
        browser
    }

    /// Runs `drive`; when it panics, saves a screenshot of the page to `target/<failure_png>`
    /// first.
    pub fn screenshot_on_failure(&self, failure_png: &str, drive: impl FnOnce()) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(drive));
        if let Err(panic) = outcome {
            self.screenshot(&target_dir().join(failure_png));
            std::panic::resume_unwind(panic);
        }
    }

    /// One WebDriver command below the session; its `value`, or WebDriver's error message.
    pub fn send(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let url = format!("{}{path}", self.url);
        let request = self.agent.request(method, &url);
        let result = if method == "GET" || method == "DELETE" {
            request.call()
        } else {
            request.send_json(body)
        };
        match result {
            Ok(response) => response
                .into_json::<Value>()
                .map(|body| body["value"].clone())
                .map_err(|error| error.to_string()),
            Err(ureq::Error::Status(status, response)) => {
                let body: Value = response.into_json().unwrap_or_default();
                Err(format!(
                    "{status} {}: {}",
                    body["value"]["error"], body["value"]["message"]
                ))
            }
            Err(error) => Err(error.to_string()),
        }
    }

    pub fn open(&self, url: &str) {
        self.send("POST", "/url", json!({"url": url}))
            .expect("the page opens");
    }

    /// Runs `script` in the page (a function body: `return ...`).
    pub fn run(&self, script: &str) -> Value {
        self.send(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .unwrap_or_else(|error| panic!("script failed: {error}\n{script}"))
    }

    pub fn find(&self, css: &str) -> Result<String, String> {
        self.locate(&Locator::Css(css))
    }

    fn locate(&self, locator: &Locator<'_>) -> Result<String, String> {
        let (using, value) = match locator {
            Locator::Css(css) => ("css selector", css),
            Locator::XPath(xpath) => ("xpath", xpath),
        };
        let found = self.send("POST", "/element", json!({"using": using, "value": value}))?;
        found[ELEMENT_KEY]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no element reference for {value}"))
    }

    /// Clicks the element `css` selects with a real pointer click, retrying until it exists,
    /// is visible and takes the click.
    #[track_caller]
    pub fn click(&self, css: &str) {
        self.click_located(&Locator::Css(css));
    }

    /// As `click`, for the element an XPath selects (to find a button by its text).
    #[track_caller]
    pub fn click_xpath(&self, xpath: &str) {
        self.click_located(&Locator::XPath(xpath));
    }

    #[track_caller]
    fn click_located(&self, locator: &Locator<'_>) {
        let last = std::cell::RefCell::new(String::new());
        let clicked = eventually(QUICK, || {
            match self.locate(locator).and_then(|element| {
                self.send("POST", &format!("/element/{element}/click"), json!({}))
            }) {
                Ok(_) => true,
                Err(error) => {
                    *last.borrow_mut() = error;
                    false
                }
            }
        });
        assert!(clicked, "could not click {locator:?}: {}", last.borrow());
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).expect("the input exists");
        self.send(
            "POST",
            &format!("/element/{element}/value"),
            json!({"text": text}),
        )
        .expect("typing works");
    }

    /// Waits until `script` returns something truthy and returns it; panics with `what` after
    /// `timeout`.
    #[track_caller]
    pub fn wait_for(&self, what: &str, timeout: Duration, script: &str) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.run(script);
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(text) => !text.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(Instant::now() < deadline, "the page never showed {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn screenshot(&self, path: &Path) {
        match self.send("GET", "/screenshot", Value::Null) {
            Ok(Value::String(encoded)) => {
                let _ = std::fs::create_dir_all(path.parent().unwrap());
                let _ = std::fs::write(path, base64_decode(&encoded));
                eprintln!("screenshot saved to {}", path.display());
            }
            other => eprintln!("no screenshot: {other:?}"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.send("DELETE", "", Value::Null);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (WebDriver's screenshots); no crate for one function.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = text.bytes().filter_map(value).collect();
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut word = 0u32;
        for (index, digit) in chunk.iter().enumerate() {
            word |= digit << (18 - 6 * index);
        }
        let n_bytes = chunk.len().saturating_sub(1);
        bytes.extend_from_slice(&word.to_be_bytes()[1..1 + n_bytes]);
    }
    bytes
}

pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}
