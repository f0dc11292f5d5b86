//! The built-in designs, as the language sees them: sockets, parameters, workload.
//!
//! Each entry is what `check` validates a topology against, declared through the same
//! [`Design`] builder a user's design is. The behaviour of a design lives in its
//! own file beside this one.

use crate::socket::SocketType;

use super::{Design, Param, ParamKind, Role};

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
        PPP_PARAMS.iter().cloned().fold(self, Design::param_from)
    }
}

/// The Paranoid Pirate pair's parameters; broker and workers must agree on them.
pub(super) const PPP_PARAMS: &[Param] = &[
    Param {
        name: "heartbeat_ivl",
        kind: ParamKind::Duration,
        default: Some("1s"),
        doc: "how often broker and workers beat",
    },
    Param {
        name: "liveness",
        kind: ParamKind::Count,
        default: Some("3"),
        doc: "beats missed before the other side is presumed dead",
    },
];
