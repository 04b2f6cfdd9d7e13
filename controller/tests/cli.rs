//! The `fledge` command line as a user meets it. (Also makes `cargo test` build the binary
//! the end-to-end tests run.)

use std::process::Command;

fn fledge(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fledge")).args(args).env_remove("KUBECONFIG").output().unwrap()
}

#[test]
fn controller_flags_have_environment_equivalents() {
    let out = fledge(&["controller", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for flag in ["--kubeconfig", "--namespace", "--metrics-server", "--listen", "--log-json", "--leader-election"] {
        assert!(help.contains(flag), "{flag} missing from\n{help}");
    }
    assert!(help.contains("[env: FLEDGE_METRICS_SERVER=]"), "{help}");
    for (flag, env) in [
        ("--selector-labels", "FLEDGE_SELECTOR_LABELS"),
        ("--include-label-prefix", "FLEDGE_INCLUDE_LABEL_PREFIX"),
        ("--enable-config-tracking", "FLEDGE_ENABLE_CONFIG_TRACKING"),
        ("--no-cross-namespace-refs", "FLEDGE_NO_CROSS_NAMESPACE_REFS"),
        ("--cluster-name", "FLEDGE_CLUSTER_NAME"),
    ] {
        assert!(help.contains(flag) && help.contains(&format!("[env: {env}")), "{flag} missing from\n{help}");
    }
}

#[test]
fn bad_selector_labels_are_refused_naming_the_flag() {
    for (value, says) in [(" , ", "give at least one label key"), ("app,my app", "\"my app\" is not a label key")] {
        let out = fledge(&["controller", "--selector-labels", value, "--listen", "127.0.0.1:0"]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--selector-labels") && stderr.contains(says), "{stderr}");
    }
}

#[test]
fn a_missing_kubeconfig_is_a_clear_error() {
    let out = fledge(&["controller", "--kubeconfig", "/nonexistent/kubeconfig", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reading the kubeconfig /nonexistent/kubeconfig"), "{stderr}");
}
