//! The README's first command: `fledge-sandbox demo` runs to its end by itself.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_promotes_the_good_release_and_rolls_back_the_unready_one() {
    // `run` fails unless release 1 ends Succeeded and release 2 ends Failed.
    fledge_e2e::demo::run(std::time::Duration::from_secs(180)).await.unwrap();
}
