//! Mock third parties. Each binary in `src/bin` is one Lambda function that wires a mock
//! together once per cold start.

// Unit tests stamp their data with the wall clock; product code takes it from the Clock.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod ewallet;
pub mod records;
