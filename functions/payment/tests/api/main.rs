//! Integration tests of the payment service's handlers against the AWS emulator, with a
//! local HTTP server per test playing the e-wallet and the order service.
//! Each test works on its own random keys and ids, so tests share the table and run in
//! parallel.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod contract;
mod events;
mod helpers;
mod request;
mod resolve;
mod webhook;
