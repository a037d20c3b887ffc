//! TCA's own prebuilt web UI (`../shared/tca-web/`, TCA's `web/tca-deploy-source/`), served as
//! TCA's deploy files serve it with codepup behind `/server/` (`tests/tca_web/serve.py`), driven
//! in headless Chromium through its scan flow: sign in with a name and a password, open the org,
//! the team, a repository's analysis projects and a project's overview, press 启动分析, watch
//! the scan succeed in 分析历史 and open its detail with its tasks. No API call the UI makes
//! may be answered 404 or 5xx.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

use crate::browser::{target_dir, Browser};
use crate::helpers::{eventually, TestApp, World, ADMIN_TOKEN};

const PAGE: Duration = Duration::from_secs(60);
const PASSWORD: &str = "a long enough password";

/// TCA's prebuilt UI, as the task's shared files hold it; `None` where it is not.
fn tca_web_dir() -> Option<PathBuf> {
    [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tca-web"),
        PathBuf::from("/work/shared/tca-web"),
    ]
    .into_iter()
    .find(|dir| dir.join("login.zip").is_file())
}

/// `serve.py` in front of a codepup: TCA's static files, and `/server/` proxied with the prefix
/// stripped, as TCA's nginx does. It logs every proxied call; dropping the value stops it.
struct WebFront {
    child: Child,
    base: String,
    log: PathBuf,
    _dir: TempDir,
}

impl WebFront {
    fn start(tca_web: &Path, app: &TestApp) -> WebFront {
        let dir = tempfile::tempdir().expect("a temp dir for the deployed UI");
        let log = dir.path().join("proxy.log");
        let mut child = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tca_web/serve.py"))
            .arg(tca_web)
            .arg(dir.path().join("www"))
            .arg(&app.base)
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs serve.py");
        let mut port = String::new();
        BufReader::new(child.stdout.take().expect("serve.py's stdout"))
            .read_line(&mut port)
            .expect("serve.py prints its port");
        let port: u16 = port
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("serve.py did not start: {port:?}"));
        WebFront {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// Every call the UI made through `/server/`: `METHOD PATH STATUS`.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for WebFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `alice`, with a password, an org member and an admin of team `web` (so she may start scans).
fn alice(app: &TestApp) {
    app.post(
        "/server/main/api/v3/users/",
        ADMIN_TOKEN,
        json!({"username": "alice", "nickname": "Alice", "password": PASSWORD}),
    )
    .expect(201);
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["alice"], "role": 2}),
    )
    .expect(200);
    app.post(
        "/server/main/api/v3/orgs/acme/teams/web/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["alice"], "role": 1}),
    )
    .expect(200);
}

#[test]
fn tcas_own_web_ui_signs_in_with_a_password_and_runs_its_scan_flow_on_codepup() {
    let ci = std::env::var_os("CI").is_some();
    let Some(tca_web) = tca_web_dir() else {
        assert!(!ci, "CI must have TCA's prebuilt UI in ../shared/tca-web/");
        eprintln!("note: ../shared/tca-web/ missing; TCA's UI test did not run");
        return;
    };
    let Some(browser) = Browser::start() else {
        assert!(
            !ci,
            "CI must have /usr/bin/chromium and /usr/bin/chromedriver"
        );
        eprintln!("note: chromium or chromedriver missing; TCA's UI test did not run");
        return;
    };
    let app = TestApp::spawn();
    let world = World::build(&app);
    alice(&app);
    let front = WebFront::start(&tca_web, &app);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drive_tca_web(&browser, &front, &world)
    }));
    if let Err(panic) = outcome {
        browser.screenshot(&target_dir().join("tca-web-failure.png"));
        eprintln!("calls through /server/:\n{}", front.calls().join("\n"));
        std::panic::resume_unwind(panic);
    }
    let calls = front.calls();
    let failed: Vec<&String> = calls
        .iter()
        .filter(|call| {
            let status = call.rsplit(' ').next().unwrap_or_default();
            status == "404" || status.starts_with('5')
        })
        .collect();
    assert!(failed.is_empty(), "the UI's calls that failed: {failed:#?}");
    for expected in [
        "POST /server/credential/api/v3/login/get_oapassword_info/ 200",
        &format!(
            "POST /server/main/api/v3/orgs/acme/teams/web/repos/{}/projects/{}/scans/ 200",
            world.repo_id, world.project_id
        ),
    ] {
        assert!(calls.iter().any(|call| call == expected), "no {expected}");
    }
}

/// Waits until the page's text holds `needle`.
fn wait_for_text(browser: &Browser, needle: &str) {
    browser.wait_for(
        needle,
        PAGE,
        &format!("return document.body.innerText.includes({needle:?});"),
    );
}

/// Closes TCA's promotional notice (it covers the top right, where 启动分析 is), as a person
/// would, then clicks the element `xpath` selects.
fn press(browser: &Browser, xpath: &str) {
    browser.run(
        "document.querySelectorAll('.ant-notification-notice-close').forEach(e => e.click()); \
         return true;",
    );
    browser.click_xpath(xpath);
}

fn shot(browser: &Browser, name: &str) {
    browser.screenshot(&target_dir().join(format!("tca-web-{name}.png")));
}

fn drive_tca_web(browser: &Browser, front: &WebFront, world: &World) {
    browser.open(&format!("{}/login", front.base));
    wait_for_text(browser, "账号登录");
    shot(browser, "1-login");
    browser.type_into("input[placeholder='用户名']", "alice");
    browser.type_into("input[type='password']", PASSWORD);
    press(browser, "//button[contains(., '登录')]");
    // The login page stores the token and goes to `/`; the team list is one click on.
    wait_for_text(browser, "立即体验");
    press(browser, "//*[contains(text(), '立即体验')]");
    wait_for_text(browser, "Acme");
    shot(browser, "2-orgs");
    // An org with repositories opens on its workspace (TCA's `repo_count`), listing them.
    press(browser, "//*[text()='Acme']");
    wait_for_text(browser, "工作台");
    wait_for_text(browser, "demo");
    shot(browser, "3-org-workspace");
    press(browser, "//*[text()='项目']");
    wait_for_text(browser, "一个团队可以具有多个项目");
    shot(browser, "3-org-teams");
    press(browser, "//td//*[text()='web'] | //td[text()='web']");
    wait_for_text(browser, "代码库登记");
    shot(browser, "4-repos");
    press(browser, "//*[text()='分析项目']");
    wait_for_text(browser, "分析项目列表");
    wait_for_text(browser, "分支概览");
    shot(browser, "5-analysis-projects");
    press(browser, "//*[text()='分支概览']");
    browser.wait_for(
        "the branch overview",
        PAGE,
        &format!(
            "return location.pathname.endsWith('/projects/{}/overview');",
            world.project_id
        ),
    );
    wait_for_text(browser, "代码统计详情");
    shot(browser, "6-overview");
    press(browser, "//button[contains(., '启动分析')]");
    wait_for_text(browser, "全量分析");
    press(
        browser,
        "//div[contains(@class, 'ant-modal')]//button[contains(., '启动分析')]",
    );
    watch_the_scan_succeed(browser);
    shot(browser, "7-history");
    press(browser, "//a[text()='详情']");
    wait_for_text(browser, "任务执行情况");
    wait_for_text(browser, "codecount");
    wait_for_text(browser, "执行结果：成功");
    shot(browser, "8-scan-detail");
}

/// Opens 分析历史 until the scan's row says 成功 (the page does not poll by itself).
fn watch_the_scan_succeed(browser: &Browser) {
    let succeeded = eventually(PAGE, || {
        press(browser, "//*[text()='分析历史']");
        let text = browser.run(
            "const row = document.querySelector('.ant-table-tbody tr.ant-table-row'); \
             return row ? row.innerText : '';",
        );
        let text = text.as_str().unwrap_or_default().to_string();
        if !text.contains("成功") {
            std::thread::sleep(Duration::from_millis(500));
        }
        // The starter is shown by nickname.
        text.contains("成功") && text.contains("Alice")
    });
    assert!(succeeded, "the scan never showed 成功 in 分析历史");
}
