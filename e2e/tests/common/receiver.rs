//! A local HTTP receiver standing in for webhook targets and chat services: it records every
//! call (path, headers, raw body, body as JSON) and answers each path with the status the test
//! sets (200 unless told otherwise).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One call the receiver saw.
#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    pub headers: HeaderMap,
    pub raw: String,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    answers: Mutex<HashMap<String, u16>>,
    delays: Mutex<HashMap<String, std::time::Duration>>,
}

/// A started receiver on 127.0.0.1; it stops with the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    shared: Arc<Shared>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(post(record)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { shared, url }
    }

    /// Answer calls to `path` with `status` from now on.
    pub fn answer(&self, path: &str, status: u16) {
        self.shared.answers.lock().unwrap().insert(path.to_owned(), status);
    }

    /// Answer calls to `path` only after `delay` from now on (a slow load test or gate); the
    /// call is recorded when it arrives.
    pub fn delay(&self, path: &str, delay: std::time::Duration) {
        self.shared.delays.lock().unwrap().insert(path.to_owned(), delay);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// The calls to `path`, in order.
    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.path == path).collect()
    }
}

async fn record(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, raw: String) -> StatusCode {
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let path = uri.path().to_owned();
    let status = shared.answers.lock().unwrap().get(&path).copied().unwrap_or(200);
    let delay = shared.delays.lock().unwrap().get(&path).copied();
    shared.calls.lock().unwrap().push(Call { path, headers, raw, body });
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}
