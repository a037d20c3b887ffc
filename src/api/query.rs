//! Query strings and the one pagination helper every list endpoint uses (TCA_API.md §3.5, with
//! codepup's maximum and links under the prefix the client used, `/server/main/api`).

use std::num::IntErrorKind;

use actix_web::HttpRequest;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::{origin, public_path};
use crate::clock;
use crate::error::{AppError, FieldError};

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
        Query::parse(request.query_string())
    }

    /// Reads a query string (without its `?`).
    pub fn parse(query_string: &str) -> Query {
        let pairs = serde_urlencoded::from_str(query_string).unwrap_or_default();
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
    /// a limit over 1000 (even one too big for i64) is capped; a bad or negative offset is 0, an
    /// offset too big for i64 is refused (TCA's database would refuse it with a 500). Call it
    /// after the 401, 404 and 403 checks, like every reader of query values.
    pub fn page(&self) -> Result<Page, AppError> {
        let limit = match self.get("limit").map(str::parse::<i64>) {
            Some(Ok(limit)) if limit > 0 => limit.min(MAX_LIMIT),
            Some(Err(error)) if *error.kind() == IntErrorKind::PosOverflow => MAX_LIMIT,
            _ => DEFAULT_LIMIT,
        };
        let offset = match self.get("offset").map(str::parse::<i64>) {
            Some(Ok(offset)) if offset >= 0 => offset,
            Some(Err(error)) if *error.kind() == IntErrorKind::PosOverflow => {
                return Err(AppError::invalid(
                    "offset",
                    format!("Ensure this value is less than or equal to {}.", i64::MAX),
                ))
            }
            _ => 0,
        };
        Ok(Page { limit, offset })
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

/// A page of a list: `limit` is 1 to 1000 and `offset` at least 0 when it comes from `page()`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// A page of a list, as every list answers it (the OpenAPI document's `Page`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Page)]
pub struct PageBody {
    /// How many records match, over every page.
    pub count: i64,
    /// The next page's absolute URL, or null on the last.
    pub next: Option<String>,
    /// The previous page's absolute URL, or null on the first.
    pub previous: Option<String>,
    pub results: Vec<Value>,
}

/// `{count, next, previous, results}` with absolute links built from the URL the client used.
pub fn paginated(
    request: &HttpRequest,
    query: &Query,
    page: Page,
    count: i64,
    results: Vec<Value>,
) -> Value {
    let base = format!("{}{}", origin(request), public_path(request));
    // Checked: an offset near i64::MAX has no next page, rather than one at a negative offset.
    let next = page
        .offset
        .checked_add(page.limit)
        .filter(|next| *next < count)
        .map(|next| format!("{base}?{}", query.with_page(page.limit, Some(next))));
    let previous = (page.offset > 0).then(|| {
        let back = page.offset.saturating_sub(page.limit);
        let offset = (back > 0).then_some(back);
        format!("{base}?{}", query.with_page(page.limit, offset))
    });
    serde_json::to_value(PageBody {
        count,
        next,
        previous,
        results,
    })
    .expect("a page of JSON values serialises")
}

/// A short list the database hands over whole (the caller's orgs, a repository's schemes), as a
/// page like every other list. Reads `limit` and `offset`, so call it after the permission
/// checks.
pub fn paginate_all(
    request: &HttpRequest,
    query: &Query,
    items: Vec<Value>,
) -> Result<Value, AppError> {
    let page = query.page()?;
    let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let results = items.into_iter().skip(skip).take(take).collect();
    Ok(paginated(request, query, page, count, results))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn query(text: &str) -> Query {
        Query {
            pairs: serde_urlencoded::from_str(text).unwrap(),
        }
    }

    #[test]
    fn limits_fall_back_and_are_capped() {
        let page = |text: &str| query(text).page().unwrap();
        assert_eq!(page("").limit, 10);
        assert_eq!(page("limit=0").limit, 10);
        assert_eq!(page("limit=abc&offset=-3").offset, 0);
        assert_eq!(page("limit=5000").limit, 1000);
        assert_eq!(page("limit=5&limit=7").limit, 7);
    }

    #[test]
    fn an_offset_too_big_for_i64_is_refused_and_a_limit_too_big_is_capped() {
        let refused = query("offset=9223372036854775808").page().unwrap_err();
        let AppError::InvalidInput(fields) = refused else {
            panic!("expected invalid input, got {refused:?}")
        };
        assert_eq!(fields[0].field, "offset");
        assert_eq!(
            fields[0].message,
            "Ensure this value is less than or equal to 9223372036854775807."
        );
        let last = query("offset=9223372036854775807").page().unwrap();
        assert_eq!(last.offset, i64::MAX);
        // Like a negative offset, a very negative one is 0.
        assert_eq!(
            query("offset=-9223372036854775809").page().unwrap().offset,
            0
        );
        let capped = query("limit=99999999999999999999").page().unwrap();
        assert_eq!(capped.limit, MAX_LIMIT);
    }

    #[test]
    fn a_page_at_the_end_of_i64_has_no_next_link_and_a_previous_one() {
        // Issue 8, hole 5: `offset + limit` wrapped to a negative `next` offset.
        let request = TestRequest::default()
            .uri("/jobs/?offset=9223372036854775807")
            .to_http_request();
        let query = Query::from_request(&request);
        let page = paginated(&request, &query, query.page().unwrap(), 3, Vec::new());
        assert_eq!(page["next"], Value::Null);
        assert_eq!(
            page["previous"],
            "http://localhost:8080/jobs/?limit=10&offset=9223372036854775797"
        );
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

/// Properties of the query readers (issue 8, holes 4 and 5): no query string makes them panic,
/// and links always point at a real neighbouring page.
#[cfg(test)]
mod fuzz {
    use actix_web::test::TestRequest;
    use proptest::prelude::*;

    use super::*;

    /// Numbers as clients write them, good and bad, with the ends of i64 drawn often.
    fn number_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            prop::sample::select(vec![
                "0",
                "-1",
                "9223372036854775807",
                "9223372036854775808",
                "-9223372036854775808",
                "-9223372036854775809",
                "99999999999999999999999",
                "+5",
                " 7 ",
                "1e3",
                "",
            ])
            .prop_map(str::to_string),
            "[-+]?[0-9]{0,25}",
            any::<String>(),
        ]
    }

    /// A page as `page()` makes them, with the ends of the range drawn often.
    fn page() -> impl Strategy<Value = Page> {
        let limit = prop_oneof![Just(1), Just(MAX_LIMIT), 1..=MAX_LIMIT];
        let offset = prop_oneof![
            Just(0),
            Just(i64::MAX),
            i64::MAX - 2000..=i64::MAX,
            0..=i64::MAX
        ];
        (limit, offset).prop_map(|(limit, offset)| Page { limit, offset })
    }

    /// The `offset` a link asks for (0 when it has none), after checking it is a page link.
    fn link_offset(link: &str, limit: i64) -> i64 {
        let (_, query_string) = link.split_once('?').expect("a link has a query");
        let query = Query::parse(query_string);
        assert_eq!(
            query.get("limit"),
            Some(limit.to_string().as_str()),
            "{link}"
        );
        query.get("offset").map_or(0, |text| {
            text.parse()
                .unwrap_or_else(|_| panic!("bad offset in {link}"))
        })
    }

    proptest! {
        // A failure becomes a named unit test above, not a seed file in the repository.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn no_query_string_makes_the_readers_panic(
            text in prop_oneof![any::<String>(), "([a-z_]{1,8}=[%0-9A-Fa-f+&=é]{0,12}&?){0,4}"],
        ) {
            let query = Query::parse(&text);
            let _ = query.get("state");
            if let Ok(page) = query.page() {
                prop_assert!((1..=MAX_LIMIT).contains(&page.limit));
                prop_assert!(page.offset >= 0);
            }
        }

        #[test]
        fn a_page_is_in_range_or_refused_only_for_an_offset_past_i64(
            limit in number_text(),
            offset in number_text(),
        ) {
            let encoded = serde_urlencoded::to_string([("limit", &limit), ("offset", &offset)])
                .expect("strings encode");
            match Query::parse(&encoded).page() {
                Ok(page) => {
                    prop_assert!((1..=MAX_LIMIT).contains(&page.limit));
                    prop_assert!(page.offset >= 0);
                }
                Err(_) => {
                    let digits = offset.trim().trim_start_matches('+');
                    prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
                    prop_assert!(digits.parse::<i64>().is_err(), "{}", offset);
                }
            }
        }

        #[test]
        fn next_and_previous_links_point_at_the_neighbouring_pages(
            page in page(),
            count in prop_oneof![Just(0), Just(i64::MAX), 0..=i64::MAX, 0..=10_000i64],
            state in "[0-9,]{0,5}",
        ) {
            let request = TestRequest::default()
                .uri(&format!(
                    "/jobs/?{}",
                    serde_urlencoded::to_string([("state", &state)]).expect("strings encode")
                ))
                .to_http_request();
            let query = Query::from_request(&request);
            let links = paginated(&request, &query, page, count, Vec::new());
            match links["next"].as_str() {
                Some(next) => {
                    let next_offset = link_offset(next, page.limit);
                    prop_assert_eq!(Some(next_offset), page.offset.checked_add(page.limit));
                    prop_assert!(next_offset < count);
                }
                None => prop_assert!(
                    page.offset.checked_add(page.limit).is_none_or(|next| next >= count)
                ),
            }
            match links["previous"].as_str() {
                Some(previous) => {
                    let previous_offset = link_offset(previous, page.limit);
                    prop_assert!(page.offset > 0);
                    prop_assert_eq!(previous_offset, (page.offset - page.limit).max(0));
                }
                None => prop_assert_eq!(page.offset, 0),
            }
        }

        #[test]
        fn a_link_keeps_the_last_value_of_every_other_parameter(
            pairs in prop::collection::vec(("[a-z_]{1,6}|limit|offset", any::<String>()), 0..6),
            page in page(),
        ) {
            let query = Query { pairs: pairs.clone() };
            let relinked = Query::parse(&query.with_page(page.limit, Some(page.offset)));
            for (key, _) in &pairs {
                let expected = match key.as_str() {
                    "limit" => page.limit.to_string(),
                    "offset" => page.offset.to_string(),
                    _ => pairs.iter().rev().find(|(name, _)| name == key).map(|(_, v)| v.clone()).unwrap_or_default(),
                };
                let found = relinked.pairs.iter().filter(|(name, _)| name == key).count();
                prop_assert_eq!(found, 1, "{} in {:?}", key, relinked.pairs);
                let value = relinked.pairs.iter().find(|(name, _)| name == key).map(|(_, v)| v.clone());
                prop_assert_eq!(value, Some(expected));
            }
        }
    }
}

/// Reads typed query values, collecting every bad one for a single 400.
pub(crate) struct FilterReader<'a> {
    query: &'a Query,
    tz: time::UtcOffset,
    errors: Vec<FieldError>,
}

impl<'a> FilterReader<'a> {
    pub(crate) fn new(query: &'a Query, tz: time::UtcOffset) -> FilterReader<'a> {
        FilterReader {
            query,
            tz,
            errors: Vec::new(),
        }
    }

    /// Records a problem, found here or by the caller's own check.
    pub(crate) fn fail(&mut self, field: &str, message: &str) {
        self.errors.push(FieldError {
            field: field.to_string(),
            message: message.to_string(),
        });
    }

    /// A number for an integer field as Django's `NumberFilter` reads it: a Decimal (`1.5`,
    /// `1e2`, `1e400`), refused when not finite (`nan`, `inf`), then truncated toward zero by the
    /// field (`int(Decimal('1.5'))` is 1). Beyond the integers SQLite holds it stays beyond them.
    pub(crate) fn number(&mut self, field: &str) -> Option<f64> {
        let text = self.query.get(field)?;
        let named = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
        let not_finite = named.starts_with("inf") || named.starts_with("nan");
        match text.parse::<f64>() {
            Ok(value) if !not_finite => {
                let limit = i64::MAX as f64;
                Some(value.trunc().clamp(-limit * 2.0, limit * 2.0))
            }
            _ => {
                self.fail(field, "Enter a number.");
                None
            }
        }
    }

    /// A date or date-time, naive ones in the server's offset; stored form.
    pub(crate) fn time(&mut self, field: &str) -> Option<String> {
        let text = self.query.get(field)?;
        match clock::parse_filter_datetime(text, self.tz) {
            Some(moment) => Some(clock::to_stored(moment)),
            None => {
                self.fail(field, "Enter a valid date/time.");
                None
            }
        }
    }

    /// A comma-separated list of whole numbers (`state=1,2`).
    pub(crate) fn numbers(&mut self, field: &str) -> Option<Vec<i64>> {
        let text = self.query.get(field)?;
        let parsed: Option<Vec<i64>> = text
            .split(',')
            .map(|piece| piece.trim().parse::<i64>().ok())
            .collect();
        if parsed.is_none() {
            self.fail(field, "Enter whole numbers separated by commas, e.g. 1,2.");
        }
        parsed
    }

    /// A comma-separated list of choices within `allowed` (`severity=1,2`), as Django's
    /// `MultipleChoiceFilter` reads them: the first bad piece is named.
    pub(crate) fn choices(
        &mut self,
        field: &str,
        allowed: std::ops::RangeInclusive<i64>,
    ) -> Option<Vec<i64>> {
        let text = self.query.get(field)?;
        let mut values = Vec::new();
        for piece in text.split(',').map(str::trim) {
            match piece.parse::<i64>() {
                Ok(value) if allowed.contains(&value) => values.push(value),
                _ => {
                    let message = format!(
                        "Select a valid choice. {piece} is not one of the available choices."
                    );
                    self.fail(field, &message);
                    return None;
                }
            }
        }
        Some(values)
    }

    /// A whole number (`job_id=3`).
    pub(crate) fn whole(&mut self, field: &str) -> Option<i64> {
        let text = self.query.get(field)?;
        let parsed = text.parse::<i64>().ok();
        if parsed.is_none() {
            self.fail(field, "Enter a whole number.");
        }
        parsed
    }

    /// A text value; an empty one means no filter.
    pub(crate) fn text(&self, field: &str) -> Option<String> {
        self.query.get(field).map(str::to_string)
    }

    pub(crate) fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::InvalidInput(self.errors))
        }
    }
}
