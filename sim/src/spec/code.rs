//! Diagnostic codes: the short kebab-case name of each kind of problem, printed in
//! brackets (`error[out-of-range]`) so that users and tests can refer to a kind of
//! problem without matching the prose.
//!
//! Each code is declared once below with its meaning and an example hint; the list in
//! `docs/diagnostics.md` is generated from these declarations and a test fails when the
//! two disagree. The printed name of a code never changes: people match on it.

use std::fmt;

/// Declares [`Code`] from `Variant = "name", "example hint";` rows, each with a
/// one-line doc comment that is also the meaning printed in the generated list.
macro_rules! codes {
    ($( #[doc = $meaning:literal] $variant:ident = $name:literal, $hint:literal; )*) => {
        /// A kind of problem in user input (see the module documentation).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( #[doc = $meaning] $variant, )*
        }

        impl Code {
            /// Every code, in the order declared (alphabetical by name).
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The name printed in brackets, such as `out-of-range`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// What the code means, in one line.
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$variant => $meaning.trim(),)* }
            }

            /// A hint of the kind a diagnostic with this code gives.
            pub fn example_hint(self) -> &'static str {
                match self { $(Code::$variant => $hint,)* }
            }
        }
    };
}

codes! {
    /// A connect target is neither `node.socket` nor `node.N.socket`.
    BadConnect = "bad-connect", "write `node.socket` for every replica, or `node.N.socket` for replica N";
    /// A distribution has the wrong number of values, or values in the wrong order.
    BadDistribution = "bad-distribution", "for example `{uniform: [1ms, 5ms]}` (min, max)";
    /// A `bind` is not `true`, a port, or `tcp://*:port`.
    BadEndpoint = "bad-endpoint", "write `bind: true` (a port is picked), `bind: 5555` or `bind: tcp://*:5555`";
    /// A node or socket name has characters other than letters, digits, `_` and `-`.
    BadName = "bad-name", "use letters, digits, `_` and `-`, starting with a letter (dots separate `node.N.socket`)";
    /// A node's `process:` is malformed, or a node has both or neither of `design:` and `process:`.
    BadProcess = "bad-process", "give the node `design: NAME` or `process: {command: [python3, broker.py, \"{frontend}\"]}`, not both";
    /// An expected count is neither a whole number nor a range `[min, max]`.
    BadRange = "bad-range", "for example `3`, `[1, 20]`, or `[1, .inf]` for at least one";
    /// A line of an exploration's regression file (`NAME.explore-regressions`) is not a case.
    BadRegression = "bad-regression", "the file is written by exploration; delete the line (or the file) to start afresh";
    /// A selector does not name a node, a replica or a socket in the expected form.
    BadSelector = "bad-selector", "write `worker` for every replica or `worker.0` for one";
    /// A value that must be a whole number is something else.
    BadType = "bad-type", "for example `3`, or `$param` to use a topology parameter";
    /// A duration, size, rate or bandwidth has no unit or an unknown one.
    BadUnit = "bad-unit", "write `60s`";
    /// A value of the right type that is not allowed here.
    BadValue = "bad-value", "for example `between: [client, broker]`";
    /// A node runs a design that is deliberately broken (a warning).
    BrokenDesign = "broken-design", "its bug: it loses replies; model real systems with the sound designs";
    /// A side in a compare file lacks its `name` or its `topology`.
    CompareBadSide = "compare-bad-side", "e.g. `{name: mine, topology: my-broker.yaml}`, the topology relative to this file";
    /// A compare file has no `designs:` list of sides.
    CompareNoDesigns = "compare-no-designs", "e.g. `designs: [{name: mine, topology: my-broker.yaml}]`";
    /// The scenario `compare` runs names no topology to swap.
    CompareNoTopology = "compare-no-topology", "compare runs a scenario file, which names its topology with `topology: FILE`";
    /// A compare file has a key other than `designs` and `params`.
    CompareUnknownKey = "compare-unknown-key", "a compare file has `designs` (a list of {name, topology}) and optional `params`";
    /// Two fields that say the same thing in different ways are both given.
    ConflictingFields = "conflicting-fields", "`for: 5s` is the same as `until:` five seconds after `at`";
    /// A connect names a socket that nothing binds.
    ConnectToUnbound = "connect-to-unbound", "add `bind: true` to socket `frontend` of node `broker`";
    /// A name or value holds a control character.
    ControlCharacter = "control-character", "names and values are printed; write them without escapes such as `\\e` or `\\x1b`";
    /// `expect` counts violations of an invariant that `violated` does not list.
    CountNotViolated = "count-not-violated", "add `no_lost_replies` to `violated:`, or remove its count";
    /// Two sockets of one node bind the same port.
    DuplicateBind = "duplicate-bind", "give each socket its own port, or `bind: true` to have one picked";
    /// A mapping gives one field twice.
    DuplicateField = "duplicate-field", "each key may appear only once in a mapping";
    /// A scenario lists one invariant twice.
    DuplicateInvariant = "duplicate-invariant", "list each invariant once";
    /// A scenario's `network.links` gives one pair of ends two links.
    DuplicateLink = "duplicate-link", "give a pair of ends one link: write this entry's latency, loss and bandwidth in the one at line 7";
    /// Two nodes have the same name.
    DuplicateNode = "duplicate-node", "`nodes[0]` already uses that name; names must be unique";
    /// A node has two sockets with the same name.
    DuplicateSocket = "duplicate-socket", "give each socket of a node its own name";
    /// A list that must name something is empty.
    Empty = "empty", "name a node or a replica, e.g. `worker` or `worker.0`";
    /// The file holds no document.
    EmptyFile = "empty-file", "a topology starts with `nodes:`, a scenario with `topology:`";
    /// The file is not UTF-8.
    Encoding = "encoding", "save the file as UTF-8";
    /// `expect` names an invariant to be violated that the scenario does not check.
    ExpectUnchecked = "expect-unchecked", "add `no_lost_replies` to `invariants:`";
    /// A fault ends before it begins.
    FaultEndsEarly = "fault-ends-early", "`until` is an absolute time; for a length use `for`";
    /// A fault starts after the scenario's duration.
    FaultOutOfRange = "fault-out-of-range", "faults happen in the safety phase, between 0 and `duration`";
    /// A fault can touch nothing: a `restart` with no `kill` or `crash` having its node down.
    FaultTouchesNothing = "fault-touches-nothing", "a restart brings back a node a kill or crash took down; add one before it, or remove the restart";
    /// A `kill` or `crash` of a node that an earlier one holds down, or that an earlier one's end would restart under it.
    FaultsOverlap = "faults-overlap", "begin the second after the first ends, or write one longer fault";
    /// A field that this kind of fault, or this design's workload, does not read.
    FieldNotApplicable = "field-not-applicable", "a `kill` fault takes: at, kind, node, for, until";
    /// A check failed without saying why: a bug in patchbay, reported rather than hidden.
    Internal = "internal", "please report it, with the file";
    /// Two socket types that cannot talk to each other are connected.
    InvalidPair = "invalid-pair", "REQ pairs with REP, ROUTER";
    /// A value of the wrong kind for its field, as the YAML reader sees it.
    InvalidValue = "invalid-value", "for example `duration: 60s`";
    /// An invariant cannot apply to this topology, or to this scenario (`faults_fired` where no fault is scheduled or drawn).
    InvariantNotApplicable = "invariant-not-applicable", "`no_lost_replies` checks that every request gets its reply";
    /// A file could not be opened or read.
    Io = "io", "check the path, relative to the current directory";
    /// A YAML merge key `<<` is given something other than mappings.
    Merge = "merge", "`<<` takes a mapping or a list of mappings, such as `<<: *defaults`";
    /// A required field is missing.
    MissingField = "missing-field", "add `node: worker.0`";
    /// A file named by another (a scenario's topology) cannot be read.
    MissingFile = "missing-file", "the path is relative to this scenario file, e.g. `../topologies/lru-broker.yaml`";
    /// A design or an invariant needs a parameter that the node or the scenario does not give.
    MissingParam = "missing-param", "add `params: {capacity: ...}` to node `worker`";
    /// A design needs a socket that the node does not declare.
    MissingSocket = "missing-socket", "add `{name: req, type: REQ, ...}` to its sockets";
    /// No node has a workload or is an outside program acting on its own, so nothing happens (a warning).
    NoWorkload = "no-workload", "add `workload: {client: {requests: 10}}`";
    /// A path names a directory, a pipe or a device instead of a file.
    NotAFile = "not-a-file", "name a YAML file; patchbay does not read directories, pipes or devices";
    /// A command that runs scenarios (`sim`, `real`, `explore`) was given a topology.
    NotAScenario = "not-a-scenario", "a scenario names its topology, as `topology: ../topologies/lru-broker.yaml`, and adds a workload";
    /// A stated time the simulator's tick moves: a fault time, `duration` or the liveness bound that is not a whole number of ticks happens at the next tick; a latency shorter than the tick becomes the tick; a socket option's time that is not a whole number of milliseconds works as the next one, and one shorter than the tick cannot be answered within.
    OffTick = "off-tick", "make it a multiple of `network.tick`, or leave `tick` out (1ms)";
    /// A socket option does not apply to this socket type.
    OptionNotApplicable = "option-not-applicable", "it applies to REQ sockets only";
    /// A socket option exists in another library but not in the one this socket stands for.
    OptionNotInLibrary = "option-not-in-library", "name `library: zeromq` for this socket to model libzmq's option";
    /// A number outside the range its field allows.
    OutOfRange = "out-of-range", "remove the node instead of giving it no replicas";
    /// A PAIR socket would have more than one peer.
    PairPeers = "pair-peers", "connect PAIR sockets one to one (`node.N.socket`), or use DEALER/ROUTER for many peers";
    /// Two PAIR sockets of different SP versions (v0 and v1) are connected.
    PairVersionMismatch = "pair-version-mismatch", "set `pair_version: 0` on the `library: nng` PAIR, or name `library: nng` on both";
    /// The YAML does not parse.
    Syntax = "syntax", "indent with spaces: YAML does not allow tabs in indentation";
    /// The document is nested deeper than any topology or scenario needs.
    TooDeep = "too-deep", "a topology or scenario needs a few levels; look for an unclosed `[` or `{`";
    /// The file is larger than any topology or scenario needs.
    TooLarge = "too-large", "a topology or scenario is a few kilobytes; check that this is the file you meant";
    /// A node opens more connections, or binds more sockets, than its simulated hosts can hold.
    TooManyConnections = "too-many-connections", "use `hosts: 4` or more";
    /// So many errors that the rest are not listed.
    TooManyErrors = "too-many-errors", "fix the errors above and load again";
    /// The topology needs more simulated hosts than allowed.
    TooManyHosts = "too-many-hosts", "pack replicas with a smaller `hosts:` per node, or raise `placement.max_hosts` (slower: cost grows with hosts cubed)";
    /// The topology has more nodes than message ids can tell apart.
    TooManyNodes = "too-many-nodes", "give one node more replicas (`count`) instead of repeating it";
    /// A socket type that the socket's library does not have.
    TypeNotInLibrary = "type-not-in-library", "SURVEYOR is nanomsg's and NNG's: write `library: nanomsg` or `library: nng` on this socket or its node";
    /// A socket neither binds nor connects.
    UnconnectedSocket = "unconnected-socket", "add `bind: true` or `connect: node.socket`";
    /// No design has this name.
    UnknownDesign = "unknown-design", "did you mean `echo-worker`?";
    /// No distribution has this name.
    UnknownDistribution = "unknown-distribution", "distributions: uniform, exponential, normal, lognormal";
    /// No drop reason has this name.
    UnknownDropReason = "unknown-drop-reason", "did you mean `hwm`?";
    /// No kind of fault has this name.
    UnknownFault = "unknown-fault", "did you mean `partition`?";
    /// A field this mapping does not have.
    UnknownField = "unknown-field", "did you mean `bind`?";
    /// No invariant has this name.
    UnknownInvariant = "unknown-invariant", "did you mean `no_lost_replies`?";
    /// A library patchbay does not model.
    UnknownLibrary = "unknown-library", "libraries: zeromq, nng, nanomsg";
    /// No node has this name.
    UnknownNode = "unknown-node", "did you mean `client`?";
    /// A parameter that the design, invariant or topology does not declare.
    UnknownParam = "unknown-param", "declare it under the top-level `params:`";
    /// A `{socket}` placeholder in a process's command names no socket of the node, or a part it lacks.
    UnknownPlaceholder = "unknown-placeholder", "its sockets: frontend, backend; write `{frontend}`, `{frontend.port}` or `{backend.connect}`";
    /// A node has no socket with this name.
    UnknownSocket = "unknown-socket", "did you mean `broker.frontend`?";
    /// A socket name that the node's design does not use.
    UnknownSocketRole = "unknown-socket-role", "its sockets: req";
    /// No socket type has this name.
    UnknownSocketType = "unknown-socket-type", "did you mean ROUTER (XREP is its old name; NNG's raw REP behaves the same)?";
    /// A word that is not one of the values this field takes.
    UnknownVariant = "unknown-variant", "`every` seed (the default) or `any` seed";
    /// No workload can reach a node, so it never does anything (a warning).
    UnreachedNode = "unreached-node", "connect it to a node with a workload, or remove it";
    /// A YAML feature patchbay does not read, such as a tag.
    Unsupported = "unsupported", "remove `!include`";
    /// A connect joins two libraries that speak different wire protocols.
    WireMismatch = "wire-mismatch", "name one library on both sides, or put a device with one socket of each between them";
    /// A list has the wrong number of items.
    WrongLength = "wrong-length", "expected a list of 2 items";
    /// A socket's type is not one its role in the design allows.
    WrongSocketType = "wrong-socket-type", "`req` sends requests to the workers";
    /// A value of the wrong shape, such as a list where a mapping belongs.
    WrongType = "wrong-type", "write 5% as `0.05`";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tests and callers compare codes with the printed names they know.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// The list in `docs/diagnostics.md`, generated from the declarations above.
pub fn markdown_list() -> String {
    let mut out = String::from(
        "# Diagnostic codes\n\n\
         Every problem patchbay finds in a topology or scenario is printed with a code in\n\
         brackets, such as `error[out-of-range]`. The code names the kind of problem and\n\
         never changes, so scripts and tests may match on it; the message and hint say\n\
         what is wrong in this file.\n\n\
         This list is generated from `sim/src/spec/code.rs`; a test fails when the two\n\
         disagree. After changing the codes, regenerate it with\n\
         `UPDATE_DOCS=1 cargo test -p patchbay --lib diagnostics_doc`.\n\n\
         | Code | Meaning | Example hint |\n\
         | --- | --- | --- |\n",
    );
    for code in Code::ALL {
        let cell = |s: &str| s.replace('|', "\\|");
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            cell(code.meaning()),
            cell(code.example_hint())
        ));
    }
    out
}

/// Where the generated list lives, from the workspace root.
pub const DOC_PATH: &str = "docs/diagnostics.md";

/// `None` when `doc` is the generated list, else the first line where they part, for a
/// test to print.
pub fn doc_mismatch(doc: &str) -> Option<String> {
    let expected = markdown_list();
    if doc == expected {
        return None;
    }
    let (mut want, mut got) = (expected.lines(), doc.lines());
    for line in 1.. {
        match (want.next(), got.next()) {
            (Some(w), Some(g)) if w == g => continue,
            (None, None) => return Some("the files differ in their line endings".to_owned()),
            (w, g) => {
                let show =
                    |s: Option<&str>| s.map_or("(end of file)".to_owned(), |s| format!("`{s}`"));
                return Some(format!("line {line}: expected {}, found {}", show(w), show(g)));
            }
        }
    }
    unreachable!("the loop returns at the first difference or at the end")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(DOC_PATH)
    }

    #[test]
    fn diagnostics_doc_lists_every_code() {
        let path = doc_path();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, markdown_list()).expect("docs/diagnostics.md is writable");
        }
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(diff) = doc_mismatch(&doc) {
            panic!(
                "{DOC_PATH} does not match the codes in sim/src/spec/code.rs ({diff}); \
                 regenerate it with `UPDATE_DOCS=1 cargo test -p patchbay --lib diagnostics_doc`. \
                 Expected:\n{}",
                markdown_list()
            );
        }
    }

    #[test]
    fn diagnostics_doc_check_fails_on_a_stale_list() {
        let fresh = markdown_list();
        assert_eq!(doc_mismatch(&fresh), None);
        let stale = fresh.replace("| `wire-mismatch` |", "| `wire-mismatched` |");
        let diff = doc_mismatch(&stale).expect("a renamed code is a mismatch");
        assert!(diff.contains("expected `| `wire-mismatch` |"), "{diff}");
        assert!(diff.contains("found `| `wire-mismatched` |"), "{diff}");
        let short = fresh.lines().take(3).collect::<Vec<_>>().join("\n");
        assert!(doc_mismatch(&short).expect("a cut list").contains("found (end of file)"));
    }

    #[test]
    fn codes_are_kebab_case_sorted_and_unique() {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "declare codes once each, in alphabetical order");
        let bad: Vec<&&str> = names
            .iter()
            .filter(|n| n.is_empty() || !n.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            .collect();
        assert!(bad.is_empty(), "not kebab-case: {bad:?}");
    }

    #[test]
    fn a_code_prints_and_compares_as_its_name() {
        assert_eq!(Code::OutOfRange.to_string(), "out-of-range");
        assert_eq!(Code::OutOfRange, "out-of-range");
        assert_ne!(Code::OutOfRange, "bad-type");
        assert!(Code::ALL.iter().all(|c| !c.meaning().is_empty() && !c.example_hint().is_empty()));
    }
}
