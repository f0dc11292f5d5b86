//! libzmq (the `zmq` crate, which builds its bundled libzmq 4.3 statically): the same
//! PUSH/PULL, REQ/REP and QUEUE device patterns as patchbay's rigs, with libzmq's
//! defaults, on blocking threads as libzmq is meant to be used. Each side has its own
//! context, so each has its own I/O thread, as separate processes would.

use std::sync::mpsc as std_mpsc;

use crate::rig::{Flow, RoundTrip, serve_asks_blocking};

const LOOPBACK_ANY_PORT: &str = "tcp://127.0.0.1:*";

fn socket(kind: zmq::SocketType) -> zmq::Socket {
    zmq::Context::new().socket(kind).expect("libzmq socket")
}

/// Starts `body` on a thread called `name`, so the table's thread costs say which of
/// a rig's threads is which. libzmq's own threads (a context's I/O thread, which does
/// the socket work, and its reaper) take the name of the thread that made the context.
fn named(name: &str, body: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new().name(name.to_owned()).spawn(body).expect("a thread starts")
}

/// Binds on an ephemeral port and returns the endpoint to connect to.
fn bind_any(socket: &zmq::Socket) -> String {
    socket.bind(LOOPBACK_ANY_PORT).expect("libzmq bind");
    socket.get_last_endpoint().expect("libzmq endpoint").expect("an ASCII endpoint")
}

pub fn push_pull(size: usize) -> Flow {
    let (mut flow, ends) = Flow::new();
    let (endpoint_tx, endpoint) = std_mpsc::channel();
    let mut commands = ends.sender;
    flow.join_on_finish(named("zmq-push", move || {
        let push = socket(zmq::PUSH);
        endpoint_tx.send(bind_any(&push)).expect("the bench is waiting");
        let body = vec![0xa5u8; size];
        while let Some(n) = commands.blocking_recv() {
            for _ in 0..n {
                push.send(&body[..], 0).expect("libzmq PUSH send");
            }
        }
    }));
    let endpoint = endpoint.recv().expect("the PUSH thread bound");
    let (mut commands, done) = (ends.receiver, ends.done);
    flow.join_on_finish(named("zmq-pull", move || {
        let pull = socket(zmq::PULL);
        pull.connect(&endpoint).expect("libzmq connect");
        let mut msg = zmq::Message::new();
        while let Some(n) = commands.blocking_recv() {
            for _ in 0..n {
                pull.recv(&mut msg, 0).expect("libzmq PULL recv");
            }
            if done.send(n).is_err() {
                return;
            }
        }
    }));
    flow
}

/// A REP echo server on its own thread, bound to `endpoint` or, with `None`, to an
/// ephemeral port; returns the endpoint a REQ connects to (or the one it connected
/// to). The server stays parked on its socket after the benchmark; see main.rs.
fn rep_echo(connect_to: Option<String>) -> String {
    let (endpoint_tx, endpoint) = std_mpsc::channel();
    named("zmq-rep", move || {
        let rep = socket(zmq::REP);
        let endpoint = match connect_to {
            Some(endpoint) => {
                rep.connect(&endpoint).expect("libzmq connect");
                endpoint
            }
            None => bind_any(&rep),
        };
        endpoint_tx.send(endpoint).expect("the bench is waiting");
        let mut msg = zmq::Message::new();
        while rep.recv(&mut msg, 0).is_ok() {
            if rep.send(&msg[..], 0).is_err() {
                return;
            }
        }
    });
    endpoint.recv().expect("the REP thread started")
}

pub fn req_rep() -> RoundTrip {
    req_client(rep_echo(None))
}

/// REQ → QUEUE device (`zmq_proxy` between a ROUTER and a DEALER, the guide's
/// msgqueue.c) → REP echo: the same shape as patchbay's `queue_device` rig, so the hop
/// libzmq's own device adds is measured in the same run.
pub fn queue_device() -> RoundTrip {
    let (endpoints_tx, endpoints) = std_mpsc::channel();
    // The device stays parked in `zmq_proxy` after the benchmark; see main.rs.
    named("zmq-proxy", move || {
        let context = zmq::Context::new();
        let frontend = context.socket(zmq::ROUTER).expect("libzmq socket");
        let backend = context.socket(zmq::DEALER).expect("libzmq socket");
        let bound = (bind_any(&frontend), bind_any(&backend));
        endpoints_tx.send(bound).expect("the bench is waiting");
        let _ = zmq::proxy(&frontend, &backend);
    });
    let (frontend, backend) = endpoints.recv().expect("the device thread bound");
    rep_echo(Some(backend));
    req_client(frontend)
}

/// A REQ client connected to `endpoint`, serving the bench's asks.
fn req_client(endpoint: String) -> RoundTrip {
    let (round_trip, ends) = RoundTrip::new();
    named("zmq-req", move || {
        let req = socket(zmq::REQ);
        req.connect(&endpoint).expect("libzmq connect");
        let (body, mut reply) = (vec![0x5au8; crate::REQUEST_BYTES], zmq::Message::new());
        serve_asks_blocking(ends, || {
            req.send(&body[..], 0).expect("libzmq REQ send");
            req.recv(&mut reply, 0).expect("libzmq REQ recv");
        });
    });
    round_trip
}
