//! Prometheus metrics for every request on both listeners, served on the admin listener.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        let labels = prometheus::labels! { "service".to_string() => service.to_string() };
        let registry =
            Registry::new_custom(Some("olympus".into()), Some(labels)).expect("valid registry");
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["listener", "method", "route", "status"],
        )
        .expect("valid counter");
        let duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ],
            ),
            &["listener", "route"],
        )
        .expect("valid histogram");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(duration.clone()))
            .expect("registered once");
        Metrics {
            registry,
            requests,
            duration,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn observe(
        &self,
        listener: &str,
        method: &str,
        route: &str,
        status: u16,
        seconds: f64,
    ) {
        self.requests
            .with_label_values(&[listener, method, route, &status.to_string()])
            .inc();
        self.duration
            .with_label_values(&[listener, route])
            .observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec only fails on invalid metric families, which `new` rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
