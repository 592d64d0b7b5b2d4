//! `GET` of the outgoing payment by the quote's id, after an attempt whose outcome is unknown or a
//! create refused as `invalid quote`. Nothing else is sent for the payment until it answers.

use std::sync::Arc;

use super::call::{self, Woken};
use super::quoting::{create_call, requote};
use super::sending::{found, get_call};
use super::{Cx, Transition, add, failed, unexpected};
use crate::error::PaymentError;
use crate::event::{PaymentEvent, RefusalClass};
use crate::kind::{CallKind, PaymentStateKind};
use crate::state::{Confirming, Failure, PaymentState, Sending};
use crate::table::Edge;

/// `Confirming`: the `GET`'s outcomes and wake-ups.
pub(super) fn confirming(
    s: &Confirming,
    event: PaymentEvent,
    cx: Cx<'_>,
) -> Result<Transition, PaymentError> {
    let with_call = |edge, call| {
        Transition::new(
            edge,
            PaymentState::Confirming(Confirming { call, ..s.clone() }),
        )
    };
    Ok(match event {
        PaymentEvent::Wake => match call::woken(&s.call, cx)? {
            Woken::Due => {
                let (call, effect) = call::send(&s.call, get_call(&s.quote), cx);
                with_call(Edge::ConfirmDue, call).call(effect)
            }
            Woken::Lost(lost) => {
                let (call, effect) = call::send(&lost, get_call(&s.quote), cx);
                with_call(Edge::ConfirmResumed, call).call(effect)
            }
            Woken::GiveUp(call) => failed(
                Edge::ConfirmGaveUp,
                &s.order,
                Some(&s.quote),
                Failure::OutcomeUnknown {
                    quote_id: s.quote.id.clone(),
                    last_error: call.last_error.unwrap_or_default(),
                },
            ),
        },
        PaymentEvent::PaymentFound { payment } => found(
            Edge::Confirmed,
            Edge::ConfirmedFailed,
            &s.order,
            &s.quote,
            payment,
        ),
        PaymentEvent::Refused { refusal } => {
            let error = refusal.to_string();
            match refusal.class() {
                RefusalClass::NotFound => {
                    // No payment from the quote now. It never will be if the RS refused the quote
                    // (a payment from it would have been found), or once the quote is past its
                    // expiry at the RS (a create still on its way is refused then).
                    let expired = s
                        .quote
                        .expires_at
                        .is_some_and(|at| cx.now >= add(at, cx.config.clock_skew));
                    if s.quote_refused || expired {
                        requote(
                            Edge::AbsentRequote,
                            Edge::AbsentQuotesSpent,
                            &s.order,
                            &s.quote,
                            s.quotes,
                            &s.call,
                            cx,
                        )
                    } else {
                        // The same quote again: the RS takes at most one payment from it.
                        let (call, effect) = call::follow_up(
                            &s.call,
                            CallKind::CreatePayment,
                            create_call(&s.order, &s.quote.id),
                            cx,
                        );
                        Transition::new(
                            Edge::AbsentResend,
                            PaymentState::Sending(Sending {
                                order: Arc::clone(&s.order),
                                quote: s.quote.clone(),
                                call,
                                quotes: s.quotes,
                                maybe_created: true,
                            }),
                        )
                        .call(effect)
                    }
                }
                RefusalClass::InactiveToken => {
                    let call = call::refresh(&s.call, error.clone(), cx).unwrap_or_else(|| {
                        crate::state::Call {
                            token: crate::state::TokenUse::RefreshFirst,
                            ..call::retry(&s.call, error, None, cx)
                        }
                    });
                    with_call(Edge::ConfirmTokenInactive, call)
                }
                RefusalClass::InvalidQuote
                | RefusalClass::TooManyRequests
                | RefusalClass::ServerError
                | RefusalClass::Other => {
                    with_call(Edge::ConfirmTrouble, call::retry(&s.call, error, None, cx))
                }
            }
        }
        PaymentEvent::NotSent { error } => {
            with_call(Edge::ConfirmNotSent, call::retry(&s.call, error, None, cx))
        }
        PaymentEvent::Ambiguous { error } => with_call(
            Edge::ConfirmAmbiguous,
            call::retry(&s.call, error, None, cx),
        ),
        PaymentEvent::GrantEnded { end } => failed(
            Edge::ConfirmingGrantEnded,
            &s.order,
            Some(&s.quote),
            Failure::ConsentNeeded {
                end,
                maybe_paid_from: Some(s.quote.id.clone()),
            },
        ),
        other @ (PaymentEvent::Order { .. } | PaymentEvent::Quoted { .. }) => {
            return Err(unexpected(PaymentStateKind::Confirming, &s.call, &other));
        }
    })
}
