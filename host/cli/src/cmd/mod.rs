//! One module per subcommand.

pub mod guest;
pub mod inspect;
pub mod new;
pub mod report;
pub mod run;
pub mod target;
pub mod validate;
