//! The invocation gate's counts (localstack/gate.py `GET /_stats?times=1`): what a run
//! forwarded, refused, started after its deadline (ghosts) and answered after it, and how
//! long invocations waited in line and then ran.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct FunctionStats {
    pub forwarded: u64,
    pub refused: u64,
    pub started_late: u64,
    pub answered_late: u64,
    pub waited_ms: Vec<f64>,
    pub ran_ms: Vec<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct GateStats(pub BTreeMap<String, FunctionStats>);

impl GateStats {
    pub async fn read(http: &reqwest::Client, gate_url: &str) -> anyhow::Result<Self> {
        let body: Value = http
            .get(format!("{}/_stats?times=1", gate_url.trim_end_matches('/')))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(Self::of(&body))
    }

    pub fn of(body: &Value) -> Self {
        let count = |f: &Value, k: &str| f[k].as_u64().unwrap_or(0);
        let times = |f: &Value, k: &str| -> Vec<f64> {
            f[k].as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default()
        };
        Self(
            body.as_object()
                .into_iter()
                .flatten()
                .map(|(name, f)| {
                    let stats = FunctionStats {
                        forwarded: count(f, "forwarded"),
                        refused: count(f, "refused"),
                        started_late: count(f, "started_late"),
                        answered_late: count(f, "answered_late"),
                        waited_ms: times(f, "waited_ms"),
                        ran_ms: times(f, "ran_ms"),
                    };
                    (name.clone(), stats)
                })
                .collect(),
        )
    }

    /// What happened between `before` and `self` (the gate only adds, and keeps the
    /// latest times: the new ones are the tail).
    pub fn since(&self, before: &GateStats) -> GateStats {
        let empty = FunctionStats::default();
        GateStats(
            self.0
                .iter()
                .map(|(name, now)| {
                    let was = before.0.get(name).unwrap_or(&empty);
                    let new = usize::try_from(now.forwarded.saturating_sub(was.forwarded))
                        .unwrap_or(usize::MAX);
                    let tail = |v: &Vec<f64>| v[v.len().saturating_sub(new)..].to_vec();
                    let stats = FunctionStats {
                        forwarded: now.forwarded.saturating_sub(was.forwarded),
                        refused: now.refused.saturating_sub(was.refused),
                        started_late: now.started_late.saturating_sub(was.started_late),
                        answered_late: now.answered_late.saturating_sub(was.answered_late),
                        waited_ms: tail(&now.waited_ms),
                        ran_ms: tail(&now.ran_ms),
                    };
                    (name.clone(), stats)
                })
                .collect(),
        )
    }

    pub fn ghosts(&self) -> u64 {
        self.0.values().map(|f| f.started_late).sum()
    }

    pub fn refused(&self) -> u64 {
        self.0.values().map(|f| f.refused).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_run_is_what_the_gate_counted_since_it_started() {
        let before = GateStats::of(&json!({"order-checkout": {"forwarded": 2, "refused": 1,
            "started_late": 0, "answered_late": 0, "waited_ms": [1.0, 2.0], "ran_ms": [5.0, 6.0]}}));
        let after = GateStats::of(&json!({
            "order-checkout": {"forwarded": 4, "refused": 3, "started_late": 1, "answered_late": 0,
                "waited_ms": [1.0, 2.0, 3.0, 4.0], "ran_ms": [5.0, 6.0, 7.0, 8.0]},
            "payment-request": {"forwarded": 1, "refused": 0, "started_late": 0, "answered_late": 1,
                "waited_ms": [9.0], "ran_ms": [10.0]}}));
        let run = after.since(&before);
        assert_eq!(run.0["order-checkout"].forwarded, 2);
        assert_eq!(run.0["order-checkout"].waited_ms, [3.0, 4.0]);
        assert_eq!(run.0["payment-request"].ran_ms, [10.0]);
        assert_eq!(run.ghosts(), 1);
        assert_eq!(run.refused(), 2);
    }
}
