//! More REQ rows of the conformance suite (docs/library-semantics.md, "Conformance"),
//! in the shape of `conformance_rows.rs`: patchbay's side (`ours_*`, run over real
//! TCP and in the simulator), the simulated counterpart that plays the Python peer's
//! part (`sim_*`), and the test that runs the oracle and compares. The harness is the
//! parent module, `conformance.rs`.

use super::*;

fn err<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e:?}")
}

// ------------------------------------------------------ nng-req-noresend-pipe-loss

/// The row's rounds: NNG's REQ at its default resend time (60 s), then with resends
/// off (`req_resend_ivl: off`, NNG_OPT_REQ_RESENDTIME 0), as `NORESEND_ROUNDS` in
/// the peer script.
const NORESEND_ROUNDS: [&str; 2] = ["default", "off"];

/// The REQ options of a round, as the resolver gives them for `library: nng`
/// (`data/good/nng-defaults.yaml`, `data/good/nng-req-noresend.yaml`), reconnecting
/// every 100 ms as the row's other NNG sockets do.
fn noresend_options(round: &str) -> SocketOptions {
    match round {
        "default" => nng_options(SocketType::Req),
        _ => SocketOptions {
            reconnect_ivl: nng().reconnect_ivl,
            ..resolved("nng-req-noresend.yaml", SocketType::Req)
        },
    }
}

/// One round's outcome, in the words of `noresend_part` in the peer script.
fn noresend_part(round: &str, other_got: &str, req_got: &str) -> String {
    format!("resend {round}: other REP got {other_got}, {req_got}")
}

/// patchbay's NNG REQ, each round: dials REPs a and b, sends req-1 once it has a pipe
/// to both, and receives; the REP holding req-1 closes without answering, the other
/// answers whatever it gets within the window and says what that was.
async fn ours_noresend_pipe_loss<T: Transport>(
    t: T,
    env: Env,
    mut cp: Counterpart,
) -> Result<Outcome, String> {
    let mut parts = Vec::new();
    for round in NORESEND_ROUNDS {
        let ready = cp.expect("READY ").await?;
        let ports: Vec<u16> =
            ready.split(' ').map(str::parse).collect::<Result<_, _>>().map_err(err("ports"))?;
        let peers = ports.iter().map(|port| env.peer(*port)).collect();
        let watch = Watch::default();
        let options = noresend_options(round);
        let req = open(t.clone(), SocketType::Req, &options, vec![], peers, &watch).await?;
        if !watch.until(STEP_TIMEOUT, |s| s.connected >= 2).await {
            return Err(format!("round {round}: the REQ never had a pipe to both REPs"));
        }
        req.send(Msg::new("req-1")).await.map_err(err("send"))?;
        let req_got = match recv_within(&req, STEP_TIMEOUT).await {
            Some(Ok(reply)) => format!("REQ got {}", body(&reply)),
            Some(Err(RecvError::ConnectionReset)) => "REQ recv failed: connection reset".into(),
            Some(Err(other)) => format!("REQ recv failed: {other:?}"),
            None => "REQ recv timed out".into(),
        };
        let other_got = cp.expect("OTHER ").await?;
        req.close().await;
        cp.say("next");
        parts.push(noresend_part(round, &other_got, &req_got));
    }
    Ok(Outcome::new(parts.join(" | ")))
}

/// The REPs of `peer_nng_req_noresend_pipe_loss`, NNG's, bound at two ports of the
/// simulated server: the first to receive req-1 closes without answering; the other
/// answers what it gets within the window.
fn sim_reps_one_closes() -> SimPeer {
    Box::new(|t, mut link| {
        Box::pin(async move {
            let ports = [SIM_SERVER_PORT, SIM_SERVER_PORT_2];
            let at = |port| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            for _ in NORESEND_ROUNDS {
                let mut reps = Vec::new();
                for port in ports {
                    let bound = vec![at(port)];
                    let rep =
                        open(t.clone(), SocketType::Rep, &nng(), bound, vec![], &Watch::default())
                            .await?;
                    reps.push(rep);
                }
                link.say(format!("READY {} {}", ports[0], ports[1]));
                let holder = tokio::select! {
                    biased;
                    got = reps[0].recv() => got.map(|_| 0),
                    got = reps[1].recv() => got.map(|_| 1),
                }
                .map_err(err("recv"))?;
                let other = reps.swap_remove(1 - holder);
                reps.pop().expect("the holder").close().await;
                let got = recv_within(&other, WINDOW).await.and_then(Result::ok);
                if let Some(request) = &got {
                    let reply = format!("echo:{}", body(request));
                    other
                        .send(Msg { header: request.header.clone(), body: reply.into() })
                        .await
                        .map_err(err("send"))?;
                }
                link.say(format!("OTHER {}", got.as_ref().map_or("nothing".to_owned(), body)));
                link.expect("next").await?;
                other.close().await;
            }
            Ok(())
        })
    })
}

/// NNG's REQ loses the pipe that holds its request (the REP that took it closes
/// without answering) while a second REP is up: at the default resend time it sends
/// the request to that REP at once; with resends off (`req0_pipe_close`, `retry <=
/// 0`) it sends nothing again and the receive fails with NNG_ECONNRESET.
#[test]
fn conformance_nng_req_without_resends_fails_the_receive_when_its_pipe_is_lost() {
    require_peers();
    let row = "nng-req-noresend-pipe-loss";
    let want = [
        noresend_part("default", "req-1", "REQ got echo:req-1"),
        noresend_part("off", "nothing", "REQ recv failed: connection reset"),
    ]
    .join(" | ");
    oracle_shows(row, &want, "the oracle is not NNG's documented REQ");
    let real = against_real(|| Counterpart::process(row, &[]), ours_noresend_pipe_loss);
    let sim = in_sim(row, sim_reps_one_closes(), ours_noresend_pipe_loss);
    agree(row, &want, &real, &sim);
}
