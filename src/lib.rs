//! codepup: a self-hosted code-analysis job server that speaks TCA's task-management API.
//! Modules in reading order; `Application` is the seam `main.rs` and the tests both go through.

pub mod analyzers;
pub mod api;
pub mod auth;
pub mod background;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod git;
pub mod hooks;
pub mod metrics;
pub mod notify;
pub mod retention;
pub mod sandbox;
pub mod scan;
pub mod schedule;
pub mod throttle;
pub mod web;

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web as aw, App, HttpServer};
use anyhow::Context;

use crate::analyzers::Catalog;
use crate::config::Config;
use crate::db::Pool;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::retention::Housekeeper;
use crate::scan::{ScanPool, ScanQueue};
use crate::schedule::Scheduler;

/// What every handler can reach: the database pool, the settings, the known tools and the scan
/// queue.
pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    pub catalog: Catalog,
    pub queue: ScanQueue,
    pub metrics: Arc<Metrics>,
    /// Failed password sign-ins (`api::credential`).
    pub login_throttle: throttle::LoginThrottle,
}

/// A built server: database open and prepared, scan workers running, listener bound.
pub struct Application {
    listener: TcpListener,
    /// Where `/metrics` is served, when the admin asked for it.
    metrics_listener: Option<TcpListener>,
    state: aw::Data<AppState>,
    scan_pool: ScanPool,
    scheduler: Scheduler,
    notifier: Notifier,
    housekeeper: Housekeeper,
}

impl Application {
    /// Creates the data directory, opens the database, makes the first admin on an empty one and
    /// binds the listener (so the real port is known before anything runs).
    pub fn build(mut config: Config) -> anyhow::Result<Application> {
        for dir in [
            config.data_dir.clone(),
            config.git_cache_dir(),
            config.workspace_dir(),
        ] {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Absolute from here on: git resolves relative paths against directories it changes to.
        config.data_dir = fs::canonicalize(&config.data_dir)
            .with_context(|| format!("resolving {}", config.data_dir.display()))?;
        if !git::is_available() {
            log::warn!("git is not on PATH: projects cannot be created until it is installed");
        }
        let catalog = match &config.tools_file {
            Some(path) => Catalog::load(path, true)?,
            None => Catalog::load(&config.data_dir.join("tools.toml"), false)?,
        };
        let pool = db::open(&config.db_path(), config.db_memory)?;
        ensure_admin(&pool, &config)?;
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let metrics_listener = match &config.metrics_bind {
            Some(bind) => Some(
                TcpListener::bind(bind).with_context(|| format!("binding metrics to {bind}"))?,
            ),
            None => None,
        };
        let metrics = Arc::new(Metrics::new(&config.data_dir));
        let scan_pool = ScanPool::start(pool.clone(), &config, catalog.clone(), metrics.clone())?;
        // After the pool re-queued interrupted jobs: the scheduler first settles follow-ups owed
        // to pushes, then runs schedules (a slot missed while down runs once).
        let scheduler = Scheduler::start(
            pool.clone(),
            scan_pool.queue(),
            config.tz_offset,
            config.schedule_clock.clone(),
        )?;
        // Deliveries still pending from the last run are simply due.
        let notifier = Notifier::start(
            pool.clone(),
            config.webhook_allow_private,
            config.notify_clock.clone(),
        )?;
        let housekeeper = Housekeeper::start(pool.clone(), &config, metrics.clone())?;
        Ok(Application {
            listener,
            metrics_listener,
            state: aw::Data::new(AppState {
                pool,
                config,
                catalog,
                queue: scan_pool.queue(),
                metrics,
                login_throttle: throttle::LoginThrottle::default(),
            }),
            scan_pool,
            scheduler,
            notifier,
            housekeeper,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|addr| addr.port())
            .unwrap_or(0)
    }

    /// The actix servers (to be polled inside an actix system) and the scan pool to stop after
    /// them.
    fn server(self) -> anyhow::Result<Serving> {
        let state = self.state.clone();
        let http_workers = state.config.http_workers;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(aw::PathConfig::default().error_handler(|error, request| {
                    // A path matched a route but its id did not fit (e.g. too many digits).
                    log::debug!("path {} refused: {error}", request.path());
                    AppError::not_found(format!("route {}", request.path())).into()
                }))
                .wrap(actix_web::middleware::from_fn(api::ops::access))
                .configure(api::routes)
                .default_service(aw::to(api::not_found))
        })
        .shutdown_timeout(10);
        if let Some(workers) = http_workers {
            server = server.workers(workers);
        }
        let mut listening = vec![format!(
            "codepup listening on http://{} with data in {}",
            self.listener.local_addr()?,
            self.state.config.data_dir.display()
        )];
        if let Some(listener) = &self.metrics_listener {
            listening.push(format!(
                "metrics on http://{}/metrics",
                listener.local_addr()?
            ));
        }
        let metrics = match self.metrics_listener {
            Some(listener) => {
                let state = self.state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .route("/metrics", aw::get().to(api::ops::metrics))
                        .default_service(aw::to(api::not_found))
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(1);
                Some(server.listen(listener)?.run())
            }
            None => None,
        };
        Ok(Serving {
            listening,
            http: server.listen(self.listener)?.run(),
            metrics,
            scan_pool: self.scan_pool,
            scheduler: self.scheduler,
            notifier: self.notifier,
            housekeeper: self.housekeeper,
            grace: self.state.config.shutdown_grace,
        })
    }

    /// Serves until the process gets SIGINT or SIGTERM, then stops gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server()?.serve().await
    }

    /// Serves on a thread of its own (with its own actix system) and returns a handle that can
    /// stop it. Used by the tests, which need to stop and restart servers on one data directory.
    pub fn spawn(self) -> anyhow::Result<RunningServer> {
        let port = self.port();
        let metrics_port = self
            .metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .map(|addr| addr.port());
        let (sender, receiver) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(format!("codepup-http-{port}"))
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    match self.server() {
                        Ok(serving) => {
                            let _ = sender.send(Ok(serving.http.handle()));
                            if let Err(error) = serving.serve().await {
                                log::error!("server stopped with an error: {error}");
                            }
                        }
                        Err(error) => {
                            let _ = sender.send(Err(error));
                        }
                    }
                })
            })
            .context("starting the server thread")?;
        let handle = receiver.recv().context("server thread ended early")??;
        Ok(RunningServer {
            port,
            metrics_port,
            handle,
            thread,
        })
    }
}

/// The servers of a built application, ready to be awaited.
struct Serving {
    /// What the server logs once it serves and handles SIGTERM (see `serve`).
    listening: Vec<String>,
    http: Server,
    metrics: Option<Server>,
    scan_pool: ScanPool,
    scheduler: Scheduler,
    notifier: Notifier,
    housekeeper: Housekeeper,
    grace: std::time::Duration,
}

impl Serving {
    /// Serves until the HTTP server stops (a signal, or a handle's `stop`). Order matters: the
    /// HTTP server stops first, so no request can queue a job or wait on one while the scan pool
    /// lets running jobs finish and then shuts down.
    async fn serve(self) -> anyhow::Result<()> {
        let metrics = self.metrics.map(|server| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        // The HTTP server installs its SIGINT/SIGTERM handlers when it is first polled: only
        // then does "listening on" go out, so whoever acts on that line (a supervisor, a test)
        // gets a graceful stop for its signal rather than the signal's default action.
        let mut http = self.http;
        let first = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(std::pin::Pin::new(&mut http), cx))
        })
        .await;
        for line in &self.listening {
            log::info!("{line}");
        }
        let served = match first {
            std::task::Poll::Ready(served) => served,
            std::task::Poll::Pending => http.await,
        }
        .context("serving HTTP");
        if let Some(handle) = metrics {
            handle.stop(false).await;
        }
        let (scan_pool, scheduler, notifier, grace) =
            (self.scan_pool, self.scheduler, self.notifier, self.grace);
        // Waiting for jobs blocks: off the event loop. The scheduler stops before the pool, so
        // it queues nothing into a draining engine; the notifier after it, so the closes of the
        // last jobs still go out (what it cannot send stays in the outbox). Housekeeping stops
        // first, after its current transaction.
        let housekeeper = self.housekeeper;
        let _ = actix_web::rt::task::spawn_blocking(move || {
            housekeeper.shutdown();
            scheduler.shutdown();
            scan_pool.shutdown(grace);
            notifier.shutdown();
        })
        .await;
        served
    }
}

/// A server serving on its own thread.
pub struct RunningServer {
    pub port: u16,
    /// Where `/metrics` answers, when it was asked for.
    pub metrics_port: Option<u16>,
    handle: ServerHandle,
    thread: thread::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish, and waits for the thread to end.
    pub fn stop(self) {
        actix_web::rt::System::new().block_on(self.handle.stop(true));
        let _ = self.thread.join();
    }
}

/// On the first start (no users at all) makes the superuser `admin` and writes its token to
/// `<data-dir>/admin.token` (mode 0600). Later starts change nothing.
fn ensure_admin(pool: &Pool, config: &Config) -> anyhow::Result<()> {
    let mut conn = pool.get()?;
    let tx = db::begin(&mut conn)?;
    if db::users::count(&tx)? > 0 {
        return Ok(());
    }
    let token = config
        .admin_token
        .clone()
        .unwrap_or_else(domain::user::new_token);
    db::users::insert(&tx, "admin", "admin", true, &domain::user::digest(&token))?;
    let path = config.admin_token_path();
    write_secret(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    // Committed only after the file is written, so a failed write leaves no admin whose token
    // nobody knows.
    tx.commit()?;
    log::info!(
        "created superuser admin; its token is in {}",
        path.display()
    );
    Ok(())
}

/// Writes `secret` to a new file only its owner can read.
fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // The mode above applies only to a new file; an old one is tightened too.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        writeln!(file, "{secret}")
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        writeln!(file, "{secret}")
    }
}
