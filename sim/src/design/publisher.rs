//! The `publisher` design: the guide's weather server (`wuserver`) and envelope
//! publisher (`psenvpub`), publishing `workload.publishes` messages on its `pub`
//! socket at `workload.publish_rate` after `workload.start_at`.
//!
//! Each message is a `Publish` payload with a fresh id. With the `topics` parameter
//! (say `"A,B"`) each goes out as the multipart envelope `[topic, payload]`, topics
//! taken in turn; without it, as the bare payload. Every publish is recorded as
//! `AppEvent::Published` with its topic, because an envelope's id sits in its second
//! frame, where the socket trace cannot see it. The pacing and parameter helpers here
//! are shared with the other designs that send at a rate.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

use crate::plan::ParamValue;
use crate::socket::{Msg, multipart};
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use super::subscriber::FRAMES_TAG;
use crate::wire::payload::{Payload, PayloadKind};

/// Payload size when the workload names none, in bytes.
pub(super) const DEFAULT_SIZE_BYTES: u64 = 64;

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        wait_start(&ctx).await;
        publish_all(&ctx).await;
        ctx.finished();
        stay_up().await;
    })
}

/// Keeps a finished node running. Its sockets live as long as the design does, and a
/// socket dropped early discards what it has not yet written (a connection that is
/// not up yet loses its whole queue), so a process that has done its work stays up,
/// as the guide's examples do, until the run ends or a fault kills it.
pub(super) async fn stay_up() {
    std::future::pending::<()>().await;
}

/// Publishes the workload's messages on `pub`, paced, in turn over the topics.
pub(super) async fn publish_all(ctx: &NodeCtx) {
    let topics = text_param(ctx, "topics")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let out = ctx.socket("pub");
    let mut pacer = Pacer::new(ctx.workload.publish_rate);
    for n in 0..ctx.workload.publishes.unwrap_or(0) {
        pacer.wait(ctx).await;
        let id = ctx.next_msg_id();
        let payload = Payload::new(PayloadKind::Publish, id, sample_size(ctx));
        let topic = topics.get(n as usize % topics.len().max(1)).cloned();
        let body = match &topic {
            // The payload says how many frames were written, so a receiver can tell
            // a torn envelope from a whole one (`multipart_atomicity`).
            Some(t) => multipart::encode(&[
                Bytes::from(t.clone()),
                payload.with_extra([FRAMES_TAG, b"2"].concat()).encode(),
            ]),
            None => payload.encode(),
        };
        ctx.record(AppEvent::Published { id, topic: topic.unwrap_or_default() });
        // PUB drops at its high-water mark rather than failing, so an error here is a
        // state that will not change; the rest of the workload goes the same way.
        if let Err(e) = out.send(Msg::new(body)).await {
            let text = format!("publisher could not publish {id}: {e:?}");
            return ctx.record(AppEvent::Note { text });
        }
    }
}

/// Waits out `workload.start_at`, if the scenario gives one.
pub(super) async fn wait_start(ctx: &NodeCtx) {
    ctx.sleep_until(start_time(ctx)).await;
}

/// When `workload.start_at` says to start (drawn once per call), zero without one.
pub(super) fn start_time(ctx: &NodeCtx) -> Duration {
    ctx.workload.start_at.as_ref().map_or(Duration::ZERO, |d| ctx.sample_duration(d))
}

/// A modelled payload size drawn from `workload.size`.
pub(super) fn sample_size(ctx: &NodeCtx) -> u64 {
    ctx.workload.size.as_ref().map_or(DEFAULT_SIZE_BYTES, |d| ctx.sample(d) as u64)
}

/// A text parameter, empty when absent. `$name` parameters arrive as raw text.
pub(super) fn text_param(ctx: &NodeCtx, name: &str) -> String {
    match ctx.params.get(name) {
        Some(ParamValue::Text(s) | ParamValue::Raw(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A count parameter, `default` when absent or not a whole number.
pub(super) fn count_param(ctx: &NodeCtx, name: &str, default: u64) -> u64 {
    match ctx.params.get(name) {
        Some(ParamValue::Count(n)) => *n,
        Some(ParamValue::Text(s) | ParamValue::Raw(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    }
}

/// A duration parameter, `default` when absent.
pub(super) fn duration_param(ctx: &NodeCtx, name: &str, default: Duration) -> Duration {
    match ctx.params.get(name) {
        Some(ParamValue::Duration(d)) => *d,
        _ => default,
    }
}

/// Keeps sends at most `rate` per second: each send waits until one interval after
/// the previous one. A sender slower than the interval sends at once, never in a
/// burst to catch up. Dropping a `wait` half way is harmless: the next call waits
/// for the same instant.
#[derive(Debug)]
pub(super) struct Pacer {
    interval: Option<Duration>,
    /// When the next send may go, as time since the run's epoch.
    next_at: Option<Duration>,
}

impl Pacer {
    /// A rate that is not a positive finite number leaves sends unpaced; the resolver
    /// should have refused it already.
    pub(super) fn new(rate: Option<f64>) -> Pacer {
        let interval = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .and_then(|r| Duration::try_from_secs_f64(1.0 / r).ok());
        Pacer { interval, next_at: None }
    }

    /// A pacer whose first send waits until `at`.
    pub(super) fn not_before(mut self, at: Duration) -> Pacer {
        self.next_at = Some(at);
        self
    }

    pub(super) async fn wait(&mut self, ctx: &NodeCtx) {
        if let Some(at) = self.next_at {
            ctx.sleep_until(at).await;
        }
        self.next_at = self.interval.map(|interval| ctx.now() + interval);
    }
}
