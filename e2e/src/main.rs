//! `fledge-sandbox`: a one-process Kubernetes API server with a Deployment simulator and an
//! Istio mesh, for the demo and the end-to-end tests. Until it lands, it says what it will be.

fn main() -> std::process::ExitCode {
    eprintln!(
        "fledge-sandbox is not built yet. It will start a Kubernetes API server on 127.0.0.1 that\n\
         kubectl and the fledge controller talk to, simulate Deployments, Pods and an Istio mesh\n\
         with traffic, Istio metrics and Envoy access logs, and run the Fledge demo.\n\
         Until then, `cargo run --bin fledge -- crds` prints the CRDs and\n\
         `cargo run --bin fledge -- validate examples/*.yaml` checks manifests."
    );
    std::process::ExitCode::from(2)
}
