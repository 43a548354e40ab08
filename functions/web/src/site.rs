//! The page and its assets, embedded at build time, each with its validator computed once
//! per cold start.

use sha2::{Digest, Sha256};

/// The whole page (HTML, CSS and JS) must stay within this many bytes, uncompressed.
pub const PAGE_BUDGET_BYTES: usize = 60 * 1024;

/// One file the page is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Its name under `assets/`; the page itself is `index.html`, served at `/`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
    /// A strong ETag: the SHA-256 of the body, so a browser revalidates for free.
    pub etag: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        Self {
            name,
            content_type,
            body,
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
        }
    }
}

/// The page and its assets.
#[derive(Debug, Clone)]
pub struct Site {
    pub page: Asset,
    pub assets: Vec<Asset>,
}

impl Site {
    /// The files in `assets/`, as compiled into this binary.
    pub fn embedded() -> Self {
        Self {
            page: Asset::new(
                "index.html",
                "text/html; charset=utf-8",
                include_str!("../assets/index.html"),
            ),
            assets: vec![
                Asset::new(
                    "app.css",
                    "text/css; charset=utf-8",
                    include_str!("../assets/app.css"),
                ),
                Asset::new(
                    "app.js",
                    "text/javascript; charset=utf-8",
                    include_str!("../assets/app.js"),
                ),
            ],
        }
    }

    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.iter().find(|asset| asset.name == name)
    }

    /// Bytes a first visit transfers for the page and everything it loads, uncompressed.
    pub fn total_bytes(&self) -> usize {
        self.page.body.len() + self.assets.iter().map(|a| a.body.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_page_fits_its_60_kb_budget() {
        let site = Site::embedded();
        assert!(
            site.total_bytes() <= PAGE_BUDGET_BYTES,
            "the page is {} bytes, over its budget of {PAGE_BUDGET_BYTES}",
            site.total_bytes()
        );
    }

    #[test]
    fn every_asset_the_page_links_is_served_and_every_served_asset_is_linked() {
        let site = Site::embedded();
        let linked: Vec<&str> = site
            .page
            .body
            .split("\"assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        let mut served: Vec<&str> = site.assets.iter().map(|a| a.name).collect();
        let mut wanted = linked.clone();
        served.sort_unstable();
        wanted.sort_unstable();
        assert_eq!(wanted, served);
    }

    #[test]
    fn the_page_loads_nothing_from_another_origin() {
        let site = Site::embedded();
        for asset in std::iter::once(&site.page).chain(&site.assets) {
            for needle in ["http://", "https://", "src=\"//", "href=\"//", "url(//"] {
                assert!(
                    !asset.body.contains(needle),
                    "{} names another origin ({needle})",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn the_page_calls_the_api_with_urls_relative_to_where_it_was_loaded() {
        // Locally the API lives under a path prefix (/_aws/execute-api/<apiId>/), so an
        // absolute "/api/..." would miss it.
        let script = Site::embedded()
            .asset("app.js")
            .map(|a| a.body)
            .unwrap_or("");
        assert!(script.contains("api/v1/users/"));
        for absolute in ["'/api", "\"/api", "`/api"] {
            assert!(!script.contains(absolute), "app.js calls {absolute}...");
        }
    }

    #[test]
    fn an_etag_changes_with_the_body() {
        let a = Asset::new("a", "text/plain", "one");
        let b = Asset::new("a", "text/plain", "two");
        assert_ne!(a.etag, b.etag);
        assert_eq!(a.etag, Asset::new("a", "text/plain", "one").etag);
    }
}
