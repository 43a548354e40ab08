//! Integration tests of the order service's handlers against the AWS emulator.
//! Each test works on its own random user, so tests share the table and run in parallel.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod checkout;
mod contract;
mod events;
mod get;
mod helpers;
mod processes;
mod search;
