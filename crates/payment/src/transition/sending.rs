//! `POST /outgoing-payments` from the quote. A create is sent only with a quote, so the RS takes at
//! most one payment from it; any doubt about an attempt leads to `Confirming`, never to another
//! quote.

use std::sync::Arc;

use super::call::{self, Woken};
use super::quoting::{create_call, requote};
use super::{Cx, Transition, failed, unexpected};
use crate::effect::{PaymentCall, PaymentChange};
use crate::error::PaymentError;
use crate::event::{PaymentEvent, RefusalClass};
use crate::kind::{CallKind, PaymentStateKind};
use crate::order::PaymentOrder;
use crate::state::{
    Call, Confirming, Failure, PaymentInfo, PaymentState, QuoteInfo, Sending, Sent,
};
use crate::table::Edge;

/// The `GET` of the payment `quote` would have become.
pub(super) fn get_call(quote: &QuoteInfo) -> PaymentCall {
    PaymentCall::GetOutgoingPayment {
        // Checked when the quote arrived (`QuoteNotRecoverable` otherwise).
        url: quote.payment_url().unwrap_or_default(),
    }
}

/// The payment exists: `Sent`, or `Failed` when the RS marked it failed.
pub(super) fn found(
    sent: Edge,
    marked_failed: Edge,
    order: &Arc<PaymentOrder>,
    quote: &QuoteInfo,
    payment: PaymentInfo,
) -> Transition {
    if payment.failed {
        return failed(
            marked_failed,
            order,
            Some(quote),
            Failure::PaymentFailed {
                payment_id: payment.id,
            },
        );
    }
    Transition::new(
        sent,
        PaymentState::Sent(Sent {
            order: Arc::clone(order),
            quote: quote.clone(),
            payment,
        }),
    )
    .notify(PaymentChange::Sent)
}

/// `Sending`: the create call's outcomes and wake-ups.
pub(super) fn sending(
    s: &Sending,
    event: PaymentEvent,
    cx: Cx<'_>,
) -> Result<Transition, PaymentError> {
    let with_call =
        |edge, call| Transition::new(edge, PaymentState::Sending(Sending { call, ..s.clone() }));
    let confirm = |edge, before: &Call, quote_refused| {
        let (call, effect) = call::follow_up(before, CallKind::GetPayment, get_call(&s.quote), cx);
        Transition::new(
            edge,
            PaymentState::Confirming(Confirming {
                order: Arc::clone(&s.order),
                quote: s.quote.clone(),
                call,
                quotes: s.quotes,
                quote_refused,
            }),
        )
        .call(effect)
    };
    let refused = |failure| {
        if s.maybe_created {
            confirm(Edge::CreateRefusedMaybe, &s.call, false)
        } else {
            failed(Edge::CreateRefused, &s.order, Some(&s.quote), failure)
        }
    };
    Ok(match event {
        PaymentEvent::Wake => match call::woken(&s.call, cx)? {
            Woken::Due => {
                let expiring = s
                    .quote
                    .expires_at
                    .is_some_and(|at| at <= cx.after(cx.config.quote_margin));
                if expiring && !s.maybe_created {
                    requote(
                        Edge::CreateRequote,
                        Edge::CreateQuotesSpent,
                        &s.order,
                        &s.quote,
                        s.quotes,
                        &s.call,
                        cx,
                    )
                } else {
                    let (call, effect) =
                        call::send(&s.call, create_call(&s.order, &s.quote.id), cx);
                    with_call(Edge::CreateDue, call).call(effect)
                }
            }
            Woken::Lost(lost) => confirm(Edge::CreateResumed, &lost, false),
            Woken::GiveUp(call) => {
                let last_error = call.last_error.clone().unwrap_or_default();
                let failure = if s.maybe_created {
                    Failure::OutcomeUnknown {
                        quote_id: s.quote.id.clone(),
                        last_error,
                    }
                } else {
                    Failure::GaveUp {
                        call: CallKind::CreatePayment,
                        attempts: call.attempts,
                        last_error,
                    }
                };
                failed(Edge::CreateGaveUp, &s.order, Some(&s.quote), failure)
            }
        },
        PaymentEvent::PaymentFound { payment } => found(
            Edge::Created,
            Edge::CreatedFailed,
            &s.order,
            &s.quote,
            payment,
        ),
        PaymentEvent::Refused { refusal } => {
            let error = refusal.to_string();
            match refusal.class() {
                RefusalClass::InvalidQuote => confirm(
                    Edge::CreateInvalidQuote,
                    &call::retry(&s.call, error, None, cx),
                    true,
                ),
                RefusalClass::ServerError => confirm(
                    Edge::CreateServerError,
                    &call::retry(&s.call, error, None, cx),
                    false,
                ),
                RefusalClass::InactiveToken => match call::refresh(&s.call, error, cx) {
                    Some(call) => with_call(Edge::CreateTokenInactive, call),
                    None => refused(Failure::TokenRefused {
                        call: CallKind::CreatePayment,
                    }),
                },
                RefusalClass::TooManyRequests => {
                    with_call(Edge::CreateTooMany, call::retry(&s.call, error, None, cx))
                }
                RefusalClass::NotFound | RefusalClass::Other => refused(Failure::Refused {
                    call: CallKind::CreatePayment,
                    refusal,
                }),
            }
        }
        PaymentEvent::NotSent { error } => {
            with_call(Edge::CreateNotSent, call::retry(&s.call, error, None, cx))
        }
        PaymentEvent::Ambiguous { error } => confirm(
            Edge::CreateAmbiguous,
            &call::retry(&s.call, error, None, cx),
            false,
        ),
        PaymentEvent::GrantEnded { end } => failed(
            Edge::SendingGrantEnded,
            &s.order,
            Some(&s.quote),
            Failure::ConsentNeeded {
                end,
                maybe_paid_from: (s.maybe_created || s.call.in_flight).then(|| s.quote.id.clone()),
            },
        ),
        other @ (PaymentEvent::Order { .. } | PaymentEvent::Quoted { .. }) => {
            return Err(unexpected(PaymentStateKind::Sending, &s.call, &other));
        }
    })
}
