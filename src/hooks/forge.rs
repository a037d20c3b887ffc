//! What a forge's webhook delivery says: which forge sent it, whether its signature holds, and
//! what it asks for (a ping, a push to a branch, or something codepup ignores). Pure: no
//! database, no HTTP types, so every forge's documented payloads are unit-tested here.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The forges codepup understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    GitLab,
    /// Gitea and Forgejo, which send the same headers and payloads.
    Gitea,
}

impl Forge {
    pub fn name(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::Gitea => "gitea",
        }
    }
}

/// The headers of a delivery that say who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub forge: Forge,
    /// The event as the forge names it (`push`, `ping`, `Push Hook`, ...).
    pub event: String,
    /// The forge's id of this delivery, the same when the forge retries it; `None` when the
    /// forge sent none (an old GitLab), and then a retry cannot be told from a new push.
    pub delivery_id: Option<String>,
}

/// What a delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Ping,
    Push(Push),
    /// Answered 200 with the reason: tag pushes, branch deletions, other events.
    Ignored(String),
}

/// A push to a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub branch: String,
    /// The pushed head commit.
    pub after: String,
    /// The forge's user name of whoever pushed, when the payload names one.
    pub pusher: Option<String>,
}

/// Reads the forge, the event and the delivery id from the headers (`header` looks one up by
/// name, in any case). Gitea and Forgejo also send GitHub's headers, so they are looked for
/// first. `None`: no forge's event header at all.
pub fn identify(header: impl Fn(&str) -> Option<String>) -> Option<Delivery> {
    let first = |names: &[&str]| names.iter().find_map(|name| header(name));
    if let Some(event) = first(&["X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event"]) {
        return Some(Delivery {
            forge: Forge::Gitea,
            event,
            delivery_id: first(&["X-Gitea-Delivery", "X-Forgejo-Delivery", "X-Gogs-Delivery"]),
        });
    }
    if let Some(event) = header("X-Gitlab-Event") {
        // `Idempotency-Key` (GitLab 17.4+) stays the same across retries; older versions send
        // only a UUID per event.
        return Some(Delivery {
            forge: Forge::GitLab,
            event,
            delivery_id: first(&[
                "Idempotency-Key",
                "X-Gitlab-Event-UUID",
                "X-Gitlab-Webhook-UUID",
            ]),
        });
    }
    header("X-GitHub-Event").map(|event| Delivery {
        forge: Forge::GitHub,
        event,
        delivery_id: header("X-GitHub-Delivery"),
    })
}

/// Whether the delivery proves it knows `secret`: GitHub's `X-Hub-Signature-256`
/// (`sha256=<hex HMAC-SHA256 of the body>`), Gitea's `X-Gitea-Signature` (the bare hex, also
/// as Forgejo's `X-Forgejo-Signature` or GitHub's header), GitLab's `X-Gitlab-Token` (the
/// secret itself). Every comparison takes the same time however much matches.
pub fn verify(
    forge: Forge,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    secret: &str,
) -> bool {
    match forge {
        Forge::GitLab => header("X-Gitlab-Token").is_some_and(|token| {
            // Hashed first, so the comparison does not depend on the lengths either.
            let given = Sha256::digest(token.as_bytes());
            let expected = Sha256::digest(secret.as_bytes());
            given.as_slice().ct_eq(expected.as_slice()).into()
        }),
        Forge::GitHub => header("X-Hub-Signature-256")
            .and_then(|value| value.strip_prefix("sha256=").map(str::to_string))
            .is_some_and(|hex| hmac_matches(secret, body, &hex)),
        Forge::Gitea => {
            let signature = header("X-Gitea-Signature")
                .or_else(|| header("X-Forgejo-Signature"))
                .or_else(|| {
                    header("X-Hub-Signature-256")
                        .and_then(|value| value.strip_prefix("sha256=").map(str::to_string))
                });
            signature.is_some_and(|hex| hmac_matches(secret, body, &hex))
        }
    }
}

/// Whether `hex` is the HMAC-SHA256 of `body` under `secret`, checked in constant time.
fn hmac_matches(secret: &str, body: &[u8], hex: &str) -> bool {
    let Some(given) = decode_hex(hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The HMAC-SHA256 of `body` under `secret` as lowercase hex (what the forges send; the tests
/// sign with it).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    crate::domain::hex(&mac.finalize().into_bytes())
}

/// The payload of a delivery: JSON, or GitHub's form encoding (`payload=<JSON>`).
fn payload(content_type: &str, body: &[u8]) -> Result<Value, String> {
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|error| format!("the form body cannot be read: {error}"))?;
        let json = fields
            .into_iter()
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| value)
            .ok_or("the form body has no payload field")?;
        return serde_json::from_str(&json)
            .map_err(|error| format!("payload is not JSON: {error}"));
    }
    serde_json::from_slice(body).map_err(|error| format!("the body is not JSON: {error}"))
}

/// What the delivery asks for. `Err`: the payload of an event codepup acts on cannot be read.
pub fn parse(delivery: &Delivery, content_type: &str, body: &[u8]) -> Result<Event, String> {
    let event = delivery.event.as_str();
    let kind = match (delivery.forge, event) {
        (Forge::GitHub | Forge::Gitea, "ping") => return Ok(Event::Ping),
        (Forge::GitHub | Forge::Gitea, "push") | (Forge::GitLab, "Push Hook") => "push",
        (Forge::GitLab, "Tag Push Hook") => "tag_push",
        (Forge::Gitea, "delete") => "delete",
        _ => return Ok(Event::Ignored(format!("event {event} is not a push"))),
    };
    let payload = payload(content_type, body)?;
    let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_string);
    let git_ref = text("ref").ok_or("the payload has no ref")?;
    if kind == "delete" {
        // Gitea's separate event for a deleted branch or tag (`ref` is the bare name).
        let ref_type = text("ref_type").unwrap_or_default();
        return Ok(Event::Ignored(format!(
            "{ref_type} {git_ref} was deleted: nothing to scan"
        )));
    }
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        let what = if git_ref.starts_with("refs/tags/") {
            "a tag push"
        } else {
            "not a branch"
        };
        return Ok(Event::Ignored(format!(
            "{git_ref} is {what}: only branches are scanned"
        )));
    };
    let after = text("after").unwrap_or_default();
    let is_deleted = payload.get("deleted").and_then(Value::as_bool) == Some(true)
        || (!after.is_empty() && after.bytes().all(|b| b == b'0'));
    if is_deleted {
        return Ok(Event::Ignored(format!(
            "branch {branch} was deleted: nothing to scan"
        )));
    }
    if after.is_empty() {
        return Err("the payload has no after commit".to_string());
    }
    let field = |object: &str, key: &str| {
        payload
            .get(object)
            .and_then(|o| o.get(key))
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    };
    let pusher = match delivery.forge {
        Forge::GitHub => field("pusher", "name").or_else(|| field("sender", "login")),
        Forge::GitLab => text("user_username"),
        Forge::Gitea => field("pusher", "login")
            .or_else(|| field("pusher", "username"))
            .or_else(|| field("sender", "login")),
    };
    Ok(Event::Push(Push {
        branch: branch.to_string(),
        after,
        pusher,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn gitea_is_recognised_before_the_github_headers_it_also_sends() {
        let found = identify(headers(&[
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", "d1"),
            ("X-Gitea-Event", "push"),
            ("X-Gitea-Delivery", "d1"),
        ]))
        .unwrap();
        assert_eq!(found.forge, Forge::Gitea);
        assert_eq!(found.delivery_id.as_deref(), Some("d1"));
        assert_eq!(identify(headers(&[("Content-Type", "x")])), None);
    }

    #[test]
    fn gitlab_prefers_the_idempotency_key() {
        let found = identify(headers(&[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Event-UUID", "event"),
            ("Idempotency-Key", "retry-stable"),
        ]))
        .unwrap();
        assert_eq!(found.delivery_id.as_deref(), Some("retry-stable"));
    }

    #[test]
    fn sign_is_hmac_sha256_as_rfc_4231_gives_it() {
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signatures_hold_only_for_the_exact_body_and_secret() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let good = format!("sha256={}", sign("s3cret", body));
        let check = |forge, pairs: &[(&str, &str)], body: &[u8]| {
            verify(forge, headers(pairs), body, "s3cret")
        };
        assert!(check(
            Forge::GitHub,
            &[("X-Hub-Signature-256", &good)],
            body
        ));
        assert!(!check(
            Forge::GitHub,
            &[("X-Hub-Signature-256", &good)],
            b"{}"
        ));
        assert!(!check(Forge::GitHub, &[], body));
        assert!(!check(
            Forge::GitHub,
            &[("X-Hub-Signature-256", "sha256=zz")],
            body
        ));
        let bare = sign("s3cret", body);
        assert!(check(Forge::Gitea, &[("X-Gitea-Signature", &bare)], body));
        assert!(!check(
            Forge::Gitea,
            &[("X-Gitea-Signature", &sign("other", body))],
            body
        ));
        assert!(check(Forge::GitLab, &[("X-Gitlab-Token", "s3cret")], body));
        assert!(!check(Forge::GitLab, &[("X-Gitlab-Token", "s3cre")], body));
    }

    fn delivery(forge: Forge, event: &str) -> Delivery {
        Delivery {
            forge,
            event: event.to_string(),
            delivery_id: None,
        }
    }

    #[test]
    fn pushes_name_the_branch_head_and_pusher_of_each_forge() {
        let github = json!({"ref": "refs/heads/main", "before": "a", "after": "b1",
            "created": false, "deleted": false, "pusher": {"name": "alice", "email": "a@x"},
            "sender": {"login": "alice"}});
        let gitlab = json!({"object_kind": "push", "ref": "refs/heads/dev", "after": "c2",
            "user_username": "bob", "checkout_sha": "c2"});
        let gitea = json!({"ref": "refs/heads/main", "after": "d3",
            "pusher": {"login": "carol", "username": "carol"}});
        let read = |forge, event, payload: &Value| {
            parse(
                &delivery(forge, event),
                "application/json",
                payload.to_string().as_bytes(),
            )
        };
        assert_eq!(
            read(Forge::GitHub, "push", &github),
            Ok(Event::Push(Push {
                branch: "main".into(),
                after: "b1".into(),
                pusher: Some("alice".into())
            }))
        );
        assert_eq!(
            read(Forge::GitLab, "Push Hook", &gitlab),
            Ok(Event::Push(Push {
                branch: "dev".into(),
                after: "c2".into(),
                pusher: Some("bob".into())
            }))
        );
        assert_eq!(
            read(Forge::Gitea, "push", &gitea),
            Ok(Event::Push(Push {
                branch: "main".into(),
                after: "d3".into(),
                pusher: Some("carol".into())
            }))
        );
    }

    #[test]
    fn tags_deletions_and_other_events_are_ignored_with_a_reason() {
        let read = |forge, event, payload: Value| {
            parse(
                &delivery(forge, event),
                "application/json",
                payload.to_string().as_bytes(),
            )
        };
        let tag = read(
            Forge::GitHub,
            "push",
            json!({"ref": "refs/tags/v1", "after": "b"}),
        );
        assert!(matches!(tag, Ok(Event::Ignored(why)) if why.contains("tag")));
        let deleted = read(
            Forge::GitLab,
            "Push Hook",
            json!({"ref": "refs/heads/x", "after": "0000000000000000000000000000000000000000"}),
        );
        assert!(matches!(deleted, Ok(Event::Ignored(why)) if why.contains("deleted")));
        let issue = read(Forge::GitHub, "issues", json!({}));
        assert!(matches!(issue, Ok(Event::Ignored(_))));
        assert_eq!(
            read(Forge::GitHub, "ping", json!({"zen": "z"})),
            Ok(Event::Ping)
        );
        assert!(read(Forge::GitHub, "push", json!({"after": "b"})).is_err());
    }

    #[test]
    fn github_form_bodies_carry_the_payload_field() {
        let body = serde_urlencoded::to_string([(
            "payload",
            json!({"ref": "refs/heads/main", "after": "b1"}).to_string(),
        )])
        .unwrap();
        let event = parse(
            &delivery(Forge::GitHub, "push"),
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        );
        assert!(matches!(event, Ok(Event::Push(push)) if push.branch == "main"));
    }
}
