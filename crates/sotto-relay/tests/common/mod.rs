//! Helpers shared by the relay's integration tests: start `sotto-relay dev` as a child process
//! on OS-chosen ports, read what it prints, stop it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sotto-relay");

/// A running `sotto-relay dev`, killed on drop.
pub struct Dev {
    pub child: Child,
    pub http: String,
    pub relay_urls: Vec<String>,
    pub stdout_lines: Vec<String>,
}

/// Starts `sotto-relay dev` with `args` plus `--ws-base-port 0 --http 127.0.0.1:0` (unless the
/// caller passes them) and waits for its ready line.
pub fn start(args: &[&str]) -> Dev {
    let mut full: Vec<String> = vec!["dev".into()];
    if !args.contains(&"--ws-base-port") {
        full.extend(["--ws-base-port".into(), "0".into()]);
    }
    if !args.contains(&"--http") {
        full.extend(["--http".into(), "127.0.0.1:0".into()]);
    }
    full.extend(args.iter().map(|s| s.to_string()));
    let mut child = Command::new(BIN)
        .args(&full)
        .env("SOTTO_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sotto-relay");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.starts_with("Sotto is running at ");
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                let _ = stderr.read_to_string(&mut err);
                panic!("sotto-relay dev did not start; stdout: {lines:?}; stderr: {err}");
            }
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    let http = lines
        .last()
        .and_then(|l| l.strip_prefix("Sotto is running at "))
        .unwrap()
        .to_owned();
    let relay_urls = lines
        .iter()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("ws://")))
        .map(str::to_owned)
        .collect();
    Dev {
        child,
        http,
        relay_urls,
        stdout_lines: lines,
    }
}

impl Dev {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.http, path)
    }

    /// Sends SIGTERM and waits (at most 15 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        wait_timeout(&mut self.child, Duration::from_secs(15)).expect("dev did not exit on SIGTERM")
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success());
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary to completion (it is expected to fail fast) and returns status and stderr.
pub fn run_to_end(args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sotto-relay");
    let status = wait_timeout(&mut child, Duration::from_secs(20)).expect("exits");
    let mut out = String::new();
    let mut err = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (status, out, err)
}

/// A web root with the files the PWA has, small.
pub fn web_root(dir: &Path) {
    std::fs::create_dir_all(dir.join("web")).unwrap();
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Sotto</title>",
    )
    .unwrap();
    std::fs::write(
        dir.join("web/sw.js"),
        "self.addEventListener('fetch', () => {});",
    )
    .unwrap();
    std::fs::write(dir.join("web/app.js"), "export {};").unwrap();
    std::fs::write(dir.join("web/manifest.webmanifest"), "{}").unwrap();
    std::fs::write(dir.join("pkg/sotto_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.join("secret.txt"), "not for the web").unwrap();
}

pub fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap()
}

pub mod net;
pub mod raw;
