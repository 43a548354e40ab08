//! Tests only; see tests/.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]
