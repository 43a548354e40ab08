//! GET / (the page) and GET /assets/{asset}: answered from the embedded site, with a
//! strict content security policy and an ETag, so a repeat visit costs a 304 and no body.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use shared::http::{ApiError, HandlerResult};
use shared::{CorrelationId, Problem};

use crate::{Asset, Site};

/// The page, its assets and the API it calls share one origin, so nothing else is allowed:
/// no inline script, no third-party request.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("no such asset")]
    NotFound,
}

impl ApiError for WebError {
    fn problem(&self) -> Problem {
        match self {
            Self::NotFound => Problem::not_found("No such page or asset."),
        }
    }
}

pub async fn handle(
    site: &Site,
    request: Request,
    _correlation_id: CorrelationId,
) -> HandlerResult<WebError> {
    // `GET /assets/{asset}` names its asset; `GET /` has no path parameter.
    let asset = match request
        .path_parameters_ref()
        .and_then(|params| params.first("asset"))
    {
        Some(name) => site.asset(name).ok_or(WebError::NotFound)?,
        None => &site.page,
    };
    let revalidated = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| matches_etag(tags, &asset.etag));
    Ok(response(asset, revalidated))
}

/// `If-None-Match` compares weakly (RFC 9110 §13.1.2): a proxy may have marked the tag `W/`.
fn matches_etag(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|tag| {
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        tag == "*" || tag == etag
    })
}

fn response(asset: &Asset, not_modified: bool) -> Response<Body> {
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Body::Empty)
    } else {
        (StatusCode::OK, Body::Text(asset.body.to_owned()))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, etag);
    }
    // Asset names carry no version, so a browser asks every time; the ETag makes that cheap
    // and a new deploy shows at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revalidation_matches_its_etag_in_a_list_weakly_or_as_a_wildcard() {
        let etag = "\"abc\"";
        assert!(matches_etag("\"abc\"", etag));
        assert!(matches_etag("\"x\", W/\"abc\"", etag));
        assert!(matches_etag("*", etag));
        assert!(!matches_etag("\"abd\"", etag));
        assert!(!matches_etag("", etag));
    }
}
