//! Tests of the web function through its handler: the page and its assets as a browser
//! gets them, and its sample events.

// A test harness: it stamps and names its own test data with the wall clock and random ids.
#![allow(clippy::disallowed_methods)]

mod events;
mod page;
