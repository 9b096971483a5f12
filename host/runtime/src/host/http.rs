//! `http.send`: the guest's requests go through the worker's pooled client; the host times them and
//! records the `http_*` and `data_*` metrics. Failures come back as `http-error`, never as traps.

use crate::bindings::http::{Host, HttpError, Request, Response, Timings};
use crate::client::{CompletedResponse, OutgoingRequest, RequestError};
use crate::state::VuState;
use stampede_metrics::{MetricKind, TagSet, names};
use std::time::Duration;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// k6's default `expected_response`: statuses 200 to 399.
fn expected(status: u16) -> bool {
    (200..400).contains(&status)
}

impl Host for VuState {
    async fn send(&mut self, req: Request) -> Result<Response, HttpError> {
        let name = req.name.unwrap_or_else(|| {
            req.url
                .split(['?', '#'])
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        let mut tags = self.tags_with(&req.tags);
        tags.insert("name", name);
        tags.insert("method", req.method.to_ascii_uppercase());
        let timeout = req.timeout_ms.map_or(self.run.http_timeout, |t| {
            Duration::from_millis(u64::from(t))
        });
        let outgoing = OutgoingRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            timeout,
        };
        let client = self.run.client.clone();
        match client.send(outgoing).await {
            Ok(resp) => {
                self.record_response(tags, &resp);
                Ok(Response {
                    status: resp.status,
                    headers: resp.headers,
                    body: resp.body.to_vec(),
                    timings: Timings {
                        duration_ms: ms(resp.timings.duration),
                        connecting_ms: 0.0,
                        waiting_ms: ms(resp.timings.waiting),
                        receiving_ms: ms(resp.timings.receiving),
                    },
                })
            }
            Err(err) => {
                self.record_error(tags, &err);
                Err(match err {
                    RequestError::OriginNotAllowed(m) => HttpError::OriginNotAllowed(m),
                    RequestError::Invalid(m) => HttpError::InvalidRequest(m),
                    RequestError::Connect(m) => HttpError::Connect(m),
                    RequestError::Timeout => HttpError::Timeout,
                    RequestError::Protocol(m) => HttpError::Protocol(m),
                })
            }
        }
    }
}

impl VuState {
    fn record_response(&mut self, mut tags: TagSet, resp: &CompletedResponse) {
        let ok = expected(resp.status);
        tags.insert("status", resp.status.to_string());
        tags.insert("expected_response", ok.to_string());
        let t = &resp.timings;
        self.record(names::HTTP_REQS, MetricKind::Counter, &tags, 1.0);
        self.record(
            names::HTTP_REQ_DURATION,
            MetricKind::Trend,
            &tags,
            ms(t.duration),
        );
        self.record(
            names::HTTP_REQ_WAITING,
            MetricKind::Trend,
            &tags,
            ms(t.waiting),
        );
        self.record(
            names::HTTP_REQ_RECEIVING,
            MetricKind::Trend,
            &tags,
            ms(t.receiving),
        );
        self.record(
            names::HTTP_REQ_FAILED,
            MetricKind::Rate,
            &tags,
            if ok { 0.0 } else { 1.0 },
        );
        self.record(
            names::DATA_SENT,
            MetricKind::Counter,
            &tags,
            resp.bytes_sent as f64,
        );
        self.record(
            names::DATA_RECEIVED,
            MetricKind::Counter,
            &tags,
            resp.bytes_received as f64,
        );
    }

    fn record_error(&mut self, mut tags: TagSet, err: &RequestError) {
        tags.insert("status", "0");
        tags.insert("expected_response", "false");
        tags.insert("error_code", err.code());
        if err.was_sent() {
            self.record(names::HTTP_REQS, MetricKind::Counter, &tags, 1.0);
        }
        self.record(names::HTTP_REQ_FAILED, MetricKind::Rate, &tags, 1.0);
        if let RequestError::OriginNotAllowed(m) = err
            && !self.warned.iter().any(|w| w == m)
        {
            tracing::warn!(vu = self.who.id, "request refused: {m}");
            self.warned.push(m.clone());
        }
    }
}
