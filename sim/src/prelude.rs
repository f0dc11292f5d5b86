//! What a design author needs, in one import: `use patchbay::prelude::*;`.
//!
//! The builder a design is declared with ([`Design`]) and the vocabulary it
//! takes ([`Role`], [`ParamKind`], [`SocketType`]); the context a running design is
//! handed ([`NodeCtx`], its sockets, messages and payloads); the [`kit`] of helpers
//! the built-in designs use; the events a design records ([`AppEvent`], and
//! [`UserEvent`] for its own); and the [`Registry`] a design is added to.
//!
//! ```
//! use patchbay::prelude::*;
//!
//! // A worker that answers every request after a pause its topology sets.
//! let worker = Design::new("patient-worker")
//!     .summary("Answers each request after `pause`.")
//!     .role(Role::Replier)
//!     .socket("rep", &[SocketType::Rep], "where requests arrive")
//!     .param("pause", ParamKind::Duration, Some("5ms"), "time before each answer")
//!     .run(|ctx| async move {
//!         let rep = ctx.socket("rep");
//!         let pause = ctx.param_duration("pause");
//!         while let Ok(request) = rep.recv().await {
//!             let Some(payload) = Payload::decode(&request.body) else { continue };
//!             ctx.sleep(pause).await;
//!             ctx.record(UserEvent::new("answered").msg("request", payload.id));
//!             let reply = Payload::new(PayloadKind::Reply, payload.id, 0).encode();
//!             if rep.send(Msg { header: request.header, body: reply }).await.is_err() {
//!                 return;
//!             }
//!         }
//!     });
//!
//! let mut registry = Registry::builtin();
//! registry.register(worker);
//! assert!(registry.get("patient-worker").is_some_and(|d| d.has_role(Role::Replier)));
//! ```

pub use crate::design::kit;
pub use crate::design::{Design, NodeCtx, ParamProblem, ParamScope, Socket};
pub use crate::plan::ParamValue;
pub use crate::registry::Registry;
pub use crate::socket::{Msg, SocketType};
pub use crate::trace::{AppEvent, FieldValue, MsgId, UserEvent};
pub use crate::vocab::{Param, ParamDefault, ParamKind, Role, SocketRole};
pub use crate::wire::payload::{Payload, PayloadKind};
