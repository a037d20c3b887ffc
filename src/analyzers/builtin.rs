//! `codepup` (module `codelint`): the built-in checker. It needs nothing installed: it reads a
//! file's bytes and reports merge-conflict markers, private keys, well-known secret formats,
//! whitespace and layout problems, over-large files and text that is not UTF-8.
//!
//! `check_file` is pure (bytes in, findings out) and makes one pass over the lines, so the scan
//! engine can feed it blobs straight from git. The matching is written by hand: the rules are
//! simple prefixes and character runs, and a regex engine would cost a dependency and speed.

use crate::domain::finding::{Finding, Severity};
use crate::domain::job::ToolModule;
use crate::domain::rules::RuleSetting;

/// The name schemes list in `tools`.
pub const TOOL: &str = "codepup";
/// TCA's task module the checker belongs to.
pub const MODULE: &str = ToolModule::Codelint.as_str();

/// A file with a NUL byte in its first this many bytes is binary and gets no findings.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// The checker's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// A line longer than this many characters (not bytes) is a `long-line`.
    pub max_line_length: usize,
    /// A file larger than this many bytes is a `file-too-large` and is not checked further.
    pub max_file_bytes: u64,
    /// The most findings one file gets; the rest are counted, not kept, so a file made of
    /// millions of flawed lines costs no more memory than any other.
    pub max_findings_per_file: usize,
    /// The rules that run; the others are not looked for at all, so a rule that is off never
    /// takes a place under the limits.
    pub rules: RuleSet,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_line_length: 120,
            max_file_bytes: 1024 * 1024,
            max_findings_per_file: 1000,
            rules: RuleSet::defaults(),
        }
    }
}

/// What checking one file gave: its findings, and how many more it had beyond
/// `Config::max_findings_per_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    pub findings: Vec<Finding>,
    pub dropped: usize,
}

/// One rule of the checker. `id` is stable: stored findings and their fingerprints use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub category: &'static str,
    pub title: &'static str,
    /// On unless a scheme turns it off: only what almost always deserves a human look.
    pub default_enabled: bool,
    /// The rule's bit in a `RuleSet`.
    bit: u16,
}

/// A set of the checker's rules (one bit each): the ones a scan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleSet(u16);

impl RuleSet {
    pub const ALL: RuleSet = RuleSet((1 << RULES.len()) - 1);

    /// The rules that are on by default.
    pub fn defaults() -> RuleSet {
        RuleSet(
            RULES
                .iter()
                .filter(|rule| rule.default_enabled)
                .fold(0, |bits, rule| bits | rule.bit),
        )
    }

    pub fn contains(self, rule: &Rule) -> bool {
        self.0 & rule.bit != 0
    }

    /// The set with `rule` turned on or off.
    pub fn with(self, rule: &Rule, enabled: bool) -> RuleSet {
        if enabled {
            RuleSet(self.0 | rule.bit)
        } else {
            RuleSet(self.0 & !rule.bit)
        }
    }

    /// The set as a number, for the result cache's key.
    pub fn bits(self) -> u16 {
        self.0
    }
}

/// The rule named `id`.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

/// The severity of the rule named `id`, before any scheme changes it.
pub fn default_severity(id: &str) -> Option<Severity> {
    rule(id).map(|rule| rule.severity)
}

/// The rules a scheme runs: the defaults, with the scheme's settings for `TOOL`.
pub fn rule_set(settings: &[RuleSetting]) -> RuleSet {
    settings.iter().filter(|setting| setting.tool == TOOL).fold(
        RuleSet::defaults(),
        |rules, setting| match (rule(&setting.rule), setting.enabled) {
            (Some(rule), Some(enabled)) => rules.with(rule, enabled),
            _ => rules,
        },
    )
}

const CONFLICT_MARKER: Rule = Rule {
    id: "conflict-marker",
    severity: Severity::Error,
    category: "correctness",
    title: "Merge conflict marker",
    default_enabled: true,
    bit: 1 << 0,
};
const PRIVATE_KEY: Rule = Rule {
    id: "private-key",
    severity: Severity::Fatal,
    category: "security",
    title: "Private key in the repository",
    default_enabled: true,
    bit: 1 << 1,
};
const SECRET_TOKEN: Rule = Rule {
    id: "secret-token",
    severity: Severity::Fatal,
    category: "security",
    title: "Access key or token in the repository",
    default_enabled: true,
    bit: 1 << 2,
};
const TRAILING_WHITESPACE: Rule = Rule {
    id: "trailing-whitespace",
    severity: Severity::Info,
    category: "style",
    title: "Trailing whitespace",
    default_enabled: false,
    bit: 1 << 3,
};
const MIXED_INDENTATION: Rule = Rule {
    id: "mixed-indentation",
    severity: Severity::Warning,
    category: "style",
    title: "Indentation mixes tabs and spaces",
    default_enabled: false,
    bit: 1 << 4,
};
const LONG_LINE: Rule = Rule {
    id: "long-line",
    severity: Severity::Info,
    category: "style",
    title: "Line too long",
    default_enabled: false,
    bit: 1 << 5,
};
const MISSING_FINAL_NEWLINE: Rule = Rule {
    id: "missing-final-newline",
    severity: Severity::Info,
    category: "style",
    title: "No newline at end of file",
    default_enabled: false,
    bit: 1 << 6,
};
const FILE_TOO_LARGE: Rule = Rule {
    id: "file-too-large",
    severity: Severity::Warning,
    category: "maintainability",
    title: "File too large",
    default_enabled: false,
    bit: 1 << 7,
};
const INVALID_UTF8: Rule = Rule {
    id: "invalid-utf8",
    severity: Severity::Warning,
    category: "correctness",
    title: "Text file is not valid UTF-8",
    default_enabled: false,
    bit: 1 << 8,
};

/// Every rule of the checker, each at the place its `bit` says.
pub const RULES: &[Rule] = &[
    CONFLICT_MARKER,
    PRIVATE_KEY,
    SECRET_TOKEN,
    TRAILING_WHITESPACE,
    MIXED_INDENTATION,
    LONG_LINE,
    MISSING_FINAL_NEWLINE,
    FILE_TOO_LARGE,
    INVALID_UTF8,
];

/// Checks one file. `path` is relative to the repository root; it names the findings and tells
/// Markdown apart (where two trailing spaces are a line break). Binary files (a NUL byte in the
/// first 8 KiB) get no findings; a file over `max_file_bytes` gets only `file-too-large`.
pub fn check_file(path: &str, bytes: &[u8], config: &Config) -> Vec<Finding> {
    check_bounded(path, bytes, config).findings
}

/// How many leading bytes of a file `is_binary` looks at.
pub const SNIFF_BYTES: usize = BINARY_SNIFF_BYTES;

/// Whether a file is binary, judged by its first bytes (at least `SNIFF_BYTES` of them, when
/// the file has that many): a NUL byte among them.
pub fn is_binary(head: &[u8]) -> bool {
    head[..head.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

/// The `file-too-large` finding of a file of `size` bytes, for a file over `max_file_bytes`:
/// the one finding such a file gets, and one that needs no more than its size. `None` when the
/// rule is off.
pub fn too_large(path: &str, size: u64, config: &Config) -> Option<Finding> {
    config.rules.contains(&FILE_TOO_LARGE).then(|| {
        finding(
            path,
            &FILE_TOO_LARGE,
            0,
            0,
            format!(
                "file is {size} bytes, over the limit of {}: keep generated files, data and \
                 binaries out of the repository (or in Git LFS), or split the file",
                config.max_file_bytes
            ),
        )
    })
}

/// `check_file`, also saying how many findings were left out past
/// `Config::max_findings_per_file`.
pub fn check_bounded(path: &str, bytes: &[u8], config: &Config) -> Checked {
    let mut out = Out {
        path,
        findings: Vec::new(),
        limit: config.max_findings_per_file,
        dropped: 0,
        rules: config.rules,
    };
    if bytes.is_empty() || is_binary(bytes) {
        return out.checked();
    }
    if bytes.len() as u64 > config.max_file_bytes {
        out.findings
            .extend(too_large(path, bytes.len() as u64, config));
        return out.checked();
    }
    let end = check_lines(&mut out, bytes, config);
    if !bytes.ends_with(b"\n") {
        out.push(
            &MISSING_FINAL_NEWLINE,
            end.line_no,
            char_count(end.last_line).saturating_add(1),
            "the file does not end with a newline: add one, so the last line is a complete \
             line for git, diff and cat"
                .to_string(),
        );
    }
    if let Some((line, col)) = end.first_invalid {
        // A file-level finding (line 0), first in the list; the message says where to look.
        // It is kept even past the limit: one more finding is no risk.
        out.findings.insert(
            0,
            finding(
                path,
                &INVALID_UTF8,
                0,
                0,
                format!(
                    "the file is not valid UTF-8 (first bad byte at line {line}, column {col}): \
                     convert it to UTF-8"
                ),
            ),
        );
    }
    out.checked()
}

/// Which of the line-by-line checks the rule set turns on.
struct LineChecks {
    utf8: bool,
    conflicts: bool,
    secrets: bool,
    trailing: bool,
    indentation: bool,
    length: bool,
}

impl LineChecks {
    fn of(rules: RuleSet) -> LineChecks {
        let look_for = |rule: &Rule| rules.contains(rule);
        LineChecks {
            utf8: look_for(&INVALID_UTF8),
            conflicts: look_for(&CONFLICT_MARKER),
            secrets: look_for(&PRIVATE_KEY) || look_for(&SECRET_TOKEN),
            trailing: look_for(&TRAILING_WHITESPACE),
            indentation: look_for(&MIXED_INDENTATION),
            length: look_for(&LONG_LINE),
        }
    }
}

/// Where the line-by-line checks of a file ended.
struct LinesEnd<'a> {
    /// The number of the last line.
    line_no: u32,
    last_line: &'a [u8],
    /// Line and column of the first byte that is not UTF-8, if any.
    first_invalid: Option<(u32, u32)>,
}

/// Runs the checks that look at one line at a time over every line of `bytes`.
fn check_lines<'a>(out: &mut Out<'_>, bytes: &'a [u8], config: &Config) -> LinesEnd<'a> {
    let checks = LineChecks::of(config.rules);
    let markdown = is_markdown(out.path);
    let mut in_conflict = false;
    let mut end = LinesEnd {
        line_no: 0,
        last_line: &[],
        first_invalid: None,
    };
    // Without its final newline a file splits into exactly its lines.
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for raw in body.split(|&b| b == b'\n') {
        end.line_no = end.line_no.saturating_add(1);
        let line_no = end.line_no;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        end.last_line = line;
        if checks.utf8 && end.first_invalid.is_none() {
            // A newline is never part of a multi-byte sequence, so checking line by line is
            // the same as checking the whole file.
            if let Err(error) = std::str::from_utf8(line) {
                end.first_invalid = Some((line_no, column(line, error.valid_up_to())));
            }
        }
        if checks.conflicts {
            check_conflict_marker(out, line_no, line, &mut in_conflict);
        }
        if checks.secrets {
            check_secrets(out, line_no, line);
        }
        if checks.trailing {
            check_trailing_whitespace(out, line_no, line, markdown);
        }
        if checks.indentation {
            check_indentation(out, line_no, line);
        }
        if checks.length {
            check_length(out, line_no, line, config.max_line_length);
        }
    }
    end
}

/// The findings of one file.
struct Out<'a> {
    path: &'a str,
    findings: Vec<Finding>,
    /// The most findings kept; the rest are only counted.
    limit: usize,
    dropped: usize,
    /// The rules that report (a check may find for two rules, one of them off).
    rules: RuleSet,
}

impl Out<'_> {
    fn push(&mut self, rule: &Rule, line: u32, column: u32, message: String) {
        if !self.rules.contains(rule) {
            return;
        }
        if self.findings.len() >= self.limit {
            self.dropped += 1;
            return;
        }
        self.findings
            .push(finding(self.path, rule, line, column, message));
    }

    fn checked(self) -> Checked {
        Checked {
            findings: self.findings,
            dropped: self.dropped,
        }
    }
}

fn finding(path: &str, rule: &Rule, line: u32, column: u32, message: String) -> Finding {
    Finding {
        tool: TOOL.to_string(),
        rule: rule.id.to_string(),
        path: path.to_string(),
        line,
        column,
        severity: rule.severity,
        category: rule.category.to_string(),
        message,
    }
}

fn is_markdown(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// Characters in `bytes`: bytes that do not continue a UTF-8 sequence. Exact for UTF-8, and a
/// fair count for the lines of a file that is not.
fn char_count(bytes: &[u8]) -> u32 {
    let count = bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The 1-based character column of the byte at `offset` in `line`.
fn column(line: &[u8], offset: usize) -> u32 {
    char_count(&line[..offset]).saturating_add(1)
}

// --- conflict-marker ------------------------------------------------------------------------

/// Seven `ch` at the start of the line, then a space (and the label) or nothing: git's markers.
fn is_marker(line: &[u8], ch: u8) -> bool {
    line.len() >= 7 && line[..7].iter().all(|&b| b == ch) && line.get(7).is_none_or(|&b| b == b' ')
}

/// `<<<<<<<` opens a conflict and `>>>>>>>` closes it wherever they are; `=======` (and diff3's
/// `|||||||`) count only inside one, since `=======` alone also underlines headings.
fn check_conflict_marker(out: &mut Out, line_no: u32, line: &[u8], in_conflict: &mut bool) {
    let marker = if is_marker(line, b'<') {
        *in_conflict = true;
        "<<<<<<<"
    } else if *in_conflict && line == b"=======" {
        "======="
    } else if *in_conflict && is_marker(line, b'|') {
        "|||||||"
    } else if is_marker(line, b'>') {
        *in_conflict = false;
        ">>>>>>>"
    } else {
        return;
    };
    out.push(
        &CONFLICT_MARKER,
        line_no,
        1,
        format!(
            "merge conflict marker `{marker}` was committed: resolve the conflict and remove \
             the markers"
        ),
    );
}

// --- private-key and secret-token -----------------------------------------------------------

/// Bytes a key header or a token can start with; every other byte is skipped at once.
const SECRET_START: [bool; 256] = {
    let mut table = [false; 256];
    let starts = b"-Agxs";
    let mut i = 0;
    while i < starts.len() {
        table[starts[i] as usize] = true;
        i += 1;
    }
    table
};

/// What a match at one position of a line is.
enum Secret {
    PrivateKey { header: String },
    Token { kind: &'static str, prefix: usize },
}

fn check_secrets(out: &mut Out, line_no: u32, line: &[u8]) {
    let mut i = 0;
    while i < line.len() {
        if !SECRET_START[line[i] as usize] {
            i += 1;
            continue;
        }
        let Some((len, secret)) = secret_at(line, i) else {
            i += 1;
            continue;
        };
        match secret {
            Secret::PrivateKey { header } => out.push(
                &PRIVATE_KEY,
                line_no,
                column(line, i),
                format!(
                    "private key `{header}` in the repository: treat it as leaked, replace it, \
                     remove it from the code and the git history, and load keys from a secret \
                     store at run time"
                ),
            ),
            Secret::Token { kind, prefix } => {
                // The prefix only says what kind of secret it is; the rest is never shown.
                let shown = String::from_utf8_lossy(&line[i..i + prefix]);
                out.push(
                    &SECRET_TOKEN,
                    line_no,
                    column(line, i),
                    format!(
                        "{kind} `{shown}****` in the repository: revoke it with its issuer now, \
                         remove it from the code and the git history, and read it from the \
                         environment or a secret store instead"
                    ),
                );
            }
        }
        i += len;
    }
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn is_upper_or_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_slack_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Length of the run of `pred` bytes starting at `from`.
fn run(line: &[u8], from: usize, pred: fn(u8) -> bool) -> usize {
    line.get(from..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| pred(b)).count())
}

/// The secret starting at `line[i]`, with its length in bytes.
fn secret_at(line: &[u8], i: usize) -> Option<(usize, Secret)> {
    let rest = &line[i..];
    if rest.starts_with(b"-----BEGIN ") {
        return private_key_header(rest);
    }
    // A token starts a word: `xAKIA...` is part of something else.
    if i > 0 && is_alnum(line[i - 1]) {
        return None;
    }
    let token =
        |len: usize, kind: &'static str, prefix: usize| Some((len, Secret::Token { kind, prefix }));
    match rest[0] {
        b'A' if rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") => {
            // Exactly 16 more, not part of a longer word; AWS's documented examples end in
            // EXAMPLE and are not keys.
            let n = run(rest, 4, is_upper_or_digit);
            let end = 4 + n;
            let whole_word = rest.get(end).is_none_or(|&b| !is_alnum(b));
            if n == 16 && whole_word && !rest[..end].ends_with(b"EXAMPLE") {
                return token(end, "AWS access key id", 4);
            }
            None
        }
        b'A' if rest.starts_with(b"AIza") => {
            let n = run(rest, 4, is_key_char);
            if n != 35 {
                return None;
            }
            token(4 + n, "Google API key", 4)
        }
        b'g' if rest.starts_with(b"github_pat_") => {
            let n = run(rest, 11, is_word_char);
            if n < 22 {
                return None;
            }
            token(11 + n, "GitHub fine-grained token", 11)
        }
        b'g' if rest.len() > 4
            && rest.starts_with(b"gh")
            && b"pousr".contains(&rest[2])
            && rest[3] == b'_' =>
        {
            let n = run(rest, 4, is_alnum);
            if n < 36 {
                return None;
            }
            token(4 + n, "GitHub token", 4)
        }
        b'x' if rest.len() > 5
            && rest.starts_with(b"xox")
            && b"baprs".contains(&rest[3])
            && rest[4] == b'-' =>
        {
            // Real Slack tokens go on with digits (`xoxb-1234...`); `xoxb-your-token` is a
            // placeholder.
            let n = run(rest, 5, is_slack_char);
            if n < 10 || !rest[5].is_ascii_digit() {
                return None;
            }
            token(5 + n, "Slack token", 5)
        }
        b's' if rest.starts_with(b"sk_live_") => {
            let n = run(rest, 8, is_alnum);
            if n < 24 {
                return None;
            }
            token(8 + n, "Stripe live secret key", 8)
        }
        _ => None,
    }
}

/// `-----BEGIN [RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED ]PRIVATE KEY[ BLOCK]-----`.
fn private_key_header(rest: &[u8]) -> Option<(usize, Secret)> {
    let after_begin = &rest[b"-----BEGIN ".len()..];
    let label = [
        &b"RSA "[..],
        b"EC ",
        b"DSA ",
        b"OPENSSH ",
        b"PGP ",
        b"ENCRYPTED ",
    ]
    .into_iter()
    .find(|label| after_begin.starts_with(label))
    .map_or(0, <[u8]>::len);
    let tail = after_begin[label..].strip_prefix(b"PRIVATE KEY")?;
    let end = if tail.starts_with(b"-----") {
        5
    } else if tail.starts_with(b" BLOCK-----") {
        11
    } else {
        return None;
    };
    let len = b"-----BEGIN ".len() + label + b"PRIVATE KEY".len() + end;
    let header = String::from_utf8_lossy(&rest[..len]).into_owned();
    Some((len, Secret::PrivateKey { header }))
}

// --- whitespace and length ------------------------------------------------------------------

fn check_trailing_whitespace(out: &mut Out, line_no: u32, line: &[u8], markdown: bool) {
    let kept = line.len()
        - line
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
    if kept == line.len() {
        return;
    }
    // In Markdown, exactly two trailing spaces after text are a hard line break.
    if markdown && kept > 0 && &line[kept..] == b"  " {
        return;
    }
    out.push(
        &TRAILING_WHITESPACE,
        line_no,
        column(line, kept),
        "trailing whitespace: remove it (most editors can strip it on save)".to_string(),
    );
}

/// A line whose indentation has both tabs and spaces. Tabs followed by one space before `*`
/// (the continuation of a block comment in tab-indented code) is not mixing. Lines of only
/// whitespace are left to `trailing-whitespace`.
fn check_indentation(out: &mut Out, line_no: u32, line: &[u8]) {
    let indent = run(line, 0, |b| b == b' ' || b == b'\t');
    if indent == 0 || indent == line.len() {
        return;
    }
    let first = line[0];
    let Some(switch) = line[..indent].iter().position(|&b| b != first) else {
        return;
    };
    let comment_continuation = first == b'\t' && switch + 1 == indent && line[indent] == b'*';
    if comment_continuation {
        return;
    }
    out.push(
        &MIXED_INDENTATION,
        line_no,
        column(line, switch),
        "indentation mixes tabs and spaces, so it looks different in every editor: indent \
         with one or the other, as the rest of the file does"
            .to_string(),
    );
}

fn check_length(out: &mut Out, line_no: u32, line: &[u8], max: usize) {
    // A character is at least one byte: a line of at most `max` bytes needs no counting.
    if line.len() <= max {
        return;
    }
    let chars = char_count(line);
    if chars as usize <= max {
        return;
    }
    out.push(
        &LONG_LINE,
        line_no,
        u32::try_from(max).unwrap_or(u32::MAX).saturating_add(1),
        format!("line is {chars} characters long, over the limit of {max}: break it up"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gates_secrets_are_the_checkers_security_rules() {
        let security: Vec<&str> = RULES
            .iter()
            .filter(|rule| rule.category == "security")
            .map(|rule| rule.id)
            .collect();
        assert_eq!(security, crate::domain::gate::SECRET_RULES);
        assert_eq!(TOOL, crate::domain::gate::SECRET_TOOL);
    }

    #[test]
    fn by_default_only_markers_private_keys_and_secrets_report() {
        let marker = "<".repeat(7);
        let text = format!(
            "{marker} HEAD\ntrailing \n\t mixed\n{}\n{}",
            aws_key(),
            "x".repeat(200)
        );
        let rules: Vec<String> = check_file("a.txt", text.as_bytes(), &Config::default())
            .into_iter()
            .map(|finding| finding.rule)
            .collect();
        assert_eq!(rules, ["conflict-marker", "secret-token"]);
        let on: Vec<&str> = RULES
            .iter()
            .filter(|rule| RuleSet::defaults().contains(rule))
            .map(|rule| rule.id)
            .collect();
        assert_eq!(on, ["conflict-marker", "private-key", "secret-token"]);
        // Each rule has a bit of its own, at its place.
        for (place, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.bit, 1 << place, "{}", rule.id);
        }
        let set = RuleSet::defaults()
            .with(&LONG_LINE, true)
            .with(&SECRET_TOKEN, false);
        assert!(set.contains(&LONG_LINE) && !set.contains(&SECRET_TOKEN));
    }

    /// Every rule on: the tests look at each rule's logic.
    fn all_rules() -> Config {
        Config {
            rules: RuleSet::ALL,
            ..Config::default()
        }
    }

    fn check(path: &str, text: &[u8]) -> Vec<Finding> {
        check_file(path, text, &all_rules())
    }

    /// (rule, line, column) of every finding, in order.
    fn places(findings: &[Finding]) -> Vec<(&str, u32, u32)> {
        findings
            .iter()
            .map(|f| (f.rule.as_str(), f.line, f.column))
            .collect()
    }

    // Secrets and markers are assembled at run time, so this file holds none of them literally
    // and the checker (or a push-protection hook) finds nothing in it.
    fn aws_key() -> String {
        format!("{}{}", "AK", "IA2E0A8F3B244C9986")
    }
    fn github_token() -> String {
        format!("{}{}", "gh", "p_0123456789abcdefghijABCDEFGHIJ012345")
    }
    fn key_header(label: &str) -> String {
        format!("-----BEGIN {label}PRIVATE {}", "KEY-----")
    }

    #[test]
    fn the_rule_list_has_every_rule_once_with_a_kebab_case_id() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), 9);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 9);
        for id in ids {
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{id}"
            );
        }
        let severity = |id: &str| RULES.iter().find(|r| r.id == id).unwrap().severity;
        assert_eq!(severity("private-key"), Severity::Fatal);
        assert_eq!(severity("secret-token"), Severity::Fatal);
        assert_eq!(severity("conflict-marker"), Severity::Error);
        assert_eq!(severity("mixed-indentation"), Severity::Warning);
        assert_eq!(severity("long-line"), Severity::Info);
        assert_eq!(Config::default().max_line_length, 120);
        assert_eq!(Config::default().max_file_bytes, 1 << 20);
    }

    #[test]
    fn a_clean_file_has_no_findings() {
        let text = "fn main() {\n\tlet x = \"é\";\n    /* ok */\n}\n";
        assert_eq!(check("src/main.rs", text.as_bytes()), []);
        assert_eq!(check("empty.txt", b""), []);
    }

    #[test]
    fn findings_carry_the_tool_path_severity_and_category_of_their_rule() {
        let findings = check("a/b.py", b"x = 1 \n");
        assert_eq!(
            findings,
            [Finding {
                tool: "codepup".to_string(),
                rule: "trailing-whitespace".to_string(),
                path: "a/b.py".to_string(),
                line: 1,
                column: 6,
                severity: Severity::Info,
                category: "style".to_string(),
                message: "trailing whitespace: remove it (most editors can strip it on save)"
                    .to_string(),
            }]
        );
    }

    #[test]
    fn conflict_markers_are_found_and_equals_lines_only_inside_a_conflict() {
        let lt = "<".repeat(7);
        let gt = ">".repeat(7);
        let text = format!(
            "Title\n=======\n\ncode\n{lt} HEAD\nours\n=======\ntheirs\n{gt} feature\n=======\n"
        );
        let findings = check("README.rst", text.as_bytes());
        assert_eq!(
            places(&findings),
            [
                ("conflict-marker", 5, 1),
                ("conflict-marker", 7, 1),
                ("conflict-marker", 9, 1)
            ]
        );
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
        assert!(findings[0].message.contains("resolve the conflict"));

        // diff3 style, CRLF ends and bare markers.
        let text = format!(
            "{lt}\r\na\r\n{}\r\nb\r\n=======\r\nc\r\n{gt}\r\n",
            "|".repeat(7)
        );
        let lines: Vec<u32> = check("x.c", text.as_bytes())
            .iter()
            .map(|f| f.line)
            .collect();
        assert_eq!(lines, [1, 3, 5, 7]);

        // Near misses: eight characters, a marker not at the start, `=======` with more on it.
        let text = format!("{lt}< x\n {lt} x\nx {gt}\n=======x\n{}\n", "=".repeat(8));
        assert_eq!(check("x.txt", text.as_bytes()), []);
    }

    #[test]
    fn private_key_headers_are_fatal_and_public_ones_are_not() {
        for label in ["", "RSA ", "EC ", "DSA ", "OPENSSH ", "PGP ", "ENCRYPTED "] {
            let text = format!("key = \"{}\\nMIIB...\"\n", key_header(label));
            let findings = check("conf/key.py", text.as_bytes());
            assert_eq!(places(&findings), [("private-key", 1, 8)], "{label}");
            assert_eq!(findings[0].severity, Severity::Fatal);
            assert_eq!(findings[0].category, "security");
        }
        let pgp = format!("-----BEGIN PGP PRIVATE {}\n", "KEY BLOCK-----");
        assert_eq!(
            places(&check("k.asc", pgp.as_bytes())),
            [("private-key", 1, 1)]
        );

        let near = "-----BEGIN PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\n\
                    -----BEGIN RSA PUBLIC KEY-----\n-----BEGIN FOO PRIVATE KEY-----\n\
                    -----END RSA PRIVATE KEY-----\n";
        assert_eq!(check("certs.pem", near.as_bytes()), []);
    }

    #[test]
    fn secret_tokens_are_found_at_their_column_and_never_shown() {
        let secrets = [
            (aws_key(), "AKIA"),
            (format!("AS{}", "IAZZZZ9999YYYY8888"), "ASIA"),
            (github_token(), "ghp_"),
            (format!("gh{}{}", "s_", "A".repeat(36)), "ghs_"),
            (
                format!("github{}{}", "_pat_", "11ABCDEFG_0123456789abcdefXYZ"),
                "github_pat_",
            ),
            (
                format!("xo{}", "xb-1234567890-0987654321-AbCdEfGhIjKl"),
                "xoxb-",
            ),
            (
                format!("AI{}{}", "za", "Sy0123456789-_abcdefghijABCDEFGHIJK"),
                "AIza",
            ),
            (
                format!("sk_{}{}", "live_", "4eC39HqLyjWDarjtT1zdp7dc"),
                "sk_live_",
            ),
        ];
        for (secret, prefix) in secrets {
            let text = format!("[auth]\nkey = \"{secret}\"\n");
            let findings = check("settings.toml", text.as_bytes());
            assert_eq!(places(&findings), [("secret-token", 2, 8)], "{secret}");
            let message = &findings[0].message;
            assert!(!message.contains(&secret), "{message}");
            assert!(message.contains(&format!("`{prefix}****`")), "{message}");
            assert_eq!(findings[0].severity, Severity::Fatal);
        }

        // Columns count characters, and every secret on a line is reported.
        let text = format!("é {} {}\n", aws_key(), github_token());
        let findings = check("x.txt", text.as_bytes());
        assert_eq!(
            places(&findings),
            [("secret-token", 1, 3), ("secret-token", 1, 24)]
        );
    }

    #[test]
    fn secret_near_misses_are_not_reported() {
        let aws = aws_key();
        let near = [
            aws[..19].to_string(),                 // one short
            format!("{aws}X"),                     // one long
            format!("x{aws}"),                     // inside a word
            format!("{aws}a"),                     // inside a word
            format!("AK{}", "IAIOSFODNN7EXAMPLE"), // AWS's documented example
            github_token()[..39].to_string(),      // 35 characters after ghp_
            format!("gh{}{}", "x_", "A".repeat(36)),
            format!("github{}{}", "_pat_", "short"),
            format!("xo{}", "xb-your-token-here"),
            format!("xo{}", "xq-1234567890-0987654321"),
            format!("AI{}{}", "za", "Sy0123456789-_abcdefghijABCDEFGHIJ"), // 34
            format!("AI{}{}", "za", "Sy0123456789-_abcdefghijABCDEFGHIJKL"), // 36
            format!("sk_{}{}", "test_", "4eC39HqLyjWDarjtT1zdp7dc"),
            format!("sk_{}{}", "live_", "short"),
        ];
        for text in near {
            let text = format!("value = {text}\n");
            assert_eq!(check("x.txt", text.as_bytes()), [], "{text}");
        }
    }

    #[test]
    fn trailing_whitespace_is_found_but_a_crlf_end_is_not() {
        let text = "a  \nb\t\n \t\nc\r\nd \r\n";
        assert_eq!(
            places(&check("x.txt", text.as_bytes())),
            [
                ("trailing-whitespace", 1, 2),
                ("trailing-whitespace", 2, 2),
                ("trailing-whitespace", 3, 1),
                ("trailing-whitespace", 5, 2)
            ]
        );
        // Markdown's two-space line break is not trailing whitespace; three spaces are.
        let text = "line one  \nline two   \n  \n";
        assert_eq!(
            places(&check("docs/README.md", text.as_bytes())),
            [("trailing-whitespace", 2, 9), ("trailing-whitespace", 3, 1)]
        );
    }

    #[test]
    fn indentation_mixing_tabs_and_spaces_is_a_warning() {
        let text = "\t  a\n  \tb\n\t\tc\n    d\n\t * comment\n\t \n";
        let findings = check("x.c", text.as_bytes());
        // The whitespace-only last line is trailing whitespace, not indentation.
        assert_eq!(
            places(&findings),
            [
                ("mixed-indentation", 1, 2),
                ("mixed-indentation", 2, 3),
                ("trailing-whitespace", 6, 1)
            ]
        );
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].category, "style");
    }

    #[test]
    fn lines_over_the_limit_are_long_counting_characters_not_bytes() {
        let config = Config {
            max_line_length: 10,
            ..all_rules()
        };
        let text = format!(
            "{}\n{}\n{}\n{}\r\n",
            "a".repeat(10),
            "a".repeat(11),
            "é".repeat(10),
            "b".repeat(10)
        );
        let findings = check_file("x.txt", text.as_bytes(), &config);
        assert_eq!(places(&findings), [("long-line", 2, 11)]);
        assert!(findings[0].message.contains("11 characters"));
        assert!(findings[0].message.contains("limit of 10"));
        assert_eq!(findings[0].severity, Severity::Info);

        let text = format!("{}\n", "é".repeat(11));
        assert_eq!(
            places(&check_file("x.txt", text.as_bytes(), &config)),
            [("long-line", 1, 11)]
        );
    }

    #[test]
    fn a_missing_final_newline_is_reported_on_the_last_line() {
        assert_eq!(
            places(&check("x.txt", b"a\nbcd")),
            [("missing-final-newline", 2, 4)]
        );
        assert_eq!(
            places(&check("x.txt", b"a")),
            [("missing-final-newline", 1, 2)]
        );
        assert_eq!(check("x.txt", b"a\n"), []);
        assert_eq!(check("x.txt", b"a\r\n\r\n"), []);
        assert_eq!(check("x.txt", b"\n"), []);
    }

    #[test]
    fn a_crlf_file_is_checked_like_an_lf_file() {
        let text = format!("a\r\n\t  b\r\nc \r\n{}\r\n", aws_key());
        let lf = text.replace("\r\n", "\n");
        let crlf = check("x.txt", text.as_bytes());
        assert_eq!(crlf, check("x.txt", lf.as_bytes()));
        assert_eq!(
            places(&crlf),
            [
                ("mixed-indentation", 2, 2),
                ("trailing-whitespace", 3, 2),
                ("secret-token", 4, 1)
            ]
        );
    }

    #[test]
    fn a_file_one_byte_over_the_limit_gets_only_file_too_large() {
        let config = Config {
            max_file_bytes: 16,
            ..all_rules()
        };
        let at_limit = b"0123456789abcde\n";
        assert_eq!(check_file("x.txt", at_limit, &config), []);
        let over = format!("{} \n{}", aws_key(), "\u{ff}");
        let over = &over.as_bytes()[..17];
        let findings = check_file("x.txt", over, &config);
        assert_eq!(places(&findings), [("file-too-large", 0, 0)]);
        assert!(findings[0].message.contains("17 bytes"));
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].category, "maintainability");
    }

    #[test]
    fn a_file_keeps_at_most_its_limit_of_findings_and_counts_the_rest() {
        let config = Config {
            max_findings_per_file: 3,
            ..all_rules()
        };
        let checked = check_bounded("x.txt", " \n".repeat(10).as_bytes(), &config);
        assert_eq!(checked.findings.len(), 3);
        assert_eq!(checked.dropped, 7);
        assert_eq!(
            places(&checked.findings),
            [
                ("trailing-whitespace", 1, 1),
                ("trailing-whitespace", 2, 1),
                ("trailing-whitespace", 3, 1)
            ]
        );
        let under = check_bounded("x.txt", b"a \n", &config);
        assert_eq!((under.findings.len(), under.dropped), (1, 0));
    }

    #[test]
    fn a_file_too_large_gets_the_same_finding_from_its_size_alone() {
        let config = Config {
            max_file_bytes: 16,
            ..all_rules()
        };
        let bytes = b"0123456789abcdef0\n";
        assert_eq!(
            check_file("x.txt", bytes, &config),
            [too_large("x.txt", bytes.len() as u64, &config).unwrap()]
        );
        assert!(is_binary(b"ab\0c"));
        assert!(!is_binary(b"abc"));
    }

    #[test]
    fn binary_files_get_no_findings() {
        let mut bytes = format!("{} HEAD \n{}\n\u{0}", "<".repeat(7), aws_key()).into_bytes();
        bytes.extend_from_slice(&[0xff, 0xfe, b'x']);
        assert_eq!(check("image.png", &bytes), []);
        assert_eq!(
            check_file(
                "big.bin",
                &[0u8; 100],
                &Config {
                    max_file_bytes: 10,
                    ..all_rules()
                }
            ),
            []
        );
        // A NUL after the first 8 KiB does not make a file binary.
        let mut late = vec![b'a'; BINARY_SNIFF_BYTES];
        late.extend_from_slice(b"\n\0 \n");
        let findings = check_file(
            "x.txt",
            &late,
            &Config {
                max_line_length: usize::MAX,
                ..all_rules()
            },
        );
        assert_eq!(places(&findings), [("trailing-whitespace", 2, 2)]);
    }

    #[test]
    fn a_file_that_is_not_utf8_gets_one_file_level_finding_and_the_other_checks() {
        // Latin-1 "café" on line 2, column 4.
        let findings = check("notes.txt", b"ok\ncaf\xe9 \nbad\xff \n");
        assert_eq!(
            places(&findings),
            [
                ("invalid-utf8", 0, 0),
                ("trailing-whitespace", 2, 5),
                ("trailing-whitespace", 3, 5)
            ]
        );
        assert!(
            findings[0].message.contains("line 2, column 4"),
            "{}",
            findings[0].message
        );
        assert_eq!(findings[0].severity, Severity::Warning);
        assert_eq!(findings[0].category, "correctness");
        // A multi-byte character cut off at the end of the file.
        assert_eq!(
            places(&check("x.txt", b"a\n\xc3")),
            [("invalid-utf8", 0, 0), ("missing-final-newline", 2, 2)]
        );
    }
}
