use std::fmt;

/// A value from a request that does not make sense: always the client's fault (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The name of the field as the client sent it (`pageSize`, `userId`, …).
    pub field: &'static str,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Serde for a count sent as a JSON number: a whole number in range, whether written
/// `212` or `212.0` (JSON Schema's `integer` is both; the contract says integer).
pub mod whole_u32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(*value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        let whole = match (number.as_u64(), number.as_f64()) {
            (Some(n), _) => u32::try_from(n).ok(),
            (None, Some(f)) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => {
                // In range and whole, so the conversion is exact.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Some(f as u32)
            }
            _ => None,
        };
        whole.ok_or_else(|| {
            D::Error::custom(format!(
                "{number} is not a whole number from 0 to {}",
                u32::MAX
            ))
        })
    }

    #[cfg(test)]
    mod tests {
        #[derive(Debug, serde::Deserialize, serde::Serialize)]
        struct Line {
            #[serde(with = "super")]
            quantity: u32,
        }

        fn quantity(json: &str) -> Result<u32, String> {
            serde_json::from_str::<Line>(json)
                .map(|l| l.quantity)
                .map_err(|e| e.to_string())
        }

        #[test]
        fn a_whole_number_is_read_however_it_is_written() {
            assert_eq!(quantity(r#"{"quantity":212}"#), Ok(212));
            assert_eq!(quantity(r#"{"quantity":212.0}"#), Ok(212));
            assert_eq!(quantity(r#"{"quantity":4294967295}"#), Ok(u32::MAX));
            assert_eq!(
                serde_json::to_string(&Line { quantity: 3 }).unwrap(),
                r#"{"quantity":3}"#
            );
        }

        #[test]
        fn a_fraction_a_negative_or_an_overflow_is_refused() {
            for json in [
                r#"{"quantity":1.5}"#,
                r#"{"quantity":-1}"#,
                r#"{"quantity":-1.0}"#,
                r#"{"quantity":4294967296}"#,
                r#"{"quantity":1e300}"#,
                r#"{"quantity":"2"}"#,
            ] {
                assert!(quantity(json).is_err(), "{json}");
            }
        }
    }
}
