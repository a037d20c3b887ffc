//! lizard, the cyclomatic-complexity counter TCA uses: the argv that makes it print one CSV line
//! per function, and a pure parser from those lines to `CcFunction`s. Nothing here runs a process.

use crate::domain::metrics::CcFunction;

/// The tool's name, as task names and messages carry it.
pub const NAME: &str = "lizard";

/// How to install it where the tool user can run it, for the message of a task that finds no lizard.
pub const INSTALL_HINT: &str = "install it with `pip install lizard==1.24.3` into an environment the tool user can read (codepup's .ci/run uses /opt/codepup-linters) and put it on PATH";

/// The longest name codepup keeps (TCA's column is 1,024 characters).
const MAX_NAME_CHARS: usize = 1024;

/// The argv that measures the files listed one a line in `file_list` (paths relative to the
/// working directory) and prints one CSV line per function. lizard reads no configuration file
/// from the repository.
pub fn command(file_list: &str) -> Vec<String> {
    ["lizard", "--csv", "--input_file", file_list]
        .map(str::to_string)
        .to_vec()
}

/// Whether lizard can be given this path: its CSV quotes names without escaping, so a name with
/// a quote, a newline or a carriage return could not be read back.
pub fn can_name(path: &str) -> bool {
    !path.contains(['"', '\n', '\r'])
}

/// Reads lizard's CSV: `NLOC,CCN,token,PARAM,length,"location","file","function","long_name",start,end`.
/// lizard writes the quoted fields without escaping (it replaces quotes in names by `'`), so a
/// comma inside quotes is text and a quote always opens or closes a field. A line that does not
/// read is an error naming lizard, never a panic.
pub fn parse(output: &str) -> Result<Vec<CcFunction>, String> {
    let mut functions = Vec::new();
    for (index, line) in output.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let function = parse_line(line).ok_or_else(|| {
            format!(
                "lizard printed a line codepup cannot read (line {}): {:.200}",
                index + 1,
                line
            )
        })?;
        functions.push(function);
    }
    Ok(functions)
}

fn parse_line(line: &str) -> Option<CcFunction> {
    let fields = split_fields(line)?;
    if fields.len() < 11 {
        return None;
    }
    let number = |index: usize| fields[index].parse::<i64>().ok();
    let text = |index: usize| {
        fields[index]
            .chars()
            .take(MAX_NAME_CHARS)
            .collect::<String>()
    };
    Some(CcFunction {
        code_line_num: number(0)?,
        ccn: number(1)?,
        token: number(2)?,
        func_param_num: number(3)?,
        line_num: number(4)?,
        file_path: fields[6].trim_start_matches("./").to_string(),
        func_name: text(7),
        long_name: text(8),
        start_line_no: number(9)?,
        end_line_no: number(10)?,
        language: None,
    })
}

/// Splits a line at commas outside quotes, dropping the quotes; `None` for an unclosed quote.
fn split_fields(line: &str) -> Option<Vec<&str>> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"')?;
            fields.push(&quoted[..end]);
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            fields.push(rest[..end].trim());
            rest = &rest[end..];
        }
        match rest.strip_prefix(',') {
            Some(next) => rest = next,
            None if rest.trim().is_empty() => return Some(fields),
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from lizard 1.24.3 (`lizard --csv`).
    const OUTPUT: &str = r#"9,6,30,2,9,"f@1-9@a.py","a.py","f","f( a , b )",1,9
2,1,14,3,2,"m@12-13@a.py","a.py","m","m( self , x = 1 , * args )",12,13
5,3,28,2,5,"g@1-5@./src/b.c","./src/b.c","g","g( int x , char * y)",1,5
"#;

    #[test]
    fn reads_every_function_with_its_numbers_and_names() {
        let functions = parse(OUTPUT).unwrap();
        assert_eq!(functions.len(), 3);
        let f = &functions[0];
        assert_eq!(
            (
                f.ccn,
                f.code_line_num,
                f.token,
                f.func_param_num,
                f.line_num
            ),
            (6, 9, 30, 2, 9)
        );
        assert_eq!((f.start_line_no, f.end_line_no), (1, 9));
        assert_eq!(f.file_path, "a.py");
        assert_eq!(functions[1].long_name, "m( self , x = 1 , * args )");
        assert_eq!(functions[2].file_path, "src/b.c");
    }

    #[test]
    fn output_that_is_not_lizards_csv_is_an_error() {
        for bad in [
            "Traceback (most recent call last):",
            "1,2,3",
            r#"1,2,3,4,5,"x","#,
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains("lizard"), "{error}");
        }
        assert!(parse("\n").unwrap().is_empty());
        assert!(!can_name("a\"b.py") && !can_name("a\nb.py") && can_name("a, b.py"));
    }
}
