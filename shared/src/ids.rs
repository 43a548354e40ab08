//! Identifiers. Both are UUIDs on the wire; anything else is rejected before it reaches a
//! table, so a malformed id is a 400, never a lookup.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ValidationError;

macro_rules! uuid_id {
    ($name:ident, $field:literal) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Parses the hyphenated UUID form only (36 characters), in any letter case.
            pub fn parse(raw: &str) -> Result<Self, ValidationError> {
                if raw.len() != 36 {
                    return Err(ValidationError::new(
                        $field,
                        "must be a UUID such as 5a2fb4b2-f281-4c64-8bbc-ec3500b40c76",
                    ));
                }
                Uuid::try_parse(raw).map(Self).map_err(|_| {
                    ValidationError::new(
                        $field,
                        "must be a UUID such as 5a2fb4b2-f281-4c64-8bbc-ec3500b40c76",
                    )
                })
            }

            /// A random id, for tests and seed data: the flow derives its ids from keys.
            #[allow(clippy::disallowed_methods)]
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Always lower-case hyphenated: one spelling per id in tables and logs.
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(UserId, "userId");
uuid_id!(OrderId, "orderId");
uuid_id!(PaymentId, "paymentId");
uuid_id!(ProcessId, "processId");
uuid_id!(JobId, "jobId");

impl PaymentId {
    /// The payment id of the payment requested under `idempotency_key`. Both the order
    /// service (which records it on the order before asking) and the payment service
    /// (which stores the payment under it) derive it, so a confirmation can be matched to
    /// the checkout attempt it belongs to, whichever arrives first.
    pub fn for_idempotency_key(idempotency_key: &str) -> Self {
        const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a0e_9d4b_4c3e_8a57_1b2c_3d4e_5f60);
        Self(Uuid::new_v5(&NAMESPACE, idempotency_key.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hyphenated_uuid_is_a_user_id() {
        let id = UserId::parse("5a2fb4b2-f281-4c64-8bbc-ec3500b40c76").unwrap();
        assert_eq!(id.to_string(), "5a2fb4b2-f281-4c64-8bbc-ec3500b40c76");
    }

    #[test]
    fn an_upper_case_uuid_is_stored_lower_case() {
        let id = OrderId::parse("5A2FB4B2-F281-4C64-8BBC-EC3500B40C76").unwrap();
        assert_eq!(id.to_string(), "5a2fb4b2-f281-4c64-8bbc-ec3500b40c76");
    }

    #[test]
    fn malformed_ids_are_rejected_naming_the_field() {
        for raw in [
            "",
            "42",
            "not-a-uuid",
            "5a2fb4b2f2814c648bbcec3500b40c76",
            "{5a2fb4b2-f281-4c64-8bbc-ec3500b40c76}",
            "5a2fb4b2-f281-4c64-8bbc-ec3500b40c7g",
            "../../etc/passwd",
        ] {
            let err = UserId::parse(raw).unwrap_err();
            assert_eq!(err.field, "userId", "{raw}");
            assert_eq!(OrderId::parse(raw).unwrap_err().field, "orderId");
        }
    }
}
