//! The `stray` binary: everything lives in the library; this only maps the
//! result of [`stray::run`] to the process exit status.

fn main() -> std::process::ExitCode {
    stray::run(std::env::args_os().collect()).into()
}
