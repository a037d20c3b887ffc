//! SARIF 2.1.0 both ways: any tool's SARIF log read into findings, and findings written as a log
//! for GitHub code scanning or DefectDojo. Pure functions: no process, no file, no network.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::domain::finding::{Finding, Severity};

/// The `$schema` every exported log names.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key of the fingerprint in each exported result's `partialFingerprints`. The `/v1` is part
/// of the contract: if the fingerprint's recipe ever changes, so must the key, or code scanning
/// would match new fingerprints against old ones and close and reopen every alert.
pub const FINGERPRINT_KEY: &str = "codepupFingerprint/v1";

/// The `uriBaseId` of every exported location: paths are relative to the repository's root.
pub const SOURCE_ROOT: &str = "%SRCROOT%";

/// Reads a SARIF 2.1.0 log, taking each run's `tool.driver.name` as the findings' tool. See
/// [`parse_as`].
pub fn parse(output: &str, root: &Path) -> Result<Vec<Finding>, String> {
    parse_as(None, output, root)
}

/// The most findings codepup takes from one tool run; a log with more is read only that far.
pub const MAX_FINDINGS: usize = 100_000;

/// Reads a SARIF 2.1.0 log into findings.
///
/// `tool` is the name findings carry (the scheme's name for the tool, as `tools.toml` defines
/// it); `None` takes each run's `tool.driver.name`. `root` is the directory the tool ran in:
/// `file://` URIs and absolute paths under it, and paths relative to an `originalUriBaseIds`
/// entry that resolves under it, become paths relative to it; a relative URI with no known base
/// is taken as relative to it already. A path outside `root` is kept as the log gives it.
///
/// A result's level falls back to its rule's `defaultConfiguration.level`, then to `warning`,
/// as SARIF says; results whose `kind` is `pass` or `notApplicable` are not problems and are
/// skipped. A result without a location gets an empty path and line 0. The category comes from a
/// `category` property (codepup's own export), else from the rule's or result's tags
/// (`security`, ...), else from the level. Output that is not a SARIF 2.1.0 log is an error
/// naming the tool, never a panic.
pub fn parse_as(tool: Option<&str>, output: &str, root: &Path) -> Result<Vec<Finding>, String> {
    parse_report(tool, || Ok(output.as_bytes()), root)
}

/// [`parse_as`] on a log read as a stream, which may be far larger than the memory it takes:
/// `open` gives the log from its start and is called twice. The first pass checks the whole log
/// and keeps each run's `tool`, `artifacts` and `originalUriBaseIds` (results may come before
/// them); the second reads the results one at a time. Bytes that are not UTF-8 read as U+FFFD,
/// as `String::from_utf8_lossy` would make them.
pub fn parse_report<R: std::io::Read>(
    tool: Option<&str>,
    mut open: impl FnMut() -> std::io::Result<R>,
    root: &Path,
) -> Result<Vec<Finding>, String> {
    let label = tool.unwrap_or("SARIF");
    let fail = |why: String| format!("{label} output is not a SARIF 2.1.0 log: {why}");
    let head = {
        let mut text = stream::LossyText::new(open().map_err(|error| fail(error.to_string()))?);
        let read = {
            let mut deserializer =
                serde_json::Deserializer::from_reader(std::io::BufReader::new(&mut text));
            stream::LogHead::read(&mut deserializer)
                .and_then(|head| deserializer.end().map(|()| head))
        };
        match read {
            Ok(head) => head,
            Err(_) if !text.saw_text() => return Err(fail("it is empty".to_string())),
            Err(error) => return Err(fail(error.to_string())),
        }
    };
    if !head.object {
        return Err(fail("it is not a JSON object".to_string()));
    }
    match &head.version {
        None => {}
        Some(Value::String(version)) if version == "2.1.0" => {}
        Some(version) => return Err(fail(format!("its version is {version}, not \"2.1.0\""))),
    }
    let Some(runs) = &head.runs else {
        return Err(fail("it has no runs array".to_string()));
    };
    let mut reading = stream::Results {
        tool,
        root,
        runs,
        fail: &fail,
        runs_key: head.runs_keys,
        findings: Vec::new(),
        outcome: None,
    };
    let text = stream::LossyText::new(open().map_err(|error| fail(error.to_string()))?);
    let mut deserializer = serde_json::Deserializer::from_reader(std::io::BufReader::new(text));
    let read = reading.read(&mut deserializer);
    match reading.outcome.take() {
        Some(Err(why)) => Err(why),
        Some(Ok(())) => Ok(reading.findings),
        // The first pass read the same bytes: only a log that changed in between fails here.
        None => match read {
            Ok(()) => Ok(reading.findings),
            Err(error) => Err(fail(error.to_string())),
        },
    }
}

/// The checks and the context of one run, before its results are read.
fn run_context<'a>(
    tool: Option<&'a str>,
    run: &'a stream::RunHead,
    run_index: usize,
    root: &'a Path,
    fail: &dyn Fn(String) -> String,
) -> Result<RunContext<'a>, String> {
    if !run.object {
        return Err(fail(format!("run {run_index} is not an object")));
    }
    let stream::RunHead {
        tool: tool_value,
        artifacts,
        bases,
        results,
        ..
    } = run;
    let driver = tool_value.as_ref().and_then(|tool| tool.get("driver"));
    let tool_name = match tool {
        Some(tool) => tool,
        None => driver
            .and_then(|driver| driver.get("name"))
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .ok_or_else(|| fail(format!("run {run_index} names no tool.driver.name")))?,
    };
    let rules: &[Value] = driver
        .and_then(|driver| driver.get("rules"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    if *results == stream::Shape::Other {
        return Err(fail(format!(
            "run {run_index} has results that are not an array"
        )));
    }
    let mut rule_ids = std::collections::HashMap::new();
    for (index, rule) in rules.iter().enumerate() {
        if let Some(id) = rule.get("id").and_then(Value::as_str) {
            rule_ids.entry(id).or_insert(index);
        }
    }
    Ok(RunContext {
        tool: tool_name,
        rules,
        rule_ids,
        artifacts: artifacts
            .as_ref()
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice),
        bases: bases.as_ref().and_then(Value::as_object),
        root,
    })
}

/// The two passes of [`parse_report`], as serde visitors.
mod stream {
    use std::fmt;
    use std::io::Read;
    use std::path::Path;

    use serde::de::{
        DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    use serde_json::Value;

    use super::{run_context, MAX_FINDINGS};
    use crate::domain::finding::Finding;

    /// Bytes as UTF-8 text, each invalid sequence replaced by U+FFFD exactly as
    /// `String::from_utf8_lossy` replaces it; notes whether anything but whitespace came by.
    pub struct LossyText<R> {
        inner: R,
        /// The start of a character the last read cut off.
        pending: Vec<u8>,
        out: Vec<u8>,
        at: usize,
        ended: bool,
        saw_text: bool,
    }

    impl<R: Read> LossyText<R> {
        pub fn new(inner: R) -> LossyText<R> {
            LossyText {
                inner,
                pending: Vec::new(),
                out: Vec::new(),
                at: 0,
                ended: false,
                saw_text: false,
            }
        }

        /// Whether the text had anything but (Unicode) whitespace in it.
        pub fn saw_text(&self) -> bool {
            self.saw_text
        }

        fn push_text(&mut self, text: &str) {
            if !self.saw_text && text.chars().any(|c| !c.is_whitespace()) {
                self.saw_text = true;
            }
            self.out.extend_from_slice(text.as_bytes());
        }

        fn refill(&mut self) -> std::io::Result<()> {
            const REPLACEMENT: &str = "\u{FFFD}";
            self.out.clear();
            self.at = 0;
            let mut chunk = std::mem::take(&mut self.pending);
            let start = chunk.len();
            chunk.resize(start + 64 * 1024, 0);
            let read = loop {
                match self.inner.read(&mut chunk[start..]) {
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            chunk.truncate(start + read);
            if read == 0 {
                self.ended = true;
                if !chunk.is_empty() {
                    // A character cut off by the end of the text.
                    self.push_text(REPLACEMENT);
                }
                return Ok(());
            }
            let mut rest: &[u8] = &chunk;
            loop {
                match std::str::from_utf8(rest) {
                    Ok(text) => {
                        self.push_text(text);
                        break;
                    }
                    Err(error) => {
                        let (valid, after) = rest.split_at(error.valid_up_to());
                        self.push_text(std::str::from_utf8(valid).unwrap_or_default());
                        match error.error_len() {
                            Some(length) => {
                                self.push_text(REPLACEMENT);
                                rest = &after[length..];
                            }
                            None => {
                                self.pending = after.to_vec();
                                break;
                            }
                        }
                    }
                }
            }
            Ok(())
        }
    }

    impl<R: Read> Read for LossyText<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            while self.at == self.out.len() {
                if self.ended {
                    return Ok(0);
                }
                self.refill()?;
            }
            let n = buf.len().min(self.out.len() - self.at);
            buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// What a value turned out to be, for keys whose value must be an object or an array.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum Shape {
        /// Absent or null.
        #[default]
        Missing,
        Array,
        Other,
    }

    /// A visitor's answer for a value of the wrong kind: arrays are read to their end, so the
    /// rest of the log can be checked.
    macro_rules! other_kinds {
        ($value:expr, null) => {
            other_kinds!($value);
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok($value)
            }
        };
        ($value:expr) => {
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok($value)
            }
        };
    }

    fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    /// The first pass: the log's shape, and each run without its results.
    pub struct LogHead {
        pub object: bool,
        pub version: Option<Value>,
        /// The last `runs` key's array (a JSON object keeps the last of a repeated key).
        pub runs: Option<Vec<RunHead>>,
        /// How many `runs` keys the log has.
        pub runs_keys: usize,
    }

    /// A run without its results (`object` false: the run is not a JSON object).
    #[derive(Default)]
    pub struct RunHead {
        pub object: bool,
        pub tool: Option<Value>,
        pub artifacts: Option<Value>,
        pub bases: Option<Value>,
        pub results: Shape,
        /// How many `results` keys the run has (the last counts).
        pub results_keys: usize,
    }

    impl LogHead {
        pub fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<LogHead, D::Error> {
            deserializer.deserialize_any(LogHeadVisitor)
        }
    }

    struct LogHeadVisitor;

    impl<'de> Visitor<'de> for LogHeadVisitor {
        type Value = LogHead;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a SARIF log")
        }

        other_kinds!(
            LogHead {
                object: false,
                version: None,
                runs: None,
                runs_keys: 0
            },
            null
        );

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LogHead, A::Error> {
            skip_seq(seq)?;
            Ok(LogHead {
                object: false,
                version: None,
                runs: None,
                runs_keys: 0,
            })
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LogHead, A::Error> {
            let mut head = LogHead {
                object: true,
                version: None,
                runs: None,
                runs_keys: 0,
            };
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "version" => head.version = Some(map.next_value()?),
                    "runs" => {
                        head.runs = map.next_value_seed(RunHeads)?;
                        head.runs_keys += 1;
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(head)
        }
    }

    struct RunHeads;

    impl<'de> DeserializeSeed<'de> for RunHeads {
        type Value = Option<Vec<RunHead>>;

        fn deserialize<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for RunHeads {
        type Value = Option<Vec<RunHead>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("runs")
        }

        other_kinds!(None, null);

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            skip_map(map)?;
            Ok(None)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut runs = Vec::new();
            while let Some(run) = seq.next_element_seed(RunHeadSeed)? {
                runs.push(run);
            }
            Ok(Some(runs))
        }
    }

    struct RunHeadSeed;

    impl<'de> DeserializeSeed<'de> for RunHeadSeed {
        type Value = RunHead;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RunHead, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for RunHeadSeed {
        type Value = RunHead;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a run")
        }

        other_kinds!(RunHead::default(), null);

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RunHead, A::Error> {
            skip_seq(seq)?;
            Ok(RunHead::default())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RunHead, A::Error> {
            let (mut tool, mut artifacts, mut bases) = (None, None, None);
            let mut results = Shape::Missing;
            let mut results_keys = 0;
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "tool" => tool = Some(map.next_value()?),
                    "artifacts" => artifacts = Some(map.next_value()?),
                    "originalUriBaseIds" => bases = Some(map.next_value()?),
                    "results" => {
                        results = map.next_value_seed(ResultsShape)?;
                        results_keys += 1;
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(RunHead {
                object: true,
                tool,
                artifacts,
                bases,
                results,
                results_keys,
            })
        }
    }

    struct ResultsShape;

    impl<'de> DeserializeSeed<'de> for ResultsShape {
        type Value = Shape;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for ResultsShape {
        type Value = Shape;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("results")
        }

        other_kinds!(Shape::Other);

        fn visit_unit<E: serde::de::Error>(self) -> Result<Shape, E> {
            Ok(Shape::Missing)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape, A::Error> {
            skip_map(map)?;
            Ok(Shape::Other)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Shape, A::Error> {
            skip_seq(seq)?;
            Ok(Shape::Array)
        }
    }

    /// The second pass: the results of the last `runs` key, one at a time, against the run heads
    /// of the first pass. It stops as soon as it knows the outcome (an error, or the cap), by
    /// failing the deserializer with `outcome` set.
    pub struct Results<'a> {
        pub tool: Option<&'a str>,
        pub root: &'a Path,
        pub runs: &'a [RunHead],
        pub fail: &'a dyn Fn(String) -> String,
        /// Which `runs` key holds the runs (the last).
        pub runs_key: usize,
        pub findings: Vec<Finding>,
        pub outcome: Option<Result<(), String>>,
    }

    impl Results<'_> {
        pub fn read<'de, D: Deserializer<'de>>(&mut self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_any(LogResults(self))
        }

        fn stop<E: serde::de::Error>(&mut self, outcome: Result<(), String>) -> E {
            self.outcome = Some(outcome);
            E::custom("stopped")
        }
    }

    struct LogResults<'r, 'a>(&'r mut Results<'a>);

    impl<'de> Visitor<'de> for LogResults<'_, '_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a SARIF log")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut runs_keys = 0;
            while let Some(key) = map.next_key::<String>()? {
                if key == "runs" {
                    runs_keys += 1;
                    if runs_keys == self.0.runs_key {
                        map.next_value_seed(RunsResults(&mut *self.0))?;
                        // Every run is read: nothing after this can change the outcome.
                        return Err(self.0.stop(Ok(())));
                    }
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    struct RunsResults<'r, 'a>(&'r mut Results<'a>);

    impl<'de> DeserializeSeed<'de> for RunsResults<'_, '_> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for RunsResults<'_, '_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("runs")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut index = 0;
            while seq
                .next_element_seed(RunResults {
                    reading: &mut *self.0,
                    index,
                })?
                .is_some()
            {
                index += 1;
            }
            Ok(())
        }
    }

    struct RunResults<'r, 'a> {
        reading: &'r mut Results<'a>,
        index: usize,
    }

    impl<'de> DeserializeSeed<'de> for RunResults<'_, '_> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            let reading = self.reading;
            let Some(run) = reading.runs.get(self.index) else {
                return Err(D::Error::custom("the log changed between its reads"));
            };
            let context =
                match run_context(reading.tool, run, self.index, reading.root, reading.fail) {
                    Ok(context) => context,
                    Err(why) => return Err(reading.stop(Err(why))),
                };
            deserializer.deserialize_map(RunVisitor {
                reading,
                context,
                index: self.index,
                results_keys: run.results_keys,
            })
        }
    }

    struct RunVisitor<'r, 'a> {
        reading: &'r mut Results<'a>,
        context: super::RunContext<'a>,
        index: usize,
        results_keys: usize,
    }

    impl<'de> Visitor<'de> for RunVisitor<'_, '_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a run")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let RunVisitor {
                reading,
                context,
                index,
                results_keys,
            } = self;
            let mut seen = 0;
            while let Some(key) = map.next_key::<String>()? {
                if key == "results" {
                    seen += 1;
                    if seen == results_keys {
                        map.next_value_seed(ResultList {
                            reading: &mut *reading,
                            context: &context,
                            run_index: index,
                        })?;
                        continue;
                    }
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    struct ResultList<'r, 'c, 'a> {
        reading: &'r mut Results<'a>,
        context: &'c super::RunContext<'a>,
        run_index: usize,
    }

    impl<'de> DeserializeSeed<'de> for ResultList<'_, '_, '_> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            // A null list was checked in the first pass: it is no results.
            deserializer.deserialize_option(self)
        }
    }

    impl<'de> Visitor<'de> for ResultList<'_, '_, '_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("results")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_seq(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut result_index = 0;
            while let Some(result) = seq.next_element::<Value>()? {
                let Some(result) = result.as_object() else {
                    let why = (self.reading.fail)(format!(
                        "result {result_index} of run {} is not an object",
                        self.run_index
                    ));
                    return Err(self.reading.stop(Err(why)));
                };
                if let Some(finding) = self.context.finding(result) {
                    self.reading.findings.push(finding);
                }
                // One more than a run may report, so the caller sees that some were dropped.
                if self.reading.findings.len() > MAX_FINDINGS {
                    return Err(self.reading.stop(Ok(())));
                }
                result_index += 1;
            }
            Ok(())
        }
    }
}

/// What the results of one run are read against.
struct RunContext<'a> {
    tool: &'a str,
    rules: &'a [Value],
    /// Rule index by id (the first rule of an id), so a lookup costs the same however many
    /// rules a run declares.
    rule_ids: std::collections::HashMap<&'a str, usize>,
    artifacts: &'a [Value],
    bases: Option<&'a Map<String, Value>>,
    root: &'a Path,
}

impl RunContext<'_> {
    fn finding(&self, result: &Map<String, Value>) -> Option<Finding> {
        let kind = result.get("kind").and_then(Value::as_str).unwrap_or("fail");
        if kind == "pass" || kind == "notApplicable" {
            return None;
        }
        let reference = result.get("rule");
        let rule_index = result
            .get("ruleIndex")
            .or_else(|| reference.and_then(|rule| rule.get("index")))
            .and_then(Value::as_u64);
        let rule_id = result
            .get("ruleId")
            .or_else(|| reference.and_then(|rule| rule.get("id")))
            .and_then(Value::as_str);
        let rule = rule_index
            .and_then(|index| usize::try_from(index).ok())
            .and_then(|index| self.rules.get(index))
            .or_else(|| self.rules.get(*self.rule_ids.get(rule_id?)?));
        let rule_id = rule_id
            .or_else(|| rule.and_then(|rule| rule.get("id")).and_then(Value::as_str))
            .unwrap_or("unknown")
            .to_string();
        let level = result
            .get("level")
            .and_then(Value::as_str)
            .or_else(|| {
                rule.and_then(|rule| rule.get("defaultConfiguration"))
                    .and_then(|configuration| configuration.get("level"))
                    .and_then(Value::as_str)
            })
            .unwrap_or(if kind == "fail" { "warning" } else { "none" });
        let severity = match level {
            "error" => Severity::Error,
            "note" | "none" => Severity::Info,
            _ => Severity::Warning,
        };
        let (path, line, column) = self.location(result);
        Some(Finding {
            tool: self.tool.to_string(),
            message: message(result, rule, &rule_id),
            category: category(result, rule, severity),
            rule: rule_id,
            path,
            line,
            column,
            severity,
        })
    }

    fn location(&self, result: &Map<String, Value>) -> (String, u32, u32) {
        let Some(physical) = result
            .get("locations")
            .and_then(Value::as_array)
            .and_then(|locations| locations.first())
            .and_then(|location| location.get("physicalLocation"))
        else {
            return (String::new(), 0, 0);
        };
        let region = physical.get("region");
        let number = |key: &str| {
            region
                .and_then(|region| region.get(key))
                .and_then(Value::as_u64)
                .and_then(|value| u32::try_from(value).ok())
                .unwrap_or(0)
        };
        let path = physical
            .get("artifactLocation")
            .map(|location| self.artifact_path(location))
            .unwrap_or_default();
        (path, number("startLine"), number("startColumn"))
    }

    /// An artifactLocation may point into `run.artifacts` by index instead of (or as well as)
    /// giving its URI.
    fn artifact_path(&self, location: &Value) -> String {
        let listed = location
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|index| usize::try_from(index).ok())
            .and_then(|index| self.artifacts.get(index))
            .and_then(|artifact| artifact.get("location"));
        let field = |key: &str| {
            location
                .get(key)
                .or_else(|| listed.and_then(|listed| listed.get(key)))
                .and_then(Value::as_str)
        };
        match field("uri") {
            Some(uri) => self.resolve(uri, field("uriBaseId"), 0),
            None => String::new(),
        }
    }

    /// Resolves a URI reference against its base id, recursively (a base may have a base of its
    /// own), and names the file relative to `root` when it lies below it.
    fn resolve(&self, uri: &str, base_id: Option<&str>, depth: usize) -> String {
        if let Some(path) = file_uri_path(uri) {
            return self.relative(&path);
        }
        if has_scheme(uri) {
            // Not a file (https://, ...): nothing to make relative.
            return uri.to_string();
        }
        let path = percent_decode(uri);
        if path.starts_with('/') {
            return self.relative(&path);
        }
        let base = base_id
            .filter(|_| depth < 8)
            .and_then(|id| self.bases?.get(id))
            .and_then(|base| {
                let base_uri = base.get("uri")?.as_str()?;
                let base_of_base = base.get("uriBaseId").and_then(Value::as_str);
                Some(self.resolve(base_uri, base_of_base, depth + 1))
            });
        match base {
            Some(base) if base.starts_with('/') => {
                self.relative(&format!("{}/{path}", base.trim_end_matches('/')))
            }
            Some(base) if !base.is_empty() && !has_scheme(&base) => {
                normalise(&format!("{}/{path}", base.trim_end_matches('/')))
            }
            // A base id the log does not define (GitHub's %SRCROOT% usually is not) means the
            // directory the tool ran in.
            _ => normalise(&path),
        }
    }

    fn relative(&self, absolute: &str) -> String {
        let absolute = normalise(absolute);
        match Path::new(&absolute).strip_prefix(self.root) {
            Ok(relative) => normalise(&relative.to_string_lossy()),
            Err(_) => absolute,
        }
    }
}

/// The path of a `file:` URI (`file:///a/b`, `file://localhost/a/b`, `file:/a/b`), decoded.
fn file_uri_path(uri: &str) -> Option<String> {
    let rest = uri
        .get(..5)
        .filter(|scheme| scheme.eq_ignore_ascii_case("file:"))
        .map(|_| &uri[5..])?;
    let path = match rest.strip_prefix("//") {
        // The authority (a host name, usually empty or `localhost`) ends at the next slash.
        Some(authority_and_path) => authority_and_path
            .find('/')
            .map_or("", |slash| &authority_and_path[slash..]),
        None => rest,
    };
    Some(percent_decode(path))
}

/// Whether a URI reference starts with a scheme (`https:`). One letter before the colon is a
/// Windows drive, not a scheme.
fn has_scheme(uri: &str) -> bool {
    let Some(colon) = uri.find(':') else {
        return false;
    };
    let scheme = &uri[..colon];
    scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Drops `.` segments and folds `..` into the segment before it, without reading the disk, and
/// uses `/` throughout. A `..` that would climb above the start stays.
fn normalise(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut normal = PathBuf::new();
    for component in Path::new(&path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !matches!(normal.components().next_back(), Some(Component::Normal(_)))
                    || !normal.pop()
                {
                    normal.push("..");
                }
            }
            other => normal.push(other.as_os_str()),
        }
    }
    normal.to_string_lossy().into_owned()
}

/// `message.text`, with `{0}`-style placeholders filled from `message.arguments`; else the
/// rule's message string named by `message.id`; else the markdown; else the rule's short
/// description; else the rule id.
fn message(result: &Map<String, Value>, rule: Option<&Value>, rule_id: &str) -> String {
    let message = result.get("message");
    let text_of = |value: Option<&Value>| {
        value
            .and_then(|value| value.get("text"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let arguments: Vec<&str> = message
        .and_then(|message| message.get("arguments"))
        .and_then(Value::as_array)
        .map(|arguments| arguments.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let by_id = || {
        let id = message?.get("id")?.as_str()?;
        text_of(rule?.get("messageStrings")?.get(id))
    };
    let text = text_of(message)
        .or_else(by_id)
        .or_else(|| {
            message
                .and_then(|message| message.get("markdown"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .or_else(|| text_of(rule.and_then(|rule| rule.get("shortDescription"))))
        .unwrap_or_else(|| rule_id.to_string());
    fill_placeholders(&text, &arguments)
}

/// The longest message a finding keeps; a longer one is cut with `…`.
const MAX_MESSAGE_BYTES: usize = 4096;

/// `text` with each `{n}` replaced by `arguments[n]`, in one pass over `text` (an argument that
/// holds `{m}` stays as it is, so the text cannot grow with each argument), cut at
/// `MAX_MESSAGE_BYTES`.
fn fill_placeholders(text: &str, arguments: &[&str]) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE_BYTES));
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if out.len() > MAX_MESSAGE_BYTES {
            break;
        }
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        let argument = rest
            .find('}')
            .and_then(|close| Some((rest[1..close].parse::<usize>().ok()?, close)))
            .and_then(|(index, close)| Some((arguments.get(index)?, close)));
        match argument {
            Some((argument, close)) => {
                out.push_str(argument);
                rest = &rest[close + 1..];
            }
            None => {
                out.push('{');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    if out.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

const CATEGORIES: &[&str] = &[
    "security",
    "correctness",
    "performance",
    "maintainability",
    "style",
];

fn category(result: &Map<String, Value>, rule: Option<&Value>, severity: Severity) -> String {
    if let Some(category) = result
        .get("properties")
        .and_then(|properties| properties.get("category"))
        .and_then(Value::as_str)
        .filter(|category| !category.is_empty())
    {
        return category.to_string();
    }
    let tags: Vec<String> = [
        result.get("properties"),
        rule.and_then(|rule| rule.get("properties")),
    ]
    .into_iter()
    .flatten()
    .filter_map(|properties| properties.get("tags")?.as_array())
    .flatten()
    .filter_map(Value::as_str)
    .map(str::to_ascii_lowercase)
    .collect();
    if let Some(category) = CATEGORIES
        .iter()
        .find(|category| tags.iter().any(|tag| tag == *category))
    {
        return category.to_string();
    }
    match severity {
        Severity::Fatal | Severity::Error | Severity::Warning => "correctness",
        Severity::Info => "style",
    }
    .to_string()
}

/// What an export says about where the findings come from. All optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions<'a> {
    /// The repository's URL. Only an absolute URL (`https://...`, `ssh://...`) is used, since
    /// SARIF requires one: with it, each run gets `versionControlProvenance` saying that
    /// `%SRCROOT%` is that repository at `revision` on `branch`.
    pub repository_uri: Option<&'a str>,
    /// The commit the findings are about (a full hash).
    pub revision: Option<&'a str>,
    /// The branch the scan was for.
    pub branch: Option<&'a str>,
}

/// Writes a SARIF 2.1.0 log with one run per tool, in the order given, each finding paired with
/// its fingerprint (the store's, stable when lines move).
///
/// Rules are the distinct rule ids of the run's findings, in first-seen order. The tools' lint
/// output carries no rule catalogue, so a rule's short description is its first finding's message
/// and its default level that finding's level; each result carries its own level anyway. A
/// finding with line 0 gets no region (SARIF lines start at 1) and one with an empty path no
/// location. A tool with no findings still gets a run with no results: code scanning reads that
/// as "everything this tool reported before is fixed". [`LogWriter`] writes the same log as a
/// stream.
pub fn export(tool_runs: &[(String, Vec<(Finding, String)>)], options: &ExportOptions) -> Value {
    let runs: Vec<Value> = tool_runs
        .iter()
        .map(|(tool, findings)| export_run(tool, findings, options))
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": runs,
    })
}

fn export_run(tool: &str, findings: &[(Finding, String)], options: &ExportOptions) -> Value {
    let mut rule_indices: HashMap<&str, usize> = HashMap::new();
    let mut rules: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    for (finding, fingerprint) in findings {
        let rule_index = *rule_indices
            .entry(finding.rule.as_str())
            .or_insert_with(|| {
                rules.push(export_rule(tool, finding));
                rules.len() - 1
            });
        results.push(export_result(finding, fingerprint, rule_index));
    }
    let mut run = json!({"tool": export_tool(tool, rules)});
    if let Some(provenance) = export_provenance(options) {
        run["versionControlProvenance"] = provenance;
    }
    run["results"] = Value::Array(results);
    run
}

/// A run's `tool`: its driver with its rules.
fn export_tool(tool: &str, rules: Vec<Value>) -> Value {
    let mut driver = json!({"name": tool});
    if let Some(uri) = information_uri(tool) {
        driver["informationUri"] = json!(uri);
    }
    driver["rules"] = Value::Array(rules);
    json!({"driver": driver})
}

/// A run's `versionControlProvenance`, for a repository with an absolute URL.
fn export_provenance(options: &ExportOptions) -> Option<Value> {
    let repository_uri = options.repository_uri.filter(|uri| has_scheme(uri))?;
    let mut provenance = json!({"repositoryUri": repository_uri});
    if let Some(revision) = options.revision {
        provenance["revisionId"] = json!(revision);
    }
    if let Some(branch) = options.branch {
        provenance["branch"] = json!(branch);
    }
    provenance["mappedTo"] = json!({"uriBaseId": SOURCE_ROOT});
    Some(json!([provenance]))
}

fn export_result(finding: &Finding, fingerprint: &str, rule_index: usize) -> Value {
    let mut result = json!({
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": {"text": finding.message},
    });
    if !finding.path.is_empty() {
        let mut physical = json!({
            "artifactLocation": {
                "uri": percent_encode(&finding.path),
                "uriBaseId": SOURCE_ROOT,
            },
        });
        if finding.line >= 1 {
            let mut region = json!({"startLine": finding.line});
            if finding.column >= 1 {
                region["startColumn"] = json!(finding.column);
            }
            physical["region"] = region;
        }
        result["locations"] = json!([{"physicalLocation": physical}]);
    }
    result["partialFingerprints"] = json!({FINGERPRINT_KEY: fingerprint});
    result["properties"] = json!({"category": finding.category});
    result
}

/// A rule described by its first finding.
fn export_rule(tool: &str, finding: &Finding) -> Value {
    let mut rule = json!({
        "id": finding.rule,
        "shortDescription": {"text": finding.message},
        "defaultConfiguration": {"level": level(finding.severity)},
    });
    if tool == "shellcheck" && finding.rule.starts_with("SC") {
        rule["helpUri"] = json!(format!("https://www.shellcheck.net/wiki/{}", finding.rule));
    }
    rule["properties"] = json!({"tags": [finding.category]});
    rule
}

/// The log [`export`] builds, written a piece at a time so that an export never holds more than
/// one result: [`LogWriter::start`], then for each tool [`LogWriter::run`] (with its rules, which
/// come first in a run, so the caller must know them before the results) and one
/// [`LogWriter::result`] per finding, then [`LogWriter::finish`]. The bytes are exactly
/// `serde_json::to_vec(&export(..))` for the same runs. The writer keeps only where it is, so
/// its pieces may go to different buffers.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter {
    runs: usize,
    results: usize,
    in_run: bool,
}

impl LogWriter {
    /// Writes the log's head.
    pub fn start(out: &mut impl std::io::Write) -> std::io::Result<LogWriter> {
        out.write_all(b"{\"$schema\":")?;
        serde_json::to_writer(&mut *out, SCHEMA_URI)?;
        out.write_all(b",\"version\":\"2.1.0\",\"runs\":[")?;
        Ok(LogWriter::default())
    }

    /// Starts the run of `tool`, ending the one before; `rules` holds the first finding of each
    /// rule, in the order results refer to them by index.
    pub fn run<'f>(
        &mut self,
        out: &mut impl std::io::Write,
        tool: &str,
        rules: impl IntoIterator<Item = &'f Finding>,
        options: &ExportOptions,
    ) -> std::io::Result<()> {
        self.end_run(out)?;
        if self.runs > 0 {
            out.write_all(b",")?;
        }
        let rules = rules
            .into_iter()
            .map(|finding| export_rule(tool, finding))
            .collect();
        out.write_all(b"{\"tool\":")?;
        serde_json::to_writer(&mut *out, &export_tool(tool, rules))?;
        if let Some(provenance) = export_provenance(options) {
            out.write_all(b",\"versionControlProvenance\":")?;
            serde_json::to_writer(&mut *out, &provenance)?;
        }
        out.write_all(b",\"results\":[")?;
        self.runs += 1;
        self.results = 0;
        self.in_run = true;
        Ok(())
    }

    /// One result of the current run; `rule_index` is its rule's place in the run's rules.
    pub fn result(
        &mut self,
        out: &mut impl std::io::Write,
        finding: &Finding,
        fingerprint: &str,
        rule_index: usize,
    ) -> std::io::Result<()> {
        if self.results > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &export_result(finding, fingerprint, rule_index))?;
        self.results += 1;
        Ok(())
    }

    /// Ends the last run and the log.
    pub fn finish(mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        self.end_run(out)?;
        out.write_all(b"]}")
    }

    fn end_run(&mut self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        if self.in_run {
            out.write_all(b"]}")?;
            self.in_run = false;
        }
        Ok(())
    }
}

/// SARIF has no fatal level: a fatal finding is an error.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Fatal | Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn information_uri(tool: &str) -> Option<&'static str> {
    Some(match tool {
        "pylint" => "https://pylint.readthedocs.io/",
        "ruff" => "https://docs.astral.sh/ruff/",
        "shellcheck" => "https://www.shellcheck.net/",
        _ => return None,
    })
}

/// A path as a relative URI reference: every byte but unreserved characters, `/` and a few safe
/// delimiters is escaped. `:` is escaped too, so `a:b.py` cannot read as a scheme.
fn percent_encode(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from ruff 0.17.6 run in `/tmp/lintfx` as `ruff check --output-format=sarif
    /// --no-cache --exit-zero --select F821,S602 bad.py sec.py syntax.py`: absolute `file://`
    /// URIs, and results without a rule for syntax errors.
    const RUFF_SARIF: &str = r###"{
  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
  "runs": [
    {
      "results": [
        {
          "level": "error",
          "locations": [
            {
              "physicalLocation": {
                "artifactLocation": {
                  "uri": "file:///tmp/lintfx/bad.py"
                },
                "region": {
                  "endColumn": 30,
                  "endLine": 7,
                  "startColumn": 16,
                  "startLine": 7
                }
              }
            }
          ],
          "message": {
            "text": "Undefined name `undefined_name`"
          },
          "ruleId": "F821"
        },
        {
          "level": "error",
          "locations": [
            {
              "physicalLocation": {
                "artifactLocation": {
                  "uri": "file:///tmp/lintfx/sec.py"
                },
                "region": {
                  "endColumn": 27,
                  "endLine": 6,
                  "startColumn": 12,
                  "startLine": 6
                }
              }
            }
          ],
          "message": {
            "text": "`subprocess` call with `shell=True` identified, security issue"
          },
          "ruleId": "S602"
        },
        {
          "level": "error",
          "locations": [
            {
              "physicalLocation": {
                "artifactLocation": {
                  "uri": "file:///tmp/lintfx/syntax.py"
                },
                "region": {
                  "endColumn": 13,
                  "endLine": 1,
                  "startColumn": 12,
                  "startLine": 1
                }
              }
            }
          ],
          "message": {
            "text": "Expected a parameter or the end of the parameter list"
          },
          "ruleId": "invalid-syntax"
        },
        {
          "level": "error",
          "locations": [
            {
              "physicalLocation": {
                "artifactLocation": {
                  "uri": "file:///tmp/lintfx/syntax.py"
                },
                "region": {
                  "endColumn": 1,
                  "endLine": 2,
                  "startColumn": 13,
                  "startLine": 1
                }
              }
            }
          ],
          "message": {
            "text": "Expected `)`, found newline"
          },
          "ruleId": "invalid-syntax"
        }
      ],
      "tool": {
        "driver": {
          "informationUri": "https://github.com/astral-sh/ruff",
          "name": "ruff",
          "rules": [
            {
              "defaultConfiguration": {
                "enabled": true,
                "level": "error"
              },
              "fullDescription": {
                "text": "## What it does\nChecks for uses of undefined names.\n\n## Why is this bad?\nAn undefined name is likely to raise `NameError` at runtime.\n\n## Example\n```python\ndef double():\n    return n * 2  # raises `NameError` if `n` is undefined when `double` is called\n```\n\nUse instead:\n```python\ndef double(n):\n    return n * 2\n```\n\n## Options\n- [`target-version`]: Can be used to configure which symbols Ruff will understand\n  as being available in the `builtins` namespace.\n\n## References\n- [Python documentation: Naming and binding](https://docs.python.org/3/reference/executionmodel.html#naming-and-binding)\n"
              },
              "help": {
                "text": "Undefined name `{name}`. {tip}"
              },
              "helpUri": "https://docs.astral.sh/ruff/rules/undefined-name",
              "id": "F821",
              "properties": {
                "id": "F821",
                "kind": "Pyflakes",
                "name": "undefined-name",
                "problem.severity": "error"
              },
              "shortDescription": {
                "text": "Undefined name `{name}`. {tip}"
              }
            },
            {
              "defaultConfiguration": {
                "enabled": false,
                "level": "error"
              },
              "fullDescription": {
                "text": "## What it does\nCheck for method calls that initiate a subprocess with a shell.\n\n## Why is this bad?\nStarting a subprocess with a shell can allow attackers to execute arbitrary\nshell commands. Consider starting the process without a shell call and\nsanitize the input to mitigate the risk of shell injection.\n\n## Example\n```python\nimport subprocess\n\nsubprocess.run(\"ls -l\", shell=True)\n```\n\nUse instead:\n```python\nimport subprocess\n\nsubprocess.run([\"ls\", \"-l\"])\n```\n\n## References\n- [Python documentation: `subprocess` — Subprocess management](https://docs.python.org/3/library/subprocess.html)\n- [Common Weakness Enumeration: CWE-78](https://cwe.mitre.org/data/definitions/78.html)\n"
              },
              "help": {
                "text": "`subprocess` call with `shell=True` seems safe, but may be changed in the future; consider rewriting without `shell`"
              },
              "helpUri": "https://docs.astral.sh/ruff/rules/subprocess-popen-with-shell-equals-true",
              "id": "S602",
              "properties": {
                "id": "S602",
                "kind": "flake8-bandit",
                "name": "subprocess-popen-with-shell-equals-true",
                "problem.severity": "error"
              },
              "shortDescription": {
                "text": "`subprocess` call with `shell=True` seems safe, but may be changed in the future; consider rewriting without `shell`"
              }
            }
          ],
          "version": "0.17.6"
        }
      }
    }
  ],
  "version": "2.1.0"
}"###;

    /// Captured from bandit 1.9.4 (`bandit[sarif]`) run in `/tmp/lintfx` as
    /// `bandit -q -f sarif sec.py`: relative URIs, rule indices and security tags.
    const BANDIT_SARIF: &str = r#"{
  "runs": [
    {
      "tool": {
        "driver": {
          "name": "Bandit",
          "organization": "PyCQA",
          "rules": [
            {
              "id": "B404",
              "name": "blacklist",
              "properties": {
                "tags": [
                  "security",
                  "external/cwe/cwe-78"
                ],
                "precision": "high"
              },
              "helpUri": "https://bandit.readthedocs.io/en/1.9.4/blacklists/blacklist_imports.html#b404-import-subprocess"
            },
            {
              "id": "B602",
              "name": "subprocess_popen_with_shell_equals_true",
              "properties": {
                "tags": [
                  "security",
                  "external/cwe/cwe-78"
                ],
                "precision": "high"
              },
              "helpUri": "https://bandit.readthedocs.io/en/1.9.4/plugins/b602_subprocess_popen_with_shell_equals_true.html"
            }
          ],
          "version": "1.9.4",
          "semanticVersion": "1.9.4"
        }
      },
      "invocations": [
        {
          "executionSuccessful": true,
          "endTimeUtc": "2026-11-29T10:23:03Z"
        }
      ],
      "properties": {
        "metrics": {
          "_totals": {
            "loc": 4,
            "nosec": 0,
            "skipped_tests": 0,
            "SEVERITY.UNDEFINED": 0,
            "CONFIDENCE.UNDEFINED": 0,
            "SEVERITY.LOW": 1,
            "CONFIDENCE.LOW": 0,
            "SEVERITY.MEDIUM": 0,
            "CONFIDENCE.MEDIUM": 0,
            "SEVERITY.HIGH": 1,
            "CONFIDENCE.HIGH": 2
          },
          "./sec.py": {
            "loc": 4,
            "nosec": 0,
            "skipped_tests": 0,
            "SEVERITY.UNDEFINED": 0,
            "SEVERITY.LOW": 1,
            "SEVERITY.MEDIUM": 0,
            "SEVERITY.HIGH": 1,
            "CONFIDENCE.UNDEFINED": 0,
            "CONFIDENCE.LOW": 0,
            "CONFIDENCE.MEDIUM": 0,
            "CONFIDENCE.HIGH": 2
          }
        }
      },
      "results": [
        {
          "message": {
            "text": "Consider possible security implications associated with the subprocess module."
          },
          "level": "note",
          "locations": [
            {
              "physicalLocation": {
                "region": {
                  "snippet": {
                    "text": "import subprocess\n"
                  },
                  "endColumn": 18,
                  "endLine": 1,
                  "startColumn": 1,
                  "startLine": 1
                },
                "artifactLocation": {
                  "uri": "sec.py"
                },
                "contextRegion": {
                  "snippet": {
                    "text": "import subprocess\n\n\n"
                  },
                  "endLine": 3,
                  "startLine": 1
                }
              }
            }
          ],
          "properties": {
            "issue_confidence": "HIGH",
            "issue_severity": "LOW"
          },
          "ruleId": "B404",
          "ruleIndex": 0
        },
        {
          "message": {
            "text": "subprocess call with shell=True identified, security issue."
          },
          "level": "error",
          "locations": [
            {
              "physicalLocation": {
                "region": {
                  "snippet": {
                    "text": "    return subprocess.call(cmd, shell=True)\n"
                  },
                  "endColumn": 44,
                  "endLine": 6,
                  "startColumn": 12,
                  "startLine": 6
                },
                "artifactLocation": {
                  "uri": "sec.py"
                },
                "contextRegion": {
                  "snippet": {
                    "text": "    seen.append(cmd)\n    return subprocess.call(cmd, shell=True)\n"
                  },
                  "endLine": 6,
                  "startLine": 5
                }
              }
            }
          ],
          "properties": {
            "issue_confidence": "HIGH",
            "issue_severity": "HIGH"
          },
          "ruleId": "B602",
          "ruleIndex": 1
        }
      ]
    }
  ],
  "version": "2.1.0",
  "$schema": "https://json.schemastore.org/sarif-2.1.0.json"
}"#;

    fn summary(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| {
                format!(
                    "{} {}:{}:{} {} {:?} {} | {}",
                    f.tool, f.path, f.line, f.column, f.rule, f.severity, f.category, f.message
                )
            })
            .collect()
    }

    fn finding(rule: &str, path: &str, line: u32, column: u32, severity: Severity) -> Finding {
        Finding {
            tool: "pylint".to_string(),
            rule: rule.to_string(),
            path: path.to_string(),
            line,
            column,
            severity,
            category: "convention".to_string(),
            message: format!("message of {rule}"),
        }
    }

    #[test]
    fn ruffs_sarif_names_files_relative_to_the_root() {
        let findings = parse(RUFF_SARIF, Path::new("/tmp/lintfx")).unwrap();
        assert_eq!(
            summary(&findings),
            [
                "ruff bad.py:7:16 F821 Error correctness | Undefined name `undefined_name`",
                "ruff sec.py:6:12 S602 Error correctness | `subprocess` call with `shell=True` identified, security issue",
                "ruff syntax.py:1:12 invalid-syntax Error correctness | Expected a parameter or the end of the parameter list",
                "ruff syntax.py:1:13 invalid-syntax Error correctness | Expected `)`, found newline",
            ]
        );
    }

    #[test]
    fn bandits_sarif_keeps_relative_paths_and_security_tags_under_the_name_it_is_given() {
        let findings = parse_as(Some("bandit"), BANDIT_SARIF, Path::new("/tmp/lintfx")).unwrap();
        assert_eq!(
            summary(&findings),
            [
                "bandit sec.py:1:1 B404 Info security | Consider possible security implications associated with the subprocess module.",
                "bandit sec.py:6:12 B602 Error security | subprocess call with shell=True identified, security issue.",
            ]
        );
        let findings = parse(BANDIT_SARIF, Path::new("/tmp/lintfx")).unwrap();
        assert_eq!(findings[0].tool, "Bandit");
    }

    #[test]
    fn bases_artifacts_default_levels_and_message_strings_are_followed() {
        let log = r#"{
          "version": "2.1.0",
          "runs": [{
            "tool": {"driver": {"name": "semgrep", "rules": [
              {"id": "r0", "defaultConfiguration": {"level": "note"},
               "messageStrings": {"default": {"text": "avoid {0} here"}}},
              {"id": "r1", "shortDescription": {"text": "rule one"}}
            ]}},
            "originalUriBaseIds": {
              "ROOT": {"uri": "file:///work/repo/"},
              "SRC": {"uri": "src/", "uriBaseId": "ROOT"},
              "OTHER": {"uri": "file:///elsewhere/"}
            },
            "artifacts": [{"location": {"uri": "lib/a%20b.js", "uriBaseId": "SRC"}}],
            "results": [
              {"ruleIndex": 0, "message": {"id": "default", "arguments": ["eval"]},
               "locations": [{"physicalLocation": {"artifactLocation": {"index": 0},
                 "region": {"startLine": 3, "startColumn": 5}}}]},
              {"ruleId": "r1", "message": {},
               "locations": [{"physicalLocation": {"artifactLocation":
                 {"uri": "./x/../y.js", "uriBaseId": "%SRCROOT%"}}}]},
              {"ruleId": "r1", "kind": "pass", "message": {"text": "fine"}},
              {"ruleId": "r2", "level": "none", "message": {"text": "t"},
               "locations": [{"physicalLocation": {"artifactLocation":
                 {"uri": "z.js", "uriBaseId": "OTHER"}, "region": {"startLine": -1}}}]},
              {"ruleId": "r3", "level": "error", "message": {"text": "no location"},
               "properties": {"tags": ["Security"]}}
            ]
          }]
        }"#;
        assert_eq!(
            summary(&parse(log, Path::new("/work/repo")).unwrap()),
            [
                "semgrep src/lib/a b.js:3:5 r0 Info style | avoid eval here",
                "semgrep y.js:0:0 r1 Warning correctness | rule one",
                "semgrep /elsewhere/z.js:0:0 r2 Info style | t",
                "semgrep :0:0 r3 Error security | no location",
            ]
        );
    }

    /// The parser as it was before it streamed, on the whole text: the streamed one must agree.
    fn reference(tool: Option<&str>, output: &str, root: &Path) -> Result<Vec<Finding>, String> {
        let label = tool.unwrap_or("SARIF");
        let fail = |why: String| format!("{label} output is not a SARIF 2.1.0 log: {why}");
        if output.trim().is_empty() {
            return Err(fail("it is empty".to_string()));
        }
        let log: Value = serde_json::from_str(output).map_err(|error| fail(error.to_string()))?;
        let log = log
            .as_object()
            .ok_or_else(|| fail("it is not a JSON object".to_string()))?;
        match log.get("version") {
            None => {}
            Some(Value::String(version)) if version == "2.1.0" => {}
            Some(version) => return Err(fail(format!("its version is {version}, not \"2.1.0\""))),
        }
        let runs = log
            .get("runs")
            .and_then(Value::as_array)
            .ok_or_else(|| fail("it has no runs array".to_string()))?;
        let mut findings = Vec::new();
        for (run_index, run) in runs.iter().enumerate() {
            let run = run
                .as_object()
                .ok_or_else(|| fail(format!("run {run_index} is not an object")))?;
            let driver = run.get("tool").and_then(|tool| tool.get("driver"));
            let tool_name = match tool {
                Some(tool) => tool.to_string(),
                None => driver
                    .and_then(|driver| driver.get("name"))
                    .and_then(Value::as_str)
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| fail(format!("run {run_index} names no tool.driver.name")))?
                    .to_string(),
            };
            let rules: &[Value] = driver
                .and_then(|driver| driver.get("rules"))
                .and_then(Value::as_array)
                .map_or(&[], Vec::as_slice);
            let results: &[Value] = match run.get("results") {
                // A run without results did not analyse anything: no findings, not an error.
                None | Some(Value::Null) => &[],
                Some(Value::Array(results)) => results,
                Some(_) => {
                    return Err(fail(format!(
                        "run {run_index} has results that are not an array"
                    )))
                }
            };
            let mut rule_ids = std::collections::HashMap::new();
            for (index, rule) in rules.iter().enumerate() {
                if let Some(id) = rule.get("id").and_then(Value::as_str) {
                    rule_ids.entry(id).or_insert(index);
                }
            }
            let context = RunContext {
                tool: &tool_name,
                rules,
                rule_ids,
                artifacts: run
                    .get("artifacts")
                    .and_then(Value::as_array)
                    .map_or(&[], Vec::as_slice),
                bases: run.get("originalUriBaseIds").and_then(Value::as_object),
                root,
            };
            for (result_index, result) in results.iter().enumerate() {
                let result = result.as_object().ok_or_else(|| {
                    fail(format!(
                        "result {result_index} of run {run_index} is not an object"
                    ))
                })?;
                if let Some(finding) = context.finding(result) {
                    findings.push(finding);
                }
                // One more than a run may report, so the caller sees that some were dropped.
                if findings.len() > MAX_FINDINGS {
                    return Ok(findings);
                }
            }
        }
        Ok(findings)
    }

    /// Reads one byte at a time, so every character is cut at every place.
    struct Trickle<'a>(&'a [u8]);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&byte, rest)), Some(slot)) => {
                    *slot = byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn streamed(tool: Option<&str>, bytes: &[u8], root: &Path) -> Result<Vec<Finding>, String> {
        let whole = parse_report(tool, || Ok(bytes), root);
        if bytes.len() < 64 * 1024 {
            let trickled = parse_report(tool, || Ok(Trickle(bytes)), root);
            assert_eq!(whole, trickled);
        }
        whole
    }

    #[test]
    fn the_streamed_parser_agrees_with_the_whole_text_one() {
        let mut many =
            String::from(r#"{"runs": [{"tool": {"driver": {"name": "t"}}, "results": ["#);
        for i in 0..MAX_FINDINGS + 3 {
            if i > 0 {
                many.push(',');
            }
            many.push_str(r#"{"ruleId": "r", "message": {"text": "m"}}"#);
        }
        many.push_str(r#"]}, 7]}"#);
        let cases: Vec<Vec<u8>> = [
            RUFF_SARIF,
            BANDIT_SARIF,
            "",
            " \n\u{a0}\u{3000} ",
            "not json",
            "{} x",
            "[]",
            "7",
            "null",
            "{\"version\": \"2.0.0\", \"runs\": []}",
            "{\"runs\": [1, {}], \"version\": 2}",
            "{\"version\": \"2.1.0\"}",
            "{\"runs\": null}",
            "{\"runs\": {}}",
            "{\"runs\": [1]}",
            "{\"runs\": [[1, 2]]}",
            "{\"runs\": [{\"tool\": {\"driver\": {\"name\": \"x\"}}, \"results\": {}}]}",
            "{\"runs\": [{\"tool\": {\"driver\": {\"name\": \"x\"}}, \"results\": null}]}",
            "{\"runs\": [{\"tool\": {\"driver\": {\"name\": \"x\"}}, \"results\": [7]}]}",
            "{\"runs\": [{\"tool\": {\"driver\": {}}, \"results\": []}]}",
            "{\"runs\": [{\"tool\": {\"driver\": {\"name\": \"x\"}}, \"results\": [{\"ruleId\": \"a\"}, 7]}, 5]}",
            // Results before the rules and artifacts they point into; repeated keys.
            r#"{"runs": [{"results": [{"ruleIndex": 1, "message": {"id": "d", "arguments": ["x"]},
                "locations": [{"physicalLocation": {"artifactLocation": {"index": 0},
                "region": {"startLine": 4}}}]}],
              "artifacts": [{"location": {"uri": "src/%61.c", "uriBaseId": "B"}}],
              "originalUriBaseIds": {"B": {"uri": "file:///r/"}},
              "tool": {"driver": {"name": "late", "rules": [{"id": "r0"},
                {"id": "r1", "messageStrings": {"d": {"text": "no {0}"}},
                 "defaultConfiguration": {"level": "error"}}]}}}],
              "version": "2.1.0"}"#,
            r#"{"runs": [{"tool": {"driver": {"name": "first"}}, "results": [{"ruleId": "a"}]}],
              "runs": [{"results": [{"ruleId": "b"}], "tool": {"driver": {"name": "second"}},
                        "results": [{"ruleId": "c"}, {"ruleId": "d", "kind": "pass"}]}]}"#,
            many.as_str(),
        ]
        .iter()
        .map(|text| text.as_bytes().to_vec())
        .chain([
            b"{\"runs\": [{\"tool\": {\"driver\": {\"name\": \"x\xff\xe2\x82\"}}, \"results\": [{\"message\": {\"text\": \"caf\xc3\"}}]}]}".to_vec(),
            b"{\"runs\": []}\n\xe2\x82".to_vec(),
            b"  \xe2".to_vec(),
        ])
        .collect();
        for bytes in cases {
            let text = String::from_utf8_lossy(&bytes);
            for tool in [None, Some("named")] {
                assert_eq!(
                    streamed(tool, &bytes, Path::new("/r")),
                    reference(tool, &text, Path::new("/r")),
                    "{}",
                    text.chars().take(200).collect::<String>()
                );
            }
        }
    }

    #[test]
    fn malformed_logs_are_errors_naming_the_tool() {
        for (output, reason) in [
            ("", "empty"),
            ("not json", "expected"),
            ("[]", "not a JSON object"),
            ("{\"version\": \"2.0.0\", \"runs\": []}", "version"),
            ("{\"version\": \"2.1.0\"}", "no runs"),
            ("{\"runs\": [1]}", "run 0 is not an object"),
            (
                "{\"runs\": [{\"tool\": {\"driver\": {\"name\": \"x\"}}, \"results\": {}}]}",
                "not an array",
            ),
            (
                "{\"runs\": [{\"tool\": {\"driver\": {\"name\": \"x\"}}, \"results\": [7]}]}",
                "result 0 of run 0",
            ),
        ] {
            let error = parse_as(Some("eslint"), output, Path::new("/")).unwrap_err();
            assert!(
                error.starts_with("eslint output is not a SARIF 2.1.0 log"),
                "{error}"
            );
            assert!(error.contains(reason), "{error}");
        }
        let error = parse("{}", Path::new("/")).unwrap_err();
        assert!(error.starts_with("SARIF output"), "{error}");
        // Only a log read without a name for its tool needs the driver's name.
        let nameless = "{\"runs\": [{\"tool\": {\"driver\": {}}, \"results\": []}]}";
        let error = parse(nameless, Path::new("/")).unwrap_err();
        assert!(error.contains("tool.driver.name"), "{error}");
        assert_eq!(
            parse_as(Some("eslint"), nameless, Path::new("/")),
            Ok(vec![])
        );
    }

    #[test]
    fn an_export_is_one_run_per_tool_with_rules_fingerprints_and_provenance() {
        let findings = vec![
            (
                finding("W0611", "src/a b.py", 3, 1, Severity::Warning),
                "fp1".to_string(),
            ),
            (
                finding("C0114", "src/a b.py", 0, 0, Severity::Info),
                "fp2".to_string(),
            ),
            (
                finding("W0611", "b.py", 9, 0, Severity::Fatal),
                "fp3".to_string(),
            ),
        ];
        let log = export(
            &[
                ("pylint".to_string(), findings),
                ("shellcheck".to_string(), Vec::new()),
            ],
            &ExportOptions {
                repository_uri: Some("https://example.com/org/repo.git"),
                revision: Some("0123456789abcdef0123456789abcdef01234567"),
                branch: Some("main"),
            },
        );
        let expected = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {"driver": {
                        "name": "pylint",
                        "informationUri": "https://pylint.readthedocs.io/",
                        "rules": [
                            {"id": "W0611", "shortDescription": {"text": "message of W0611"},
                             "defaultConfiguration": {"level": "warning"},
                             "properties": {"tags": ["convention"]}},
                            {"id": "C0114", "shortDescription": {"text": "message of C0114"},
                             "defaultConfiguration": {"level": "note"},
                             "properties": {"tags": ["convention"]}}
                        ]
                    }},
                    "versionControlProvenance": [{
                        "repositoryUri": "https://example.com/org/repo.git",
                        "revisionId": "0123456789abcdef0123456789abcdef01234567",
                        "branch": "main",
                        "mappedTo": {"uriBaseId": "%SRCROOT%"}
                    }],
                    "results": [
                        {"ruleId": "W0611", "ruleIndex": 0, "level": "warning",
                         "message": {"text": "message of W0611"},
                         "locations": [{"physicalLocation": {
                             "artifactLocation": {"uri": "src/a%20b.py", "uriBaseId": "%SRCROOT%"},
                             "region": {"startLine": 3, "startColumn": 1}}}],
                         "partialFingerprints": {"codepupFingerprint/v1": "fp1"},
                         "properties": {"category": "convention"}},
                        {"ruleId": "C0114", "ruleIndex": 1, "level": "note",
                         "message": {"text": "message of C0114"},
                         "locations": [{"physicalLocation": {
                             "artifactLocation": {"uri": "src/a%20b.py", "uriBaseId": "%SRCROOT%"}}}],
                         "partialFingerprints": {"codepupFingerprint/v1": "fp2"},
                         "properties": {"category": "convention"}},
                        {"ruleId": "W0611", "ruleIndex": 0, "level": "error",
                         "message": {"text": "message of W0611"},
                         "locations": [{"physicalLocation": {
                             "artifactLocation": {"uri": "b.py", "uriBaseId": "%SRCROOT%"},
                             "region": {"startLine": 9}}}],
                         "partialFingerprints": {"codepupFingerprint/v1": "fp3"},
                         "properties": {"category": "convention"}}
                    ]
                },
                {
                    "tool": {"driver": {
                        "name": "shellcheck",
                        "informationUri": "https://www.shellcheck.net/",
                        "rules": []
                    }},
                    "versionControlProvenance": [{
                        "repositoryUri": "https://example.com/org/repo.git",
                        "revisionId": "0123456789abcdef0123456789abcdef01234567",
                        "branch": "main",
                        "mappedTo": {"uriBaseId": "%SRCROOT%"}
                    }],
                    "results": []
                }
            ]
        });
        assert_eq!(log, expected);
    }

    #[test]
    fn an_export_reads_back_as_the_same_findings() {
        let mut ruff = finding("F401", "pkg/a:b.py", 1, 8, Severity::Warning);
        ruff.tool = "ruff".to_string();
        ruff.category = "correctness".to_string();
        let mut unplaced = finding("X1", "", 0, 0, Severity::Error);
        unplaced.tool = "ruff".to_string();
        let local_path_repo = ExportOptions {
            repository_uri: Some("/srv/git/repo"),
            ..ExportOptions::default()
        };
        let log = export(
            &[(
                "ruff".to_string(),
                vec![
                    (ruff.clone(), "a".to_string()),
                    (unplaced.clone(), "b".to_string()),
                ],
            )],
            &local_path_repo,
        );
        assert!(log["runs"][0].get("versionControlProvenance").is_none());
        assert_eq!(
            log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                ["uri"],
            "pkg/a%3Ab.py"
        );
        assert!(log["runs"][0]["results"][1].get("locations").is_none());
        let read_back = parse(&log.to_string(), Path::new("/checkout")).unwrap();
        assert_eq!(read_back, [ruff, unplaced]);
    }

    #[test]
    fn a_streamed_log_is_byte_for_byte_the_built_one() {
        let mut shell = finding("SC2086", "run.sh", 2, 5, Severity::Warning);
        shell.tool = "shellcheck".to_string();
        let findings = vec![
            (
                finding("W0611", "src/a b.py", 3, 1, Severity::Warning),
                "fp1".to_string(),
            ),
            (
                finding("C0114", "", 0, 0, Severity::Info),
                "fp2\"\u{7}".to_string(),
            ),
            (
                finding("W0611", "b.py", 9, 0, Severity::Fatal),
                "fp3".to_string(),
            ),
        ];
        let runs = [
            ("pylint".to_string(), findings),
            ("shellcheck".to_string(), vec![(shell, "fp4".to_string())]),
            ("ruff".to_string(), Vec::new()),
        ];
        for options in [
            ExportOptions::default(),
            ExportOptions {
                repository_uri: Some("https://example.com/org/repo.git"),
                revision: Some("0123456789abcdef0123456789abcdef01234567"),
                branch: Some("ma\"in"),
            },
        ] {
            for count in 0..=runs.len() {
                let built = serde_json::to_vec(&export(&runs[..count], &options)).unwrap();
                let mut streamed = Vec::new();
                let mut writer = LogWriter::start(&mut streamed).unwrap();
                for (tool, findings) in &runs[..count] {
                    let mut rules: Vec<&Finding> = Vec::new();
                    for (finding, _) in findings {
                        if !rules.iter().any(|rule| rule.rule == finding.rule) {
                            rules.push(finding);
                        }
                    }
                    writer
                        .run(&mut streamed, tool, rules.iter().copied(), &options)
                        .unwrap();
                    for (finding, fingerprint) in findings {
                        let index = rules.iter().position(|rule| rule.rule == finding.rule);
                        writer
                            .result(&mut streamed, finding, fingerprint, index.unwrap())
                            .unwrap();
                    }
                }
                writer.finish(&mut streamed).unwrap();
                assert_eq!(
                    String::from_utf8(streamed).unwrap(),
                    String::from_utf8(built).unwrap()
                );
            }
        }
    }
}

#[cfg(test)]
mod placeholder_tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once_and_messages_stay_short() {
        assert_eq!(
            fill_placeholders("use {0} not {1}", &["a", "b"]),
            "use a not b"
        );
        assert_eq!(fill_placeholders("{1}{5}{x}{", &["a", "b"]), "b{5}{x}{");
        // An argument that holds a placeholder is not filled again.
        assert_eq!(fill_placeholders("{0}", &["{1}{1}", "zz"]), "{1}{1}");
        let doubling: Vec<String> = (0..40)
            .map(|i| format!("{{{}}}{{{}}}", i + 1, i + 1))
            .collect();
        let arguments: Vec<&str> = doubling.iter().map(String::as_str).collect();
        assert!(fill_placeholders("{0}", &arguments).len() <= MAX_MESSAGE_BYTES + 3);
        let long = "é".repeat(5000);
        let cut = fill_placeholders(&long, &[]);
        assert!(cut.len() <= MAX_MESSAGE_BYTES + 3 && cut.ends_with('…'));
    }
}
