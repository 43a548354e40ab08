//! Mock third parties. Each binary in `src/bin` is one Lambda function that wires a mock
//! together once per cold start.

pub mod ewallet;
pub mod records;
