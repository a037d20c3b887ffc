//! Settings for one codepup process, read from the command line and `CODEPUP_*` variables.
//! No other module reads environment variables: everything else receives a `Config`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use time::UtcOffset;

/// The whole command line. `codepup` alone means `codepup serve`.
#[derive(Debug, Parser)]
#[command(
    name = "codepup",
    version,
    about = "A self-hosted code-analysis job server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server settings, used when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the status page (the default).
    // Boxed: the settings are far larger than the other commands (clippy's large_enum_variant).
    Serve(Box<ServeArgs>),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Copy the database to FILE while the server runs (SQLite's online backup).
    Backup {
        file: PathBuf,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Check the database (integrity, foreign keys) and the log files its rows point to.
    Check {
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Apply the retention settings now (one housekeeping pass), or with --dry-run print what a
    /// pass would delete.
    Prune {
        /// Count what a pass would delete, deleting nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        data: DataDirArg,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Internal: run one tool confined, as the server asks (see `sandbox::supervisor`).
    #[command(hide = true)]
    SandboxExec { spec: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print their token.
    Create {
        name: String,
        #[arg(long)]
        nickname: Option<String>,
        #[arg(long)]
        superuser: bool,
        /// Also give the user a password for sign-in, read as one line from standard input.
        #[arg(long)]
        password: bool,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Set a user's password, read as one line from standard input; ends their sign-in sessions.
    Password {
        name: String,
        #[command(flatten)]
        data: DataDirArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Replace a user's token and print the new one.
    Rotate {
        name: String,
        #[command(flatten)]
        data: DataDirArg,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Directory holding codepup.db, git caches and job workspaces.
    #[arg(long, env = "CODEPUP_DATA_DIR", default_value = "./codepup-data")]
    pub data_dir: PathBuf,
}

/// How long closed jobs and logs are kept (issue 9); read by `serve` and `prune`.
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// Days a closed job is kept (counted from its close); the kept-always jobs stay longer.
    #[arg(long, env = "CODEPUP_RETAIN_DAYS", default_value_t = 180)]
    pub retain_days: u32,
    /// The last N closed jobs of each project are kept whatever their age.
    #[arg(long, env = "CODEPUP_RETAIN_JOBS", default_value_t = 50)]
    pub retain_jobs: u32,
    /// Days a closed job's logs (job log, task logs) are kept on disk.
    #[arg(long, env = "CODEPUP_RETAIN_LOG_DAYS", default_value_t = 30)]
    pub retain_log_days: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "CODEPUP_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Scan worker threads (default: the number of cores).
    #[arg(long, env = "CODEPUP_WORKERS")]
    pub workers: Option<usize>,
    /// Niceness added to the scan workers and the tools they start (0-19): requests first.
    #[arg(long, env = "CODEPUP_SCAN_NICE", default_value_t = 10,
          value_parser = clap::value_parser!(i32).range(0..=19))]
    pub scan_nice: i32,
    /// A directory below which local repositories (paths, file:// URLs) may be registered.
    /// Repeat the flag for several roots; the variable takes a colon-separated list.
    #[arg(
        long = "allow-local-repos",
        env = "CODEPUP_LOCAL_REPO_ROOTS",
        value_delimiter = ':'
    )]
    pub local_repo_roots: Vec<PathBuf>,
    /// Fixed UTC offset in which times are shown and naive filter times are read.
    #[arg(long, env = "CODEPUP_TZ_OFFSET", default_value = "+08:00")]
    pub tz_offset: String,
    /// The admin's tool definitions (default: `<data-dir>/tools.toml`, if it exists).
    #[arg(long, env = "CODEPUP_TOOLS_FILE")]
    pub tools_file: Option<PathBuf>,
    /// Token for the `admin` superuser made at the first start (default: random).
    #[arg(long, env = "CODEPUP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The user tools run as when the server runs as root.
    #[arg(long, env = "CODEPUP_TOOL_USER", default_value = "nobody")]
    pub tool_user: String,
    /// Run tools even where the kernel cannot confine them with Landlock.
    #[arg(long, env = "CODEPUP_UNCONFINED_TOOLS")]
    pub unconfined_tools: bool,
    /// Address for the Prometheus scrape (`GET /metrics`, no token); off when not given.
    #[arg(long, env = "CODEPUP_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Seconds a stopping server lets running jobs finish before it stops their tools.
    #[arg(long, env = "CODEPUP_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Log lines as plain text or as one JSON object per line.
    #[arg(long, env = "CODEPUP_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Paths tools may never read, even inside /etc or /usr (colon-separated in the variable).
    /// Default: /etc/shadow, /etc/gshadow, /etc/ssh, /etc/ssl/private, /etc/sudoers and kin.
    #[arg(
        long = "tool-hidden-paths",
        env = "CODEPUP_TOOL_HIDDEN_PATHS",
        value_delimiter = ':'
    )]
    pub tool_hidden_paths: Vec<PathBuf>,
    /// The largest file codepup holds whole in memory (bytes, or with KiB/MiB/GiB): the
    /// built-in checker and blame skip bigger files, line counting streams them.
    #[arg(long, env = "CODEPUP_MAX_CHECK_FILE_SIZE", default_value = "4MiB", value_parser = parse_size)]
    pub max_check_file_size: u64,
    /// The largest file line counting reads; bigger ones are skipped without being read.
    #[arg(long, env = "CODEPUP_MAX_COUNT_FILE_SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_count_file_size: u64,
    /// The most files one scan takes below its scan path; a revision with more fails its job.
    #[arg(long, env = "CODEPUP_MAX_SCAN_FILES", default_value_t = 1_000_000)]
    pub max_scan_files: usize,
    /// The most bytes of files one scan takes; past it the largest files are skipped.
    #[arg(long, env = "CODEPUP_MAX_SCAN_BYTES", default_value = "8GiB", value_parser = parse_size)]
    pub max_scan_bytes: u64,
    /// A reverse proxy (an address or a CIDR range) whose `Forwarded`, `X-Forwarded-Host` and
    /// `X-Forwarded-Proto` headers links are built from. Repeat the flag for several; the
    /// variable takes a comma-separated list. Default: none, so no client chooses the links' host.
    #[arg(
        long = "trusted-proxy",
        env = "CODEPUP_TRUSTED_PROXY",
        value_delimiter = ',',
        value_parser = IpRange::parse
    )]
    pub trusted_proxies: Vec<IpRange>,
    /// Let notification webhooks reach loopback, private and link-local addresses (checked on
    /// the resolved address at every delivery).
    #[arg(long, env = "CODEPUP_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
    /// Each database connection's page cache for reads (default: a 64th of the machine's
    /// memory, 8 MiB to 64 MiB); a scan's store and a SARIF export use 16 MiB whatever this is.
    #[arg(long, env = "CODEPUP_DB_CACHE_SIZE", value_parser = parse_size)]
    pub db_cache_size: Option<u64>,
    /// How much of the database file is read through a memory map, shared by all connections
    /// (default: a quarter of the machine's memory, at most 16 GiB; 0 turns the map off).
    #[arg(long, env = "CODEPUP_DB_MMAP_SIZE", value_parser = parse_size)]
    pub db_mmap_size: Option<u64>,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// The log filter when `RUST_LOG` is not set. tokei warns "Unknown extension" for every file of
/// no known language, which is normal in a scan.
pub const DEFAULT_LOG_FILTER: &str = "info,tokei=error";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// How tool processes are confined (see `sandbox`).
#[derive(Debug, Clone)]
pub struct ToolSettings {
    /// Whom tools run as when the server runs as root.
    pub user: String,
    /// Run tools without Landlock where the kernel lacks it.
    pub unconfined: bool,
    /// Paths hidden from tools besides the data directory.
    pub hidden_paths: Vec<PathBuf>,
    /// The supervisor program; `None` is this very binary. The tests name the built codepup
    /// binary, since they run the server inside the test program.
    pub helper: Option<PathBuf>,
    /// The `PATH` tools are found on and get.
    pub path: std::ffi::OsString,
}

impl Default for ToolSettings {
    fn default() -> ToolSettings {
        ToolSettings {
            user: "nobody".to_string(),
            unconfined: false,
            hidden_paths: crate::sandbox::paths::DEFAULT_HIDDEN
                .iter()
                .map(PathBuf::from)
                .collect(),
            helper: None,
            path: std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        }
    }
}

/// Everything `Application::build` needs, already validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub data_dir: PathBuf,
    pub scan_workers: usize,
    /// Niceness (0-19) added to the scan workers, inherited by their threads and processes.
    pub scan_nice: i32,
    /// HTTP worker threads; `None` lets actix choose (one per core).
    pub http_workers: Option<usize>,
    pub local_repo_roots: Vec<PathBuf>,
    pub tz_offset: UtcOffset,
    pub admin_token: Option<String>,
    /// `None` means `<data-dir>/tools.toml` when it exists.
    pub tools_file: Option<PathBuf>,
    pub tools: ToolSettings,
    /// Where `/metrics` is served; `None` serves it nowhere.
    pub metrics_bind: Option<String>,
    /// How long a stopping server lets running jobs finish.
    pub shutdown_grace: std::time::Duration,
    /// How much of a repository one scan takes.
    pub limits: ScanLimits,
    /// Peers whose forwarding headers are believed (`api::Links`); empty believes none.
    pub trusted_proxies: Vec<IpRange>,
    /// What the housekeeping thread deletes, and when.
    pub retention: Retention,
    /// The scheduler's "now": real time, except in tests, which move it on instead of waiting
    /// for cron slots. Not a setting.
    #[doc(hidden)]
    pub schedule_clock: crate::schedule::Clock,
    /// Whether notification webhooks may reach non-public addresses (`--webhook-allow-private`).
    pub webhook_allow_private: bool,
    /// The database connections' page cache and memory map (`--db-cache-size`, `--db-mmap-size`).
    pub db_memory: crate::db::Memory,
    /// The notification thread's "now", for its backoff: real time, except in tests, which move
    /// it on instead of waiting minutes. Not a setting.
    #[doc(hidden)]
    pub notify_clock: crate::schedule::Clock,
}

/// How much of a repository one scan takes, whatever the repository holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    /// The largest blob an in-process analyzer holds whole: the checker and blame skip bigger
    /// files, line counting streams them.
    pub max_check_file_size: u64,
    /// The largest blob line counting reads at all.
    pub max_count_file_size: u64,
    /// The most files one scan takes; a revision with more below the scan path fails its job.
    pub max_scan_files: usize,
    /// The most bytes of files one scan takes; past it the largest files are left out.
    pub max_scan_bytes: u64,
}

/// The retention settings, checked: how long closed jobs and their logs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days a closed job is kept after its close.
    pub days: u32,
    /// Closed jobs of each project kept whatever their age.
    pub jobs: u32,
    /// Days a closed job's logs are kept.
    pub log_days: u32,
    /// How long after start the housekeeping thread's first pass runs. Not a setting: a
    /// minute, so a start is not slowed; the tests make it zero.
    #[doc(hidden)]
    pub first_pass_after: std::time::Duration,
}

impl Retention {
    /// Checks the arguments: a day count of 0 would delete a job or a log the moment it closed.
    pub fn from_args(args: &RetentionArgs) -> Result<Retention, String> {
        if args.retain_days == 0 {
            return Err("CODEPUP_RETAIN_DAYS must be at least 1".to_string());
        }
        if args.retain_log_days == 0 {
            return Err("CODEPUP_RETAIN_LOG_DAYS must be at least 1".to_string());
        }
        Ok(Retention {
            days: args.retain_days,
            jobs: args.retain_jobs,
            log_days: args.retain_log_days,
            first_pass_after: std::time::Duration::from_secs(60),
        })
    }
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            days: 180,
            jobs: 50,
            log_days: 30,
            first_pass_after: std::time::Duration::from_secs(60),
        }
    }
}

impl Default for ScanLimits {
    fn default() -> ScanLimits {
        ScanLimits {
            max_check_file_size: 4 << 20,
            max_count_file_size: 64 << 20,
            max_scan_files: 1_000_000,
            max_scan_bytes: 8 << 30,
        }
    }
}

impl Config {
    /// Builds a `Config` from the `serve` arguments, rejecting values that cannot work.
    pub fn from_args(args: ServeArgs) -> Result<Config, String> {
        let tz_offset = parse_offset(&args.tz_offset).ok_or_else(|| {
            format!(
                "CODEPUP_TZ_OFFSET: expected +HH:MM or -HH:MM, got {:?}",
                args.tz_offset
            )
        })?;
        let scan_workers = match args.workers {
            Some(0) => return Err("CODEPUP_WORKERS must be at least 1".to_string()),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        if let Some(token) = &args.admin_token {
            crate::domain::user::check_token_shape(token)
                .map_err(|msg| format!("CODEPUP_ADMIN_TOKEN: {msg}"))?;
        }
        if args.max_scan_files == 0 {
            return Err("CODEPUP_MAX_SCAN_FILES must be at least 1".to_string());
        }
        let limits = ScanLimits {
            max_check_file_size: args.max_check_file_size,
            max_count_file_size: args.max_count_file_size,
            max_scan_files: args.max_scan_files,
            max_scan_bytes: args.max_scan_bytes,
        };
        let retention = Retention::from_args(&args.retention)?;
        let machine = crate::db::Memory::for_this_machine();
        let db_memory = crate::db::Memory {
            cache_bytes: args.db_cache_size.unwrap_or(machine.cache_bytes),
            mmap_bytes: args.db_mmap_size.unwrap_or(machine.mmap_bytes),
        };
        let local_repo_roots = args
            .local_repo_roots
            .into_iter()
            .filter(|root| !root.as_os_str().is_empty())
            .collect();
        let mut tools = ToolSettings {
            user: args.tool_user,
            unconfined: args.unconfined_tools,
            ..ToolSettings::default()
        };
        let hidden: Vec<PathBuf> = args
            .tool_hidden_paths
            .into_iter()
            .filter(|path| !path.as_os_str().is_empty())
            .collect();
        if let Some(relative) = hidden.iter().find(|path| !path.is_absolute()) {
            return Err(format!(
                "CODEPUP_TOOL_HIDDEN_PATHS: {} is not an absolute path",
                relative.display()
            ));
        }
        if !hidden.is_empty() {
            tools.hidden_paths = hidden;
        }
        Ok(Config {
            bind: args.bind,
            data_dir: args.data.data_dir,
            scan_workers,
            scan_nice: args.scan_nice,
            http_workers: None,
            local_repo_roots,
            tz_offset,
            admin_token: args.admin_token,
            tools_file: args.tools_file,
            tools,
            metrics_bind: args.metrics_bind.filter(|bind| !bind.is_empty()),
            shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace),
            limits,
            trusted_proxies: args.trusted_proxies,
            retention,
            schedule_clock: crate::schedule::Clock::default(),
            webhook_allow_private: args.webhook_allow_private,
            notify_clock: crate::schedule::Clock::default(),
            db_memory,
        })
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("codepup.db")
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join("admin.token")
    }

    /// Cached clones, one per repository (used by the scan engine).
    pub fn git_cache_dir(&self) -> PathBuf {
        self.data_dir.join("git")
    }

    /// Job and task logs.
    pub fn logs_dir(&self) -> PathBuf {
        logs_dir_in(&self.data_dir)
    }

    /// Per-job checkouts, removed when a job ends.
    pub fn workspace_dir(&self) -> PathBuf {
        self.data_dir.join("workspaces")
    }
}

/// The logs directory of a data directory.
pub fn logs_dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The database file of a data directory, for the CLI subcommands.
pub fn db_path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("codepup.db")
}

/// Parses a size in bytes: a number, optionally followed by `K`, `M`, `G` (or `KiB`, `MiB`,
/// `GiB`, `KB`, ...), all binary: `4MiB` is 4,194,304 bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("expected a size such as 4194304, 4MiB or 8GiB, got {text:?}"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} in {text:?}: use KiB, MiB or GiB"
            ))
        }
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// A size for people: `4 MiB`, `1.5 GiB`, `123 bytes`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (name, shift) in UNITS {
        let unit = 1u64 << shift;
        if bytes >= unit {
            return if bytes.is_multiple_of(unit) {
                format!("{} {name}", bytes >> shift)
            } else {
                format!("{:.1} {name}", bytes as f64 / unit as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

/// A range of IP addresses: `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(text: &str) -> Result<IpRange, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| {
            format!("expected an IP address or a CIDR range such as 10.0.0.0/8, got {text:?}")
        })?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .bytes()
                .all(|byte| byte.is_ascii_digit())
                .then(|| prefix.parse::<u8>().ok())
                .flatten()
                .filter(|prefix| *prefix <= max)
                .ok_or_else(|| format!("bad prefix length in {text:?}: 0 to {max}"))?,
        };
        Ok(IpRange { network, prefix })
    }

    /// Whether `address` lies in the range. An IPv4 peer seen on an IPv6 socket
    /// (`::ffff:127.0.0.1`) is compared as the IPv4 address it is.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// Parses `+HH:MM`, `-HH:MM`, `+HHMM`, `+HH` and `Z`.
pub fn parse_offset(text: &str) -> Option<UtcOffset> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("z") || text.eq_ignore_ascii_case("utc") {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    if rest.contains(':') && rest.len() != 5 {
        return None;
    }
    let hours: i8 = digits[..2].parse().ok()?;
    let minutes: i8 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units_and_print_back() {
        assert_eq!(parse_size("4194304"), Ok(4 << 20));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("4 M"), Ok(4 << 20));
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("512kb"), Ok(512 << 10));
        assert!(parse_size("4 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999999TiB").is_err());
        assert_eq!(format_size(4 << 20), "4 MiB");
        assert_eq!(format_size(3 << 29), "1.5 GiB");
        assert_eq!(format_size(1000), "1000 bytes");
        let defaults = ScanLimits::default();
        let cli = Cli::parse_from(["codepup"]);
        let config = Config::from_args(cli.serve).unwrap();
        assert_eq!(config.limits, defaults);
    }

    #[test]
    fn trusted_proxy_ranges_parse_and_match_addresses_inside_them_only() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let loopback = IpRange::parse("127.0.0.1").unwrap();
        assert!(loopback.contains(ip("127.0.0.1")));
        assert!(loopback.contains(ip("::ffff:127.0.0.1")));
        assert!(!loopback.contains(ip("127.0.0.2")));
        let private = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(private.contains(ip("10.200.1.1")));
        assert!(!private.contains(ip("11.0.0.1")));
        assert!(!private.contains(ip("::1")));
        let everything = IpRange::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains(ip("203.0.113.9")));
        let v6 = IpRange::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!(IpRange::parse("::/0").unwrap().contains(ip("::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "host",
            "10.0.0.0/8/8",
        ] {
            assert!(IpRange::parse(bad).is_err(), "{bad}");
        }
        let cli = Cli::parse_from([
            "codepup",
            "--trusted-proxy",
            "127.0.0.1",
            "--trusted-proxy",
            "fd00::/8",
        ]);
        assert_eq!(
            Config::from_args(cli.serve).unwrap().trusted_proxies.len(),
            2
        );
        assert!(Config::from_args(Cli::parse_from(["codepup"]).serve)
            .unwrap()
            .trusted_proxies
            .is_empty());
    }

    #[test]
    fn retention_defaults_are_the_documented_ones_and_zero_days_are_refused() {
        let config = Config::from_args(Cli::parse_from(["codepup"]).serve).unwrap();
        assert_eq!(config.retention, Retention::default());
        assert_eq!(
            (
                config.retention.days,
                config.retention.jobs,
                config.retention.log_days
            ),
            (180, 50, 30)
        );
        let cli = Cli::parse_from(["codepup", "--retain-days", "7", "--retain-jobs", "0"]);
        let retention = Config::from_args(cli.serve).unwrap().retention;
        assert_eq!((retention.days, retention.jobs), (7, 0));
        for flag in ["--retain-days", "--retain-log-days"] {
            let cli = Cli::parse_from(["codepup", flag, "0"]);
            assert!(Config::from_args(cli.serve).is_err(), "{flag} 0");
        }
    }

    #[test]
    fn offsets_in_the_usual_spellings_parse() {
        assert_eq!(parse_offset("+08:00"), UtcOffset::from_hms(8, 0, 0).ok());
        assert_eq!(parse_offset("-05:30"), UtcOffset::from_hms(-5, -30, 0).ok());
        assert_eq!(parse_offset("+0800"), UtcOffset::from_hms(8, 0, 0).ok());
        assert_eq!(parse_offset("Z"), Some(UtcOffset::UTC));
        assert_eq!(parse_offset("8"), None);
        assert_eq!(parse_offset("+25:00"), None);
        assert_eq!(parse_offset("+08:0"), None);
    }
}
