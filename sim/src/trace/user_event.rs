//! [`UserEvent`]: a typed event a user's design records of its own.
//!
//! Built-in designs record the markers invariants count ([`AppEvent`]'s other
//! variants); a user's design records what its own checks and its readers need, as
//! a name and ordered fields of whole numbers, text, durations and message ids. The
//! fields stay typed in the trace (and in its compact form), so a check reads them
//! back as values, never by parsing prose; reports print them as `name k=v …`.

use std::time::Duration;

use super::{AppEvent, MsgId};

/// A typed event of a user's design: a name and ordered `(key, value)` fields.
///
/// ```
/// use std::time::Duration;
/// use patchbay::trace::{FieldValue, UserEvent};
///
/// let e = UserEvent::new("job_done").field("job", 7).field("took", Duration::from_millis(3));
/// assert_eq!(e.get("job"), Some(&FieldValue::Int(7)));
/// assert_eq!(e.to_string(), "job_done job=7 took=3ms");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserEvent {
    /// What happened, as a short word (`job_done`, `worker_chosen`).
    pub name: String,
    /// The fields in the order the design added them; a key may repeat.
    pub fields: Vec<(String, FieldValue)>,
}

/// One field's value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldValue {
    /// A signed whole number (every integer type but `u64` and `usize` converts to it).
    Int(i64),
    /// An unsigned whole number, which may be too wide for `Int` (`u64` and `usize`
    /// convert to it).
    Uint(u64),
    /// Text, printed quoted.
    Text(String),
    /// A span of (simulated) time, printed as scenario files write it (`3ms`).
    Duration(Duration),
    /// A message id; reports print it as they print ids (`client.0#6`).
    Msg(MsgId),
}

impl UserEvent {
    /// An event named `name` with no fields yet.
    pub fn new(name: impl Into<String>) -> UserEvent {
        UserEvent { name: name.into(), fields: Vec::new() }
    }

    /// Adds a field after the ones already added.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<FieldValue>) -> UserEvent {
        self.fields.push((key.into(), value.into()));
        self
    }

    /// Adds a message id field (a plain `u64` would print as a number).
    pub fn msg(self, key: impl Into<String>, id: MsgId) -> UserEvent {
        self.field(key, FieldValue::Msg(id))
    }

    /// The event as reports print it, `name k=v …`, message ids written by `msg`
    /// (reports pass `msg_label` with the run's topology, giving `client.0#6`).
    pub fn label(&self, msg: impl Fn(MsgId) -> String) -> String {
        let mut out = self.name.clone();
        for (k, v) in &self.fields {
            let v = match v {
                FieldValue::Msg(id) => msg(*id),
                other => other.to_string(),
            };
            out.push_str(&format!(" {k}={v}"));
        }
        out
    }

    /// The first message id among the fields, which reports follow as the event's
    /// message.
    pub fn first_msg(&self) -> Option<MsgId> {
        self.fields.iter().find_map(|(_, v)| match v {
            FieldValue::Msg(id) => Some(*id),
            _ => None,
        })
    }

    /// The first field named `key`.
    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Without a topology to name them by, message ids print as numbers.
impl std::fmt::Display for UserEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label(|id| id.to_string()))
    }
}

impl std::fmt::Display for FieldValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldValue::Int(n) => write!(f, "{n}"),
            FieldValue::Uint(n) => write!(f, "{n}"),
            FieldValue::Text(s) => write!(f, "{s:?}"),
            FieldValue::Duration(d) => f.write_str(&crate::spec::units::format_duration(*d)),
            FieldValue::Msg(id) => write!(f, "{id}"),
        }
    }
}

impl From<UserEvent> for AppEvent {
    fn from(e: UserEvent) -> AppEvent {
        AppEvent::User(e)
    }
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl From<$t> for FieldValue {
            fn from(n: $t) -> FieldValue {
                FieldValue::Int(i64::from(n))
            }
        }
    )*};
}

int_field!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for FieldValue {
    fn from(n: u64) -> FieldValue {
        FieldValue::Uint(n)
    }
}

impl From<usize> for FieldValue {
    fn from(n: usize) -> FieldValue {
        FieldValue::Uint(n as u64)
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> FieldValue {
        FieldValue::Text(s.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> FieldValue {
        FieldValue::Text(s)
    }
}

impl From<Duration> for FieldValue {
    fn from(d: Duration) -> FieldValue {
        FieldValue::Duration(d)
    }
}
