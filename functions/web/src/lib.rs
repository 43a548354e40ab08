//! The web UI: one page that searches a user's orders, checks one out and shows its
//! payment and fulfilment as they happen. The page and its assets are embedded in the
//! binary (no CDN, nothing fetched at run time) and served on the public API, beside the
//! routes the page calls.

// Unit tests stamp their data with the wall clock; product code takes it from the Clock.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod serve;
pub mod site;

pub use serve::WebError;
pub use site::{Asset, Site};
