//! Tests of the notification service: its sample events, and its e-mail log against the
//! emulator.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod contract;
mod events;
