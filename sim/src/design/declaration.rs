//! [`Design`]: what the language knows about a design, declared through a builder.
//!
//! A design is declared once, by chained calls that read like its documentation:
//! its name and summary, the roles invariants care about, the sockets it expects, the
//! parameters it takes, the workload fields it reads, and its behaviour as a closure.
//! The fields are private and reached through accessors, so a field added later (a
//! new kind of declaration) breaks no design written against this version.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::plan::{Group, ParamValue};
use crate::socket::SocketType;

use super::ctx::{BoxedDesignFuture, DesignFn, NodeCtx};
use super::{Param, ParamDefault, ParamKind, Role, SocketRole};

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
/// assert_eq!(spec.params()[0].default, ParamDefault::Value("10ms"));
/// assert!(spec.is_runnable());
/// ```
#[derive(Clone)]
pub struct Design {
    name: &'static str,
    summary: &'static str,
    roles: Vec<Role>,
    sockets: Vec<SocketRole>,
    params: Vec<Param>,
    /// Rules the parameters keep beyond their kinds ([`Design::check_params`]).
    rules: Vec<ParamRule>,
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
            .field("rules", &self.rules.len())
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
            rules: Vec::new(),
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
        let default = default.map_or(ParamDefault::Required, ParamDefault::Value);
        self.param_from(Param { name, kind, default, doc })
    }

    /// Adds a parameter as declared elsewhere (a table shared by two designs), or one
    /// whose default the behaviour works out itself ([`ParamDefault::Computed`]: the
    /// behaviour then finds it unset, and reads it with [`NodeCtx::param`]).
    pub fn param_from(mut self, spec: Param) -> Design {
        self.params.push(spec);
        self
    }

    /// Adds a rule the parameters must keep beyond their kinds: a count that must be
    /// positive, a value that must agree with another node's. `check` applies it to
    /// every node of the design, once the whole topology is resolved, and reports what
    /// it returns at the parameter's place in the file (at the node, for a default);
    /// so the behaviour may rely on it, as on the kinds. A rule reads the values
    /// through the [`ParamScope`]'s accessors, whose `?` ends it without a word when a
    /// value did not resolve (that mistake was reported already); add one rule per
    /// thing that can be wrong, so that each mistake is reported.
    ///
    /// ```
    /// use patchbay::design::{ParamProblem, ParamScope};
    /// use patchbay::prelude::*;
    ///
    /// let spec = Design::new("batcher")
    ///     .param("batch", ParamKind::Count, Some("10"), "messages per batch")
    ///     .check_params(|p| {
    ///         (p.count("batch")? == 0).then(|| {
    ///             ParamProblem::new("batch", "`batch` must be at least 1", "for example `batch: 10`")
    ///         })
    ///     });
    /// let zero = [("batch".to_owned(), ParamValue::Count(0))].into();
    /// let problems = spec.param_problems(&ParamScope::new(&zero, &[]));
    /// assert_eq!(problems[0].message(), "`batch` must be at least 1");
    /// ```
    pub fn check_params<F>(mut self, rule: F) -> Design
    where
        F: Fn(&ParamScope<'_>) -> Option<ParamProblem> + Send + Sync + 'static,
    {
        self.rules.push(ParamRule(Arc::new(rule)));
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

    /// What the rules of [`check_params`](Self::check_params) find wrong with one
    /// node's parameters, in the order the rules were added.
    pub fn param_problems(&self, scope: &ParamScope<'_>) -> Vec<ParamProblem> {
        self.rules.iter().filter_map(|rule| (rule.0)(scope)).collect()
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

/// One rule of [`Design::check_params`]: what it finds wrong, if anything.
type RuleFn = dyn Fn(&ParamScope<'_>) -> Option<ParamProblem> + Send + Sync;

/// One rule of [`Design::check_params`], shared by the design's clones.
#[derive(Clone)]
struct ParamRule(Arc<RuleFn>);

/// What a [`Design::check_params`] rule sees: one node's parameters as resolved
/// (defaults filled in), and the topology's nodes, for a value that must agree with
/// another node (the comet manager's `users` with the users' `count`).
#[derive(Clone, Copy, Debug)]
pub struct ParamScope<'a> {
    params: &'a BTreeMap<String, ParamValue>,
    nodes: &'a [Group],
}

impl<'a> ParamScope<'a> {
    /// The scope of a node with `params`, in a topology of `nodes`.
    pub fn new(params: &'a BTreeMap<String, ParamValue>, nodes: &'a [Group]) -> ParamScope<'a> {
        ParamScope { params, nodes }
    }

    /// Count parameter `name`; `None` when it did not resolve to a count.
    pub fn count(&self, name: &str) -> Option<u64> {
        match self.params.get(name)? {
            ParamValue::Count(n) => Some(*n),
            _ => None,
        }
    }

    /// Duration parameter `name`; `None` when it did not resolve to a duration.
    pub fn duration(&self, name: &str) -> Option<Duration> {
        match self.params.get(name)? {
            ParamValue::Duration(d) => Some(*d),
            _ => None,
        }
    }

    /// The topology's nodes that run `design`, in file order.
    pub fn nodes_running(&self, design: &'a str) -> impl Iterator<Item = &'a Group> {
        self.nodes.iter().filter(move |g| g.design == design)
    }
}

/// A parameter value a [`Design::check_params`] rule refuses: which parameter, what
/// is wrong, and a hint, as `check` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamProblem {
    param: &'static str,
    message: String,
    hint: String,
}

impl ParamProblem {
    /// Parameter `param` is wrong: `message` says how, `hint` what to write instead.
    pub fn new(
        param: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> ParamProblem {
        ParamProblem { param, message: message.into(), hint: hint.into() }
    }

    /// The parameter refused; the diagnostic points at its value.
    pub fn param(&self) -> &'static str {
        self.param
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What to write instead.
    pub fn hint(&self) -> &str {
        &self.hint
    }
}
