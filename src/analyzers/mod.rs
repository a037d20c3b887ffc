//! The tools a scan can run: the built-in line counter and the command tools the server's admin
//! defines in `tools.toml`. Only that file can define a command; no API request can make the
//! server run a program of its choosing.

pub mod builtin;
pub mod codecount;
pub mod jscpd;
pub mod lizard;
pub mod pylint;
pub mod ruff;
pub mod sarif;
pub mod shellcheck;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::domain::job::ToolModule;
use crate::domain::scheme::BUILTIN_TOOLS;
use crate::sandbox::{Limits, LimitsOverride};

/// `fixed` followed by `--` and `files`: a file named like an option (`--rcfile=x.py`) must stay a
/// file. Every linter's argv is built this way. `--` is not enough for pylint, which reads
/// `--init-hook` and `--rcfile` from anywhere on its command line before parsing it, so a name
/// that starts with `-` is also given as `./name`.
fn argv_with_files(fixed: &[String], files: &[String]) -> Vec<String> {
    fixed
        .iter()
        .cloned()
        .chain(std::iter::once("--".to_string()))
        .chain(files.iter().map(|file| {
            if file.starts_with('-') {
                format!("./{file}")
            } else {
                file.clone()
            }
        }))
        .collect()
}

/// The linters codepup runs itself and whose machine output it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linter {
    Pylint,
    Ruff,
    Shellcheck,
}

impl Linter {
    pub const ALL: [Linter; 3] = [Linter::Pylint, Linter::Ruff, Linter::Shellcheck];

    pub fn from_name(name: &str) -> Option<Linter> {
        Linter::ALL.into_iter().find(|linter| linter.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Linter::Pylint => pylint::NAME,
            Linter::Ruff => ruff::NAME,
            Linter::Shellcheck => shellcheck::NAME,
        }
    }

    /// Whether the linter should be given this file.
    pub fn wants(self, path: &str) -> bool {
        let extension = Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        match self {
            Linter::Pylint | Linter::Ruff => matches!(extension, "py" | "pyi"),
            Linter::Shellcheck => matches!(extension, "sh" | "bash" | "ksh"),
        }
    }

    /// Whether it can work on the changed files alone (pylint follows imports into the tree).
    pub fn changed_files_only(self) -> bool {
        !matches!(self, Linter::Pylint)
    }

    /// The argv that checks `files`. Linters that can write their report to a file named on the
    /// command line write it to `report` (see `writes_report_file`); the others print it.
    /// Every linter runs in a mode that reports and never changes a file. `enabled` are rules a
    /// scheme turned on (checked ids: letters, digits and `-_.:/`, starting with a letter or
    /// digit), run besides the linter's own selection: pylint `--enable`, ruff
    /// `--extend-select`; shellcheck has no such switch for its codes.
    pub fn command(self, files: &[String], report: &Path, enabled: &[String]) -> Vec<String> {
        let mut argv = match self {
            Linter::Pylint => pylint::command(files, report),
            Linter::Ruff => ruff::command(files, report),
            Linter::Shellcheck => shellcheck::command(files),
        };
        let option = match self {
            Linter::Pylint => "--enable",
            Linter::Ruff => "--extend-select",
            Linter::Shellcheck => return argv,
        };
        if !enabled.is_empty() {
            // One `--option=a,b` word, right before the `--` that ends the options (after
            // ruff's `check`).
            let end = argv
                .iter()
                .position(|arg| arg == "--")
                .unwrap_or(argv.len());
            argv.insert(end, format!("{option}={}", enabled.join(",")));
        }
        argv
    }

    /// Whether the report goes to the `report` file rather than stdout.
    pub fn writes_report_file(self) -> bool {
        !matches!(self, Linter::Shellcheck)
    }

    /// Reads the linter's output; `root` is the checkout the linter ran in.
    pub fn parse(
        self,
        output: &str,
        root: &Path,
    ) -> Result<Vec<crate::domain::finding::Finding>, String> {
        match self {
            Linter::Pylint => pylint::parse(output),
            Linter::Ruff => ruff::parse(output, root),
            Linter::Shellcheck => shellcheck::parse(output),
        }
    }
}

/// One `[[tool]]` of `tools.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolDef {
    /// What schemes list in `tools`.
    pub name: String,
    /// `codelint` or `codemetric`; anything else is refused as the file is read.
    pub module: ToolModule,
    /// argv; `{checkout}` and `{files}` are substituted.
    pub command: Vec<String>,
    /// Seconds the tool may run; the job's own limit applies in any case.
    pub timeout: Option<u64>,
    /// The tool reads only the files in `{files}`: an incremental job that runs only such tools
    /// checks out just the changed files. Off by default (linters often need the whole tree).
    #[serde(default)]
    pub changed_files_only: bool,
    /// What the tool writes on stdout: nothing codepup reads (absent), or `"sarif"`, a SARIF 2.1.0
    /// log whose results become findings.
    pub format: Option<String>,
    /// The tool may use the network (off: it runs in an empty network namespace).
    #[serde(default)]
    pub network: bool,
    /// Paths the tool may read besides the system, its own installation and the checkout.
    #[serde(default)]
    pub read_paths: Vec<PathBuf>,
    /// Resource limits of this tool, over the file's `[limits]`.
    #[serde(default)]
    pub limits: LimitsOverride,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsFile {
    /// Limits of every tool, the built-in linters included.
    #[serde(default)]
    limits: LimitsOverride,
    #[serde(default)]
    tool: Vec<ToolDef>,
}

/// The tools this server knows: built-ins first, then the admin's, in file order.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    defined: Vec<ToolDef>,
    limits: Limits,
}

impl Catalog {
    /// Reads `path`. A missing file is an empty catalog unless `required` (the admin named it).
    pub fn load(path: &Path, required: bool) -> anyhow::Result<Catalog> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Catalog::default())
            }
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        Catalog::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Catalog> {
        let file: ToolsFile = toml::from_str(text).context("tools.toml is not valid")?;
        if let Err(error) = file.limits.check() {
            bail!("[limits]: {error}");
        }
        let mut seen = HashSet::new();
        for tool in &file.tool {
            let name = &tool.name;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                bail!("tool name {name:?}: use letters, digits, '-', '_' and '.'");
            }
            if BUILTIN_TOOLS.iter().any(|(_, builtin)| builtin == name) {
                bail!("tool {name}: the name is taken by a built-in tool");
            }
            if !seen.insert(name.clone()) {
                bail!("tool {name} is defined twice");
            }
            if tool
                .command
                .first()
                .is_none_or(|program| program.trim().is_empty())
            {
                bail!("tool {name}: command must name a program");
            }
            if tool
                .format
                .as_deref()
                .is_some_and(|format| format != "sarif")
            {
                bail!("tool {name}: format must be \"sarif\" (or left out)");
            }
            if tool.timeout == Some(0) {
                bail!("tool {name}: timeout must be at least 1 second");
            }
            if let Some(path) = tool.read_paths.iter().find(|path| !path.is_absolute()) {
                bail!(
                    "tool {name}: read_paths must be absolute, not {}",
                    path.display()
                );
            }
            if let Err(error) = tool.limits.check() {
                bail!("tool {name}: limits: {error}");
            }
        }
        Ok(Catalog {
            defined: file.tool,
            limits: file.limits.apply(Limits::default()),
        })
    }

    /// The resource limits of a tool run (built-in linters get the file's `[limits]`).
    pub fn limits_for(&self, name: &str) -> Limits {
        match self.get(name) {
            Some(tool) => tool.limits.apply(self.limits),
            None => self.limits,
        }
    }

    /// Every name a scheme may list in `tools`.
    pub fn names(&self) -> Vec<String> {
        BUILTIN_TOOLS
            .iter()
            .map(|(_, name)| name.to_string())
            .chain(self.defined.iter().map(|tool| tool.name.clone()))
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&ToolDef> {
        self.defined.iter().find(|tool| tool.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tools_file_defines_command_tools() {
        let catalog = Catalog::parse(
            r#"
            [[tool]]
            name = "sleeper"
            module = "codelint"
            command = ["sleep", "600"]
            timeout = 300
            "#,
        )
        .unwrap();
        assert_eq!(
            catalog.names(),
            [
                "codecount",
                "codepup",
                "pylint",
                "ruff",
                "shellcheck",
                "sleeper"
            ]
        );
        assert_eq!(catalog.get("sleeper").unwrap().timeout, Some(300));
    }

    #[test]
    fn rules_a_scheme_turned_on_are_one_option_before_the_files() {
        let files = ["a.py".to_string()];
        let enabled = ["E501".to_string(), "B006".to_string()];
        let argv = Linter::Ruff.command(&files, Path::new("/r.json"), &enabled);
        assert_eq!(argv[..2], ["ruff", "check"]);
        assert_eq!(
            argv[argv.len() - 3..],
            ["--extend-select=E501,B006", "--", "a.py"]
        );
        let argv = Linter::Pylint.command(&files, Path::new("/r.json"), &enabled[..1]);
        assert_eq!(argv[argv.len() - 3..], ["--enable=E501", "--", "a.py"]);
        assert!(!Linter::Ruff
            .command(&files, Path::new("/r.json"), &[])
            .iter()
            .any(|arg| arg.starts_with("--extend-select")));
        assert_eq!(
            Linter::Shellcheck.command(&files, Path::new("/r.json"), &enabled),
            Linter::Shellcheck.command(&files, Path::new("/r.json"), &[])
        );
    }

    #[test]
    fn bad_tools_files_are_refused_with_the_reason() {
        for (text, reason) in [
            (
                "[[tool]]\nname = \"x\"\nmodule = \"other\"\ncommand = [\"true\"]",
                "module must be one of codelint, codemetric",
            ),
            (
                "[[tool]]\nname = \"codecount\"\nmodule = \"codemetric\"\ncommand = [\"true\"]",
                "built-in",
            ),
            (
                "[[tool]]\nname = \"x\"\nmodule = \"codelint\"\ncommand = []",
                "program",
            ),
            (
                "[[tool]]\nname = \"x\"\nmodule = \"codelint\"\ncommand = [\"a\"]\nshell = true",
                "valid",
            ),
        ] {
            let error = format!("{:#}", Catalog::parse(text).unwrap_err());
            assert!(error.contains(reason), "{error}");
        }
    }
}
