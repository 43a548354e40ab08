//! Integration tests of the order service's handlers against the AWS emulator.
//! Each test works on its own random user, so tests share the table and run in parallel.

mod checkout;
mod contract;
mod events;
mod get;
mod helpers;
mod processes;
mod search;
