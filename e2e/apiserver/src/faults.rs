//! Injected failures, for tests of how the controller copes with a flaky API server: a chosen
//! share of requests fails with 500 or 409, or stalls.

use rand::Rng;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do to a share of requests.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct FaultConfig {
    /// Share of requests (0..=1) answered with `code`.
    pub error_share: f64,
    /// The code of injected failures: 500 or 409.
    pub code: u16,
    /// Share of requests (0..=1) held for `stall` before they are served.
    pub stall_share: f64,
    /// How long a stalled request waits.
    pub stall: Duration,
    /// Only writes (POST, PUT, PATCH, DELETE) are affected.
    pub writes_only: bool,
}

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Serve it.
    None,
    /// Answer with this code.
    Fail(u16),
    /// Wait, then serve it.
    Stall(Duration),
}

/// The switch, shared by the server and whoever flips it.
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<Mutex<FaultConfig>>);

impl Faults {
    /// Sets the faults; `FaultConfig::default()` turns them off.
    pub fn set(&self, config: FaultConfig) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Draws the fate of one request.
    pub fn draw(&self, write: bool) -> Fault {
        let config = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        if config.writes_only && !write {
            return Fault::None;
        }
        let mut rng = rand::rng();
        if config.error_share > 0.0 && rng.random_bool(config.error_share.clamp(0.0, 1.0)) {
            return Fault::Fail(if config.code == 0 { 500 } else { config.code });
        }
        if config.stall_share > 0.0 && rng.random_bool(config.stall_share.clamp(0.0, 1.0)) {
            return Fault::Stall(config.stall);
        }
        Fault::None
    }
}
