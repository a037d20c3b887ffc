//! Query strings and the one pagination helper every list endpoint uses (TCA_API.md §3.5, with
//! codepup's maximum and links that keep the prefix the client used).

use actix_web::HttpRequest;
use serde_json::{json, Value};

pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 1000;

/// The parameters of a query string, in order. When a key repeats, the last one wins.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decoding is lossy (bad percent-escapes and UTF-8 are kept as they are or replaced), so
    /// reading a query never fails; its values are checked where they are used.
    pub fn from_request(request: &HttpRequest) -> Query {
        let pairs = serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
        Query { pairs }
    }

    /// The last value of `key`, trimmed; an empty value means "no filter", as in TCA.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// `limit` and `offset`: a missing, non-integer or non-positive limit falls back to 10 (TCA),
    /// a limit over 1000 is capped; a bad or negative offset is 0.
    pub fn page(&self) -> Page {
        let limit = self
            .get("limit")
            .and_then(|text| text.parse::<i64>().ok())
            .filter(|limit| *limit > 0)
            .map_or(DEFAULT_LIMIT, |limit| limit.min(MAX_LIMIT));
        let offset = self
            .get("offset")
            .and_then(|text| text.parse::<i64>().ok())
            .filter(|offset| *offset >= 0)
            .unwrap_or(0);
        Page { limit, offset }
    }

    /// The query re-encoded with `limit`/`offset` replaced, keys sorted (as Django does).
    fn with_page(&self, limit: i64, offset: Option<i64>) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (key, value) in &self.pairs {
            if key == "limit" || key == "offset" {
                continue;
            }
            // Keep only the last occurrence of a repeated key, the one that took effect.
            pairs.retain(|(name, _)| name != key);
            pairs.push((key.clone(), value.clone()));
        }
        pairs.push(("limit".into(), limit.to_string()));
        if let Some(offset) = offset {
            pairs.push(("offset".into(), offset.to_string()));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// `{count, next, previous, results}` with absolute links built from the URL the client used.
pub fn paginated(
    request: &HttpRequest,
    query: &Query,
    page: Page,
    count: i64,
    results: Vec<Value>,
) -> Value {
    let info = request.connection_info();
    let base = format!("{}://{}{}", info.scheme(), info.host(), request.path());
    let next = (page.offset + page.limit < count).then(|| {
        format!(
            "{base}?{}",
            query.with_page(page.limit, Some(page.offset + page.limit))
        )
    });
    let previous = (page.offset > 0).then(|| {
        let back = page.offset - page.limit;
        let offset = (back > 0).then_some(back);
        format!("{base}?{}", query.with_page(page.limit, offset))
    });
    json!({"count": count, "next": next, "previous": previous, "results": results})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> Query {
        Query {
            pairs: serde_urlencoded::from_str(text).unwrap(),
        }
    }

    #[test]
    fn limits_fall_back_and_are_capped() {
        assert_eq!(query("").page().limit, 10);
        assert_eq!(query("limit=0").page().limit, 10);
        assert_eq!(query("limit=abc&offset=-3").page().offset, 0);
        assert_eq!(query("limit=5000").page().limit, 1000);
        assert_eq!(query("limit=5&limit=7").page().limit, 7);
    }

    #[test]
    fn links_keep_filters_sorted_and_encoded() {
        let q = query("state=1%2C2&create_time_gte=2020-01-01T00%3A00%3A00%2B08%3A00&offset=3");
        assert_eq!(
            q.with_page(10, Some(13)),
            "create_time_gte=2020-01-01T00%3A00%3A00%2B08%3A00&limit=10&offset=13&state=1%2C2"
        );
        assert_eq!(
            q.with_page(10, None),
            "create_time_gte=2020-01-01T00%3A00%3A00%2B08%3A00&limit=10&state=1%2C2"
        );
    }
}
