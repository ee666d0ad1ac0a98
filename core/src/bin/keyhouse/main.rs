//! The `keyhouse` command-line program; all of it is `keyhouse::cli`.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(keyhouse::cli::run(std::env::args_os()))
}
