//! Calls per order turned into dollars per million orders at public on-demand list prices
//! (us-east-1). The prices are constants of the bench, not fetched: update them here.

pub const PRICES_AS_OF: &str = "AWS public list prices, us-east-1, on-demand, as published in 2025 (DynamoDB after the Nov 2024 on-demand price cut); not re-fetched by the bench";

/// $ per million units.
pub struct Price {
    pub what: &'static str,
    pub per_million: f64,
}

pub const DYNAMODB_WRITE: Price = Price {
    what: "DynamoDB on-demand write request unit",
    per_million: 0.625,
};
pub const DYNAMODB_READ: Price = Price {
    what: "DynamoDB on-demand read request unit (counted 1 per read call: strongly consistent, ≤ 4 KB)",
    per_million: 0.125,
};
pub const LAMBDA_REQUEST: Price = Price {
    what: "Lambda request",
    per_million: 0.20,
};
/// arm64, $ per GB-second (x86_64: 0.0000166667).
pub const LAMBDA_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
pub const HTTP_API_REQUEST: Price = Price {
    what: "API Gateway HTTP API request (first 300 M a month)",
    per_million: 1.00,
};
pub const SQS_REQUEST: Price = Price {
    what: "SQS standard request (64 KB chunk)",
    per_million: 0.40,
};
pub const SNS_PUBLISH: Price = Price {
    what: "SNS publish (delivery to SQS is free)",
    per_million: 0.50,
};
pub const SCHEDULER_INVOCATION: Price = Price {
    what: "EventBridge Scheduler invocation (one per one-time schedule)",
    per_million: 1.00,
};
pub const EVENTBRIDGE_EVENT: Price = Price {
    what: "EventBridge custom event",
    per_million: 1.00,
};
pub const SES_EMAIL: Price = Price {
    what: "SES e-mail",
    per_million: 100.0,
};

/// The price of one call of `service`'s `operation`, if it is billed per call.
pub fn price_of(service: &str, operation: &str) -> Option<&'static Price> {
    match (service, operation) {
        ("dynamodb", op) if crate::calls::is_dynamodb_write(op) => Some(&DYNAMODB_WRITE),
        ("dynamodb", "GetItem" | "Query" | "Scan" | "BatchGetItem" | "TransactGetItems") => {
            Some(&DYNAMODB_READ)
        }
        ("sqs", _) => Some(&SQS_REQUEST),
        ("sns", "Publish" | "PublishBatch") => Some(&SNS_PUBLISH),
        // A one-time schedule is billed when it fires, once.
        ("scheduler", "CreateSchedule") => Some(&SCHEDULER_INVOCATION),
        ("events", "PutEvents") => Some(&EVENTBRIDGE_EVENT),
        ("ses" | "email", "SendEmail") => Some(&SES_EMAIL),
        _ => None,
    }
}

/// Lambda duration cost per invocation at `memory_mb`, billed `ms`.
pub fn lambda_duration_cost(memory_mb: u64, ms: f64) -> f64 {
    (memory_mb as f64 / 1024.0) * (ms / 1000.0) * LAMBDA_GB_SECOND_ARM64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_of_dynamodb_have_their_own_prices() {
        assert_eq!(
            price_of("dynamodb", "UpdateItem").unwrap().per_million,
            0.625
        );
        assert_eq!(price_of("dynamodb", "Query").unwrap().per_million, 0.125);
        assert!(price_of("scheduler", "ListSchedules").is_none());
    }

    #[test]
    fn a_million_128_mb_invocations_of_10_ms_cost_about_17_cents_on_arm64() {
        let per_million = lambda_duration_cost(128, 10.0) * 1e6;
        assert!((per_million - 0.0167).abs() < 0.001, "{per_million}");
    }
}
