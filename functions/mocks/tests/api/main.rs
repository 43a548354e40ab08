//! Integration tests of the mock e-wallet against the AWS emulator (its table and schedule
//! group from the local stack). Each test works on its own random ids and its own webhook
//! receiver (an HTTP server on 127.0.0.1), so tests run in parallel.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod cancel;
mod contract;
mod dispatcher;
mod events;
mod helpers;
mod payment_request;
mod records;
