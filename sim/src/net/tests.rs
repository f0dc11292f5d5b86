//! Driver behaviour under turmoil, where time is simulated and exact: reconnect
//! timing and backoff, receive-side backpressure with a linger flush at close, and a
//! panic inside a driver task reaching the application instead of vanishing.
//!
//! Wire-level faults from real peers are tested against NNG in `tests/interop.rs`.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::driver::Backoff;
use super::{DriverEvent, EventSink, SocketHandle, TurmoilTcp, no_events, spawn_socket};
use crate::socket::{
    Dealer, Linger, Msg, Pair, PipeId, Pipes, Pull, Push, ReconnectBackoff, Rep, Req, SendError,
    SocketCore, SocketEvent, SocketOptions, SocketType,
};

pub(super) const PORT: u16 = 5555;
pub(super) const LATENCY: Duration = Duration::from_millis(1);

pub(super) fn sim(tcp_capacity: usize) -> turmoil::Sim<'static> {
    turmoil::Builder::new()
        .rng_seed(42)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .min_message_latency(LATENCY)
        .max_message_latency(LATENCY)
        .tcp_capacity(tcp_capacity)
        .simulation_duration(Duration::from_secs(60))
        .build()
}

/// Every event with its time, shared between a host and the test, and a wake-up for
/// whoever waits for one ([`EventLog::until`]).
#[derive(Clone, Default)]
pub(super) struct EventLog(Rc<RefCell<Vec<(Duration, DriverEvent)>>>, Rc<Notify>);

impl EventLog {
    pub(super) fn sink(&self) -> EventSink {
        let (log, logged) = (Rc::clone(&self.0), Rc::clone(&self.1));
        Rc::new(move |at: Duration, event: DriverEvent| {
            log.borrow_mut().push((at, event));
            logged.notify_waiters();
        })
    }

    pub(super) fn find<T>(&self, pick: impl Fn(Duration, &DriverEvent) -> Option<T>) -> Vec<T> {
        self.0.borrow().iter().filter_map(|(at, event)| pick(*at, event)).collect()
    }

    /// Waits until an event `pick` picks is in the log, and returns the first.
    pub(super) async fn until<T>(&self, pick: impl Fn(Duration, &DriverEvent) -> Option<T>) -> T {
        loop {
            let logged = self.1.notified();
            let mut logged = std::pin::pin!(logged);
            // Registered before the log is read, so an event logged after the read
            // wakes it.
            logged.as_mut().enable();
            if let Some(first) = self.0.borrow().iter().find_map(|(at, e)| pick(*at, e)) {
                return first;
            }
            logged.await;
        }
    }
}

pub(super) fn listen_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)
}

pub(super) fn server_addr() -> SocketAddr {
    SocketAddr::new(turmoil::lookup("server"), PORT)
}

pub(super) async fn start(
    core: Box<dyn SocketCore>,
    options: &SocketOptions,
    binds: Vec<SocketAddr>,
    connects: Vec<SocketAddr>,
    log: &EventLog,
) -> SocketHandle {
    let epoch = Instant::now();
    spawn_socket(TurmoilTcp, core, options, binds, connects, epoch, log.sink())
        .await
        .expect("spawn socket")
}

/// The gaps between a REQ's failed connects while the REP binds only at `bind_at`.
fn failed_connect_gaps(options: SocketOptions, bind_at: Duration) -> Vec<Duration> {
    let mut sim = sim(64);
    sim.host("server", move || async move {
        crate::net::timer::sleep(bind_at).await;
        let options = SocketOptions::default();
        let log = EventLog::default();
        let rep =
            start(Box::new(Rep::new(options.clone())), &options, vec![listen_addr()], vec![], &log)
                .await;
        let request = rep.recv().await.expect("request");
        rep.send(request).await.expect("reply");
        rep.close().await;
        Ok(())
    });
    let log = EventLog::default();
    let client_log = log.clone();
    sim.client("client", async move {
        let core = Box::new(Req::new(options.clone(), 7));
        let req = start(core, &options, vec![], vec![server_addr()], &client_log).await;
        // Queued before any connection exists (IMMEDIATE=0), sent once one does.
        req.send(Msg::new("early")).await.expect("queue request");
        assert_eq!(req.recv().await.expect("reply").body, Bytes::from_static(b"early"));
        req.close().await;
        Ok(())
    });
    sim.run().expect("simulation");
    let failures =
        log.find(|at, event| matches!(event, DriverEvent::ConnectFailed { .. }).then_some(at));
    let connected =
        log.find(|at, event| matches!(event, DriverEvent::Connected { .. }).then_some(at));
    assert_eq!(connected.len(), 1);
    assert!(connected[0] >= bind_at, "connected at {:?} before the bind", connected[0]);
    failures.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

/// Each retry waits the interval after the refusal, which takes one link latency.
fn assert_gaps(gaps: &[Duration], ivls_ms: &[u64]) {
    let expected: Vec<Duration> =
        ivls_ms.iter().map(|ivl| Duration::from_millis(*ivl) + LATENCY).collect();
    assert_eq!(gaps, expected);
}

#[test]
fn reconnect_waits_reconnect_ivl_without_backoff() {
    let options =
        SocketOptions { reconnect_ivl: Duration::from_millis(100), ..SocketOptions::default() };
    let gaps = failed_connect_gaps(options, Duration::from_millis(550));
    assert_gaps(&gaps, &[100, 100, 100, 100, 100]);
}

#[test]
fn reconnect_backoff_doubles_up_to_the_max() {
    let options = SocketOptions {
        reconnect_ivl: Duration::from_millis(100),
        reconnect_ivl_max: Some(Duration::from_millis(800)),
        ..SocketOptions::default()
    };
    let gaps = failed_connect_gaps(options, Duration::from_millis(3_000));
    assert_gaps(&gaps, &[100, 200, 400, 800, 800]);
}

#[test]
fn backoff_resets_after_a_connection() {
    let options = SocketOptions {
        reconnect_ivl: Duration::from_millis(10),
        reconnect_ivl_max: Some(Duration::from_millis(35)),
        ..SocketOptions::default()
    };
    let mut backoff = Backoff::new();
    let never = || -> u64 { panic!("the exact rule draws nothing") };
    let delays: Vec<u128> =
        (0..4).map(|_| backoff.next_delay(&options, never).as_millis()).collect();
    assert_eq!(delays, [10, 20, 35, 35]);
    backoff.reset(&options);
    assert_eq!(backoff.next_delay(&options, never), Duration::from_millis(10));
}

/// `n` reconnect delays, in milliseconds, under `rule` from `ivl` (and `max`), the
/// random ones drawn from a splitmix64 stream seeded with 7; a reset after `reset_at`.
fn delays(rule: ReconnectBackoff, ivl: u64, max: Option<u64>, n: usize) -> Vec<u64> {
    let options = SocketOptions {
        reconnect_ivl: Duration::from_millis(ivl),
        reconnect_ivl_max: max.map(Duration::from_millis),
        reconnect_backoff: rule,
        ..SocketOptions::default()
    };
    let mut state = 7;
    let mut backoff = Backoff::new();
    (0..n)
        .map(|_| {
            let draw = || crate::plan::seed::splitmix_next(&mut state);
            backoff.next_delay(&options, draw).as_millis() as u64
        })
        .collect()
}

/// Each library's rule, as its source computes it and a probe of the real library
/// measured (docs/library-semantics.md, "Reconnecting"): libzmq without a maximum
/// waits `ivl` plus a random part below `ivl` (211 to 387 ms at 200 ms, by pyzmq);
/// with one it doubles from `ivl` with nothing random; NNG waits a random part of
/// its current back-off, which doubles to the maximum (1 to 202 ms at 200 ms, by
/// pynng); nanomsg retries at once, then (n - 1) × `ivl` for n = 2, 4, 8, … up to
/// its maximum (0, 201, 604, 1402, 1602 ms at 200 ms and 1.6 s).
#[test]
fn each_librarys_reconnect_delays_follow_its_rule() {
    let zmq = delays(ReconnectBackoff::Libzmq, 200, None, 200);
    assert!(zmq.iter().all(|d| (200..400).contains(d)), "{zmq:?}");
    assert!(zmq.iter().any(|d| *d < 250) && zmq.iter().any(|d| *d >= 350), "spread: {zmq:?}");
    assert_eq!(
        delays(ReconnectBackoff::Libzmq, 200, Some(1_600), 6),
        [200, 400, 800, 1_600, 1_600, 1_600]
    );
    assert_eq!(
        delays(ReconnectBackoff::Libzmq, 200, Some(150), 2),
        [150, 150],
        "capped from the first"
    );
    let nng = delays(ReconnectBackoff::Nng, 200, None, 200);
    assert!(nng.iter().all(|d| *d < 200), "{nng:?}");
    assert!(nng.iter().any(|d| *d < 50) && nng.iter().any(|d| *d >= 150), "spread: {nng:?}");
    let nng_max = delays(ReconnectBackoff::Nng, 100, Some(400), 40);
    assert!(
        nng_max[..1].iter().all(|d| *d < 100) && nng_max[1..2].iter().all(|d| *d < 200),
        "{nng_max:?}"
    );
    assert!(
        nng_max[2..].iter().all(|d| *d < 400) && nng_max[2..].iter().any(|d| *d >= 200),
        "{nng_max:?}"
    );
    assert_eq!(delays(ReconnectBackoff::Nanomsg, 200, None, 4), [0, 200, 200, 200]);
    assert_eq!(
        delays(ReconnectBackoff::Nanomsg, 200, Some(1_600), 6),
        [0, 200, 600, 1_400, 1_600, 1_600]
    );
    // The same seed, the same delays.
    assert_eq!(zmq, delays(ReconnectBackoff::Libzmq, 200, None, 200));
}

/// A connection that got through its handshake starts libzmq's and NNG's back-off
/// again from `ivl`; nanomsg's TCP connecter never resets its own.
#[test]
fn only_nanomsg_keeps_its_back_off_across_connections() {
    let with = |rule| SocketOptions {
        reconnect_ivl: Duration::from_millis(100),
        reconnect_ivl_max: Some(Duration::from_millis(800)),
        reconnect_backoff: rule,
        ..SocketOptions::default()
    };
    let zero = || 0;
    for (rule, after_reset) in [
        (ReconnectBackoff::Libzmq, 100),
        (ReconnectBackoff::Exact, 100),
        (ReconnectBackoff::Nanomsg, 700),
    ] {
        let options = with(rule);
        let mut backoff = Backoff::new();
        for _ in 0..3 {
            backoff.next_delay(&options, zero);
        }
        backoff.reset(&options);
        assert_eq!(backoff.next_delay(&options, zero).as_millis(), after_reset, "{rule:?}");
    }
    // A TCP connection lost before its handshake starts libzmq again (a new
    // connecter), and no other library: a probe of libzmq at 200 ms with an 800 ms
    // maximum, its connections reset at once, measured 201 ms every time.
    for (rule, after_connect) in [
        (ReconnectBackoff::Libzmq, 100),
        (ReconnectBackoff::Exact, 800),
        (ReconnectBackoff::Nanomsg, 700),
    ] {
        let options = with(rule);
        let mut backoff = Backoff::new();
        for _ in 0..3 {
            backoff.next_delay(&options, zero);
        }
        backoff.connected(&options);
        assert_eq!(backoff.next_delay(&options, zero).as_millis(), after_connect, "{rule:?}");
    }
    // NNG's draw is below its current back-off: 100 ms again after the reset.
    let options = with(ReconnectBackoff::Nng);
    let mut backoff = Backoff::new();
    for _ in 0..3 {
        backoff.next_delay(&options, || 0);
    }
    backoff.reset(&options);
    assert_eq!(backoff.next_delay(&options, || 99_999).as_millis(), 99_999 % 100);
}

const FLOOD_MSGS: usize = 300;
const RCVHWM_MSGS: u32 = 4;
const RECEIVER_ASLEEP: Duration = Duration::from_secs(1);

/// DEALER speaks NNG's raw REQ, whose receiver takes the first four bytes as a
/// request id, so DEALER-to-DEALER traffic carries one id per message.
fn flood_msg(i: usize) -> Msg {
    let id = u32::try_from(i).expect("few messages") | crate::socket::REQUEST_ID_BIT;
    Msg { header: vec![id], body: Bytes::from(format!("m{i}")) }
}

/// A receiver that does not read for a second must stop its reader at RCVHWM, which
/// stalls TCP, which fills the sender's queue and blocks its sends; every message
/// then arrives, in order, including those still queued when the sender closed.
#[test]
fn full_receiver_blocks_the_sender_and_close_flushes() {
    let mut sim = sim(8);
    let received = Rc::new(RefCell::new(Vec::new()));
    let server_log = EventLog::default();
    let (log, got) = (server_log.clone(), Rc::clone(&received));
    // A client, not a host, so the run lasts until it has everything.
    sim.client("server", async move {
        let options = SocketOptions { rcvhwm_msgs: RCVHWM_MSGS, ..SocketOptions::default() };
        let core = Box::new(Dealer::new(options.clone()));
        let dealer = start(core, &options, vec![listen_addr()], vec![], &log).await;
        crate::net::timer::sleep(RECEIVER_ASLEEP).await;
        for _ in 0..FLOOD_MSGS {
            let msg = dealer.recv().await.expect("recv");
            got.borrow_mut().push(msg);
        }
        Ok(())
    });
    let last_send_at = Rc::new(RefCell::new(Duration::ZERO));
    let at = Rc::clone(&last_send_at);
    sim.client("client", async move {
        let options = SocketOptions { sndhwm_msgs: 4, ..SocketOptions::default() };
        let core = Box::new(Dealer::new(options.clone()));
        let dealer = start(core, &options, vec![], vec![server_addr()], &EventLog::default()).await;
        let epoch = Instant::now();
        for i in 0..FLOOD_MSGS {
            dealer.send(flood_msg(i)).await.expect("send");
        }
        *at.borrow_mut() = epoch.elapsed();
        dealer.close().await;
        Ok(())
    });
    sim.run().expect("simulation");
    let expected: Vec<Msg> = (0..FLOOD_MSGS).map(flood_msg).collect();
    assert_eq!(*received.borrow(), expected);
    assert!(
        *last_send_at.borrow() >= RECEIVER_ASLEEP,
        "sends never blocked: {:?}",
        last_send_at.borrow()
    );
    let depth_max = server_log.find(|_, event| match event {
        DriverEvent::Socket(SocketEvent::Arrived { depth, .. }) => Some(*depth),
        _ => None,
    });
    assert_eq!(depth_max.iter().max(), Some(&RCVHWM_MSGS));
}

/// A DEALER whose `poll_transmit` panics: a stand-in for a bug in a core. The pipe
/// bookkeeping is the trait's shared default over the DEALER's own pipes.
struct PanicOnTransmit(Dealer);

impl SocketCore for PanicOnTransmit {
    fn socket_type(&self) -> SocketType {
        SocketType::Dealer
    }
    fn pipes(&self) -> &Pipes {
        self.0.pipes()
    }
    fn pipes_mut(&mut self) -> &mut Pipes {
        self.0.pipes_mut()
    }
    fn send(&mut self, msg: Msg, now: Duration) -> Result<(), SendError> {
        self.0.send(msg, now)
    }
    fn poll_transmit(&mut self, _pipe: PipeId, _now: Duration) -> Option<Msg> {
        panic!("boom in poll_transmit");
    }
}

#[test]
fn a_panic_in_a_driver_task_reaches_the_application() {
    let mut sim = sim(64);
    sim.host("server", || async {
        let options = SocketOptions::default();
        let core = Box::new(Dealer::new(options.clone()));
        let dealer = start(core, &options, vec![listen_addr()], vec![], &EventLog::default()).await;
        let _ = dealer.recv().await;
        Ok(())
    });
    let log = EventLog::default();
    let client_log = log.clone();
    let raised = Rc::new(RefCell::new(None));
    let raised_in_client = Rc::clone(&raised);
    sim.client("client", async move {
        let options = SocketOptions::default();
        let task_panicked = Rc::new(Notify::new());
        let sink: EventSink = {
            let (inner, task_panicked) = (client_log.sink(), Rc::clone(&task_panicked));
            Rc::new(move |at, event| {
                if matches!(event, DriverEvent::TaskPanicked { .. }) {
                    task_panicked.notify_one();
                }
                inner(at, event);
            })
        };
        let core = Box::new(PanicOnTransmit(Dealer::new(options.clone())));
        let dealer = spawn_socket(
            TurmoilTcp,
            core,
            &options,
            vec![],
            vec![server_addr()],
            Instant::now(),
            sink,
        )
        .await
        .expect("spawn socket");
        dealer.send(Msg::new("x")).await.expect("queued before the connection is up");
        task_panicked.notified().await;
        let call = std::panic::catch_unwind(AssertUnwindSafe(|| dealer.try_recv()));
        let payload = call.expect_err("the next call raises the task's panic");
        *raised_in_client.borrow_mut() = payload.downcast_ref::<String>().cloned();
        Ok(())
    });
    sim.run().expect("simulation");
    let raised = raised.borrow_mut().take().expect("client finished");
    assert!(raised.contains("boom in poll_transmit"), "{raised}");
    let events = log.find(|_, event| match event {
        DriverEvent::TaskPanicked { task, message } => Some((*task, message.clone())),
        _ => None,
    });
    assert_eq!(events, vec![("connect", "boom in poll_transmit".to_owned())]);
}

/// An untraced socket (`no_events`) keeps only the events that wake its writers and
/// hands its core the last clock reading: PUSH to PULL must still deliver every
/// message in order through both high-water marks, on both wires.
#[test]
fn untraced_sockets_deliver_everything_in_order_through_their_hwms() {
    const MESSAGES: u32 = 2_000;
    for zmtp in [false, true] {
        let options =
            SocketOptions { sndhwm_msgs: 7, rcvhwm_msgs: 5, zmtp, ..SocketOptions::default() };
        let mut sim = sim(64);
        let server_options = options.clone();
        sim.host("server", move || {
            let options = server_options.clone();
            async move {
                let (core, binds) = (Box::new(Push::new(options.clone())), vec![listen_addr()]);
                let epoch = Instant::now();
                let push =
                    spawn_socket(TurmoilTcp, core, &options, binds, vec![], epoch, no_events());
                let push = push.await.expect("spawn PUSH");
                for i in 0..MESSAGES {
                    push.send(Msg::new(i.to_be_bytes().to_vec())).await.expect("send");
                }
                push.close().await;
                Ok(())
            }
        });
        sim.client("client", async move {
            let (core, connects) = (Box::new(Pull::new(options.clone())), vec![server_addr()]);
            let epoch = Instant::now();
            let pull =
                spawn_socket(TurmoilTcp, core, &options, vec![], connects, epoch, no_events());
            let pull = pull.await.expect("spawn PULL");
            for i in 0..MESSAGES {
                let msg = pull.recv().await.expect("recv");
                assert_eq!(msg.body, Bytes::from(i.to_be_bytes().to_vec()), "message {i}");
            }
            Ok(())
        });
        sim.run().unwrap_or_else(|e| panic!("zmtp {zmtp}: {e}"));
    }
}

/// A receive waiting on a socket is woken by the socket's own send (every
/// application call wakes its socket's waiters) and by a reply, but not by the
/// connection's writer taking the sent message off the queue: that can only have
/// made room for a send, and waking the receive cost it a poll and a failed attempt
/// for every message its socket sent.
#[test]
fn a_writer_taking_a_message_does_not_wake_a_waiting_receive() {
    use std::future::Future;
    use std::task::Context;

    use super::wake::tests::counting_waker;

    for zmtp in [false, true] {
        let options = SocketOptions { zmtp, ..SocketOptions::default() };
        let mut sim = sim(64);
        // Notified by the server once the request is in, that is once the client's
        // writer has taken it off the client's queue and written it.
        let arrived = Rc::new(Notify::new());
        let (server_options, server_arrived) = (options.clone(), Rc::clone(&arrived));
        sim.host("server", move || {
            let (options, arrived) = (server_options.clone(), Rc::clone(&server_arrived));
            async move {
                let core = Box::new(Pair::new(options.clone()));
                let log = EventLog::default();
                let pair = start(core, &options, vec![listen_addr()], vec![], &log).await;
                // Once this is in, the client is connected: no connection's start is
                // left to wake its receive.
                pair.send(Msg::new(Bytes::from_static(b"hello"))).await.expect("server send");
                let request = pair.recv().await.expect("server recv");
                assert_eq!(request.body, Bytes::from_static(b"ping"));
                arrived.notify_one();
                pair.send(Msg::new(Bytes::from_static(b"pong"))).await.expect("server send");
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        let (counted, waker) = counting_waker();
        sim.client("client", async move {
            let core = Box::new(Pair::new(options.clone()));
            let log = EventLog::default();
            let pair = start(core, &options, vec![], vec![server_addr()], &log).await;
            let hello = pair.recv().await.expect("client recv");
            assert_eq!(hello.body, Bytes::from_static(b"hello"));
            let mut cx = Context::from_waker(&waker);
            let mut reply = std::pin::pin!(pair.recv());
            assert!(reply.as_mut().poll(&mut cx).is_pending(), "nothing sent yet");
            pair.try_send(Msg::new(Bytes::from_static(b"ping"))).expect("client send");
            assert_eq!(counted.count(), 1, "the send wakes the receive");
            assert!(reply.as_mut().poll(&mut cx).is_pending(), "no reply yet");
            arrived.notified().await;
            assert_eq!(
                counted.count(),
                1,
                "zmtp {zmtp}: the writer's taking of the request woke the waiting receive"
            );
            // Still waiting, and what it gets is the reply.
            let reply = reply.await.expect("client recv");
            assert_eq!(reply.body, Bytes::from_static(b"pong"));
            Ok(())
        });
        sim.run().unwrap_or_else(|e| panic!("zmtp {zmtp}: {e}"));
    }
}

/// A core whose deadline the application sets by sending `at <ms>` or `clear`, and
/// which records when its timeout fires.
struct ScriptedDeadline {
    inner: Dealer,
    deadline: Option<Duration>,
    fired: Rc<RefCell<Vec<Duration>>>,
}

impl SocketCore for ScriptedDeadline {
    fn socket_type(&self) -> SocketType {
        SocketType::Dealer
    }
    fn pipes(&self) -> &Pipes {
        self.inner.pipes()
    }
    fn pipes_mut(&mut self) -> &mut Pipes {
        self.inner.pipes_mut()
    }
    fn send(&mut self, msg: Msg, _now: Duration) -> Result<(), SendError> {
        let command = std::str::from_utf8(&msg.body).expect("a script line");
        let ms = command.strip_prefix("at ").map(|ms| ms.parse().expect("milliseconds"));
        self.deadline = ms.map(Duration::from_millis);
        Ok(())
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.deadline
    }
    fn on_timeout(&mut self, now: Duration) {
        self.fired.borrow_mut().push(now);
        self.deadline = None;
    }
}

/// A deadline moved later or taken away does not wake the socket's timer task, which
/// then wakes at the old one with nothing due: the timeout must still fire only when
/// the core's own deadline comes, and the run's timer account must hold the core's
/// deadline, not the stale one, or a run could not end early while a REQ waits.
#[test]
fn a_deadline_moved_later_or_cleared_fires_only_when_the_core_wants_it() {
    let timers = super::timer::Watch::install();
    let fired = Rc::new(RefCell::new(Vec::new()));
    let mut sim = sim(64);
    let fired_in_host = fired.clone();
    sim.client("client", async move {
        let options = SocketOptions::default();
        let core = Box::new(ScriptedDeadline {
            inner: Dealer::new(options.clone()),
            deadline: None,
            fired: fired_in_host,
        });
        let socket = start(core, &options, vec![], vec![], &EventLog::default()).await;
        let mut elapsed = 0;
        for (at, line) in [(0, "at 100"), (10, "at 300"), (20, "clear"), (30, "at 200")] {
            super::timer::sleep(Duration::from_millis(at - elapsed)).await;
            elapsed = at;
            socket.send(Msg::new(line)).await.expect("a scripted core takes every line");
        }
        super::timer::sleep(Duration::from_millis(400)).await;
        Ok(())
    });
    // What the account holds 5 ms after each line: the core's deadline only.
    let mut seen = Vec::new();
    for check_at in [5, 15, 25, 35] {
        while sim.elapsed() < Duration::from_millis(check_at) {
            sim.step().expect("simulation");
        }
        let armed = |ms: u64| {
            let at = Duration::from_millis(ms);
            timers.watch().armed_between(at, at + Duration::from_millis(1))
        };
        seen.push((check_at, armed(100), armed(200), armed(300)));
    }
    assert_eq!(
        seen,
        vec![
            (5, true, false, false),
            (15, false, false, true),
            (25, false, false, false),
            (35, false, true, false)
        ]
    );
    while !sim.step().expect("simulation") {}
    assert_eq!(*fired.borrow(), vec![Duration::from_millis(200)], "fired once, at the core's time");
}

/// A PAIR that has its peer and a second dialler: an SP PAIR closes the second's
/// connection once handshaken, as NNG's and nanomsg's do, so it redials and is taken
/// once the first peer has gone (measured with pynng's Pair0 and Pair1 and nanomsg's
/// C API: the second got the PAIR's next message). A ZMTP PAIR keeps it idle, as
/// libzmq does (measured with pyzmq: no disconnect, and nothing for the second after
/// the first had gone). Before, an SP PAIR kept it idle too.
#[test]
fn an_sp_pair_refuses_a_second_dialler_and_takes_it_once_its_peer_has_gone() {
    for zmtp in [false, true] {
        let options = SocketOptions { zmtp, ..SocketOptions::default() };
        let mut sim = sim(64);
        let (server_log, first_log, second_log) =
            (EventLog::default(), EventLog::default(), EventLog::default());
        let (server_options, log) = (options.clone(), server_log.clone());
        sim.host("server", move || {
            let (options, log) = (server_options.clone(), log.clone());
            async move {
                let core = Box::new(Pair::new(options.clone()));
                let pair = start(core, &options, vec![listen_addr()], vec![], &log).await;
                pair.send(Msg::new(Bytes::from_static(b"hello"))).await.expect("send hello");
                assert_eq!(pair.recv().await.expect("bye").body, Bytes::from_static(b"bye"));
                // Sent once the first has gone: it waits for the PAIR's next peer.
                log.until(|_, e| match e {
                    DriverEvent::Disconnected { reason, .. } if !reason.starts_with("refused") => {
                        Some(())
                    }
                    _ => None,
                })
                .await;
                pair.send(Msg::new(Bytes::from_static(b"again"))).await.expect("send again");
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        let (first_options, log, second) = (options.clone(), first_log.clone(), second_log.clone());
        sim.client("first", async move {
            let core = Box::new(Pair::new(first_options.clone()));
            let pair = start(core, &first_options, vec![], vec![server_addr()], &log).await;
            assert_eq!(pair.recv().await.expect("hello").body, Bytes::from_static(b"hello"));
            // Once the second has dialled, while this one is the PAIR's peer.
            second.until(|_, e| matches!(e, DriverEvent::Connected { .. }).then_some(())).await;
            pair.send(Msg::new(Bytes::from_static(b"bye"))).await.expect("send bye");
            pair.close().await;
            Ok(())
        });
        let got = Rc::new(RefCell::new(None));
        let (log, second_got) = (second_log.clone(), Rc::clone(&got));
        sim.client("second", async move {
            // Dials once the first is the PAIR's peer.
            first_log.until(|_, e| matches!(e, DriverEvent::Connected { .. }).then_some(())).await;
            let core = Box::new(Pair::new(options.clone()));
            let pair = start(core, &options, vec![], vec![server_addr()], &log).await;
            let again = crate::net::timer::timeout(Duration::from_secs(5), pair.recv()).await;
            *second_got.borrow_mut() = again.ok().map(|m| m.expect("recv").body);
            Ok(())
        });
        sim.run().unwrap_or_else(|e| panic!("zmtp {zmtp}: {e}"));
        let refused = server_log.find(|_, e| match e {
            DriverEvent::Disconnected { reason, .. } if reason.starts_with("refused") => {
                Some(reason.clone())
            }
            _ => None,
        });
        let dials =
            second_log.find(|_, e| matches!(e, DriverEvent::Connected { .. }).then_some(()));
        if zmtp {
            assert_eq!(refused, Vec::<String>::new(), "libzmq keeps the second connection");
            assert_eq!(dials.len(), 1, "it never redials");
            assert_eq!(*got.borrow(), None, "and gets nothing once the first has gone");
        } else {
            assert_eq!(
                refused.first().map(String::as_str),
                Some("refused: the PAIR already has its peer")
            );
            assert!(dials.len() >= 2, "the second dialled {} time(s)", dials.len());
            assert_eq!(*got.borrow(), Some(Bytes::from_static(b"again")));
        }
    }
}

/// What a PULL got of `count` messages of `size` bytes from a PUSH with `linger`
/// (speaking ZMTP if `zmtp`) that sent them all as soon as it was connected and then
/// closed at once, its messages numbered in their first four bytes. A PULL that
/// `sleeps` first reads nothing for a second, so with an 8-segment link and `rcvhwm`
/// 4 the PUSH's stream fills; either way it then reads until nothing comes for two
/// seconds.
fn pushed_then_closed(
    linger: Linger,
    zmtp: bool,
    count: u32,
    size: usize,
    sleeps: bool,
) -> Vec<u32> {
    let mut sim = sim(if sleeps { 8 } else { 64 });
    let got = Rc::new(RefCell::new(Vec::new()));
    let received = Rc::clone(&got);
    sim.client("server", async move {
        let options = SocketOptions { rcvhwm_msgs: 4, zmtp, ..SocketOptions::default() };
        let core = Box::new(Pull::new(options.clone()));
        let pull = start(core, &options, vec![listen_addr()], vec![], &EventLog::default()).await;
        if sleeps {
            crate::net::timer::sleep(Duration::from_secs(1)).await;
        }
        while let Ok(msg) = crate::net::timer::timeout(Duration::from_secs(2), pull.recv()).await {
            let body = msg.expect("recv").body;
            received.borrow_mut().push(u32::from_be_bytes(body[..4].try_into().expect("numbered")));
        }
        Ok(())
    });
    sim.client("client", async move {
        let options = SocketOptions { linger, zmtp, ..SocketOptions::default() };
        let core = Box::new(Push::new(options.clone()));
        let log = EventLog::default();
        let push = start(core, &options, vec![], vec![server_addr()], &log).await;
        log.until(|_, e| matches!(e, DriverEvent::Connected { .. }).then_some(())).await;
        for i in 0..count {
            let mut body = vec![0u8; size];
            body[..4].copy_from_slice(&i.to_be_bytes());
            push.send(Msg::new(Bytes::from(body))).await.expect("queued");
        }
        push.close().await;
        Ok(())
    });
    sim.run().expect("simulation");
    got.take()
}

/// A socket that does not linger, as every NNG and nanomsg socket (their plans give
/// `linger` 0s: neither library has one) and a libzmq socket at `ZMQ_LINGER` 0, still
/// sends at close what its stream takes at once, since the library's I/O has written
/// it to the kernel by then, and loses only what the stream cannot take. Measured
/// with pynng, nanomsg's C API and pyzmq: messages of 64 bytes sent just before the
/// close all arrived (2,000 of them; 50 with libzmq); of 64 KiB ones to a peer that
/// was not reading, every one the kernel had taken arrived and the one being written
/// was lost (NNG, nanomsg). Before, a socket with `linger` 0s ended its connections at
/// the close without writing what its application had just sent, on either wire.
#[test]
fn a_socket_without_linger_sends_what_its_stream_takes_and_loses_the_rest() {
    let no_linger = Linger::For(Duration::ZERO);
    for zmtp in [false, true] {
        let all: Vec<u32> = (0..10).collect();
        let small = pushed_then_closed(no_linger, zmtp, 10, 64, false);
        assert_eq!(small, all, "zmtp {zmtp}: sent just before the close");
        let cut = pushed_then_closed(no_linger, zmtp, 40, 64 * 1024, true);
        let prefix: Vec<u32> = (0..u32::try_from(cut.len()).expect("few")).collect();
        assert_eq!(cut, prefix, "zmtp {zmtp}: what arrived is what was sent first, in order");
        assert!(
            (4..40).contains(&cut.len()),
            "zmtp {zmtp}: the PULL got {} of 40: at least its four, and not what the stream \
             could not take",
            cut.len()
        );
        let lingering = pushed_then_closed(Linger::Forever, zmtp, 40, 64 * 1024, true);
        let all: Vec<u32> = (0..40).collect();
        assert_eq!(lingering, all, "zmtp {zmtp}: libzmq's forever sends everything");
    }
}

/// What a dialling PULL got, and how many times it connected, when the PUSH it dials
/// sends `small-1`, a message over the PULL's receive limit, then, a second later,
/// `small-2`; ZeroMQ's wire (`zmtp`) or SP's.
fn dialler_after_a_protocol_error(zmtp: bool) -> (Vec<Bytes>, usize) {
    let mut sim = sim(64);
    sim.host("server", move || async move {
        let options = SocketOptions { zmtp, ..SocketOptions::default() };
        let core = Box::new(Push::new(options.clone()));
        let push = start(core, &options, vec![listen_addr()], vec![], &EventLog::default()).await;
        push.send(Msg::new("small-1")).await.expect("small-1");
        push.send(Msg::new(vec![b'x'; 200])).await.expect("big");
        crate::net::timer::sleep(Duration::from_secs(1)).await;
        // With no pipe left (ZeroMQ) this waits for ever, as libzmq's send would.
        push.send(Msg::new("small-2")).await.expect("small-2");
        std::future::pending::<()>().await;
        Ok(())
    });
    let (log, got) = (EventLog::default(), Rc::new(RefCell::new(Vec::new())));
    let (client_log, client_got) = (log.clone(), Rc::clone(&got));
    sim.client("client", async move {
        let options = SocketOptions {
            zmtp,
            rcvmaxsize_bytes: Some(100),
            reconnect_ivl: Duration::from_millis(100),
            ..SocketOptions::default()
        };
        let core = Box::new(Pull::new(options.clone()));
        let pull = start(core, &options, vec![], vec![server_addr()], &client_log).await;
        while let Ok(Ok(msg)) =
            crate::net::timer::timeout(Duration::from_secs(3), pull.recv()).await
        {
            client_got.borrow_mut().push(msg.body);
        }
        Ok(())
    });
    sim.run().expect("simulation");
    let connects =
        log.find(|_, event| matches!(event, DriverEvent::Connected { .. }).then_some(()));
    let got = got.borrow().clone();
    (got, connects.len())
}

/// libzmq's session ends a dialled pipe for good on a protocol error, here a message
/// over `ZMQ_MAXMSGSIZE` (`session_base_t::engine_error`: only a lost connection or a
/// timeout reconnects), so the PULL never hears from the PUSH again (pyzmq, 3 runs:
/// `small-1`, then nothing, the PULL's monitor showing no reconnect); NNG and nanomsg
/// dial again, and `small-2` comes. Before, patchbay's ZeroMQ PULL dialled again too.
#[test]
fn a_zeromq_dialler_never_dials_again_after_a_protocol_error_and_sp_does() {
    let (zmq_got, zmq_connects) = dialler_after_a_protocol_error(true);
    assert_eq!(zmq_got, [Bytes::from_static(b"small-1")]);
    assert_eq!(zmq_connects, 1, "libzmq does not reconnect after a protocol error");
    let (sp_got, sp_connects) = dialler_after_a_protocol_error(false);
    assert_eq!(sp_got, [Bytes::from_static(b"small-1"), Bytes::from_static(b"small-2")]);
    assert!(sp_connects >= 2, "SP dials again: {sp_connects}");
}
