//! Which paths a confined tool may read: the system, its own installation, and never a hidden
//! path (the data directory, the admin's list), even when it lies below a readable root.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::Ids;

/// The system a tool may read and execute from. Missing ones are skipped.
pub const SYSTEM_ROOTS: &[&str] = &[
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/bin",
    "/sbin",
    "/opt",
    "/etc",
    "/proc",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
    "/dev/urandom",
    "/dev/random",
];

/// Device files a tool may also write (reads of them are harmless, writes go nowhere).
pub const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full"];

/// Hidden by default: what holds secrets of the machine in `/etc`.
pub const DEFAULT_HIDDEN: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/security/opasswd",
];

/// `roots` narrowed so that no hidden path lies below any of them: a root that holds a hidden
/// path is replaced by its entries, recursively, leaving the hidden ones out. A root that is
/// itself hidden (or below a hidden path) is dropped.
pub fn without_hidden(roots: &[PathBuf], hidden: &[PathBuf]) -> Vec<PathBuf> {
    let mut allowed = Vec::new();
    for root in roots {
        narrow(root, hidden, &mut allowed, 0);
    }
    allowed
}

fn narrow(root: &Path, hidden: &[PathBuf], allowed: &mut Vec<PathBuf>, depth: usize) {
    // A rule follows links and `..` to the real directory: judge that one. What does not exist
    // needs no rule.
    let Ok(target) = fs::canonicalize(root) else {
        return;
    };
    if hidden
        .iter()
        .any(|secret| root.starts_with(secret) || target.starts_with(secret))
    {
        return;
    }
    let holds_hidden = hidden
        .iter()
        .any(|secret| secret.starts_with(root) || secret.starts_with(&target));
    if !holds_hidden {
        allowed.push(root.to_path_buf());
        return;
    }
    // A directory that holds a hidden path: allow its other entries one by one. The depth bound
    // keeps a strange tree from making this walk long; what is past it stays unreadable.
    if depth > 16 {
        return;
    }
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        narrow(&entry.path(), hidden, allowed, depth + 1);
    }
}

/// Finds `program` on `path` (or takes it as given when it has a slash, relative to `cwd`), as
/// an absolute path that `user` (the tool user; `None` is the server's own) can reach and run.
pub fn find_program(program: &str, path: &OsStr, cwd: &Path, user: Option<Ids>) -> Option<PathBuf> {
    let usable = |candidate: &Path| match user {
        None => runnable_by(candidate, 0o111),
        Some(ids) => reachable_by(candidate, ids),
    };
    if program.contains('/') {
        let candidate = cwd.join(program);
        return usable(&candidate).then_some(candidate);
    }
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| usable(candidate))
}

/// A regular file with one of the `bits` of execute permission.
fn runnable_by(path: &Path, bits: u32) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & bits != 0)
}

/// Whether `ids` can pass through every directory above `program` (after symlinks) and run it:
/// an install under a 0700 home is skipped for one the tool user can use.
fn reachable_by(program: &Path, ids: Ids) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(real) = fs::canonicalize(program) else {
        return false;
    };
    let allows = |meta: &fs::Metadata, bit: u32| {
        if meta.uid() == ids.uid {
            meta.mode() & (bit << 6) != 0
        } else if meta.gid() == ids.gid {
            meta.mode() & (bit << 3) != 0
        } else {
            meta.mode() & bit != 0
        }
    };
    let dirs_open = real
        .ancestors()
        .skip(1)
        .all(|dir| fs::metadata(dir).is_ok_and(|meta| allows(&meta, 0o1)));
    dirs_open && fs::metadata(&real).is_ok_and(|meta| meta.is_file() && allows(&meta, 0o1))
}

/// What a tool installed outside the system needs to read: the prefix it is installed in (the
/// directory above its `bin`, when that looks like an installation), the same for the
/// interpreter its `#!` line names, and a Python virtual environment's base installation.
pub fn installation_of(program: &Path, path: &OsStr) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![program.to_path_buf()];
    // A few hops cover script -> interpreter -> venv base; a loop of symlinks or shebangs ends.
    for _ in 0..4 {
        let Some(next) = pending.pop() else { break };
        for file in [next.clone(), fs::canonicalize(&next).unwrap_or(next)] {
            let Some(prefix) = prefix_of(&file) else {
                continue;
            };
            if let Some(base) = venv_base(&prefix) {
                push_new(&mut found, base);
            }
            push_new(&mut found, prefix);
            if let Some(interpreter) = shebang_interpreter(&file, path) {
                pending.push(interpreter);
            }
        }
    }
    found
}

fn push_new(found: &mut Vec<PathBuf>, path: PathBuf) {
    if !found.contains(&path) {
        found.push(path);
    }
}

/// `/x/venv/bin/tool` -> `/x/venv` when `/x/venv` looks like an installation (it has `lib`,
/// `libexec` or `pyvenv.cfg`); otherwise just the directory of the program. Never `/`.
fn prefix_of(file: &Path) -> Option<PathBuf> {
    // Judged on the real directory: `/tmp/../bin` is `/bin`, whose parent `/` is never a prefix.
    let dir = fs::canonicalize(file.parent()?).ok()?;
    let installation = dir
        .parent()
        .filter(|prefix| prefix.parent().is_some())
        .filter(|prefix| {
            ["lib", "libexec"]
                .iter()
                .any(|lib| prefix.join(lib).is_dir())
                || prefix.join("pyvenv.cfg").is_file()
        })
        .map(Path::to_path_buf);
    let chosen = installation.unwrap_or(dir);
    (chosen.parent().is_some()).then_some(chosen)
}

/// A virtual environment's base installation (`home = /base/bin` in `pyvenv.cfg`).
fn venv_base(prefix: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(prefix.join("pyvenv.cfg")).ok()?;
    let home = text.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "home").then(|| PathBuf::from(value.trim()))
    })?;
    prefix_of(&home.join("python"))
}

/// The interpreter of a `#!` script, found on `path` when the line goes through `env`.
fn shebang_interpreter(file: &Path, path: &OsStr) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    let read = fs::File::open(file).ok()?.read(&mut head).ok()?;
    let line = head[..read].strip_prefix(b"#!")?;
    let line = line.split(|byte| *byte == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    let interpreter = words.next()?;
    if interpreter.ends_with("/env") {
        let name = words.find(|word| !word.starts_with('-'))?;
        return find_program(name, path, Path::new("/"), None);
    }
    Some(PathBuf::from(interpreter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_path_is_cut_out_of_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("etc");
        fs::create_dir_all(root.join("ssl/private")).unwrap();
        fs::create_dir_all(root.join("ssl/certs")).unwrap();
        fs::write(root.join("hosts"), "x").unwrap();
        fs::write(root.join("shadow"), "x").unwrap();
        let hidden = [root.join("shadow"), root.join("ssl/private")];
        let mut allowed = without_hidden(std::slice::from_ref(&root), &hidden);
        allowed.sort();
        assert_eq!(allowed, [root.join("hosts"), root.join("ssl/certs")]);
        // A root below a hidden path is dropped; one beside it is kept whole.
        assert!(without_hidden(&[root.join("ssl/private/key")], &hidden).is_empty());
        // A link to a hidden path is no way around it.
        std::os::unix::fs::symlink(root.join("shadow"), root.join("ssl/certs/link")).unwrap();
        let below = without_hidden(&[root.join("ssl")], &[root.join("ssl/certs/link")]);
        assert_eq!(below, [root.join("ssl/private")]);
        assert!(without_hidden(&[root.join("ssl/certs/link")], &hidden).is_empty());
        assert_eq!(
            without_hidden(&[root.join("hosts")], &hidden),
            [root.join("hosts")]
        );
    }

    #[test]
    fn a_venv_tool_needs_its_venv_and_the_base_python() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("python");
        fs::create_dir_all(base.join("bin")).unwrap();
        fs::create_dir_all(base.join("lib")).unwrap();
        let venv = dir.path().join("venv");
        fs::create_dir_all(venv.join("bin")).unwrap();
        fs::write(
            venv.join("pyvenv.cfg"),
            format!("home = {}\n", base.join("bin").display()),
        )
        .unwrap();
        let tool = venv.join("bin/pylint");
        fs::write(
            &tool,
            format!("#!{}\nimport pylint\n", venv.join("bin/python").display()),
        )
        .unwrap();
        let found = installation_of(&tool, OsStr::new(""));
        assert!(found.contains(&venv), "{found:?}");
        assert!(found.contains(&base), "{found:?}");
    }

    #[test]
    fn a_program_in_a_plain_directory_brings_only_that_directory() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("home/bin");
        fs::create_dir_all(&bin).unwrap();
        fs::write(bin.join("tool"), "binary").unwrap();
        assert_eq!(installation_of(&bin.join("tool"), OsStr::new("")), [bin]);
    }
}
