//! The `surveyor` design: nanomsg's SURVEYOR asking `workload.requests` surveys at
//! `workload.rate` after `workload.start_at`.
//!
//! Each survey is a `Survey` payload with a fresh id, recorded as `SurveyStarted`.
//! The surveyor then takes responses until the socket's deadline, when `recv` says
//! `RecvError::State`; a response carries the survey's id, so the socket trace shows
//! which survey each one answered. The deadline is the socket's `survey_deadline`
//! option, which the core enforces and marks with `SurveyExpired`.

use std::future::Future;
use std::pin::Pin;

use crate::socket::{Msg, RecvError};
use crate::trace::{AppEvent, MsgId};

use super::ctx::{NodeCtx, Socket};
use super::kit::{Pacer, stay_up, wait_start};
use crate::wire::payload::{Payload, PayloadKind};

pub fn run(ctx: NodeCtx) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(async move {
        wait_start(&ctx).await;
        let survey = ctx.socket("survey");
        let mut pacer = Pacer::new(ctx.workload.rate);
        for _ in 0..ctx.workload.requests.unwrap_or(0) {
            pacer.wait(&ctx).await;
            if let Err(why) = ask(&ctx, survey, ctx.next_msg_id()).await {
                let text = format!("surveyor stopped: {why}");
                return ctx.record(AppEvent::Note { text });
            }
        }
        stay_up().await;
    })
}

/// Asks survey `id` and collects its responses until the deadline.
async fn ask(ctx: &NodeCtx, survey: Socket<'_>, id: MsgId) -> Result<(), String> {
    ctx.record(AppEvent::SurveyStarted { id });
    let question = Payload::new(PayloadKind::Survey, id, 0).encode();
    survey.send(Msg::new(question)).await.map_err(|e| format!("send failed: {e:?}"))?;
    loop {
        match survey.recv().await {
            Ok(msg) => match Payload::peek(&msg.body) {
                Some((PayloadKind::Response, got, _)) if got == id => {}
                other => ctx.record(AppEvent::Note {
                    text: format!("surveyor asking {id} ignored {other:?}"),
                }),
            },
            Err(RecvError::State) => return Ok(()),
            Err(e) => return Err(format!("recv failed: {e:?}")),
        }
    }
}
