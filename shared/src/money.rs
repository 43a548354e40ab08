//! Money is an integer number of minor units (cents) with a currency, never a float.
//! On the wire an amount is a JSON decimal number (`100.99`), as clients of the original
//! expect; it is written from and read into cents without float arithmetic.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ValidationError;

/// ISO 4217 code: three upper-case ASCII letters. Every currency here has 2 minor digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(ValidationError::new(
                "currency",
                "must be an ISO 4217 code such as USD",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored (see `parse`).
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Currency::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    cents: i64,
    currency: Currency,
}

impl Money {
    pub const fn from_cents(cents: i64, currency: Currency) -> Self {
        Self { cents, currency }
    }

    pub const fn cents(&self) -> i64 {
        self.cents
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// The last two digits: the e-wallet decides an outcome by them (.99, .11).
    pub const fn cents_part(&self) -> i64 {
        (self.cents % 100).abs()
    }

    /// The sum of two amounts in one currency; `None` on a currency mismatch or overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money::from_cents(
            self.cents.checked_add(other.cents)?,
            self.currency,
        ))
    }

    pub fn checked_mul(self, factor: u32) -> Option<Money> {
        Some(Money::from_cents(
            self.cents.checked_mul(i64::from(factor))?,
            self.currency,
        ))
    }
}

/// Parses a decimal amount with at most two fraction digits (`100.99`, `5`, `0.1`) into cents.
/// The largest amount either side of zero: 1,000,000,000,000.00. Far above any order, so
/// sums of amounts stay far from overflow, and below 1e16, past which common JSON
/// writers (Python's) switch to an exponent, which amounts may not use.
pub const MAX_AMOUNT_CENTS: i64 = 100_000_000_000_000;

fn within_bounds(cents: i64) -> Result<i64, ValidationError> {
    if cents.checked_abs().is_some_and(|c| c <= MAX_AMOUNT_CENTS) {
        Ok(cents)
    } else {
        Err(ValidationError::new(
            "amount",
            "must be at most 1000000000000.00 either side of zero",
        ))
    }
}

pub fn parse_decimal_cents(raw: &str) -> Result<i64, ValidationError> {
    let bad = || ValidationError::new("amount", "must be a decimal number with at most 2 decimals");
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || fraction.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || (digits.contains('.') && fraction.is_empty())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let fraction: i64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().map_err(|_| bad())? * 10,
        _ => fraction.parse().map_err(|_| bad())?,
    };
    let cents = whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(fraction))
        .ok_or_else(bad)?;
    within_bounds(if negative { -cents } else { cents })
}

/// `10099` → `"100.99"`.
pub fn format_decimal_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Serde adapter for a field holding cents that travels as a JSON decimal number.
pub mod decimal_cents {
    use serde::{Deserializer, Serializer, ser::Error as _};

    pub fn serialize<S: Serializer>(cents: &i64, s: S) -> Result<S::Ok, S::Error> {
        // The decimal text is exact; serde_json stores it as the nearest f64, which prints
        // back as the same text for any amount below 2^53 cents.
        let number: serde_json::Number = super::format_decimal_cents(*cents)
            .parse()
            .map_err(S::Error::custom)?;
        number.serialize(s)
    }

    /// Reads the number's own text where there is one: from JSON text (bodies, messages)
    /// serde_json hands over the literal as written, so `1e2` or `100.98999999999999999`
    /// cannot pass as 100.00 or 100.99 through an f64. Other formats (a DynamoDB row
    /// through serde_dynamo, an already parsed `serde_json::Value`) give a number, read
    /// exactly when whole and by its shortest decimal form otherwise.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_newtype_struct(RAW_VALUE_TOKEN, CentsVisitor)
    }

    /// serde_json's name for "give me the raw text" (its `RawValue`, feature `raw_value`).
    const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

    struct CentsVisitor;

    impl<'de> Visitor<'de> for CentsVisitor {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a decimal amount with at most 2 decimals")
        }

        /// serde_json's raw text: one entry whose value is the literal.
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<i64, A::Error> {
            let _token: Option<IgnoredAny> = map.next_key()?;
            let raw: std::borrow::Cow<'de, str> = map.next_value()?;
            super::parse_decimal_cents(&raw).map_err(A::Error::custom)
        }

        fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<i64, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_i64<E: Error>(self, whole: i64) -> Result<i64, E> {
            whole
                .checked_mul(100)
                .ok_or_else(|| E::custom("the amount is too large"))
                .and_then(|cents| super::within_bounds(cents).map_err(E::custom))
        }

        fn visit_u64<E: Error>(self, whole: u64) -> Result<i64, E> {
            i64::try_from(whole)
                .map_err(|_| E::custom("the amount is too large"))
                .and_then(|w| self.visit_i64(w))
        }

        fn visit_f64<E: Error>(self, amount: f64) -> Result<i64, E> {
            // Rust prints the shortest text that reads back as the same f64: 100.99.
            super::parse_decimal_cents(&amount.to_string()).map_err(E::custom)
        }

        fn visit_str<E: Error>(self, raw: &str) -> Result<i64, E> {
            super::parse_decimal_cents(raw).map_err(E::custom)
        }
    }

    use serde::Serialize as _;
    use serde::de::{Error, IgnoredAny, MapAccess, Visitor};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_amounts_become_exact_cents() {
        assert_eq!(parse_decimal_cents("100.99"), Ok(10099));
        assert_eq!(parse_decimal_cents("50.11"), Ok(5011));
        assert_eq!(parse_decimal_cents("5"), Ok(500));
        assert_eq!(parse_decimal_cents("0.1"), Ok(10));
        assert_eq!(parse_decimal_cents("-1.05"), Ok(-105));
        assert_eq!(
            parse_decimal_cents("1000000000000.00"),
            Ok(MAX_AMOUNT_CENTS)
        );
        assert_eq!(parse_decimal_cents("-1000000000000"), Ok(-MAX_AMOUNT_CENTS));
    }

    #[test]
    fn amounts_with_more_than_two_decimals_or_junk_are_rejected() {
        for raw in [
            "1.001",
            "",
            ".5",
            "1.",
            "1e3",
            "abc",
            "1,00",
            "99999999999999999999",
            "1000000000000.01",
            "-1000000000000.01",
        ] {
            assert!(parse_decimal_cents(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn cents_print_as_two_decimals() {
        assert_eq!(format_decimal_cents(10099), "100.99");
        assert_eq!(format_decimal_cents(10000), "100.00");
        assert_eq!(format_decimal_cents(5), "0.05");
        assert_eq!(format_decimal_cents(-105), "-1.05");
    }

    #[test]
    fn amounts_travel_as_json_numbers_and_back_exactly() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Wire {
            #[serde(with = "decimal_cents")]
            amount: i64,
        }
        for cents in [10099, 5011, 10, 0, 123_456_789_012] {
            let json = serde_json::to_string(&Wire { amount: cents }).unwrap();
            let back: Wire = serde_json::from_str(&json).unwrap();
            assert_eq!(back.amount, cents, "{json}");
        }
        assert_eq!(
            serde_json::to_string(&Wire { amount: 10099 }).unwrap(),
            r#"{"amount":100.99}"#
        );
    }

    #[test]
    fn json_amounts_are_read_from_their_text_never_through_a_float() {
        #[derive(Debug, serde::Deserialize)]
        struct Wire {
            #[serde(with = "decimal_cents")]
            #[allow(dead_code)]
            amount: i64,
        }
        // Each of these became an acceptable f64 (100.0, 100.99...) on the way in.
        for json in [
            r#"{"amount":1e2}"#,
            r#"{"amount":1.0099e2}"#,
            r#"{"amount":100.989}"#,
            r#"{"amount":100.98999999999999999}"#,
            r#"{"amount":"100.99"}"#,
            r#"{"amount":NaN}"#,
            r#"{"amount":null}"#,
        ] {
            assert!(serde_json::from_str::<Wire>(json).is_err(), "{json}");
        }
        let exact: Wire = serde_json::from_str(r#"{"amount": 100.99 }"#).unwrap();
        assert_eq!(exact.amount, 10099);
    }

    #[test]
    fn amounts_in_rows_and_parsed_values_read_back_exactly() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Row {
            #[serde(with = "decimal_cents")]
            amount: i64,
        }
        for cents in [10099, 5011, 10, 0, 100, 123_456_789_012] {
            let item: serde_dynamo::Item = serde_dynamo::to_item(Row { amount: cents }).unwrap();
            let back: Row = serde_dynamo::from_item(item).unwrap();
            assert_eq!(back.amount, cents);
            let value = serde_json::to_value(Row { amount: cents }).unwrap();
            assert_eq!(serde_json::from_value::<Row>(value).unwrap().amount, cents);
        }
    }

    #[test]
    fn the_cents_part_decides_the_payment_outcome() {
        assert_eq!(Money::from_cents(10099, Currency::USD).cents_part(), 99);
        assert_eq!(Money::from_cents(5011, Currency::USD).cents_part(), 11);
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        for raw in ["eur", "EU", "EURO", "€UR", ""] {
            assert!(Currency::parse(raw).is_err(), "{raw}");
        }
    }
}
