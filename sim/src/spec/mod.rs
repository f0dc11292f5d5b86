//! YAML text in, raw serde structs out, with diagnostics that name the file, line and column
//! of every problem.
//!
//! This layer is generic over the target type: the schema structs live beside it (`raw.rs`)
//! and the resolver that checks them and builds a plan lives above it. Reading order:
//! - [`source`]: a file's path and text; [`path`]: where a value sits (`nodes[2].name`).
//! - [`diag`]: the typed user-input error and its collector; [`render`](mod@render):
//!   rustc-style output.
//! - [`yaml`]: [`load`], the entry point; `de/` is its collecting deserializer, and
//!   [`suggest`] finds "did you mean" candidates for it and for the resolver.
//! - [`locate`](mod@locate): a YAML path back to a line and column.
//! - `nesting`: a linear pre-scan refusing flow collections nested deeper than the YAML
//!   library can scan quickly.
//! - [`scalar`], [`one_or_many`]: leaf types for the schema; [`units`]: durations, sizes,
//!   rates.
//!
//! - [`edit`]: a document as a plain tree a program rewrites and writes back (exploration
//!   writes the cases it finds as scenario files this way).
//!
//! **Architecture Invariant:** serde_yaml is named only inside `spec/`, parsed only in
//! `yaml.rs` and `locate.rs` and written only in `edit.rs`, so the YAML library can be
//! swapped without touching the schema or the resolver.

pub mod code;
pub mod diag;
pub mod edit;
pub mod locate;
mod nesting;
pub mod one_or_many;
pub mod path;
pub mod render;
pub mod scalar;
pub mod source;
pub mod units;
pub mod yaml;

pub mod suggest;

mod de;

#[doc(hidden)]
pub mod raw;

pub use diag::{Diagnostic, Diagnostics, Location, Severity, Target};
pub use locate::locate;
pub use one_or_many::OneOrMany;
pub use path::{Seg, YamlPath};
pub use render::{printable, render};
pub use scalar::{Scalar, ScalarKind};
pub use source::SourceFile;
pub use units::{UnitError, format_duration, format_size, parse_duration, parse_rate, parse_size};
pub use yaml::load;
