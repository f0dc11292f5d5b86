//! The built-in designs, as the language sees them: sockets, parameters, workload.
//!
//! Each entry is what `check` validates a topology against, declared through the same
//! [`Design`] builder a user's design is. The behaviour of a design lives in its
//! own file beside this one.

use crate::plan::follower_graph::GRAPH_EDGES_MAX;
use crate::socket::SocketType;

use super::{Design, Param, ParamDefault, ParamKind, ParamProblem, ParamScope, Role};

pub(super) fn builtin() -> Vec<Design> {
    vec![
        Design::new("client")
            .summary("Sends requests on a REQ or DEALER socket and waits for each reply; message ids are assigned here and carried end to end.")
            .role(Role::Requester)
            .socket("req", &[SocketType::Req, SocketType::Dealer], "where requests go")
            .workload(&["requests", "rate", "start_at", "size"])
            .run(super::client::run),
        Design::new("lazy-pirate-client")
            .summary("The ZeroMQ guide's Lazy Pirate client: waits `request_timeout` for each reply, then closes and reopens its REQ and resends, abandoning after `retries` timeouts.")
            .role(Role::Requester)
            .socket("req", &[SocketType::Req], "where requests go; it must connect, as it is reopened")
            .param("request_timeout", ParamKind::Duration, Some("2500ms"), "how long to wait for a reply before reopening and resending (the guide's REQUEST_TIMEOUT)")
            .param("retries", ParamKind::Count, Some("3"), "timeouts of one request before it is abandoned, the first send included (the guide's REQUEST_RETRIES)")
            .check_params(lazy_pirate_retries)
            .workload(&["requests", "start_at", "size"])
            .run(super::lazy_pirate_client::run),
        Design::new("echo-worker")
            .summary("Answers each request on a REP socket with its body after a service time.")
            .role(Role::Replier)
            .socket("rep", &[SocketType::Rep, SocketType::Dealer], "where requests arrive")
            .workload(&["service_time", "size"])
            .run(super::echo_worker::run),
        Design::new("ready-worker")
            .summary("Article 000's worker: a REQ to the broker whose first message says \"ready\" and whose later messages carry the previous result.")
            .role(Role::Replier)
            .socket("req", &[SocketType::Req], "the connection to the broker's backend")
            .workload(&["service_time", "size"])
            .run(super::ready_worker::run),
        Design::new("queue-device")
            .summary("The QUEUE device: a ROUTER frontend and a DEALER backend, messages copied both ways.")
            .role(Role::Device)
            .socket("frontend", &[SocketType::Router], "faces the clients")
            .socket("backend", &[SocketType::Dealer], "faces the workers")
            .run(super::queue_device::run),
        Design::new("lru-broker")
            .summary("Article 000's load-balancing broker: a queue of idle workers, a routing loop and a collect loop; optionally publishes each finished job's id.")
            .role(Role::Broker)
            .socket("frontend", &[SocketType::Router], "faces the clients")
            .socket("backend", &[SocketType::Router], "faces the ready-workers")
            .optional_socket("publish", &[SocketType::Pub, SocketType::XPub], "announces finished job ids (the gif service)")
            .run(super::lru_broker::run),
        Design::new("ppp-broker")
            .summary("The ZeroMQ guide's Paranoid Pirate broker: an LRU queue of idle workers that beats to them, expires the silent ones and requeues their jobs.")
            .role(Role::Broker)
            .socket("frontend", &[SocketType::Router], "faces the clients")
            .socket("backend", &[SocketType::Router], "faces the ppp-workers")
            .ppp_params()
            .run(super::ppp_broker::run),
        Design::new("ppp-worker")
            .summary("The Paranoid Pirate worker: a DEALER that says ready, beats while idle and busy, and announces itself again after the broker has been silent.")
            .role(Role::Replier)
            .socket("dealer", &[SocketType::Dealer], "the connection to the broker's backend")
            .ppp_params()
            .workload(&["service_time", "size"])
            .run(super::ppp_worker::run),
        Design::new("forwarder")
            .summary("The FORWARDER device: XSUB frontend, XPUB backend; subscriptions travel upstream.")
            .role(Role::Device)
            .socket("frontend", &[SocketType::XSub, SocketType::Sub], "faces the publishers")
            .socket("backend", &[SocketType::XPub, SocketType::Pub], "faces the subscribers")
            .run(super::forwarder::run),
        Design::new("streamer")
            .summary("The STREAMER device: PULL frontend, PUSH backend.")
            .role(Role::Device)
            .socket("frontend", &[SocketType::Pull], "faces the producers")
            .socket("backend", &[SocketType::Push], "faces the workers")
            .run(super::streamer::run),
        Design::new("publisher")
            .summary("Publishes messages at a rate on PUB, optionally as envelopes (a topic frame then the body).")
            .role(Role::Publisher)
            .socket("pub", &[SocketType::Pub, SocketType::XPub], "where messages go")
            .param("topics", ParamKind::Text, Some(""), "comma-separated topics; each message goes out as [topic, body] (pub-sub envelopes); empty sends bare bodies")
            .workload(&["publishes", "publish_rate", "start_at", "size"])
            .run(super::publisher::run),
        Design::new("sync-publisher")
            .summary("The guide's synchronized publisher: waits until `subscribers` have checked in on the sync REP socket, then publishes.")
            .role(Role::Publisher)
            .role(Role::Replier)
            .socket("pub", &[SocketType::Pub, SocketType::XPub], "where messages go")
            .socket("sync", &[SocketType::Rep], "where subscribers check in")
            .param("subscribers", ParamKind::Count, None, "how many subscribers to wait for")
            .workload(&["publishes", "publish_rate", "start_at", "size"])
            .run(super::sync_publisher::run),
        Design::new("subscriber")
            .summary("Subscribes on SUB (prefixes from the socket's `subscribe` option) and counts what it receives.")
            .role(Role::Subscriber)
            .socket("sub", &[SocketType::Sub, SocketType::XSub], "where messages arrive")
            .workload(&["join_at", "leave_at"])
            .run(super::subscriber::run),
        Design::new("sync-subscriber")
            .summary("The guide's synchronized subscriber: connects SUB, then checks in on a REQ socket.")
            .role(Role::Subscriber)
            .role(Role::Requester)
            .socket("sub", &[SocketType::Sub], "where messages arrive")
            .socket("sync", &[SocketType::Req], "checks in with the publisher")
            .workload(&["join_at", "leave_at"])
            .run(super::sync_subscriber::run),
        Design::new("ventilator")
            .summary("The parallel pipeline's ventilator: pushes tasks to the workers.")
            .role(Role::Producer)
            .socket("push", &[SocketType::Push], "where tasks go")
            .optional_socket("sink", &[SocketType::Push], "tells the sink a batch started")
            .workload(&["requests", "rate", "start_at", "size"])
            .run(super::ventilator::run),
        Design::new("pipeline-worker")
            .summary("The parallel pipeline's worker: pulls a task, works, pushes the result; stops on the kill signal.")
            .role(Role::Processor)
            .socket("pull", &[SocketType::Pull], "where tasks arrive")
            .socket("push", &[SocketType::Push], "where results go")
            .optional_socket("control", &[SocketType::Sub], "the kill signal")
            .workload(&["service_time"])
            .run(super::pipeline_worker::run),
        Design::new("sink")
            .summary("The parallel pipeline's sink: pulls results; when the batch is complete, publishes the kill signal.")
            .role(Role::Consumer)
            .socket("pull", &[SocketType::Pull], "where results arrive")
            .optional_socket("control", &[SocketType::Pub], "sends the kill signal")
            .param("tasks", ParamKind::Count, Some("0"), "results to wait for before the kill signal; 0 means the ventilator's total")
            .param("idle_timeout", ParamKind::Duration, Some("2s"), "silence after which a started batch counts as complete though short (a worker died holding tasks), so the kill signal still goes")
            .run(super::sink::run),
        Design::new("gif-frontend")
            .summary("Article 000's HTTP front end: posts a job with a large payload to the broker, then waits on SUB for its own job id.")
            .role(Role::Requester)
            .role(Role::Subscriber)
            .socket("jobs", &[SocketType::Req, SocketType::Dealer], "where jobs go")
            .socket("done", &[SocketType::Sub], "where finished job ids arrive")
            .workload(&["requests", "rate", "start_at", "size"])
            .run(super::gif_frontend::run),
        Design::new("aggregator")
            .summary("Article 001's multiplexing aggregator: an acceptor hands each connection to the worker of the job its first packet names; with `wakeup: false` it forgets to wake that worker (the lost wake-up).")
            .role(Role::Consumer)
            .socket("ingest", &[SocketType::Router], "where client connections arrive; the ROUTER's hop id tells connections apart")
            .param("wakeup", ParamKind::Bool, Some("true"), "whether the acceptor wakes the job's worker after handing a connection over")
            .param("connections_per_job", ParamKind::Count, None, "connections each job gets; a job is complete once this many have named it and each has sent its last chunk")
            .run(super::aggregator::run),
        Design::new("aggregator-client")
            .summary("Article 001's client connection: one replica is one connection carrying one job's chunks (replica r serves job r % jobs), the first packet naming the job.")
            .role(Role::Producer)
            .socket("out", &[SocketType::Dealer], "the connection to the aggregator")
            .param("jobs", ParamKind::Count, Some("1"), "jobs the clients work on; replica r sends its chunks for job r % jobs")
            .check_params(aggregator_jobs)
            .workload(&["chunks", "size", "rate", "start_at"])
            .run(super::aggregator_client::run),
        Design::new("surveyor")
            .summary("Asks a survey on SURVEYOR and collects responses until the deadline.")
            .role(Role::Surveyor)
            .socket("survey", &[SocketType::Surveyor], "where surveys go")
            .workload(&["requests", "rate", "start_at"])
            .run(super::surveyor::run),
        Design::new("respondent")
            .summary("Answers each survey after a service time.")
            .role(Role::Respondent)
            .socket("respond", &[SocketType::Respondent], "where surveys arrive")
            .workload(&["service_time"])
            .run(super::respondent::run),
        Design::new("bus-node")
            .summary("A peer on a BUS mesh: sends messages every peer should receive once.")
            .role(Role::Peer)
            .socket("bus", &[SocketType::Bus], "the mesh")
            .workload(&["publishes", "publish_rate", "start_at", "size"])
            .run(super::bus_node::run),
        Design::new("pair-step")
            .summary("One step of the guide's PAIR relay: waits for the signal from the previous step, then signals the next.")
            .role(Role::Peer)
            .optional_socket("prev", &[SocketType::Pair], "signal from the previous step")
            .optional_socket("next", &[SocketType::Pair], "signal to the next step")
            .workload(&["start_at"])
            .run(super::pair_step::run),
        Design::new("comet-manager")
            .summary("Article 004's subscription manager: knows who follows whom (a seeded Barabasi-Albert graph) and answers the router's queries.")
            .role(Role::Replier)
            .socket("api", &[SocketType::Rep, SocketType::Router], "the router's queries")
            .param("users", ParamKind::Count, None, "number of users in the follower graph")
            .param("edges_per_user", ParamKind::Count, Some("3"), "Barabasi-Albert attachment count m")
            .param("graph_seed", ParamKind::Count, Some("1"), "seed of the follower graph (fanout_correct rebuilds the graph from it)")
            .check_params(comet_users)
            .check_params(comet_edges)
            .run(super::comet_manager::run),
        Design::new("comet-router")
            .summary("Article 004's router: delivers each message to the logged-in followers of its sender and drops the rest.")
            .role(Role::Router)
            .socket("users", &[SocketType::Router], "user connections (login and logout are messages on them)")
            .socket("manager", &[SocketType::Req, SocketType::Dealer], "asks the subscription manager (a DEALER pipelines the queries)")
            .run(super::comet_router::run),
        Design::new("comet-user")
            .summary("Article 004's user: logs in and out, sends messages to its followers, receives its followees' messages.")
            .role(Role::Publisher)
            .role(Role::Subscriber)
            .socket("conn", &[SocketType::Dealer], "the comet connection")
            .workload(&["publish_rate", "session", "offline", "online_fraction", "start_at", "size"])
            .run(super::comet_user::run),
    ]
}

/// Declares the Paranoid Pirate pair's shared parameters on a design.
trait PppParams {
    fn ppp_params(self) -> Self;
}

impl PppParams for Design {
    fn ppp_params(self) -> Design {
        let with_params = PPP_PARAMS.iter().cloned().fold(self, Design::param_from);
        with_params.check_params(ppp_heartbeat_ivl).check_params(ppp_liveness)
    }
}

/// A beat interval of zero would beat without end at one instant. One shorter than
/// the simulator's tick works (a beat a tick), so only zero is refused here.
fn ppp_heartbeat_ivl(p: &ParamScope<'_>) -> Option<ParamProblem> {
    p.duration("heartbeat_ivl")?.is_zero().then(|| {
        ParamProblem::new(
            "heartbeat_ivl",
            "`heartbeat_ivl` must be longer than 0: broker and workers beat once every interval",
            "the guide beats every second (HEARTBEAT_INTERVAL 1000 msecs), the default `1s`",
        )
    })
}

/// `liveness` 0 would presume every peer dead before its first beat was due.
fn ppp_liveness(p: &ParamScope<'_>) -> Option<ParamProblem> {
    (p.count("liveness")? == 0).then(|| {
        ParamProblem::new(
            "liveness",
            "`liveness` must be at least 1: a peer is presumed dead after `liveness` beats go unheard",
            "the guide's HEARTBEAT_LIVENESS is 3 (\"3-5 is reasonable\"), the default",
        )
    })
}

/// The guide's client loops `while (retries_left)`, so REQUEST_RETRIES 0 would never
/// send: a client that issues nothing, which is refused rather than modelled.
fn lazy_pirate_retries(p: &ParamScope<'_>) -> Option<ParamProblem> {
    (p.count("retries")? == 0).then(|| {
        ParamProblem::new(
            "retries",
            "`retries` must be at least 1: it counts the sends of each request, the first included",
            "the guide's REQUEST_RETRIES is 3, the default; with 0 its client would send nothing; `1` sends each request once and abandons it after one timeout",
        )
    })
}

/// Replica `r` serves job `r % jobs`: no job is no work at all.
fn aggregator_jobs(p: &ParamScope<'_>) -> Option<ParamProblem> {
    (p.count("jobs")? == 0).then(|| {
        ParamProblem::new(
            "jobs",
            "`jobs` must be at least 1: replica `r` sends its chunks for job `r % jobs`",
            "the default is 1 (every client on one job); topologies/aggregator.yaml uses 3",
        )
    })
}

/// The design whose replica `u` is the comet manager's user `u`.
const COMET_USER: &str = "comet-user";

/// The graph's users are the `comet-user` replicas, user `u` being replica `u`: a
/// graph without users judges nothing, and one of another size than the users' node
/// gives some users no followers, or followers who never log in.
fn comet_users(p: &ParamScope<'_>) -> Option<ParamProblem> {
    let users = p.count("users")?;
    if users == 0 {
        return Some(ParamProblem::new(
            "users",
            "`users` must be at least 1: it is the number of users in the follower graph",
            "give it the `count` of the `comet-user` node, as topologies/comet.yaml does with `users: $users`",
        ));
    }
    let node = p.nodes_running(COMET_USER).next()?;
    (u64::from(node.count) != users).then(|| {
        ParamProblem::new(
            "users",
            format!(
                "`users` is {users}, but node `{}` runs {} comet users: user `u` of the graph is replica `u` of that node",
                node.name, node.count
            ),
            "set both from one topology parameter, as topologies/comet.yaml does: `users: $users` here and `count: $users` on the users' node",
        )
    })
}

/// Each user joins the graph with `edges_per_user` distinct friends, so there must be
/// at least one and fewer than the users; and the graph, which the manager and
/// `fanout_correct` each build, must fit in memory. A `users` that disagrees with the
/// users' node is [`comet_users`]'s to report, alone.
fn comet_edges(p: &ParamScope<'_>) -> Option<ParamProblem> {
    let (users, m) = (p.count("users")?, p.count("edges_per_user")?);
    let user_node = p.nodes_running(COMET_USER).next();
    if users == 0 || user_node.is_some_and(|node| u64::from(node.count) != users) {
        return None;
    }
    let hint = "article 004's graph gives each user 3, the default";
    if m == 0 {
        return Some(ParamProblem::new(
            "edges_per_user",
            "`edges_per_user` must be at least 1: each user joins the graph befriending that many others",
            hint,
        ));
    }
    if m >= users {
        return Some(ParamProblem::new(
            "edges_per_user",
            format!(
                "`edges_per_user` is {m}, but a user can befriend at most the other {} of the {users} users",
                users - 1
            ),
            hint,
        ));
    }
    if users.checked_mul(m).is_some_and(|edges| edges <= GRAPH_EDGES_MAX) {
        return None;
    }
    // With a users' node, `users` is its count, which the language bounds: the edges
    // are what to lower. Without one, either may be.
    let param = if user_node.is_some() { "edges_per_user" } else { "users" };
    Some(ParamProblem::new(
        param,
        format!(
            "a follower graph of {users} users with {m} edges each has more than the {GRAPH_EDGES_MAX} edges a run can hold"
        ),
        "lower `edges_per_user` or the number of users: at the default 3 edges a user, the graph holds 10,000,000 users",
    ))
}

/// The Paranoid Pirate pair's parameters; broker and workers must agree on them.
pub(super) const PPP_PARAMS: &[Param] = &[
    Param {
        name: "heartbeat_ivl",
        kind: ParamKind::Duration,
        default: ParamDefault::Value("1s"),
        doc: "how often broker and workers beat",
    },
    Param {
        name: "liveness",
        kind: ParamKind::Count,
        default: ParamDefault::Value("3"),
        doc: "beats missed before the other side is presumed dead",
    },
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::plan::{Group, GroupId, ParamValue};

    fn design(name: &str) -> Design {
        builtin().into_iter().find(|d| d.name() == name).expect("a built-in design")
    }

    fn params(values: &[(&str, ParamValue)]) -> BTreeMap<String, ParamValue> {
        values.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    /// What `design`'s rules say of `values`, as (parameter, message) pairs.
    fn problems(
        design_name: &str,
        values: &[(&str, ParamValue)],
        nodes: &[Group],
    ) -> Vec<(&'static str, String)> {
        let params = params(values);
        let found = design(design_name).param_problems(&ParamScope::new(&params, nodes));
        found.into_iter().map(|p| (p.param(), p.message().to_owned())).collect()
    }

    fn group(name: &str, design: &str, count: u32) -> Group {
        Group {
            id: GroupId(0),
            name: name.to_owned(),
            count,
            design: design.to_owned(),
            params: BTreeMap::new(),
            sockets: Vec::new(),
            hosts: 1,
            process: None,
        }
    }

    const fn count(n: u64) -> ParamValue {
        ParamValue::Count(n)
    }

    #[test]
    fn the_paranoid_pirate_pair_refuses_a_zero_interval_and_a_zero_liveness() {
        let beat = |d: Duration| ("heartbeat_ivl", ParamValue::Duration(d));
        for name in ["ppp-broker", "ppp-worker"] {
            let zero = problems(name, &[beat(Duration::ZERO), ("liveness", count(3))], &[]);
            assert_eq!(zero.len(), 1, "{name}: {zero:?}");
            assert_eq!(zero[0].0, "heartbeat_ivl");
            assert!(zero[0].1.contains("must be longer than 0"), "{}", zero[0].1);
            let dead = problems(name, &[beat(Duration::from_secs(1)), ("liveness", count(0))], &[]);
            assert_eq!(dead.len(), 1, "{name}: {dead:?}");
            assert_eq!(dead[0].0, "liveness");
            assert!(dead[0].1.contains("must be at least 1"), "{}", dead[0].1);
            // Under the tick, and past what a `Duration` multiplies to: the design
            // copes, so `check` accepts them.
            for ok in [
                [beat(Duration::from_nanos(1)), ("liveness", count(3))],
                [beat(Duration::MAX), ("liveness", count(u64::MAX))],
            ] {
                assert_eq!(problems(name, &ok, &[]), [], "{name}");
            }
        }
    }

    #[test]
    fn the_lazy_pirate_refuses_no_retries_as_the_guide_would_send_nothing() {
        let none = problems("lazy-pirate-client", &[("retries", count(0))], &[]);
        assert_eq!(none.len(), 1, "{none:?}");
        assert_eq!(none[0].0, "retries");
        assert!(none[0].1.contains("must be at least 1"), "{}", none[0].1);
        assert_eq!(problems("lazy-pirate-client", &[("retries", count(1))], &[]), []);
    }

    #[test]
    fn an_aggregator_client_refuses_no_jobs() {
        let none = problems("aggregator-client", &[("jobs", count(0))], &[]);
        assert_eq!(none.iter().map(|p| p.0).collect::<Vec<_>>(), ["jobs"]);
        assert_eq!(problems("aggregator-client", &[("jobs", count(3))], &[]), []);
    }

    #[test]
    fn the_comet_graph_has_one_user_per_comet_user_replica_and_fits_in_memory() {
        let manager = |users: u64, m: u64| [("users", count(users)), ("edges_per_user", count(m))];
        let users = |n: u32| [group("manager", "comet-manager", 1), group("user", COMET_USER, n)];
        let of = |found: Vec<(&'static str, String)>| {
            found
                .into_iter()
                .map(|(param, message)| format!("{param}: {message}"))
                .collect::<Vec<_>>()
        };
        // topologies/comet.yaml, and the million users of comet-1m.
        assert_eq!(problems("comet-manager", &manager(10_000, 3), &users(10_000)), []);
        assert_eq!(problems("comet-manager", &manager(1_000_000, 3), &users(1_000_000)), []);
        // The probe's 100,000,000,000 users for 10 users: one error, on `users`.
        assert_eq!(
            of(problems("comet-manager", &manager(100_000_000_000, 3), &users(10))),
            [
                "users: `users` is 100000000000, but node `user` runs 10 comet users: user `u` of the graph is replica `u` of that node"
            ]
        );
        assert_eq!(
            of(problems("comet-manager", &manager(0, 3), &[])),
            ["users: `users` must be at least 1: it is the number of users in the follower graph"]
        );
        assert_eq!(
            of(problems("comet-manager", &manager(10, 0), &users(10))),
            [
                "edges_per_user: `edges_per_user` must be at least 1: each user joins the graph befriending that many others"
            ]
        );
        assert_eq!(
            of(problems("comet-manager", &manager(10, 10), &users(10))),
            [
                "edges_per_user: `edges_per_user` is 10, but a user can befriend at most the other 9 of the 10 users"
            ]
        );
        let too_many = "a follower graph of 1000000 users with 100 edges each has more than the 30000000 edges a run can hold";
        assert_eq!(
            of(problems("comet-manager", &manager(1_000_000, 100), &users(1_000_000))),
            [format!("edges_per_user: {too_many}")]
        );
        // Without a users' node nothing bounds `users` but the graph's size.
        assert_eq!(
            of(problems("comet-manager", &manager(u64::MAX, 3), &[])),
            [format!(
                "users: a follower graph of {} users with 3 edges each has more than the 30000000 edges a run can hold",
                u64::MAX
            )]
        );
    }
}
