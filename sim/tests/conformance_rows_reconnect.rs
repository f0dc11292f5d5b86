//! The reconnect rows of the conformance suite (docs/library-semantics.md,
//! "Reconnecting"): how long each library waits before it dials again after a
//! connection is lost, in the shape of `conformance_rows.rs`. The counterpart is no
//! library but a raw TCP listener that accepts each connection and resets it at once,
//! so the dialler's handshake fails at once and the gaps between the accepts are its
//! reconnect delays: the oracle's listener times the real library's PULL
//! (`conformance_peer.py oracle ROW`), the peer script's times patchbay's PULL over
//! real TCP (`peer ROW`), and a simulated host's times it on the simulated clock. The
//! three lists of gaps are sorted into the same coarse categories, which must agree;
//! the tolerances are a loaded machine's, far from what tells the rules apart. The
//! harness is the parent module, `conformance.rs`.

use patchbay::net::spawn_socket_seeded;
use patchbay::socket::ReconnectBackoff;

use super::*;

fn err<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e:?}")
}

/// The seed of patchbay's reconnect stream in both of its ways (each backend seeds a
/// socket from the run's seed; any seed must give the row's categories).
const RECONNECT_SEED: u64 = 0x80;

/// One round of a row: the dialler's `reconnect_ivl` and `reconnect_ivl_max`, and how
/// many gaps the listener times, as `RECONNECT_ROUNDS` in the peer script.
#[derive(Clone, Copy)]
struct Round {
    ivl_ms: u64,
    max_ms: Option<u64>,
    gaps: usize,
}

/// libzmq with `ZMQ_RECONNECT_IVL_MAX` is no round here: against this listener its
/// gaps mostly stay at the interval (each lost connection, handshake or not, makes a
/// new connecter, whose back-off starts again; patchbay's driver does the same,
/// `Backoff::connected`), but a connect the reset beat now and then fails outright and
/// doubles one gap (the oracle once gave 200, 200, 400, 200), which no category could
/// tell from a wrong rule without flaking. A unit test in `net/tests.rs` holds it.
const ZMQ_ROUNDS: [Round; 1] = [Round { ivl_ms: 200, max_ms: None, gaps: 12 }];
const NNG_ROUNDS: [Round; 1] = [Round { ivl_ms: 200, max_ms: None, gaps: 20 }];
const NANOMSG_ROUNDS: [Round; 2] = [
    Round { ivl_ms: 200, max_ms: Some(1600), gaps: 5 },
    Round { ivl_ms: 200, max_ms: None, gaps: 3 },
];

/// How far a gap may fall short of the delay: the listener reads an accept late (a
/// loaded machine's pause) and the next one on time. On an idle machine gaps came 0 to
/// 8 ms past their delays, and up to 28 ms with three busy loops on two cores; one
/// pause there passed 100 ms.
const EARLY: u64 = 100;
/// How far past its delay a gap may come on a loaded machine: the connect, the reset
/// seen, a scheduler's pause (see `EARLY`). The claims that tell patchbay's old rule
/// (every delay the interval) apart lean on neither: the spread, the short gaps, and
/// nanomsg's gaps to the nearest interval (half an interval either way).
const LATE_BY: u64 = 200;

/// The options of the first PULL of the test topology `file` (its `library:`'s, as the
/// resolver gives them, `reconnect_backoff` too), reconnecting as `round` says;
/// `backoff`, when given, overrides the library's rule (to try the suite on a wrong
/// one).
fn round_options(file: &str, round: Round, backoff: Option<ReconnectBackoff>) -> SocketOptions {
    let resolved = resolved(file, SocketType::Pull);
    let backoff = backoff.unwrap_or(resolved.reconnect_backoff);
    SocketOptions {
        reconnect_ivl: Duration::from_millis(round.ivl_ms),
        reconnect_ivl_max: round.max_ms.map(Duration::from_millis),
        reconnect_backoff: backoff,
        ..resolved
    }
}

/// The gaps of a "gaps 1,2,3" line (the oracle's outcome, the peer's GAPS).
fn parse_gaps(list: &str) -> Result<Vec<u64>, String> {
    list.split(',').map(|g| g.trim().parse().map_err(err("gap"))).collect()
}

/// libzmq without a maximum: `reconnect_ivl` plus a random 0 to `reconnect_ivl` - 1
/// ms. Every gap at least one interval and under two, and not all alike (twelve draws
/// of a uniform jitter spread over a quarter interval but for odds of 3 in a million).
fn zmq_category(round: Round, gaps: &[u64]) -> String {
    let ivl = round.ivl_ms;
    let (low, high) = (gaps.iter().min().copied(), gaps.iter().max().copied());
    let (low, high) = (low.unwrap_or(0), high.unwrap_or(0));
    let floor = if low + EARLY >= ivl { "none under" } else { "some under" };
    let ceiling = if high < 2 * ivl + LATE_BY { "none past" } else { "some past" };
    let spread = if high - low >= ivl / 4 { "over" } else { "under" };
    format!(
        "{n} gaps at {ivl} ms: {floor} {ivl} ms, {ceiling} {twice} ms, spread {spread} {q} ms",
        n = gaps.len(),
        twice = 2 * ivl,
        q = ivl / 4,
    )
}

/// NNG: a random 0 to `reconnect_ivl` - 1 ms. Every gap under one interval, some
/// under half of one (twenty draws all over half: one in a million), not all alike.
fn nng_category(round: Round, gaps: &[u64]) -> String {
    let ivl = round.ivl_ms;
    let (low, high) = (gaps.iter().min().copied(), gaps.iter().max().copied());
    let (low, high) = (low.unwrap_or(0), high.unwrap_or(0));
    let ceiling = if high < ivl + LATE_BY { "none past" } else { "some past" };
    let short = if low < ivl / 2 { "some" } else { "none" };
    let spread = if high - low >= ivl / 4 { "over" } else { "under" };
    format!(
        "{n} gaps at {ivl} ms: {ceiling} {ivl} ms, {short} under {half} ms, spread {spread} {q} \
         ms",
        n = gaps.len(),
        half = ivl / 2,
        q = ivl / 4,
    )
}

/// nanomsg: (n - 1) × `reconnect_ivl` for n = 1, 2, 4, …, capped; nothing random.
/// Each gap to the nearest interval.
fn nanomsg_category(round: Round, gaps: &[u64]) -> String {
    let ivl = round.ivl_ms;
    let nearest: Vec<String> =
        gaps.iter().map(|g| ((g + ivl / 2) / ivl * ivl).to_string()).collect();
    let max = round.max_ms.map_or("none".to_owned(), |m| format!("{m} ms"));
    format!("at {ivl} ms, maximum {max}: gaps to the nearest {ivl} ms {}", nearest.join(", "))
}

/// patchbay's PULL (`options_of` each round) dials the counterpart's listener, which
/// resets every connection and says the gaps between its accepts; the round's
/// category of them.
async fn ours_reconnect_delays<T: Transport>(
    t: T,
    env: Env,
    mut cp: Counterpart,
    rounds: &'static [Round],
    options_of: fn(Round) -> SocketOptions,
    category: fn(Round, &[u64]) -> String,
) -> Result<Outcome, String> {
    let (mut parts, mut times) = (Vec::new(), Vec::new());
    for (r, round) in rounds.iter().enumerate() {
        let port: u16 = cp.expect("READY ").await?.parse().map_err(err("port"))?;
        let options = options_of(*round);
        let core = make_core(SocketType::Pull, &options, 1);
        let to = vec![env.peer(port)];
        let pull = spawn_socket_seeded(
            t.clone(),
            core,
            &options,
            vec![],
            to,
            Instant::now(),
            patchbay::net::no_events(),
            RECONNECT_SEED,
        )
        .await
        .map_err(err("open PULL"))?;
        let gaps = parse_gaps(&cp.expect("GAPS ").await?)?;
        pull.close().await;
        cp.say("next");
        parts.push(category(*round, &gaps));
        times.extend(gaps.iter().enumerate().map(|(i, g)| (format!("r{r}g{i}"), *g)));
    }
    Ok(Outcome { text: parts.join(" | "), times })
}

/// The listener of `peer_reconnect_delays` on the simulated server: each round it
/// binds, accepts the round's gaps + 1 connections, dropping each at once, and says
/// the gaps between the accepts on the simulated clock.
fn sim_resetting_listener(rounds: &'static [Round]) -> SimPeer {
    Box::new(move |t, link| {
        Box::pin(async move {
            let mut link = link;
            let at = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), SIM_SERVER_PORT);
            for round in rounds {
                let (listener, _) =
                    t.bind(at, SocketBuffers::default()).await.map_err(err("bind"))?;
                link.say(format!("READY {SIM_SERVER_PORT}"));
                let mut times = Vec::new();
                for _ in 0..=round.gaps {
                    let (stream, _) = t.accept(&listener).await.map_err(err("accept"))?;
                    times.push(Instant::now());
                    drop(stream);
                }
                drop(listener);
                let gaps: Vec<String> =
                    times.windows(2).map(|w| (w[1] - w[0]).as_millis().to_string()).collect();
                link.say(format!("GAPS {}", gaps.join(",")));
                link.expect("next").await?;
            }
            Ok(())
        })
    })
}

/// One reconnect row: the oracle's gaps, each round's sorted into `category`, must
/// give `want`; then patchbay's PULL (`options_of`) over real TCP against the peer
/// script's listener and in the simulator against a simulated one.
fn reconnect_row(
    row: &'static str,
    rounds: &'static [Round],
    options_of: fn(Round) -> SocketOptions,
    category: fn(Round, &[u64]) -> String,
    want: &str,
) {
    require_peers();
    let oracle = oracle(row);
    let oracle_gaps: Vec<Vec<u64>> = oracle
        .outcomes
        .iter()
        .map(|o| parse_gaps(o.strip_prefix("gaps ").unwrap_or(o)))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{row}: the oracle's outcome {:?}: {e}", oracle.outcomes));
    assert_eq!(oracle_gaps.len(), rounds.len(), "{row}: one oracle line a round");
    let said: Vec<String> =
        rounds.iter().zip(&oracle_gaps).map(|(round, gaps)| category(*round, gaps)).collect();
    eprintln!("{row} oracle gaps: {oracle_gaps:?}");
    assert_eq!(
        said.join(" | "),
        want,
        "{row}: the oracle is not the library's rule as its source reads"
    );
    let real = against_real(
        || Counterpart::process(row, &[]),
        move |t, env, cp| ours_reconnect_delays(t, env, cp, rounds, options_of, category),
    );
    let sim = in_sim(row, sim_resetting_listener(rounds), move |t, env, cp| {
        ours_reconnect_delays(t, env, cp, rounds, options_of, category)
    });
    agree(row, want, &real, &sim);
}

/// libzmq 4.3.5 without `ZMQ_RECONNECT_IVL_MAX` waits `ZMQ_RECONNECT_IVL` plus a
/// random 0 to `ZMQ_RECONNECT_IVL` - 1 ms before each reconnect
/// (`stream_connecter_base_t::get_new_reconnect_ivl`). Tried as a mutation: with
/// `ReconnectBackoff::Exact` (every delay the interval, patchbay's rule before the
/// libraries were modelled), patchbay's gaps were "spread under 50 ms".
#[test]
fn conformance_zmq_reconnects_after_the_interval_and_a_random_part_of_another() {
    reconnect_row(
        "zmq-reconnect-delays",
        &ZMQ_ROUNDS,
        |round| round_options("handshake-ivl-zeromq.yaml", round, None),
        zmq_category,
        "12 gaps at 200 ms: none under 200 ms, none past 400 ms, spread over 50 ms",
    );
}

/// NNG 1.11 waits a random 0 to `NNG_OPT_RECONNMINT` - 1 ms
/// (`dialer_timer_start_locked`). Tried as a mutation: with `ReconnectBackoff::Exact`,
/// patchbay's gaps were "none under 100 ms, spread under 50 ms".
#[test]
fn conformance_nng_reconnects_after_a_random_part_of_the_interval() {
    reconnect_row(
        "nng-reconnect-delays",
        &NNG_ROUNDS,
        |round| round_options("nng-defaults.yaml", round, None),
        nng_category,
        "20 gaps at 200 ms: none past 200 ms, some under 100 ms, spread over 50 ms",
    );
}

/// nanomsg 1.1 retries at once, then after (n - 1) × `NN_RECONNECT_IVL` for n = 2, 4,
/// …, capped at `NN_RECONNECT_IVL_MAX` (at the interval when that is 0), and never
/// starts again (`nn_backoff_start`). Tried as a mutation: with
/// `ReconnectBackoff::Exact`, patchbay's gaps were 200, 400, 800, 1600, 1600 and 200,
/// 200, 200.
#[test]
fn conformance_nanomsg_reconnects_at_once_then_backs_off() {
    reconnect_row(
        "nanomsg-reconnect-delays",
        &NANOMSG_ROUNDS,
        |round| round_options("nanomsg-defaults.yaml", round, None),
        nanomsg_category,
        "at 200 ms, maximum 1600 ms: gaps to the nearest 200 ms 0, 200, 600, 1400, 1600 | at \
         200 ms, maximum none: gaps to the nearest 200 ms 0, 200, 200",
    );
}
