//! The `respondent` design: nanomsg's RESPONDENT answering every survey on its
//! `respond` socket after a sampled `workload.service_time`.
//!
//! The response is a `Response` payload carrying the survey's id, so the surveyor's
//! trace shows which survey it answered. A response that comes too late is the
//! SURVEYOR's to drop; the respondent cannot know the deadline, as in nanomsg.

use std::future::Future;
use std::pin::Pin;

use crate::socket::Msg;
use crate::trace::AppEvent;

use super::ctx::NodeCtx;
use super::kit;
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        let respond = ctx.socket("respond");
        loop {
            let survey = match respond.recv().await {
                Ok(survey) => survey,
                Err(e) => {
                    let text = format!("respondent stopped: recv failed: {e:?}");
                    return ctx.record(AppEvent::Note { text });
                }
            };
            kit::serve(&ctx).await;
            // A failed send loses one response, which the surveyor sees as missing.
            if let Err(e) = respond.send(answer(survey)).await {
                ctx.record(AppEvent::Note { text: format!("respondent send failed: {e:?}") });
            }
        }
    })
}

/// The response to `survey`, keeping its header as a REP's reply does (the
/// RESPONDENT restores the backtrace itself); a foreign body is echoed.
fn answer(survey: Msg) -> Msg {
    match Payload::peek(&survey.body) {
        Some((_, id, _)) => {
            Msg { header: survey.header, body: Payload::new(PayloadKind::Response, id, 0).encode() }
        }
        None => survey,
    }
}
