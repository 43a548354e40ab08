//! Part 1, size: each function's release binary and its Lambda zip, as `cargo lambda build
//! --release --output-format zip` left them (localstack/bench.sh runs that build).

use std::path::{Path, PathBuf};

/// The budget of the issue: each zip ≤ 2.5 MB (decimal megabytes).
pub const ZIP_BUDGET_BYTES: u64 = 2_500_000;

/// Where the build puts things: `target/<triple>/release/<bin>` and
/// `target/lambda/<bin>/bootstrap.zip`.
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub target_dir: PathBuf,
    pub triple: String,
}

impl Artifacts {
    pub fn binary(&self, name: &str) -> PathBuf {
        self.target_dir
            .join(&self.triple)
            .join("release")
            .join(name)
    }

    pub fn zip(&self, name: &str) -> PathBuf {
        self.target_dir
            .join("lambda")
            .join(name)
            .join("bootstrap.zip")
    }

    /// Both artifacts exist: the build of this run produced them (bench.sh removes the
    /// zips before building, so a stale one cannot pass for a fresh one).
    pub fn built(&self, name: &str) -> bool {
        self.binary(name).is_file() && self.zip(name).is_file()
    }
}

#[derive(Debug, Clone)]
pub struct SizeRow {
    pub name: String,
    pub binary_bytes: u64,
    pub zip_bytes: u64,
}

impl SizeRow {
    pub fn within_budget(&self) -> bool {
        self.zip_bytes <= ZIP_BUDGET_BYTES
    }
}

pub fn measure(artifacts: &Artifacts, name: &str) -> Option<SizeRow> {
    Some(SizeRow {
        name: name.to_owned(),
        binary_bytes: file_len(&artifacts.binary(name))?,
        zip_bytes: file_len(&artifacts.zip(name))?,
    })
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}
