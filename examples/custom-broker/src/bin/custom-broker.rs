//! The crate's own command line: every patchbay command (`check`, `sim`, `explore`,
//! `real`, `compare`, `report`, `graph`) with the window broker registered beside
//! the built-in designs. `.cargo/config.toml` makes it `cargo xtask` in this folder.

use std::process::ExitCode;

fn main() -> ExitCode {
    patchbay::cli::main(custom_broker::registry())
}
