//! Session affinity as Flagger writes it on Istio: header operations of routes and destinations, and a browser
//! (a `jar` load target) that keeps the cookie the canary's route gives it.

use super::*;
use serde_json::{Value, json};

const CANARY_PODS: &str = "podinfo-7d9f8b6c5";

/// The access log line of the serving pod's sidecar (inbound) in `outcome`.
fn served_line(outcome: &Outcome) -> Value {
    let served = outcome.served_by.as_ref().expect("a pod answered");
    let line = outcome.logs.iter().find(|l| l.pod == served.name).expect("the serving sidecar logged");
    serde_json::from_str(&line.line).unwrap()
}

#[test]
fn response_headers_of_the_picked_destination_and_the_route_reach_the_client() {
    let snapshot = podinfo_with(json!([{
        "headers": {"response": {"set": {"x-version": "route"}, "remove": ["x-internal"]}},
        "route": [
            {"destination": {"host": "podinfo-primary"}, "weight": 50,
             "headers": {"response": {"add": {"x-version": "primary", "x-internal": "1"}}}},
            {"destination": {"host": "podinfo-canary"}, "weight": 50,
             "headers": {"request": {"set": {"user-agent": "canary-bound"}},
                         "response": {"add": {"Set-Cookie": "flagger-cookie=A1B2C3; Max-Age=21600"}}}}
        ]
    }]));
    let (mut mesh, mut rng) = (Mesh::new(), rng(40));
    let req = get(&snapshot, "podinfo:9898", &[]);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let outcome = send(&mut mesh, &snapshot, &req, &mut rng);
        let headers: Vec<(&str, &str)> =
            outcome.response_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let user_agent = served_line(&outcome)["user_agent"].clone();
        match version(&outcome) {
            // The route's operations run after the destination's: its set replaces x-version and its remove
            // drops the destination's x-internal.
            "primary" => {
                assert_eq!(headers, [("x-version", "route")]);
                assert_eq!(user_agent, Value::Null, "the primary's destination sets no user-agent");
            }
            "canary" => {
                assert_eq!(headers, [("set-cookie", "flagger-cookie=A1B2C3; Max-Age=21600"), ("x-version", "route")]);
                assert_eq!(user_agent, "canary-bound", "the canary's sidecar saw the changed request");
            }
            other => panic!("served by {other}"),
        }
        seen.insert(version(&outcome));
    }
    assert_eq!(seen.len(), 2, "both destinations were picked");
    assert!(mesh.problems().is_empty(), "{:?}", mesh.problems());
}

#[test]
fn invalid_header_operations_reject_the_virtual_service() {
    let snapshot = podinfo_with(json!([{"route": [{
        "destination": {"host": "podinfo-canary"},
        "headers": {"response": {"add": {"Host": "elsewhere"}}}
    }]}]));
    let (mut mesh, mut rng) = (Mesh::new(), rng(41));
    let outcome = send(&mut mesh, &snapshot, &get(&snapshot, "podinfo:9898", &[]), &mut rng);
    assert_eq!((version(&outcome), outcome.virtual_service), ("primary", None), "as if there were no VirtualService");
    let problem = &mesh.problems()["VirtualService test/podinfo"];
    assert!(
        problem
            .contains("spec.http[0].route[0].headers.response.add[\"Host\"]: invalid header \"Host\": cannot set Host"),
        "{problem}"
    );
}

/// Flagger's session affinity routes while the canary has weight: the cookie holders to the canary, the others
/// split 90/10, each destination setting its cookie.
fn sticky_routes() -> Value {
    json!([
        {"match": [{"headers": {"cookie": {"regex": "^(.*?; ?)?(flagger-cookie=A1B2C3)(;.*)?$"}}}],
         "route": [{"destination": {"host": "podinfo-canary", "port": {"number": 9898}}, "weight": 100}]},
        {"route": [
            {"destination": {"host": "podinfo-primary", "port": {"number": 9898}}, "weight": 90,
             "headers": {"response": {"add": {"Set-Cookie": "primary-cookie=X9; Max-Age=86400"}}}},
            {"destination": {"host": "podinfo-canary", "port": {"number": 9898}}, "weight": 10,
             "headers": {"response": {"add": {"Set-Cookie": "flagger-cookie=A1B2C3; Max-Age=21600; Path=/; HttpOnly"}}}}
        ]}
    ])
}

/// The routes after the rollout: the previous cookie is matched (route `expire`) and expired, everyone goes to
/// the primary.
fn expiring_routes() -> Value {
    json!([
        {"name": "expire",
         "match": [{"headers": {"cookie": {"regex": "^(.*?; ?)?(flagger-cookie=A1B2C3)(;.*)?$"}}}],
         "route": [{"destination": {"host": "podinfo-primary", "port": {"number": 9898}}, "weight": 100,
                    "headers": {"response": {"add": {"Set-Cookie": "flagger-cookie=A1B2C3; Max-Age=-1"}}}}]},
        {"name": "main",
         "route": [
            {"destination": {"host": "podinfo-primary", "port": {"number": 9898}}, "weight": 100},
            {"destination": {"host": "podinfo-canary", "port": {"number": 9898}}, "weight": 0}
        ]}
    ])
}

/// Ticks `snapshot` for `seconds` in slices of 100 ms; per slice, the versions that served the `/sticky`
/// requests (from the serving sidecars' logs) and the route names in the load tester's log.
fn play(mesh: &mut Mesh, snapshot: &Snapshot, from: SystemTime, seconds: u64, rng: &mut StdRng) -> Vec<Slice> {
    (0..seconds * 10)
        .map(|i| {
            let start = from + Duration::from_millis(i * 100);
            let logs = mesh.tick(snapshot, start, start + Duration::from_millis(100), rng);
            let mut slice = Slice::default();
            for line in logs {
                let v: Value = serde_json::from_str(&line.line).unwrap();
                assert_eq!(v["path"], "/sticky");
                if line.pod.starts_with("flagger-loadtester") {
                    slice.routes.push(v["route_name"].as_str().unwrap_or_default().to_owned());
                } else if line.pod.starts_with("podinfo-primary") {
                    slice.served.push("primary");
                } else {
                    assert!(line.pod.starts_with(CANARY_PODS), "{}", line.pod);
                    slice.served.push("canary");
                }
            }
            slice
        })
        .collect()
}

#[derive(Debug, Default)]
struct Slice {
    served: Vec<&'static str>,
    routes: Vec<String>,
}

#[test]
fn a_browser_sticks_to_the_canary_once_it_has_the_cookie_and_leaves_when_it_expires() {
    let mut snapshot = podinfo_with(sticky_routes());
    snapshot.pods.retain(|p| !p.metadata.name.as_deref().is_some_and(|n| n.starts_with("flagger-loadtester")));
    snapshot.pods.push(fixtures::loadtester(Some("http://podinfo.test:9898/ rps=20 path=/sticky jar")));
    let (mut mesh, mut rng) = (Mesh::new(), rng(42));

    // 30 s at 20 requests a second, two per slice.
    let slices = play(&mut mesh, &snapshot, t0(), 30, &mut rng);
    assert!(mesh.problems().is_empty(), "{:?}", mesh.problems());
    assert!(slices.iter().all(|s| s.served.len() == 2), "no retries, no lost requests");
    let first = slices.iter().position(|s| s.served.contains(&"canary")).expect("the 10% reached the canary once");
    assert!(first > 0, "primary answers came first (seed-dependent): {:?}", &slices[..3]);
    assert!(slices[..first].iter().all(|s| s.served == ["primary", "primary"]));
    // From the slice after the first canary answer on, every request carries the cookie and matches the first
    // route; without the jar, 90% of them would go to the primary.
    let after = &slices[first + 1..];
    assert!(after.len() > 200);
    let strays = after.iter().filter(|s| s.served != ["canary", "canary"]).count();
    assert_eq!(strays, 0, "slices with a request off the canary, of {}", after.len());

    // The rollout is over: the expiry route catches the browser once, deletes its cookie, and it stays on the
    // primary through the main route from then on.
    let snapshot = Snapshot { virtual_services: vec![fixtures::podinfo_vs(expiring_routes())], ..snapshot };
    let slices = play(&mut mesh, &snapshot, t0() + Duration::from_secs(30), 10, &mut rng);
    let strays = slices.iter().filter(|s| s.served != ["primary", "primary"]).count();
    assert_eq!(strays, 0, "slices with a request off the primary");
    let routes: Vec<&str> = slices.iter().flat_map(|s| s.routes.iter().map(String::as_str)).collect();
    assert_eq!(routes[0], "expire");
    assert!(routes[1..].iter().all(|r| *r == "main"), "the cookie was dropped: {routes:?}");
}
