//! The one error shape every function answers with: RFC 9457 `application/problem+json`.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::ValidationError;

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Which request fields were wrong, for 400s.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl Problem {
    fn new(kind: &'static str, title: &'static str, status: StatusCode, detail: String) -> Self {
        Self {
            kind,
            title,
            status: status.as_u16(),
            detail,
            instance: None,
            correlation_id: None,
            errors: Vec::new(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            "urn:checkout:problem:invalid-request",
            "Invalid request",
            StatusCode::BAD_REQUEST,
            detail.into(),
        )
    }

    pub fn invalid_field(err: &ValidationError) -> Self {
        let mut problem = Self::bad_request(err.to_string());
        problem.errors.push(FieldError {
            field: err.field,
            reason: err.reason.clone(),
        });
        problem
    }

    /// The `type` of every 404 this project answers (a gateway's own 404 has none).
    pub const NOT_FOUND_TYPE: &'static str = "urn:checkout:problem:not-found";

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(
            Self::NOT_FOUND_TYPE,
            "Not found",
            StatusCode::NOT_FOUND,
            detail.into(),
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(
            "urn:checkout:problem:conflict",
            "Conflict with the current state",
            StatusCode::CONFLICT,
            detail.into(),
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            "urn:checkout:problem:unauthorized",
            "Unauthorized",
            StatusCode::UNAUTHORIZED,
            detail.into(),
        )
    }

    /// A payment the provider refused for good (422): nothing was charged, and the same
    /// request will be refused again.
    pub fn payment_refused(detail: impl Into<String>) -> Self {
        Self::new(
            "urn:checkout:problem:payment-refused",
            "Payment refused",
            StatusCode::UNPROCESSABLE_ENTITY,
            detail.into(),
        )
    }

    /// A request body larger than every route accepts (413).
    pub fn body_too_large(detail: impl Into<String>) -> Self {
        Self::new(
            "urn:checkout:problem:body-too-large",
            "Request body too large",
            StatusCode::PAYLOAD_TOO_LARGE,
            detail.into(),
        )
    }

    /// A request body that is not JSON by its `Content-Type` (415).
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            "urn:checkout:problem:unsupported-media-type",
            "Unsupported media type",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            detail.into(),
        )
    }

    /// A fault on our side; the detail never carries internals (they go to the log).
    pub fn unavailable() -> Self {
        Self::new(
            "urn:checkout:problem:unavailable",
            "Service unavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            "The service could not complete the request; retry later and quote the correlation id if it persists."
                .to_owned(),
        )
    }

    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::to_string(&self).unwrap_or_else(|_| {
            // Serialising plain strings and numbers cannot fail; keep a valid body anyway.
            format!(r#"{{"title":"{}","status":{}}}"#, self.title, self.status)
        });
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = self.status_code();
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
        response
    }
}

impl From<ValidationError> for Problem {
    fn from(err: ValidationError) -> Self {
        Self::invalid_field(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_error_is_a_400_problem_naming_the_field() {
        let response = Problem::from(ValidationError::new("pageSize", "too big")).into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
        let Body::Text(body) = response.body() else {
            panic!("text body expected")
        };
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], 400);
        assert_eq!(json["errors"][0]["field"], "pageSize");
        assert!(json["type"].as_str().unwrap().starts_with("urn:"));
    }
}
