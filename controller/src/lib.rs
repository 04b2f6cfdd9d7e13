//! The Fledge controller as a library: the rollout state machine, the objects it writes, and
//! the process that runs it. The `fledge` binary is a thin command line over this.

pub mod checks;
pub mod decide;
