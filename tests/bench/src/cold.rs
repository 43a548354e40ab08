//! Part 2, cold start: each binary is started under a tiny Lambda Runtime API on
//! 127.0.0.1:0, with the environment Lambda gives it, and timed from spawn to its first
//! `GET /2018-06-01/runtime/invocation/next` (the end of Lambda's Init phase). Then it
//! is killed. Starts are interleaved across binaries, round after round, so the
//! machine's noise falls on all of them alike.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const START_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_LINE: &[u8] = b"BENCH-STOP / HTTP/1.1\r\n\r\n";

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub binary: PathBuf,
    pub args: Vec<String>,
    /// The whole environment of the process (nothing is inherited from the bench).
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub samples: Vec<Duration>,
    pub failures: Vec<String>,
    /// What reading the webhook secret took inside each measured start (its `read_ms` log
    /// line), for the functions that read it at init.
    pub secret_read_ms: Vec<u64>,
}

/// The environment Lambda sets for a `provided.al2023` function (documented reserved
/// variables), plus the function's own variables from the template.
pub fn lambda_env(
    function_name: &str,
    memory_mb: u64,
    region: &str,
    function_vars: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef".to_owned(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_REGION", region.to_owned()),
        ("AWS_DEFAULT_REGION", region.to_owned()),
        // The execution role's temporary credentials.
        ("AWS_ACCESS_KEY_ID", "ASIABENCHBENCHBENCH0".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "bench/secret/key/not/a/real/one/at/all00".to_owned()),
        ("AWS_SESSION_TOKEN", "bench-session-token".to_owned()),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
        (
            "LD_LIBRARY_PATH",
            "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
                .to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(function_vars.clone());
    env
}

/// `rounds` measured starts of every target (after `warmup` unmeasured rounds that fill
/// the page cache), interleaved: round r starts the targets in a rotated order.
pub fn measure(
    targets: &[Target],
    warmup: usize,
    rounds: usize,
    log_dir: &std::path::Path,
) -> Vec<Outcome> {
    let mut outcomes = vec![Outcome::default(); targets.len()];
    let n = targets.len();
    for round in 0..warmup + rounds {
        for k in 0..n {
            let i = if round % 2 == 0 {
                (round + k) % n
            } else {
                (round + n - k) % n
            };
            let target = &targets[i];
            // A binary that cannot start fails the same way every time: stop trying.
            if outcomes[i].samples.is_empty() && outcomes[i].failures.len() >= 2 {
                continue;
            }
            match start_once(target, log_dir) {
                Ok((elapsed, secret_read)) if round >= warmup => {
                    outcomes[i].samples.push(elapsed);
                    outcomes[i].secret_read_ms.extend(secret_read);
                }
                Ok(_) => {}
                Err(failure) => outcomes[i].failures.push(failure),
            }
        }
    }
    for (outcome, target) in outcomes.iter().zip(targets) {
        if let Some(failure) = outcome.failures.first() {
            eprintln!(
                "[bench] {} of {} starts of {} failed, first: {failure}",
                outcome.failures.len(),
                outcome.failures.len() + outcome.samples.len(),
                target.name
            );
        }
    }
    outcomes
}

/// One cold start: spawn, wait for its first `/next`, kill. Also returns the secret read
/// time the start logged, if it logged one.
fn start_once(
    target: &Target,
    log_dir: &std::path::Path,
) -> Result<(Duration, Option<u64>), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("bind: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || serve_first_request(&listener, &tx));

    let stderr_path = log_dir.join(format!(
        "{}.stderr",
        target.name.replace([' ', '[', ']'], "_")
    ));
    let stderr =
        File::create(&stderr_path).map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    // The functions log to stdout: kept in the same file, for the secret read's log line.
    let stdout = stderr
        .try_clone()
        .map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let started = Instant::now();
    let spawned = Command::new(&target.binary)
        .args(&target.args)
        .env_clear()
        .envs(&target.env)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn();
    let result = match spawned {
        Ok(mut child) => {
            let result = wait_for_next(&mut child, &rx, started, &stderr_path);
            let _ = child.kill();
            let _ = child.wait();
            result
        }
        Err(e) => Err(format!("spawn {}: {e}", target.binary.display())),
    };
    stop_server(addr);
    let _ = server.join();
    result.map(|elapsed| (elapsed, secret_read_ms(&stderr_path)))
}

/// The `read_ms` of the `webhook secret read from Secrets Manager` line (shared::secrets).
fn secret_read_ms(log: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text
        .lines()
        .find(|l| l.contains("webhook secret read from Secrets Manager"))?;
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value
        .get("read_ms")
        .or_else(|| value.pointer("/fields/read_ms"))?
        .as_u64()
}

fn wait_for_next(
    child: &mut Child,
    rx: &mpsc::Receiver<Result<Instant, String>>,
    started: Instant,
    stderr_path: &std::path::Path,
) -> Result<Duration, String> {
    loop {
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(Ok(at)) => return Ok(at.saturating_duration_since(started)),
            Ok(Err(other)) => return Err(other),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the runtime API stopped".to_owned());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "exited ({status}) before asking for an event: {}",
                        tail(stderr_path)
                    ));
                }
                if started.elapsed() > START_TIMEOUT {
                    return Err(format!(
                        "no /next within {} s: {}",
                        START_TIMEOUT.as_secs(),
                        tail(stderr_path)
                    ));
                }
            }
        }
    }
}

/// Takes the binary's first request: the arrival of `/next` is the measurement; anything
/// else first (an init error report) is a failure.
fn serve_first_request(listener: &TcpListener, tx: &mpsc::Sender<Result<Instant, String>>) {
    let Ok((mut stream, _)) = listener.accept() else {
        return;
    };
    let head = read_head(&mut stream);
    let at = Instant::now();
    let line = head.lines().next().unwrap_or_default().to_owned();
    if line.starts_with("BENCH-STOP") {
        return;
    }
    let message = if line.contains(NEXT_PATH) {
        Ok(at)
    } else {
        Err(format!(
            "asked the runtime API `{line}` before /next (an init error?)"
        ))
    };
    let _ = tx.send(message);
    // Keep the connection open (no event ever comes) until the process is killed.
    let mut rest = Vec::new();
    let _ = stream.set_read_timeout(Some(START_TIMEOUT));
    let _ = stream.read_to_end(&mut rest);
}

fn read_head(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(START_TIMEOUT));
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0_u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Unblocks a server thread still waiting in `accept`.
fn stop_server(addr: SocketAddr) {
    if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        let _ = stream.write_all(STOP_LINE);
    }
}

fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let text = text.trim();
    let start = text
        .char_indices()
        .rev()
        .nth(400)
        .map(|(i, _)| i)
        .unwrap_or(0);
    if text.is_empty() {
        "(no output)".to_owned()
    } else {
        text[start..].replace('\n', " | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bash standing in for a function binary.
    fn shell(name: &str, script: &str) -> Target {
        Target {
            name: name.to_owned(),
            binary: PathBuf::from("/bin/bash"),
            args: vec!["-c".to_owned(), script.to_owned()],
            env: lambda_env(name, 128, "us-east-1", &BTreeMap::new()),
        }
    }

    #[test]
    fn a_start_is_timed_until_the_first_request_for_an_event() {
        let script = "exec 3<>/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:}; \
                      printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n' >&3; sleep 5";
        let outcomes = measure(
            &[shell("asks-for-an-event", script)],
            0,
            2,
            &std::env::temp_dir(),
        );
        assert_eq!(
            outcomes[0].samples.len(),
            2,
            "failures: {:?}",
            outcomes[0].failures
        );
        assert!(outcomes[0].samples.iter().all(|d| *d < START_TIMEOUT));
    }

    #[test]
    fn a_start_that_reads_the_webhook_secret_reports_how_long_the_read_took() {
        let script = r#"echo '{"level":"INFO","fields":{"message":"webhook secret read from Secrets Manager","read_ms":42}}'; \
                      exec 3<>/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:}; \
                      printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n' >&3; sleep 5"#;
        let dir = std::env::temp_dir().join(format!("bench-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let outcomes = measure(&[shell("reads-a-secret", script)], 0, 2, &dir);
        assert_eq!(outcomes[0].samples.len(), 2, "{:?}", outcomes[0].failures);
        assert_eq!(outcomes[0].secret_read_ms, vec![42, 42]);
    }

    #[test]
    fn a_binary_that_exits_during_init_is_a_failure_not_a_sample() {
        let target = shell(
            "exits-at-init",
            "echo 'Missing AWS_LAMBDA_FUNCTION_NAME' >&2; exit 3",
        );
        let outcomes = measure(&[target], 0, 3, &std::env::temp_dir());
        assert!(outcomes[0].samples.is_empty());
        // Not retried once it failed twice.
        assert_eq!(outcomes[0].failures.len(), 2);
        assert!(
            outcomes[0].failures[0].contains("Missing AWS_LAMBDA_FUNCTION_NAME"),
            "{}",
            outcomes[0].failures[0]
        );
    }
}
