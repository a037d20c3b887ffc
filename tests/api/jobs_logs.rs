//! Task logs read with an offset, and line counts by language.

use serde_json::json;

use crate::helpers::{git, TestApp, World, ADMIN_TOKEN};
use crate::jobs_api::{detail, id_of, keys, list, scan_sync};

#[test]
fn a_task_log_is_plain_text_and_an_offset_returns_only_the_bytes_after_it() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let task = detail(&app, &path, job)["tasks"][0]["id"].as_i64().unwrap();
    let log = format!("{path}/jobs/{job}/tasks/{task}/log/");

    let whole = app.get(&log, ADMIN_TOKEN).expect(200);
    assert!(
        whole.content_type.starts_with("text/plain"),
        "{}",
        whole.content_type
    );
    let text = whole.body.as_str().unwrap().to_string();
    assert!(text.contains(&format!("job {job}")), "{text}");
    let size = text.len();
    assert_eq!(whole.header("X-Log-Size"), Some(size.to_string().as_str()));

    let mut offsets = vec![0, 1, size / 2, size - 1, size, size + 100];
    offsets.retain(|&n| n >= size || text.is_char_boundary(n));
    for offset in offsets {
        let part = app
            .get(&format!("{log}?offset={offset}"), ADMIN_TOKEN)
            .expect(200);
        assert!(part.content_type.starts_with("text/plain"));
        let expected = if offset >= size { "" } else { &text[offset..] };
        assert_eq!(part.body.as_str().unwrap(), expected, "offset {offset}");
        assert_eq!(
            part.header("X-Log-Size"),
            Some(size.to_string().as_str()),
            "offset {offset}"
        );
    }

    for bad in ["-1", "abc", "1.5"] {
        let reply = app
            .get(&format!("{log}?offset={bad}"), ADMIN_TOKEN)
            .expect(400);
        assert!(
            reply.content_type.starts_with("application/json"),
            "{bad}: {}",
            reply.content_type
        );
        assert_eq!(reply.invalid_fields(), ["offset"], "{bad}: {}", reply.body);
    }
    app.get(&format!("{path}/jobs/{job}/tasks/999999/log/"), ADMIN_TOKEN)
        .expect(404);
}

#[test]
fn codecount_lists_each_language_with_the_lines_of_the_scanned_tree() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    std::fs::create_dir_all(world.repo_dir.join("lib")).unwrap();
    std::fs::write(
        world.repo_dir.join("lib/f.py"),
        "def f():\n    # c\n    return 1\n\n",
    )
    .unwrap();
    std::fs::write(world.repo_dir.join("src/a.rs"), "fn main() {}\n// x\n\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "more"]);

    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let counts = app
        .get(&format!("{path}/jobs/{job}/codecount/"), ADMIN_TOKEN)
        .expect(200);
    // Python: `print('hi')` (1 code) and f.py (2 code, 1 comment, 1 blank); Rust: 1, 1, 1.
    let expected_languages = json!([
        {"name": "Python", "files": 2, "code_line_num": 3, "comment_line_num": 1, "blank_line_num": 1, "total_line_num": 5},
        {"name": "Rust", "files": 1, "code_line_num": 1, "comment_line_num": 1, "blank_line_num": 1, "total_line_num": 3},
    ]);
    assert_eq!(
        counts.data()["languages"],
        expected_languages,
        "{}",
        counts.body
    );
    for language in counts.data()["languages"].as_array().unwrap() {
        assert_eq!(
            keys(language),
            [
                "name",
                "files",
                "code_line_num",
                "comment_line_num",
                "blank_line_num",
                "total_line_num"
            ]
        );
    }
    assert_eq!(counts.data()["job_id"], job);
    let totals = [
        ("code_line_num", 4),
        ("comment_line_num", 2),
        ("blank_line_num", 2),
        ("total_line_num", 8),
    ];
    let job_detail = detail(&app, &path, job);
    let item = list(&app, &path, "")["results"][0].clone();
    for (field, value) in totals {
        assert_eq!(counts.data()[field], value, "codecount {field}");
        assert_eq!(job_detail[field], value, "detail {field}");
        assert_eq!(item[field], value, "list {field}");
    }

    // A no-change scan of the same head describes the same tree.
    let same = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let same_counts = app
        .get(&format!("{path}/jobs/{same}/codecount/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(same_counts.data()["languages"], expected_languages);
    assert_eq!(same_counts.data()["total_line_num"], 8);

    // An incremental scan of a changed head still describes the whole tree at that head.
    std::fs::write(
        world.repo_dir.join("lib/f.py"),
        "def f():\n    # c\n    return 1\n\nx = 2\n",
    )
    .unwrap();
    std::fs::remove_file(world.repo_dir.join("src/a.rs")).unwrap();
    std::fs::write(world.repo_dir.join("lib/g.rs"), "// only a comment\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "change"]);
    let changed = scan_sync(&app, ADMIN_TOKEN, &path, json!({"incr_scan": true}));
    assert_eq!(changed["result_code"], 0, "{changed}");
    let changed_counts = app
        .get(
            &format!("{path}/jobs/{}/codecount/", id_of(&changed)),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(
        changed_counts.data()["languages"],
        json!([
            {"name": "Python", "files": 2, "code_line_num": 4, "comment_line_num": 1, "blank_line_num": 1, "total_line_num": 6},
            {"name": "Rust", "files": 1, "code_line_num": 0, "comment_line_num": 1, "blank_line_num": 0, "total_line_num": 1},
        ]),
        "{}",
        changed_counts.body
    );
    assert_eq!(changed_counts.data()["total_line_num"], 7);
}
