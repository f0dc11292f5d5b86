//! [`Design`]: what the language knows about a design, declared through a builder.
//!
//! A design is declared once, by chained calls that read like its documentation:
//! its name and summary, the roles invariants care about, the sockets it expects, the
//! parameters it takes, the workload fields it reads, and its behaviour as a closure.
//! The fields are private and reached through accessors, so a field added later (a
//! new kind of declaration) breaks no design written against this version.

use std::future::Future;

use crate::socket::SocketType;

use super::ctx::{BoxedDesignFuture, DesignFn, NodeCtx};
use super::{Param, ParamKind, Role, SocketRole};

/// Everything the language knows about a design: the sockets and parameters a
/// topology is checked against, the roles invariants look for, and the behaviour
/// the simulator runs. Built with [`Design::new`] and the methods after it.
///
/// ```
/// use patchbay::prelude::*;
///
/// let spec = Design::new("late-starter")
///     .summary("Waits `delay`, then takes one request and stops.")
///     .role(Role::Replier)
///     .socket("rep", &[SocketType::Rep], "where the request arrives")
///     .param("delay", ParamKind::Duration, Some("10ms"), "time before it listens")
///     .run(|ctx| async move {
///         ctx.sleep(ctx.param_duration("delay")).await;
///         let _ = ctx.socket("rep").recv().await;
///     });
/// assert_eq!(spec.name(), "late-starter");
/// assert_eq!(spec.params()[0].default, Some("10ms"));
/// assert!(spec.is_runnable());
/// ```
#[derive(Clone)]
pub struct Design {
    name: &'static str,
    summary: &'static str,
    roles: Vec<Role>,
    sockets: Vec<SocketRole>,
    params: Vec<Param>,
    /// Workload fields (see `spec::raw::RawWorkload`) this design reads.
    workload: Vec<&'static str>,
    /// A deliberately broken design, kept to prove the checkers can fail.
    broken: bool,
    /// Whether the behaviour waits only through its context (`timers_through_ctx`).
    timers_through_ctx: bool,
    /// The behaviour; `None` for a design the simulator cannot run yet, which `check`
    /// accepts and `sim` refuses with a clear error.
    run: Option<DesignFn>,
}

impl std::fmt::Debug for Design {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Design")
            .field("name", &self.name)
            .field("summary", &self.summary)
            .field("roles", &self.roles)
            .field("sockets", &self.sockets)
            .field("params", &self.params)
            .field("workload", &self.workload)
            .field("broken", &self.broken)
            .field("timers_through_ctx", &self.timers_through_ctx)
            .field("runnable", &self.run.is_some())
            .finish()
    }
}

impl Design {
    /// A design named `name` (the word a topology's `design:` gives), with no summary,
    /// roles, sockets, parameters or workload yet, and no behaviour: until
    /// [`run`](Self::run) gives one, `check` accepts it and `sim` refuses to run it.
    pub fn new(name: &'static str) -> Design {
        Design {
            name,
            summary: "",
            roles: Vec::new(),
            sockets: Vec::new(),
            params: Vec::new(),
            workload: Vec::new(),
            broken: false,
            timers_through_ctx: false,
            run: None,
        }
    }

    /// One sentence saying what the design does (shown by `explain` and in hints).
    pub fn summary(mut self, summary: &'static str) -> Design {
        self.summary = summary;
        self
    }

    /// Adds a role; invariants apply by role (`no_lost_replies` needs a requester).
    pub fn role(mut self, role: Role) -> Design {
        self.roles.push(role);
        self
    }

    /// Adds a socket every node of this design must declare under `name`, of one of
    /// `types`.
    pub fn socket(
        self,
        name: &'static str,
        types: &'static [SocketType],
        doc: &'static str,
    ) -> Design {
        self.socket_role(SocketRole { name, required: true, types, doc })
    }

    /// Adds a socket a node of this design may declare under `name`; the behaviour
    /// asks [`NodeCtx::has_socket`] before using it.
    pub fn optional_socket(
        self,
        name: &'static str,
        types: &'static [SocketType],
        doc: &'static str,
    ) -> Design {
        self.socket_role(SocketRole { name, required: false, types, doc })
    }

    /// Adds a socket role as declared elsewhere (a table shared by two designs).
    pub fn socket_role(mut self, role: SocketRole) -> Design {
        self.sockets.push(role);
        self
    }

    /// Adds a parameter: `default` is the text used when a topology gives none, and
    /// `None` makes the parameter required. The resolver checks every value against
    /// `kind`, so the behaviour reads it typed ([`NodeCtx::param_duration`] and the
    /// others) without checking again.
    pub fn param(
        self,
        name: &'static str,
        kind: ParamKind,
        default: Option<&'static str>,
        doc: &'static str,
    ) -> Design {
        self.param_from(Param { name, kind, default, doc })
    }

    /// Adds a parameter as declared elsewhere (a table shared by two designs).
    pub fn param_from(mut self, spec: Param) -> Design {
        self.params.push(spec);
        self
    }

    /// Says which fields of a scenario's `workload` the design reads (`requests`,
    /// `rate`, `service_time`, …); a scenario giving it any other is refused.
    pub fn workload(mut self, fields: &[&'static str]) -> Design {
        self.workload.extend_from_slice(fields);
        self
    }

    /// Marks the design deliberately broken: the resolver warns on every use and
    /// "did you mean" never suggests it. For designs that prove a checker can fail.
    pub fn broken(mut self) -> Design {
        self.broken = true;
        self
    }

    /// Declares that the behaviour waits on time only through its context
    /// ([`NodeCtx::sleep`], [`NodeCtx::sleep_until`], the `kit`'s pacing and the
    /// sockets' own timers), never on tokio's timers directly. The simulator accounts
    /// for every timer armed that way, so a run whose designs all declare this may end
    /// as soon as provably nothing more can happen in it, with the trace and verdicts
    /// of the full run (docs/turmoil.md). A timer armed on tokio directly is not in
    /// that account and would be cut off; a run with any design that does not declare
    /// this runs to its end. Every built-in design declares it.
    pub fn timers_through_ctx(mut self) -> Design {
        self.timers_through_ctx = true;
        self
    }

    /// The behaviour: called once per replica incarnation with its context, it runs
    /// until the replica's work is done (or for ever; the runtime drops the future when
    /// the replica is killed or the run ends). The closure may capture configuration;
    /// it is shared by every replica, so it is `Fn + Send + Sync`, while the future it
    /// returns stays on the replica's thread and need not be `Send`.
    pub fn run<F, Fut>(mut self, behaviour: F) -> Design
    where
        F: Fn(NodeCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.run =
            Some(DesignFn::new(move |ctx| -> BoxedDesignFuture { Box::pin(behaviour(ctx)) }));
        self
    }

    /// The same declaration under another name, with another summary and no
    /// behaviour: the start of a variant that must stay interchangeable with this one.
    pub fn renamed(&self, name: &'static str, summary: &'static str) -> Design {
        Design { name, summary, run: None, timers_through_ctx: false, ..self.clone() }
    }

    /// The name a topology's `design:` gives.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What the design does, in one sentence.
    pub fn summary_text(&self) -> &'static str {
        self.summary
    }

    /// The roles invariants look for.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Whether the design has `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The sockets a node of this design declares, required and optional.
    pub fn sockets(&self) -> &[SocketRole] {
        &self.sockets
    }

    /// The parameters the design takes.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The workload fields the design reads.
    pub fn workload_fields(&self) -> &[&'static str] {
        &self.workload
    }

    /// Whether the design is deliberately broken.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether the behaviour waits only through its context
    /// ([`timers_through_ctx`](Self::timers_through_ctx)).
    pub fn has_timers_through_ctx(&self) -> bool {
        self.timers_through_ctx
    }

    /// Whether the simulator can run it (it has a behaviour).
    pub fn is_runnable(&self) -> bool {
        self.run.is_some()
    }

    /// The behaviour, if it has one.
    pub fn behaviour(&self) -> Option<&DesignFn> {
        self.run.as_ref()
    }
}
