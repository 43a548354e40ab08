//! Sending mail: SES v2 SendEmail with Simple content.

use std::future::Future;

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::EmailLog;

#[derive(Debug, thiserror::Error)]
#[error("the e-mail was not sent")]
pub struct SendError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

pub trait EmailSender: Send + Sync {
    /// Sends the mail; SES's message id.
    fn send(&self, mail: &EmailLog) -> impl Future<Output = Result<String, SendError>> + Send;
}

impl<T: EmailSender + ?Sized> EmailSender for &T {
    fn send(&self, mail: &EmailLog) -> impl Future<Output = Result<String, SendError>> + Send {
        (**self).send(mail)
    }
}

#[derive(Debug, Clone)]
pub struct SesEmailSender {
    client: aws_sdk_sesv2::Client,
}

impl SesEmailSender {
    pub fn new(client: aws_sdk_sesv2::Client) -> Self {
        Self { client }
    }
}

fn content(text: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendError(Box::new(e)))
}

impl EmailSender for SesEmailSender {
    #[tracing::instrument(skip(self, mail), fields(email_id = %mail.email_id))]
    async fn send(&self, mail: &EmailLog) -> Result<String, SendError> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(Body::builder().text(content(&mail.body)?).build())
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&mail.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(mail.to.clone()))
                    .set_bcc_addresses((!mail.bcc.is_empty()).then(|| mail.bcc.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| SendError(Box::new(e)))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}
