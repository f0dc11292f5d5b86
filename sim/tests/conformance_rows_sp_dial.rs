//! The SP "dials early" rows of the conformance suite (docs/library-semantics.md,
//! "Conformance"), in the shape of `conformance_rows.rs`: a PUB, BUS or SURVEYOR of
//! NNG or nanomsg dials a peer that is not listening yet and sends `early-0` to
//! `early-2`; the peer then binds, and once the connection is up the dialler sends
//! `after`. An SP library's pipe is its connection, so what was sent before it existed
//! went nowhere: the peer gets `after` only (a RESPONDENT answers it, and the
//! SURVEYOR gets the answer). patchbay's `sp_pipe_per_connection` (`Pipes::
//! pipe_per_connection`) is what makes its sockets agree; libzmq's pipes exist from
//! the connect and keep the early messages (not a row here: `zmq-push-connecting`,
//! `zmq-req-connecting` show it). The harness is the parent module, `conformance.rs`.

use super::*;

fn err<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e:?}")
}

/// What the dialler sends before its peer is up, and after, as `DIAL_EARLY` and
/// `DIAL_AFTER` in the peer script.
const EARLY: [&str; 3] = ["early-0", "early-1", "early-2"];
const AFTER: &str = "after";
/// How long the receiver reads on after its last message, as `DIAL_QUIET_MS` there.
const QUIET: Duration = Duration::from_millis(1500);

/// The row's sockets: the dialler's type and the receiver's.
#[derive(Clone, Copy)]
struct Kinds {
    dialler: SocketType,
    receiver: SocketType,
}

const PUB_SUB: Kinds = Kinds { dialler: SocketType::Pub, receiver: SocketType::Sub };
const BUS_BUS: Kinds = Kinds { dialler: SocketType::Bus, receiver: SocketType::Bus };
const SURVEYOR_RESPONDENT: Kinds =
    Kinds { dialler: SocketType::Surveyor, receiver: SocketType::Respondent };

/// The outcome text of `dial_outcome` in the peer script.
fn dial_outcome(kinds: Kinds, got: &[String], answer: Option<&str>) -> String {
    let got = if got.is_empty() { "nothing".to_owned() } else { got.join(",") };
    let mut text = format!("{} got {got}", kinds.receiver);
    if kinds.dialler == SocketType::Surveyor {
        text.push_str(&format!("; SURVEYOR got {}", answer.unwrap_or("nothing")));
    }
    text
}

/// The options `library` (`nng` or `nanomsg`) gives a socket of type `kind`, from the
/// resolver (`data/good/*-defaults.yaml`). nanomsg's defaults file has no BUS; its
/// PUB's options are a BUS's (one message per pipe each way, a pipe per connection).
fn lib_options(library: &str, kind: SocketType) -> SocketOptions {
    match (library, kind) {
        ("nng", _) => nng_options(kind),
        (_, SocketType::Bus) => nanomsg_options(SocketType::Pub),
        _ => nanomsg_options(kind),
    }
}

/// The receiver's options: a SUB subscribed to everything.
fn receiver_options(library: &str, kinds: Kinds) -> SocketOptions {
    let options = lib_options(library, kinds.receiver);
    match kinds.receiver {
        SocketType::Sub => SocketOptions { subscribe: vec![Vec::new()], ..options },
        _ => options,
    }
}

/// patchbay's dialler: connects to `port` before anything listens there, sends the
/// early messages (a PUB, BUS or SURVEYOR never blocks), tells the peer to bind,
/// waits for its connection, sends `after` and, a SURVEYOR, reads the answer.
async fn ours_dials_early<T: Transport>(
    t: T,
    env: Env,
    mut cp: Counterpart,
    port: u16,
    kinds: Kinds,
    options: SocketOptions,
) -> Result<Outcome, String> {
    let watch = Watch::default();
    let peers = vec![env.peer(port)];
    let dialler = open(t, kinds.dialler, &options, vec![], peers, &watch).await?;
    for body in EARLY {
        dialler.send(Msg::new(body)).await.map_err(err("early send"))?;
    }
    cp.say("up");
    cp.expect("BOUND").await?;
    if !watch.until(STEP_TIMEOUT, |s| s.connected >= 1).await {
        return Err("the dialler never connected".into());
    }
    dialler.send(Msg::new(AFTER)).await.map_err(err("send"))?;
    let answer = match kinds.dialler {
        SocketType::Surveyor => {
            recv_within(&dialler, STEP_TIMEOUT).await.and_then(Result::ok).map(|m| body(&m))
        }
        _ => None,
    };
    let got = cp.expect("GOT ").await?;
    let got: Vec<String> = match got.as_str() {
        "nothing" => Vec::new(),
        list => list.split(',').map(str::to_owned).collect(),
    };
    cp.say("done");
    dialler.close().await;
    Ok(Outcome::new(dial_outcome(kinds, &got, answer.as_deref())))
}

/// The simulated receiver: binds when told, reads until quiet (a RESPONDENT answers
/// each survey with `answer:` and the body) and says what it got.
fn sim_receiver_comes_up_late(kinds: Kinds, options: SocketOptions) -> SimPeer {
    Box::new(move |t, mut link| {
        Box::pin(async move {
            link.expect("up").await?;
            let at = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), SIM_SERVER_PORT);
            let receiver =
                open(t, kinds.receiver, &options, vec![at], vec![], &Watch::default()).await?;
            link.say("BOUND");
            let mut got = Vec::new();
            while let Some(Ok(msg)) = recv_within(&receiver, QUIET).await {
                if kinds.receiver == SocketType::Respondent {
                    let answer = Msg::new(format!("answer:{}", body(&msg)));
                    receiver.send(answer).await.map_err(err("answer"))?;
                }
                got.push(body(&msg));
            }
            let list = if got.is_empty() { "nothing".to_owned() } else { got.join(",") };
            link.say(format!("GOT {list}"));
            link.expect("done").await?;
            receiver.close().await;
            Ok(())
        })
    })
}

/// A dialler of `library` whose peer is not up yet: the real library's sends before
/// the connection go nowhere, and so must patchbay's, over real TCP and simulated.
fn dials_early(row: &str, library: &str, kinds: Kinds) {
    require_peers();
    let answer = format!("answer:{AFTER}");
    let want = dial_outcome(kinds, &[AFTER.to_owned()], Some(&answer));
    oracle_shows(row, &want, "the oracle's SP socket kept what it sent before its pipe existed");
    let (options, theirs) = (lib_options(library, kinds.dialler), receiver_options(library, kinds));
    let port = free_port();
    let ours = options.clone();
    let real = against_real(
        || Counterpart::process(row, &["--port", &port.to_string()]),
        move |t, env, cp| ours_dials_early(t, env, cp, port, kinds, ours),
    );
    let sim = in_sim(row, sim_receiver_comes_up_late(kinds, theirs), move |t, env, cp| {
        ours_dials_early(t, env, cp, SIM_SERVER_PORT, kinds, options)
    });
    agree(row, &want, &real, &sim);
}

#[test]
fn conformance_nng_pub_drops_what_it_publishes_before_its_subscriber_is_up() {
    dials_early("nng-pub-dials-early", "nng", PUB_SUB);
}

#[test]
fn conformance_nanomsg_pub_drops_what_it_publishes_before_its_subscriber_is_up() {
    dials_early("nanomsg-pub-dials-early", "nanomsg", PUB_SUB);
}

#[test]
fn conformance_nng_bus_drops_what_it_sends_before_its_peer_is_up() {
    dials_early("nng-bus-dials-early", "nng", BUS_BUS);
}

#[test]
fn conformance_nanomsg_bus_drops_what_it_sends_before_its_peer_is_up() {
    dials_early("nanomsg-bus-dials-early", "nanomsg", BUS_BUS);
}

#[test]
fn conformance_nng_survey_before_its_respondent_is_up_reaches_no_one() {
    dials_early("nng-surveyor-dials-early", "nng", SURVEYOR_RESPONDENT);
}

#[test]
fn conformance_nanomsg_survey_before_its_respondent_is_up_reaches_no_one() {
    dials_early("nanomsg-surveyor-dials-early", "nanomsg", SURVEYOR_RESPONDENT);
}
