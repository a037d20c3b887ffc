//! The job list's pages: default and largest limits, links that keep filters and the API
//! prefix, offsets at the end of i64.

use serde_json::{json, Value};

use codepup::config::IpRange;

use crate::helpers::{TestApp, World, ADMIN_TOKEN};
use crate::jobs_api::{gated, id_of, ids, list, scan_sync, Gated};

/// Queues `count` jobs on the gated project (gate closed: two wait at the gate, the rest stay
/// WAITING); every `other_every`-th has created_from `other`, the rest `pager`. Returns the
/// `pager` jobs newest first.
fn queue_jobs(gated: &Gated, count: usize, other_every: usize) -> Vec<i64> {
    gated.gate.close();
    let mut pager = Vec::new();
    for i in 0..count {
        let from = if other_every > 0 && i % other_every == other_every - 1 {
            "other"
        } else {
            "pager"
        };
        let (job, _) = gated.app.start_scan(
            &gated.path,
            json!({"force_create": true, "created_from": from}),
        );
        if from == "pager" {
            pager.push(job);
        }
    }
    pager.reverse();
    pager
}

/// The path part of an absolute link of this server.
#[track_caller]
fn below_base<'a>(app: &TestApp, link: &'a str, prefix: &str) -> &'a str {
    let path = link
        .strip_prefix(&app.base)
        .unwrap_or_else(|| panic!("{link} is not below {}", app.base));
    assert!(path.starts_with(prefix), "{link} does not keep {prefix}");
    path
}

#[test]
fn the_job_list_pages_with_a_default_limit_of_10_and_links_that_keep_the_filters() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let pager = queue_jobs(&gated, 25, 5);
    assert_eq!(pager.len(), 20);

    let first = list(app, path, "?created_from=pager");
    assert_eq!(first["count"], 20);
    assert_eq!(ids(&first), pager[..10]);
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(
        first["next"],
        format!(
            "{}{path}/jobs/?created_from=pager&limit=10&offset=10",
            app.base
        )
    );
    let unfiltered = list(app, path, "");
    assert_eq!(unfiltered["count"], 25);
    assert_eq!(unfiltered["results"].as_array().unwrap().len(), 10);

    let window = list(app, path, "?created_from=pager&limit=4&offset=6");
    assert_eq!(ids(&window), pager[6..10]);
    assert_eq!(
        window["previous"],
        format!(
            "{}{path}/jobs/?created_from=pager&limit=4&offset=2",
            app.base
        )
    );
    // Going back to the start drops `offset`, as Django does.
    let near_start = list(app, path, "?created_from=pager&limit=4&offset=3");
    assert_eq!(
        near_start["previous"],
        format!("{}{path}/jobs/?created_from=pager&limit=4", app.base)
    );
    // Beyond the end: nothing, and a way back.
    let beyond = list(app, path, "?created_from=pager&limit=3&offset=100");
    assert_eq!(beyond["count"], 20);
    assert_eq!(ids(&beyond), Vec::<i64>::new());
    assert_eq!(beyond["next"], Value::Null);
    assert_eq!(
        beyond["previous"],
        format!(
            "{}{path}/jobs/?created_from=pager&limit=3&offset=97",
            app.base
        )
    );
    // A bad limit or offset falls back to the defaults.
    let fallback = list(app, path, "?created_from=pager&limit=0&offset=-4");
    assert_eq!(ids(&fallback), pager[..10]);
    let fallback = list(app, path, "?created_from=pager&limit=abc&offset=x");
    assert_eq!(ids(&fallback), pager[..10]);
}

#[test]
fn following_next_to_the_end_and_previous_back_sees_every_job_once_newest_first() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let pager = queue_jobs(&gated, 23, 4);
    assert_eq!(pager.len(), 18);
    let prefix = "/server/main/api/";

    let mut pages = vec![list(app, path, "?created_from=PAGER&limit=4")];
    loop {
        let page = pages.last().unwrap();
        assert_eq!(page["count"], 18, "{page}");
        let Some(next) = page["next"].as_str() else {
            break;
        };
        assert!(
            next.contains("created_from=PAGER") && next.contains("limit=4"),
            "{next}"
        );
        let next = below_base(app, next, prefix).to_string();
        pages.push(app.get(&next, ADMIN_TOKEN).expect(200).data().clone());
        assert!(pages.len() <= 10, "next never ends");
    }
    assert_eq!(pages.len(), 5);
    let forward: Vec<i64> = pages.iter().flat_map(ids).collect();
    assert_eq!(forward, pager, "forward through next");

    let mut back = vec![pages.last().unwrap().clone()];
    loop {
        let page = back.last().unwrap();
        let Some(previous) = page["previous"].as_str() else {
            break;
        };
        assert!(
            previous.contains("created_from=PAGER") && previous.contains("limit=4"),
            "{previous}"
        );
        let previous = below_base(app, previous, prefix).to_string();
        back.push(app.get(&previous, ADMIN_TOKEN).expect(200).data().clone());
        assert!(back.len() <= 10, "previous never ends");
    }
    assert_eq!(back.len(), 5);
    let backward: Vec<i64> = back.iter().rev().flat_map(ids).collect();
    assert_eq!(backward, pager, "back through previous");
    assert_eq!(back.last().unwrap()["previous"], Value::Null);
}

#[test]
fn the_job_list_answers_under_the_bare_api_prefix_with_links_through_the_full_one() {
    // A proxy that strips `/server/main` sends `/api/`: the client follows links under the full
    // prefix, which is also where codepup answers a direct call.
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let pager = queue_jobs(&gated, 5, 0);
    let bare = path.replacen("/server/main/api/", "/api/", 1);
    assert_ne!(bare, path);
    let v3 = path.replacen("/server/main/api/orgs/", "/server/main/api/v3/orgs/", 1);

    let first = list(app, &bare, "?limit=2&created_from=pager");
    assert_eq!(first["count"], 5);
    assert_eq!(ids(&first), pager[..2]);
    let next = first["next"].as_str().unwrap();
    assert_eq!(
        next,
        format!(
            "{}{path}/jobs/?created_from=pager&limit=2&offset=2",
            app.base
        )
    );
    let second = app
        .get(below_base(app, next, "/server/main/api/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(ids(second.data()), pager[2..4]);
    let previous = second.data()["previous"].as_str().unwrap();
    assert_eq!(
        previous,
        format!("{}{path}/jobs/?created_from=pager&limit=2", app.base)
    );

    let under_v3 = list(app, &v3, "?limit=2");
    assert_eq!(ids(&under_v3), pager[..2]);
    assert!(under_v3["next"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}{v3}/jobs/?", app.base)));
}

#[test]
fn an_offset_at_the_end_of_i64_gives_an_empty_last_page_and_a_bigger_one_is_400() {
    // Issue 8, hole 5: `offset + limit` wrapped, and `next` pointed at a negative offset.
    let app = TestApp::spawn();
    let world = World::build(&app);
    id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &world.project_path(),
        json!({"incr_scan": false}),
    ));
    let project_jobs = format!("{}/jobs/", world.project_path());
    for list in [project_jobs.as_str(), "/server/main/api/v3/jobs/"] {
        for (query, previous) in [
            (
                "offset=9223372036854775807",
                "limit=10&offset=9223372036854775797",
            ),
            (
                "limit=1000&offset=9223372036854775000",
                "limit=1000&offset=9223372036854774000",
            ),
            (
                "limit=7&offset=%2B9223372036854775807",
                "limit=7&offset=9223372036854775800",
            ),
        ] {
            let page = app.get(&format!("{list}?{query}"), ADMIN_TOKEN).expect(200);
            let page = page.data();
            assert_eq!(page["count"], 1, "{query}: {page}");
            assert_eq!(page["results"], json!([]), "{query}: {page}");
            assert_eq!(page["next"], Value::Null, "{query}: {page}");
            assert_eq!(
                page["previous"],
                format!("{}{list}?{previous}", app.base),
                "{query}"
            );
        }
        for offset in ["9223372036854775808", "99999999999999999999999999"] {
            let reply = app.get(&format!("{list}?offset={offset}"), ADMIN_TOKEN);
            assert_eq!(reply.status, 400, "{offset}: {}", reply.body);
            assert_eq!(reply.invalid_fields(), ["offset"], "{}", reply.body);
            assert_eq!(
                reply.body["msg"],
                "offset Ensure this value is less than or equal to 9223372036854775807."
            );
        }
        // A limit too big for i64 is capped like any limit over 1000.
        let page = app
            .get(&format!("{list}?limit=99999999999999999999"), ADMIN_TOKEN)
            .expect(200);
        assert_eq!(page.data()["results"].as_array().unwrap().len(), 1);
        let page = app
            .get(
                &format!("{list}?limit=99999999999999999999&offset=1"),
                ADMIN_TOKEN,
            )
            .expect(200);
        assert_eq!(
            page.data()["previous"],
            format!("{}{list}?limit=1000", app.base)
        );
    }
}

#[test]
fn a_limit_over_1000_gives_1000_jobs_and_a_next_link_with_limit_1000() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let all = queue_jobs(&gated, 1001, 0);
    let page = list(app, path, "?limit=5000");
    assert_eq!(page["count"], 1001);
    assert_eq!(ids(&page), all[..1000]);
    assert_eq!(
        page["next"],
        format!("{}{path}/jobs/?limit=1000&offset=1000", app.base)
    );
    let rest = app
        .get(
            below_base(app, page["next"].as_str().unwrap(), "/server/main/api/"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(ids(rest.data()), all[1000..]);
    assert_eq!(
        rest.data()["previous"],
        format!("{}{path}/jobs/?limit=1000", app.base)
    );
}

/// One request with extra headers, sent as raw bytes; answers the envelope.
fn with_headers(app: &TestApp, method: &str, path: &str, headers: &[(&str, &str)]) -> Value {
    let port = app.base.rsplit(':').next().unwrap().to_string();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Token {ADMIN_TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let reply = app.raw(request.as_bytes());
    assert!(reply.status < 300, "{reply:?}");
    reply.envelope()
}

/// Where a page's `previous` link and a new webhook's URL point, given these headers.
fn links_with(app: &TestApp, world: &World, headers: &[(&str, &str)]) -> (String, String) {
    let page = with_headers(
        app,
        "GET",
        &format!("{}/repos/?limit=1&offset=1", world.team_path()),
        headers,
    );
    let hook = with_headers(
        app,
        "POST",
        &format!("{}/webhook/", world.repo_path()),
        headers,
    );
    (
        page["data"]["previous"].as_str().unwrap().to_string(),
        hook["data"]["url"].as_str().unwrap().to_string(),
    )
}

const SPOOFED: [&[(&str, &str)]; 2] = [
    &[
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "https"),
    ],
    &[("Forwarded", "for=1.2.3.4;host=evil.example;proto=https")],
];

#[test]
fn forwarding_headers_from_a_peer_that_is_not_a_trusted_proxy_do_not_move_the_links() {
    // Issue 13: any client could choose the host its links (and a webhook's URL) point to.
    let app = TestApp::spawn();
    let world = World::build(&app);
    let own = format!("{}/server/main/api/", app.base);
    for headers in SPOOFED {
        let (previous, hook) = links_with(&app, &world, headers);
        assert!(previous.starts_with(&own), "{headers:?}: {previous}");
        assert!(hook.starts_with(&own), "{headers:?}: {hook}");
    }
}

#[test]
fn forwarding_headers_from_a_trusted_proxy_set_the_links_host_and_scheme() {
    let app = TestApp::spawn_with(|config| {
        config.trusted_proxies = vec![IpRange::parse("127.0.0.0/8").unwrap()];
    });
    let world = World::build(&app);
    for headers in SPOOFED {
        let (previous, hook) = links_with(&app, &world, headers);
        assert!(
            previous.starts_with("https://evil.example/server/main/api/"),
            "{headers:?}: {previous}"
        );
        assert!(
            hook.starts_with("https://evil.example/server/main/api/hooks/"),
            "{headers:?}: {hook}"
        );
    }
    // Without the headers the proxy's own request gets the host it used.
    let (previous, _) = links_with(&app, &world, &[]);
    assert!(
        previous.starts_with(&format!("{}/", app.base)),
        "{previous}"
    );
}
