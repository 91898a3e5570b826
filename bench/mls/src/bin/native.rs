//! `sotto-mls-bench [ROUNDS]`: the MLS spike natively; prints the summary as JSON on stdout.

fn main() {
    let rounds = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    match sotto_mls_bench::run(rounds, true) {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("mls bench failed: {e}");
            std::process::exit(1);
        }
    }
}
