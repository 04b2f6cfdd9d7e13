//! An ordered, bounded queue with one worker: what leaves the cluster (event webhooks,
//! notifications) goes through one, so a slow receiver never holds up a reconcile and a
//! receiver gets one controller's items in the order they were queued. Does I/O (spawns).

use std::future::Future;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Items waiting before new ones are dropped.
const CAPACITY: usize = 1024;

/// The sending side. Cheap to clone; the worker ends once every clone is dropped and the
/// queue is empty.
#[derive(Debug)]
pub struct Queue<T> {
    sender: mpsc::Sender<T>,
    /// What the items are, for the warning when one is dropped.
    what: &'static str,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Self { sender: self.sender.clone(), what: self.what }
    }
}

impl<T: Send + 'static> Queue<T> {
    /// Start a worker (on the current tokio runtime) that hands each item to `handle`, one
    /// at a time, in order.
    pub fn spawn<F, Fut>(what: &'static str, mut handle: F) -> (Self, JoinHandle<()>)
    where
        F: FnMut(T) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (sender, mut rx) = mpsc::channel::<T>(CAPACITY);
        let worker = tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                handle(item).await;
            }
        });
        (Self { sender, what }, worker)
    }

    /// Queue an item; when the worker is too far behind it is dropped with a warning (these
    /// deliveries are best effort; the Kubernetes event is the record).
    pub fn push(&self, item: T) {
        if let Err(e) = self.sender.try_send(item) {
            tracing::warn!(error = %e, "{} are behind; one was not sent", self.what);
        }
    }
}
