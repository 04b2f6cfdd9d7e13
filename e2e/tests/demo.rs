//! The README's first command: `fledge-sandbox demo` runs to its end by itself.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_promotes_the_good_release_and_rolls_back_the_two_bad_ones() {
    // `run` fails unless release 1 ends Succeeded and releases 2 (errors) and 3 (never ready)
    // end Failed, with the notifications a chat channel would get.
    fledge_e2e::demo::run(std::time::Duration::from_secs(180)).await.unwrap();
}
