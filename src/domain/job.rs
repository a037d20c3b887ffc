//! Jobs and tasks: TCA's states and result codes, and the stored shapes the API and the scan
//! engine share.

use serde::{Serialize, Serializer};

use crate::domain::ids::{JobId, ProjectId, ScanId, TaskId};

/// A job's state, with TCA's integer values. Success or failure is not a state: it is the
/// `result_code` of a CLOSED job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Waiting = 0,
    Running = 1,
    Closed = 2,
    Closing = 3,
    Initing = 4,
    Inited = 5,
}

impl JobState {
    pub fn from_i64(value: i64) -> Option<JobState> {
        Some(match value {
            0 => JobState::Waiting,
            1 => JobState::Running,
            2 => JobState::Closed,
            3 => JobState::Closing,
            4 => JobState::Initing,
            5 => JobState::Inited,
            _ => return None,
        })
    }

    /// TCA's display name, used in `Time out while <State>`.
    pub fn display(self) -> &'static str {
        match self {
            JobState::Waiting => "Waiting",
            JobState::Running => "Running",
            JobState::Closed => "Closed",
            JobState::Closing => "Closing",
            JobState::Initing => "Initing",
            JobState::Inited => "Initialized",
        }
    }

    /// TCA's integer value, as stored and as the API shows it.
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// The one list of legal transitions. Every state but CLOSED may also go straight to CLOSED
    /// (a revoke: cancel, timeout, failure, superseded); a server restart sends an unfinished
    /// job back to WAITING.
    pub fn can_become(self, next: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, next),
            (Waiting, Initing)
                | (Initing, Inited)
                | (Initing, Running)
                | (Inited, Running)
                | (Running, Closing)
                | (Waiting | Initing | Inited | Running | Closing, Closed)
                | (Initing | Inited | Running | Closing, Waiting)
        )
    }
}

/// The API shows a state as TCA's integer.
impl Serialize for JobState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.as_i64())
    }
}

/// TCA's task modules: the module a tool's task belongs to (`tools.toml`'s `module`, a task's
/// `module` column and field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolModule {
    /// Checkers that report findings (TCA's code scan).
    Codelint,
    /// Measurements: line counts and the like (TCA's code metrics).
    Codemetric,
}

impl ToolModule {
    /// Every module, in TCA's order.
    pub const ALL: [ToolModule; 2] = [ToolModule::Codelint, ToolModule::Codemetric];

    /// The name TCA uses, as stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            ToolModule::Codelint => "codelint",
            ToolModule::Codemetric => "codemetric",
        }
    }

    pub fn parse(name: &str) -> Option<ToolModule> {
        ToolModule::ALL
            .into_iter()
            .find(|module| module.as_str() == name)
    }
}

impl std::fmt::Display for ToolModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets code that still holds a module's name compare it with the enum.
impl PartialEq<&str> for ToolModule {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for ToolModule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ToolModule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        ToolModule::parse(&name).ok_or_else(|| {
            let names: Vec<&str> = ToolModule::ALL.iter().map(|m| m.as_str()).collect();
            serde::de::Error::custom(format!("module must be one of {}", names.join(", ")))
        })
    }
}

/// A task's state (TCA's values; codepup uses WAITING, RUNNING and CLOSED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Waiting = 0,
    Running = 1,
    Closed = 2,
}

/// Result codes codepup sets (TCA's `util/errcode.py`).
pub mod code {
    pub const OK: i64 = 0;
    pub const INCR_IGNORE: i64 = 1;
    pub const CLIENT_REDIRECT: i64 = 2;
    pub const E_SERVER: i64 = 100;
    pub const E_SERVER_SCM: i64 = 110;
    pub const E_SERVER_SCM_AUTH_ERROR: i64 = 111;
    pub const E_SERVER_SCM_NOT_FOUND: i64 = 112;
    pub const E_SERVER_SCM_FORBIDDEN_ACCESS: i64 = 114;
    pub const E_SERVER_JOB_CREATE_ERROR: i64 = 120;
    pub const E_NODE_TASK: i64 = 201;
    pub const E_NODE_TASK_EXPIRED: i64 = 202;
    pub const E_NODE_TASK_CONFIG: i64 = 204;
    pub const E_NODE_TASK_ANALYZE: i64 = 211;
    pub const E_NODE_JOB_TIMEOUT: i64 = 297;
    pub const E_NODE_TASK_CANCEL: i64 = 299;
    pub const E_CLIENT: i64 = 300;
    pub const E_CLIENT_CANCELED: i64 = 301;
    pub const E_USER_CONFIG_LANG_ERROR: i64 = 311;
    pub const E_USER_CONFIG_NO_LINT_OR_METRIC: i64 = 312;
    pub const E_USER_CONFIG_CODELINT_PKG_ERROR: i64 = 321;
}

/// TCA's message for a repeat incremental scan at the same head.
pub const INCR_IGNORE_MSG: &str = "代码无变更，无需再次增量扫描。如有需要，请启动全量扫描。";

/// `result_code_msg`: the label of a result code, or of its range (TCA's `interpret_code`).
pub fn result_code_msg(result_code: Option<i64>) -> Option<&'static str> {
    let result_code = result_code?;
    Some(code_label(result_code).unwrap_or(match result_code {
        0..=99 => "成功",
        100..=199 => "未知服务异常",
        200..=299 => "未知节点异常",
        300..=399 => "未知使用异常",
        _ => "未知异常",
    }))
}

/// The labels of the codes in TCA's choice tables.
fn code_label(result_code: i64) -> Option<&'static str> {
    let label = match result_code {
        0 => "成功",
        1 => "无需扫描",
        2 => "重定向到其他任务",
        100 => "服务异常",
        110 => "SCM服务异常",
        111 => "SCM鉴权失败",
        112 => "SCM信息不存在",
        113 => "SCM不被信任",
        114 => "SCM无权限",
        115 => "SCM参数错误",
        116 => "第三方依赖文件服务器异常",
        120 => "任务创建异常",
        121 => "任务初始化异常",
        122 => "任务迁移导致异常",
        200 => "节点未知异常",
        201 => "任务执行异常",
        202 => "任务执行超时",
        203 => "节点端SCM任务故障",
        204 => "配置错误",
        205 => "任务参数错误",
        210 => "编译失败",
        211 => "工具分析错误",
        212 => "分析结果处理错误",
        213 => "任务Format错误",
        214 => "任务Blame错误",
        215 => "任务Filter错误",
        216 | 217 => "项目资源类错误",
        218 => "节点端与服务器通信错误",
        219 => "文件服务器传输错误",
        221 => "节点端压缩模块错误",
        222 => "节点端输入超时",
        223 => "节点端输入超过重试次数",
        224 => "节点端请求错误",
        225 => "当前版本已经扫描过，无需扫描",
        226 => "节点端本地扫描错误",
        297 => "节点端任务执行超时",
        298 => "本地分析任务被中断",
        299 => "其他task失败取消",
        300 => "用户取消或配置错误",
        301 => "用户取消",
        302 => "配置错误",
        310 => "扫描方案配置错误",
        311 => "扫描方案未配置语言",
        312 => "扫描方案未启用代码扫描或代码度量",
        313 => "扫描方案配置的标签或关联节点失效",
        320 => "扫描方案的代码扫描配置错误",
        321 => "扫描方案未配置扫描规则",
        330 => "扫描方案的代码度量配置错误",
        _ => return None,
    };
    Some(label)
}

/// Whether a closed job's results were stored (and its revision can be a baseline).
pub fn stores_results(result_code: i64) -> bool {
    result_code == code::OK || result_code == code::INCR_IGNORE
}

/// A job row as the API and the engine read it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub project_id: ProjectId,
    pub scan_id: Option<ScanId>,
    pub state: JobState,
    pub incr_scan: bool,
    pub create_time: String,
    pub claim_time: Option<String>,
    pub initialized_time: Option<String>,
    pub start_time: Option<String>,
    pub closing_time: Option<String>,
    pub end_time: Option<String>,
    pub expire_time: Option<String>,
    pub result_code: Option<i64>,
    pub result_msg: Option<String>,
    pub result_path: Option<String>,
    pub task_num: i64,
    pub task_done: i64,
    pub remarks: Option<String>,
    pub remarked_by: Option<i64>,
    pub lines: LineCounts,
    pub created_from: Option<String>,
    pub creator: Option<String>,
    pub restart_count: i64,
    /// Whether `scans/create` answered at once (false: it waited for the close).
    pub async_flag: bool,
    /// The quality gate's verdict, when the job closed with results under a scheme with
    /// thresholds.
    pub gate: Option<crate::domain::gate::GateVerdict>,
}

/// Line counts of a whole tree; `None` until counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCounts {
    pub code: Option<i64>,
    pub comment: Option<i64>,
    pub blank: Option<i64>,
    pub total: Option<i64>,
}

/// One language's share of a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageCount {
    pub name: String,
    pub files: i64,
    pub code: i64,
    pub comment: i64,
    pub blank: i64,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: TaskId,
    pub job_id: JobId,
    pub module: ToolModule,
    pub task_name: String,
    pub state: i64,
    pub progress_rate: i64,
    pub result_code: Option<i64>,
    pub result_msg: Option<String>,
    pub result_path: Option<String>,
    pub create_time: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// The codepup version that made the task; `None` for tasks older than the column.
    pub create_version: Option<String>,
    /// The codepup version that ran it; `None` until it starts.
    pub execute_version: Option<String>,
}

/// One progress step of a task (TCA's `TaskProgress`).
#[derive(Debug, Clone)]
pub struct TaskProgress {
    pub id: i64,
    pub task_id: TaskId,
    pub progress_rate: i64,
    pub message: String,
    pub create_time: String,
}

/// What a progress rate means (the engine's convention: 10 when a task starts its tool or its
/// in-process work, 90 when the tool has exited and its output is read, 100 when it is closed).
pub fn progress_message(progress_rate: i64) -> &'static str {
    match progress_rate {
        ..=0 => "waiting",
        1..=89 => "running",
        90..=99 => "reading the results",
        _ => "done",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_but_closed_can_be_revoked_and_closed_is_final() {
        use JobState::*;
        for state in [Waiting, Initing, Inited, Running, Closing] {
            assert!(state.can_become(Closed), "{state:?}");
        }
        for next in [Waiting, Initing, Inited, Running, Closing] {
            assert!(!Closed.can_become(next));
        }
        assert!(!Waiting.can_become(Running));
    }

    #[test]
    fn result_codes_get_tca_labels() {
        assert_eq!(result_code_msg(None), None);
        assert_eq!(result_code_msg(Some(0)), Some("成功"));
        assert_eq!(result_code_msg(Some(301)), Some("用户取消"));
        assert_eq!(result_code_msg(Some(150)), Some("未知服务异常"));
        assert_eq!(result_code_msg(Some(-1)), Some("未知异常"));
    }
}

/// A scan of a project's history: what TCA's analysis server keeps per scan, with the job that
/// ran it.
#[derive(Debug, Clone)]
pub struct Scan {
    pub id: ScanId,
    /// 1 incremental, 2 full.
    pub scan_type: i64,
    /// The revision scanned; `None` until the worker resolved the branch.
    pub revision: Option<String>,
    pub create_time: String,
    pub job: Job,
}

/// A job with where it belongs and the caller's roles there (the cross-project job list).
#[derive(Debug, Clone)]
pub struct JobOverview {
    pub job: Job,
    pub place: crate::domain::project::ProjectPlace,
}

/// Queue health over the projects a user may see. "Waiting" covers WAITING, INITING and
/// INITED (no tool runs yet); "running" covers RUNNING and CLOSING.
#[derive(Debug, Clone, Default)]
pub struct QueueHealth {
    pub waiting: i64,
    pub running: i64,
    pub closed_recently: i64,
    pub failed_recently: i64,
    /// The stored `create_time` of the oldest waiting job.
    pub oldest_waiting_since: Option<String>,
}
