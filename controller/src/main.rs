//! The `fledge` binary: the command line of [`fledge_controller::cli`].

fn main() -> anyhow::Result<std::process::ExitCode> {
    fledge_controller::cli::main_with_args(std::env::args_os())
}
