//! Paging and search parameters as the client sends them in a query string.

use serde::Serialize;

use crate::ValidationError;

/// 1-based page number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page(u32);

impl Page {
    /// Far beyond any real page count; keeps `page * pageSize` from overflowing.
    pub const MAX: u32 = 1_000_000;

    /// A missing or empty value is page 1.
    pub fn parse(raw: Option<&str>) -> Result<Self, ValidationError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Self(1)),
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
                _ => Err(ValidationError::new(
                    "page",
                    format!("must be a whole number from 1 to {}", Self::MAX),
                )),
            },
        }
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

/// Orders per page: 1 to 100, 10 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub const DEFAULT: u32 = 10;
    pub const MAX: u32 = 100;

    pub fn parse(raw: Option<&str>) -> Result<Self, ValidationError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Self(Self::DEFAULT)),
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
                _ => Err(ValidationError::new(
                    "pageSize",
                    format!("must be a whole number from 1 to {}", Self::MAX),
                )),
            },
        }
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

/// A fragment of an order name to look for, matched case-insensitively anywhere in the name.
/// Empty means every order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameFilter {
    as_given: String,
    folded: String,
}

impl NameFilter {
    /// Longer than any order name, so a longer filter can never match anything.
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: Option<&str>) -> Result<Self, ValidationError> {
        let trimmed = raw.unwrap_or_default().trim();
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "name",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self {
            as_given: trimmed.to_owned(),
            folded: fold_case(trimmed),
        })
    }

    pub fn as_given(&self) -> &str {
        &self.as_given
    }

    /// The lower-cased form that is compared against `fold_case(name)`.
    pub fn folded(&self) -> &str {
        &self.folded
    }

    pub fn is_empty(&self) -> bool {
        self.folded.is_empty()
    }

    pub fn matches(&self, name: &str) -> bool {
        fold_case(name).contains(&self.folded)
    }
}

/// The one case folding used for stored search keys and for filters.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub current_page: u32,
    pub page_size: u32,
    pub total_records: u64,
    pub total_pages: u64,
}

/// Cuts one page out of an already ordered list.
pub fn paginate<T>(items: Vec<T>, page: Page, size: PageSize) -> (Vec<T>, Pagination) {
    let total_records = items.len() as u64;
    let size_u64 = u64::from(size.get());
    let total_pages = total_records.div_ceil(size_u64);
    let skip = u64::from(page.get() - 1) * size_u64;
    let data: Vec<T> = items
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(size.get() as usize)
        .collect();
    (
        data,
        Pagination {
            current_page: page.get(),
            page_size: size.get(),
            total_records,
            total_pages,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_defaults_to_1_and_page_size_to_10() {
        assert_eq!(Page::parse(None).unwrap().get(), 1);
        assert_eq!(Page::parse(Some("")).unwrap().get(), 1);
        assert_eq!(PageSize::parse(None).unwrap().get(), 10);
    }

    #[test]
    fn a_page_below_1_or_not_a_number_is_rejected() {
        for raw in ["0", "-1", "1.5", "abc", "1e3", "99999999999", "2000000"] {
            assert_eq!(Page::parse(Some(raw)).unwrap_err().field, "page", "{raw}");
        }
    }

    #[test]
    fn a_page_size_of_0_or_over_100_is_rejected() {
        for raw in ["0", "101", "1000", "-5", "ten"] {
            assert_eq!(
                PageSize::parse(Some(raw)).unwrap_err().field,
                "pageSize",
                "{raw}"
            );
        }
        assert_eq!(PageSize::parse(Some("100")).unwrap().get(), 100);
        assert_eq!(PageSize::parse(Some("1")).unwrap().get(), 1);
    }

    #[test]
    fn a_name_filter_matches_fragments_in_any_case() {
        let filter = NameFilter::parse(Some("  PRESSO ")).unwrap();
        assert!(filter.matches("Walnut Espresso Machine #001"));
        assert!(!filter.matches("Coffee Grinder"));
        assert!(NameFilter::parse(None).unwrap().matches("anything"));
    }

    #[test]
    fn a_ten_kilobyte_name_filter_is_rejected() {
        let long = "a".repeat(10 * 1024);
        assert_eq!(NameFilter::parse(Some(&long)).unwrap_err().field, "name");
    }

    #[test]
    fn paging_cuts_the_requested_slice_and_counts_pages() {
        let items: Vec<u32> = (1..=23).collect();
        let (data, p) = paginate(items.clone(), Page(3), PageSize(10));
        assert_eq!(data, vec![21, 22, 23]);
        assert_eq!((p.total_records, p.total_pages), (23, 3));
        let (data, _) = paginate(items, Page(4), PageSize(10));
        assert!(data.is_empty());
    }
}
