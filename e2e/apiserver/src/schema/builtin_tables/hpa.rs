//! HorizontalPodAutoscalers: reference, targets (`formatHPAMetrics`) and replica bounds.

use super::*;

/// The columns of `printHorizontalPodAutoscaler`.
pub(super) fn columns() -> Vec<Col> {
    vec![
        name_col(),
        (
            "Reference",
            "string",
            0,
            "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
        ),
        (
            "Targets",
            "string",
            0,
            "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond.",
        ),
        (
            "MinPods",
            "string",
            0,
            "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.",
        ),
        (
            "MaxPods",
            "string",
            0,
            "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.",
        ),
        (
            "Replicas",
            "string",
            0,
            "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
        ),
        age_col(),
    ]
}

/// A quantity or percentage of a metric target or status, or `None`.
fn metric_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The HPA's metrics in autoscaling/v2 form; autoscaling/v1's CPU target becomes one, and no
/// metrics mean the 80% CPU default the server stores.
fn hpa_metrics(hpa: &Value) -> (Vec<Value>, Vec<Value>) {
    let specs = list(hpa, "/spec/metrics").to_vec();
    let statuses = list(hpa, "/status/currentMetrics").to_vec();
    if !specs.is_empty() {
        return (specs, statuses);
    }
    let target = hpa.pointer("/spec/targetCPUUtilizationPercentage").and_then(Value::as_i64).unwrap_or(80);
    let spec = json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}});
    let status = match hpa.pointer("/status/currentCPUUtilizationPercentage").and_then(Value::as_i64) {
        Some(current) => {
            vec![json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}})]
        }
        None => statuses,
    };
    (vec![spec], status)
}

/// `formatHPAMetrics`: at most two targets, then `+ N more...`.
fn format_hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".into();
    }
    let unknown = || "<unknown>".to_string();
    let mut list_: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let item = match text(spec, "/type") {
            t @ ("External" | "Object") => {
                let key = if t == "External" { "external" } else { "object" };
                let current = |field: &str| {
                    status.and_then(|s| s.get(key)).and_then(|m| metric_text(m.pointer(&format!("/current/{field}"))))
                };
                match metric_text(spec.pointer(&format!("/{key}/target/averageValue"))) {
                    Some(avg) => format!("{}/{avg} (avg)", current("averageValue").unwrap_or_else(unknown)),
                    None => format!(
                        "{}/{}",
                        current("value").unwrap_or_else(unknown),
                        metric_text(spec.pointer(&format!("/{key}/target/value"))).unwrap_or_default()
                    ),
                }
            }
            "Pods" => format!(
                "{}/{}",
                status.and_then(|s| metric_text(s.pointer("/pods/current/averageValue"))).unwrap_or_else(unknown),
                metric_text(spec.pointer("/pods/target/averageValue")).unwrap_or_default()
            ),
            t @ ("Resource" | "ContainerResource") => {
                let key = if t == "Resource" { "resource" } else { "containerResource" };
                let name = text(spec, &format!("/{key}/name"));
                let current =
                    |field: &str| status.and_then(|s| metric_text(s.pointer(&format!("/{key}/current/{field}"))));
                match metric_text(spec.pointer(&format!("/{key}/target/averageValue"))) {
                    Some(avg) => format!("{name}: {}/{avg}", current("averageValue").unwrap_or_else(unknown)),
                    None => {
                        let cur = current("averageUtilization").map(|c| format!("{c}%")).unwrap_or_else(unknown);
                        let target = metric_text(spec.pointer(&format!("/{key}/target/averageUtilization")))
                            .map(|t| format!("{t}%"))
                            .unwrap_or_else(|| "<auto>".into());
                        format!("{name}: {cur}/{target}")
                    }
                }
            }
            _ => "<unknown type>".into(),
        };
        list_.push(item);
    }
    let count = list_.len();
    if count > 2 {
        list_.truncate(2);
        return format!("{} + {} more...", list_.join(", "), count - 2);
    }
    list_.join(", ")
}

/// `printHorizontalPodAutoscaler`: the cells of one HPA.
pub(super) fn row(hpa: &Value, now: i64) -> (Vec<Value>, Vec<Value>) {
    let (specs, statuses) = hpa_metrics(hpa);
    let reference = format!("{}/{}", text(hpa, "/spec/scaleTargetRef/kind"), text(hpa, "/spec/scaleTargetRef/name"));
    // minReplicas defaults to 1 on the server, so a stored HPA always has it.
    let min = hpa.pointer("/spec/minReplicas").and_then(Value::as_i64).unwrap_or(1);
    let cells = vec![
        json!(table::name_of(hpa)),
        json!(reference),
        json!(format_hpa_metrics(&specs, &statuses)),
        json!(min.to_string()),
        json!(int(hpa, "/spec/maxReplicas")),
        json!(int(hpa, "/status/currentReplicas")),
        age(hpa, now),
    ];
    (cells, Vec::new())
}
