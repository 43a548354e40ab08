//! The e-mails the notification listener composes: one after a success (the order, its
//! amount, what happens next), one after a failure (what failed, and that the user can
//! try again).

use shared::contracts::OrderStatus;
use shared::fulfilment::{PaymentResult, SendEmailRequest};
use shared::money::format_decimal_cents;

/// The demo recipient of a user: there is no user directory, so each user has the address
/// `<userId>@<domain>` (README, "Fulfilment").
pub fn recipient(result: &PaymentResult, domain: &str) -> String {
    format!("{}@{domain}", result.user_id)
}

pub fn compose(result: &PaymentResult, domain: &str) -> SendEmailRequest {
    let amount = format!(
        "{} {}",
        format_decimal_cents(result.order.total_amount),
        result.order.currency.as_str()
    );
    let (subject, body) = if result.status == OrderStatus::PaymentSuccess {
        (
            format!("Your order {} is paid", result.order.name),
            format!(
                "Thank you. We received your payment of {amount} for order {} ({}).\n\n\
                 What happens next: your order goes into production and you will receive \
                 its invoice shortly.",
                result.order.name, result.order_id
            ),
        )
    } else {
        (
            format!("Your payment for {} did not go through", result.order.name),
            format!(
                "The payment of {amount} for order {} ({}) failed; you were not charged.\n\n\
                 You can try again: open the order and check out once more.",
                result.order.name, result.order_id
            ),
        )
    };
    SendEmailRequest {
        subject,
        body,
        to: vec![recipient(result, domain)],
        bcc: Vec::new(),
    }
}
