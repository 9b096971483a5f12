//! One module per subcommand.

pub mod run;
pub mod target;
pub mod validate;
