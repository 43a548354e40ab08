//! One shutdown signal shared by every event source: Ctrl-C or SIGTERM stops them all, and
//! each finishes what it is doing.

use tokio::sync::watch;

/// A handle each event source waits on.
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// Fires the shutdown.
#[derive(Debug)]
pub struct Trigger {
    sender: watch::Sender<bool>,
}

pub fn channel() -> (Trigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (Trigger { sender }, Shutdown { receiver })
}

impl Trigger {
    pub fn fire(&self) {
        self.sender.send_replace(true);
    }
}

impl Shutdown {
    /// Whether the shutdown has fired (or its trigger is gone).
    pub fn is_fired(&self) -> bool {
        *self.receiver.borrow() || self.receiver.has_changed().is_err()
    }

    /// Resolves once the shutdown has fired (or its trigger is gone).
    pub async fn wait(mut self) {
        // An error means the trigger was dropped: shut down too.
        let _ = self.receiver.wait_for(|fired| *fired).await;
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_handle_wakes_when_the_shutdown_fires() {
        let (trigger, shutdown) = channel();
        let waiters: Vec<_> = (0..3)
            .map(|_| tokio::spawn(shutdown.clone().wait()))
            .collect();
        trigger.fire();
        for waiter in waiters {
            assert!(waiter.await.is_ok());
        }
    }

    #[test]
    fn a_handle_tells_whether_the_shutdown_has_fired() {
        let (trigger, shutdown) = channel();
        assert!(!shutdown.is_fired());
        trigger.fire();
        assert!(shutdown.is_fired());
        let (trigger, shutdown) = channel();
        drop(trigger);
        assert!(shutdown.is_fired(), "a dropped trigger counts as fired");
    }
}
