//! The order and `POST /quotes`.

use std::sync::Arc;

use super::call::{self, Woken};
use super::{Cx, Transition, failed, unexpected};
use crate::effect::{PaymentCall, PaymentChange};
use crate::error::PaymentError;
use crate::event::{PaymentEvent, RefusalClass};
use crate::kind::{CallKind, PaymentStateKind};
use crate::order::PaymentOrder;
use crate::state::{Call, Failure, PaymentState, Quoting, Sending};
use crate::table::Edge;

pub(super) fn quote_call(order: &PaymentOrder) -> PaymentCall {
    PaymentCall::CreateQuote {
        wallet_address: order.wallet_address.clone(),
        receiver: order.receiver.clone(),
        amount: order.amount.clone(),
    }
}

pub(super) fn create_call(order: &PaymentOrder, quote_id: &str) -> PaymentCall {
    PaymentCall::CreateOutgoingPayment {
        wallet_address: order.wallet_address.clone(),
        quote_id: quote_id.to_owned(),
        metadata: order.metadata.clone(),
    }
}

/// `Initial`: the order, checked against the headroom, then the first quote sent.
pub(super) fn order(event: PaymentEvent, cx: Cx<'_>) -> Result<Transition, PaymentError> {
    let PaymentEvent::Order { order, headroom } = event else {
        return Err(PaymentError::NotOrdered {
            event: event.kind(),
        });
    };
    if let Err(refused) = headroom.admits_order(&order.amount) {
        return Ok(failed(
            Edge::OrderOverLimit,
            &order,
            None,
            Failure::LimitReached { refused },
        ));
    }
    let (call, effect) = call::send(
        &Call::due(CallKind::CreateQuote, cx.now),
        quote_call(&order),
        cx,
    );
    Ok(Transition::new(
        Edge::Ordered,
        PaymentState::Quoting(Quoting {
            order,
            call,
            quotes: 0,
        }),
    )
    .call(effect))
}

/// A new quote, sent now, replacing the `quotes`-th one (or giving up when enough were made).
pub(super) fn requote(
    edge: Edge,
    spent_edge: Edge,
    order: &Arc<PaymentOrder>,
    quote: &crate::state::QuoteInfo,
    quotes: u32,
    before: &Call,
    cx: Cx<'_>,
) -> Transition {
    if quotes >= cx.config.max_quotes {
        return failed(
            spent_edge,
            order,
            Some(quote),
            Failure::QuotesSpent { quotes },
        );
    }
    let (call, effect) = call::follow_up(before, CallKind::CreateQuote, quote_call(order), cx);
    Transition::new(
        edge,
        PaymentState::Quoting(Quoting {
            order: Arc::clone(order),
            call,
            quotes,
        }),
    )
    .call(effect)
}

/// `Quoting`: the quote call's outcomes and wake-ups.
pub(super) fn quoting(
    s: &Quoting,
    event: PaymentEvent,
    cx: Cx<'_>,
) -> Result<Transition, PaymentError> {
    let with_call =
        |edge, call| Transition::new(edge, PaymentState::Quoting(Quoting { call, ..s.clone() }));
    let give_up = |edge, call: &Call| {
        failed(
            edge,
            &s.order,
            None,
            Failure::GaveUp {
                call: CallKind::CreateQuote,
                attempts: call.attempts,
                last_error: call.last_error.clone().unwrap_or_default(),
            },
        )
    };
    Ok(match event {
        PaymentEvent::Wake => match call::woken(&s.call, cx)? {
            Woken::Due => {
                let (call, effect) = call::send(&s.call, quote_call(&s.order), cx);
                with_call(Edge::QuoteDue, call).call(effect)
            }
            Woken::Lost(lost) => {
                let (call, effect) = call::send(&lost, quote_call(&s.order), cx);
                with_call(Edge::QuoteResumed, call).call(effect)
            }
            Woken::GiveUp(call) => give_up(Edge::QuoteGaveUp, &call),
        },
        PaymentEvent::Quoted { quote, headroom } => {
            let quotes = s.quotes.saturating_add(1);
            if quote.payment_url().is_none() {
                return Ok(failed(
                    Edge::QuoteNotRecoverable,
                    &s.order,
                    Some(&quote),
                    Failure::QuoteNotRecoverable {
                        quote_id: quote.id.clone(),
                    },
                ));
            }
            if let Err(refused) = headroom.admits_quote(&quote.debit_amount, &quote.receive_amount)
            {
                return Ok(failed(
                    Edge::QuoteOverLimit,
                    &s.order,
                    Some(&quote),
                    Failure::LimitReached { refused },
                ));
            }
            let due = Call::due(CallKind::CreatePayment, cx.now);
            let (call, effect) = call::send(&due, create_call(&s.order, &quote.id), cx);
            Transition::new(
                Edge::QuoteAccepted,
                PaymentState::Sending(Sending {
                    order: Arc::clone(&s.order),
                    quote,
                    call,
                    quotes,
                    maybe_created: false,
                }),
            )
            .call(effect)
            .notify(PaymentChange::Quoted)
        }
        PaymentEvent::Refused { refusal } => match refusal.class() {
            RefusalClass::InactiveToken => match call::refresh(&s.call, refusal.to_string(), cx) {
                Some(call) => with_call(Edge::QuoteTokenInactive, call),
                None => failed(
                    Edge::QuoteRefused,
                    &s.order,
                    None,
                    Failure::TokenRefused {
                        call: CallKind::CreateQuote,
                    },
                ),
            },
            RefusalClass::TooManyRequests | RefusalClass::ServerError => with_call(
                Edge::QuoteTrouble,
                call::retry(&s.call, refusal.to_string(), None, cx),
            ),
            RefusalClass::InvalidQuote | RefusalClass::NotFound | RefusalClass::Other => failed(
                Edge::QuoteRefused,
                &s.order,
                None,
                Failure::Refused {
                    call: CallKind::CreateQuote,
                    refusal,
                },
            ),
        },
        PaymentEvent::NotSent { error } => {
            with_call(Edge::QuoteNotSent, call::retry(&s.call, error, None, cx))
        }
        PaymentEvent::Ambiguous { error } => {
            with_call(Edge::QuoteAmbiguous, call::retry(&s.call, error, None, cx))
        }
        PaymentEvent::GrantEnded { end } => failed(
            Edge::QuotingGrantEnded,
            &s.order,
            None,
            Failure::ConsentNeeded {
                end,
                maybe_paid_from: None,
            },
        ),
        other @ (PaymentEvent::Order { .. } | PaymentEvent::PaymentFound { .. }) => {
            return Err(unexpected(PaymentStateKind::Quoting, &s.call, &other));
        }
    })
}
