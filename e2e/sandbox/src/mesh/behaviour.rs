//! How a serving pod answers, from its own annotations (copied there from the pod template):
//! `sandbox.fledge.dev/error-rate`, `sandbox.fledge.dev/latency-ms` and `sandbox.fledge.dev/response-flags`.
//!
//! The response-flag shares are of all requests reaching the pod's sidecar, which fails them itself (503, no
//! upstream answer); the error rate is of the requests that reach the application, which answers 500 or 503.

use super::annotations::{self, AnnotationError, ERROR_RATE, LATENCY_MS, RESPONSE_FLAGS};
use super::flags::{Flag, INJECTABLE};
use k8s_openapi::api::core::v1::Pod;
use rand::Rng;

/// The standard normal's 99th percentile, to fit a log-normal to a median and a p99.
const Z99: f64 = 2.326_347_874_040_841;

/// Request latency of the application: a log-normal with the given median and 99th percentile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    /// Median, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, in milliseconds.
    pub p99_ms: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Self { p50_ms: 5.0, p99_ms: 20.0 }
    }
}

impl Latency {
    /// Parses `p50=<ms>,p99=<ms>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (mut p50, mut p99) = (None, None);
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| format!("{part:?} is not <quantile>=<ms>"))?;
            let ms: f64 = value.trim().parse().map_err(|_| format!("{key}: {value:?} is not a number"))?;
            if !ms.is_finite() || ms <= 0.0 {
                return Err(format!("{key}: {ms} must be a positive number of milliseconds"));
            }
            let slot = match key.trim() {
                "p50" => &mut p50,
                "p99" => &mut p99,
                other => return Err(format!("unknown quantile {other:?}; give p50 and p99, e.g. p50=20,p99=120")),
            };
            if slot.replace(ms).is_some() {
                return Err(format!("{key} is given twice"));
            }
        }
        let (Some(p50_ms), Some(p99_ms)) = (p50, p99) else {
            return Err("give both p50 and p99, e.g. p50=20,p99=120".into());
        };
        if p99_ms < p50_ms {
            return Err(format!("p99 ({p99_ms}) is below p50 ({p50_ms})"));
        }
        Ok(Self { p50_ms, p99_ms })
    }

    /// A latency in milliseconds.
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        let mu = self.p50_ms.ln();
        let sigma = (self.p99_ms.ln() - mu) / Z99;
        (mu + sigma * standard_normal(rng)).exp()
    }
}

/// A standard normal draw (Box–Muller), since `rand` alone has no normal distribution.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // in (0, 1], so ln is finite
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// How one serving pod answers.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Behaviour {
    /// Share of the requests reaching the application answered with 500 or 503.
    pub error_rate: f64,
    /// The application's latency.
    pub latency: Latency,
    /// Shares of all requests failed by the pod's sidecar with each flag.
    pub flags: Vec<(Flag, f64)>,
}

/// What a serving pod's sidecar answers to one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The sidecar's response flag, when it failed the request itself.
    pub flag: Option<Flag>,
    /// `%RESPONSE_CODE_DETAILS%`.
    pub details: &'static str,
    /// Time the application took (`x-envoy-upstream-service-time`); `None` when it did not answer.
    pub service_time_ms: Option<f64>,
    /// Time the request spent in the sidecar, start to end, in milliseconds.
    pub duration_ms: f64,
    /// Response body size.
    pub bytes_sent: u64,
}

impl Behaviour {
    /// Parses the three annotations' values; `None` means the default for that one.
    pub fn parse(
        error_rate: Option<&str>,
        latency: Option<&str>,
        flags: Option<&str>,
    ) -> Result<Self, AnnotationError> {
        let mut out = Self::default();
        if let Some(text) = error_rate {
            out.error_rate =
                annotations::share(text, "error rate").map_err(|e| AnnotationError::new(ERROR_RATE, text, e))?;
        }
        if let Some(text) = latency {
            out.latency = Latency::parse(text).map_err(|e| AnnotationError::new(LATENCY_MS, text, e))?;
        }
        if let Some(text) = flags {
            out.flags = parse_flags(text).map_err(|e| AnnotationError::new(RESPONSE_FLAGS, text, e))?;
        }
        Ok(out)
    }

    /// The pod's behaviour; an annotation that does not parse is reported and its default used, so one typo
    /// does not make a pod answer differently in every other respect.
    pub fn of_pod(pod: &Pod) -> (Self, Vec<AnnotationError>) {
        let get = |name| annotations::of(pod, name);
        let mut errors = Vec::new();
        let mut out = Self::default();
        match Self::parse(get(ERROR_RATE), None, None) {
            Ok(parsed) => out.error_rate = parsed.error_rate,
            Err(e) => errors.push(e),
        }
        match Self::parse(None, get(LATENCY_MS), None) {
            Ok(parsed) => out.latency = parsed.latency,
            Err(e) => errors.push(e),
        }
        match Self::parse(None, None, get(RESPONSE_FLAGS)) {
            Ok(parsed) => out.flags = parsed.flags,
            Err(e) => errors.push(e),
        }
        (out, errors)
    }

    /// Answers one request.
    pub fn answer(&self, rng: &mut impl Rng) -> Answer {
        // The sidecar's own handling costs a fraction of a millisecond.
        let overhead = rng.random_range(0.1..0.6);
        let mut draw = rng.random::<f64>();
        for &(flag, share) in &self.flags {
            if draw < share {
                return self.sidecar_failure(flag, overhead, rng);
            }
            draw -= share;
        }
        let service_time = self.latency.sample(rng);
        let (status, bytes_sent) = if rng.random_bool(self.error_rate) {
            (if rng.random_bool(0.5) { 500 } else { 503 }, 22)
        } else {
            (200, rng.random_range(380..=420))
        };
        Answer {
            status,
            flag: None,
            details: "via_upstream",
            service_time_ms: Some(service_time),
            duration_ms: service_time + overhead,
            bytes_sent,
        }
    }

    fn sidecar_failure(&self, flag: Flag, overhead: f64, rng: &mut impl Rng) -> Answer {
        let reply = flag.local_reply().unwrap_or(super::flags::LocalReply { status: 503, details: "", body: "" });
        // A connection the application closes mid-request has cost its processing time; the others fail at once.
        let spent = if flag == Flag::UpstreamConnectionTermination { self.latency.sample(rng) } else { 0.0 };
        Answer {
            status: reply.status,
            flag: Some(flag),
            details: reply.details,
            service_time_ms: None,
            duration_ms: spent + overhead,
            bytes_sent: reply.body.len() as u64,
        }
    }
}

fn parse_flags(text: &str) -> Result<Vec<(Flag, f64)>, String> {
    let mut out: Vec<(Flag, f64)> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (code, share) = part.split_once('=').ok_or_else(|| format!("{part:?} is not <FLAG>=<share>"))?;
        let flag = Flag::from_code(code.trim()).filter(|f| INJECTABLE.contains(f)).ok_or_else(|| {
            let known: Vec<_> = INJECTABLE.iter().map(|f| f.code()).collect();
            format!("unknown flag {code:?}; a serving pod's sidecar can fail with {}", known.join(", "))
        })?;
        if out.iter().any(|(f, _)| *f == flag) {
            return Err(format!("{flag} is given twice"));
        }
        out.push((flag, annotations::share(share, &format!("{flag} share"))?));
    }
    let total: f64 = out.iter().map(|(_, s)| s).sum();
    if total > 1.0 + 1e-9 {
        return Err(format!("the shares add up to {total}, more than 1"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn annotations_parse() {
        let b = Behaviour::parse(Some("0.05"), Some("p50=20, p99=120"), Some("UF=0.01,UH=0.002")).unwrap();
        assert_eq!(b.error_rate, 0.05);
        assert_eq!(b.latency, Latency { p50_ms: 20.0, p99_ms: 120.0 });
        assert_eq!(b.flags, [(Flag::UpstreamConnectionFailure, 0.01), (Flag::NoHealthyUpstream, 0.002)]);
        assert_eq!(Behaviour::parse(None, None, None).unwrap(), Behaviour::default());
    }

    #[test]
    fn parse_errors_name_the_annotation() {
        let cases = [
            (Behaviour::parse(Some("5%"), None, None), ERROR_RATE, "not a number"),
            (Behaviour::parse(Some("1.5"), None, None), ERROR_RATE, "outside [0, 1]"),
            (Behaviour::parse(None, Some("p50=20"), None), LATENCY_MS, "give both p50 and p99"),
            (Behaviour::parse(None, Some("p50=20,p99=10"), None), LATENCY_MS, "below p50"),
            (Behaviour::parse(None, Some("p90=20,p99=30"), None), LATENCY_MS, "unknown quantile"),
            (Behaviour::parse(None, Some("p50=x,p99=3"), None), LATENCY_MS, "not a number"),
            (Behaviour::parse(None, None, Some("NR=0.1")), RESPONSE_FLAGS, "unknown flag \"NR\""),
            (Behaviour::parse(None, None, Some("UF=0.7,UH=0.7")), RESPONSE_FLAGS, "add up to"),
            (Behaviour::parse(None, None, Some("UF")), RESPONSE_FLAGS, "not <FLAG>=<share>"),
        ];
        for (result, annotation, reason) in cases {
            let err = result.unwrap_err();
            assert_eq!(err.annotation, annotation);
            assert!(err.to_string().contains(annotation) && err.reason.contains(reason), "{err}");
        }
    }

    #[test]
    fn a_bad_annotation_keeps_the_others() {
        let mut pod = Pod::default();
        pod.metadata.annotations = Some(
            [(ERROR_RATE.to_owned(), "lots".to_owned()), (LATENCY_MS.to_owned(), "p50=1,p99=2".to_owned())].into(),
        );
        let (b, errors) = Behaviour::of_pod(&pod);
        assert_eq!(b.error_rate, 0.0);
        assert_eq!(b.latency.p99_ms, 2.0);
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn latency_fits_both_quantiles() {
        let latency = Latency { p50_ms: 20.0, p99_ms: 120.0 };
        let mut rng = StdRng::seed_from_u64(7);
        let mut samples: Vec<f64> = (0..40_000).map(|_| latency.sample(&mut rng)).collect();
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples[(q * samples.len() as f64) as usize];
        assert!((at(0.5) - 20.0).abs() < 1.0, "p50 {}", at(0.5));
        assert!((at(0.99) - 120.0).abs() < 12.0, "p99 {}", at(0.99));
    }

    #[test]
    fn answers_follow_the_configured_shares() {
        let b = Behaviour::parse(Some("0.2"), None, Some("UF=0.1")).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let answers: Vec<Answer> = (0..20_000).map(|_| b.answer(&mut rng)).collect();
        let share = |f: &dyn Fn(&Answer) -> bool| answers.iter().filter(|a| f(a)).count() as f64 / answers.len() as f64;
        assert!((share(&|a| a.flag == Some(Flag::UpstreamConnectionFailure)) - 0.1).abs() < 0.01);
        // The error rate applies to what reaches the application: 20% of 90%.
        assert!((share(&|a| a.flag.is_none() && a.status >= 500) - 0.18).abs() < 0.01);
        assert!(answers.iter().all(|a| a.flag.is_some() == a.service_time_ms.is_none()));
        assert!(answers.iter().filter(|a| a.flag.is_none() && a.status >= 500).all(|a| matches!(a.status, 500 | 503)));
    }
}
