//! codepup: a self-hosted code-analysis job server that speaks TCA's task-management API.
//! Modules in reading order; `Application` is the seam `main.rs` and the tests both go through.

pub mod analyzers;
pub mod api;
pub mod auth;
pub mod body;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod git;
pub mod sandbox;
pub mod scan;
pub mod web;

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web as aw, App, HttpServer};
use anyhow::Context;

use crate::analyzers::Catalog;
use crate::config::Config;
use crate::db::Pool;
use crate::error::AppError;
use crate::scan::{ScanPool, ScanQueue};

/// What every handler can reach: the database pool, the settings, the known tools and the scan
/// queue.
pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    pub catalog: Catalog,
    pub queue: ScanQueue,
}

/// A built server: database open and prepared, scan workers running, listener bound.
pub struct Application {
    listener: TcpListener,
    state: aw::Data<AppState>,
    scan_pool: ScanPool,
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
        let pool = db::open(&config.db_path())?;
        ensure_admin(&pool, &config)?;
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let scan_pool = ScanPool::start(pool.clone(), &config, catalog.clone())?;
        log::info!(
            "codepup listening on http://{} with data in {}",
            listener.local_addr()?,
            config.data_dir.display()
        );
        Ok(Application {
            listener,
            state: aw::Data::new(AppState {
                pool,
                config,
                catalog,
                queue: scan_pool.queue(),
            }),
            scan_pool,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|addr| addr.port())
            .unwrap_or(0)
    }

    /// The actix server (to be polled inside an actix system) and the scan pool to stop after it.
    fn server(self) -> anyhow::Result<(Server, ScanPool)> {
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
                .configure(api::routes)
                .configure(web::routes)
                .default_service(aw::to(api::not_found))
        })
        .shutdown_timeout(10);
        if let Some(workers) = http_workers {
            server = server.workers(workers);
        }
        Ok((server.listen(self.listener)?.run(), self.scan_pool))
    }

    /// Serves until the process gets SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let (server, scan_pool) = self.server()?;
        let served = server.await.context("serving HTTP");
        // Order matters: the HTTP server is stopped first, so no request can queue a job or
        // wait on one while the scan pool shuts down.
        scan_pool.shutdown();
        served
    }

    /// Serves on a thread of its own (with its own actix system) and returns a handle that can
    /// stop it. Used by the tests, which need to stop and restart servers on one data directory.
    pub fn spawn(self) -> anyhow::Result<RunningServer> {
        let port = self.port();
        let (sender, receiver) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(format!("codepup-http-{port}"))
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    match self.server() {
                        Ok((server, scan_pool)) => {
                            let _ = sender.send(Ok(server.handle()));
                            if let Err(error) = server.await {
                                log::error!("server stopped with an error: {error}");
                            }
                            // The HTTP server first, then the scan pool (see run_until_stopped).
                            scan_pool.shutdown();
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
            handle,
            thread,
        })
    }
}

/// A server serving on its own thread.
pub struct RunningServer {
    pub port: u16,
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
