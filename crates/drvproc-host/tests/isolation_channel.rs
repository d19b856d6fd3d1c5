//! The isolation channel between two processes: this test binary, re-run with
//! `CHANNEL_SERVER_FD` set, is the server process; it maps the inherited memfd with
//! `Server::from_fd`, as a driver host process does after exec.
//!
//! The channel is internal to the crate, so its source files are compiled into this
//! test directly.
#![cfg(target_os = "linux")]

// The two files, not the whole `isolation` module: the rest of it needs the crate.
#[allow(dead_code, unused_imports)]
#[path = "../src/isolation/channel.rs"]
mod channel;
#[allow(dead_code)]
#[path = "../src/isolation/protocol.rs"]
mod protocol;
mod isolation {
    pub(crate) use super::{channel, protocol};
}

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use isolation::channel::{ChannelError, Client, DEFAULT_SPIN, DeadSwitch, Server};
use isolation::protocol::{PayloadDesc, Request, Response, dir, op, status, which};

const FD_VAR: &str = "CHANNEL_SERVER_FD";
const MODE_VAR: &str = "CHANNEL_SERVER_MODE";
const SPIN_VAR: &str = "CHANNEL_SERVER_SPIN_NS";

/// `ret = l1 + l2`.
const MSG_ADD: u32 = 0x4001;
/// `ret` = sum of the in bytes; the out buffer receives each in byte inverted.
const MSG_INVERT: u32 = 0x4002;
/// The message the `abort` and `hang` servers fail on.
const MSG_FATAL: u32 = 0x4013;

/// A generous limit for calls that must succeed: a lost wake-up shows as a
/// `Timeout` failure rather than a hung test.
const LIMIT: Duration = Duration::from_secs(5);

/// The server process's body; does nothing in an ordinary test run.
#[test]
fn channel_server_process() {
    let Ok(fd) = std::env::var(FD_VAR) else { return };
    let fd: i32 = fd.parse().expect("descriptor number");
    let mode = std::env::var(MODE_VAR).expect("server mode");
    let spin = std::env::var(SPIN_VAR).expect("server spin").parse().expect("spin in ns");
    // SAFETY: the parent cleared close-on-exec on this descriptor of its channel and
    // put its number in the environment; nothing else in this process owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut server = Server::from_fd(fd).expect("the inherited channel");
    server.set_spin(Duration::from_nanos(spin));
    loop {
        match server.serve_one(|req, payload| serve(&mode, req, payload)) {
            Ok(req) if req.op == op::SHUTDOWN => std::process::exit(0),
            Ok(_) => {}
            Err(ChannelError::PeerDead) => std::process::exit(3),
            Err(e) => panic!("server: {e}"),
        }
    }
}

fn serve(mode: &str, req: &Request, payload: &mut [u8]) -> Response {
    let ok = |ret| Response { ret, status: status::OK, ..Response::default() };
    match (req.op, req.msg) {
        (op::SHUTDOWN, _) => ok(0),
        (op::CALL, MSG_ADD) => ok(req.l1.wrapping_add(req.l2)),
        (op::CALL, MSG_INVERT) => {
            let (Some(inp), Some(out)) =
                (req.descs[0].range(payload.len()), req.descs[1].range(payload.len()))
            else {
                return Response { status: status::BAD_PAYLOAD, ..Response::default() };
            };
            let sum = payload[inp.clone()].iter().map(|&b| i64::from(b)).sum();
            let (a, b) = payload.split_at_mut(out.start);
            for (o, i) in b[..out.len()].iter_mut().zip(&a[inp]) {
                *o = !*i;
            }
            ok(sum)
        }
        (op::CALL, MSG_FATAL) if mode == "abort" => std::process::abort(),
        (op::CALL, MSG_FATAL) if mode == "hang" => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        _ => Response { status: status::UNKNOWN_OP, ..Response::default() },
    }
}

/// A server process on a channel; on drop (a failed test included) the channel is
/// marked dead and the process killed and reaped, so no test leaves one behind.
struct ServerProcess {
    /// Taken by a test that reaps the process itself.
    child: Option<Child>,
    switch: DeadSwitch,
}

impl ServerProcess {
    fn spawn(client: &Client, mode: &str, spin: Duration) -> ServerProcess {
        let fd = client.fd().as_raw_fd();
        let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
        cmd.args(["channel_server_process", "--exact", "--nocapture", "--test-threads=1"])
            .env(FD_VAR, fd.to_string())
            .env(MODE_VAR, mode)
            .env(SPIN_VAR, spin.as_nanos().to_string())
            .stdout(Stdio::null());
        // SAFETY: the closure runs in the forked child before exec and calls only
        // fcntl, which is async-signal-safe, on `fd`, which the child inherited open
        // (the parent's `client` keeps it open across the spawn).
        unsafe {
            cmd.pre_exec(move || {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
        ServerProcess { child: Some(cmd.spawn().expect("server process")), switch: client.dead_switch() }
    }

    /// Waits for the process to exit on its own and returns how.
    fn wait(&mut self) -> ExitStatus {
        self.child.as_mut().expect("the server process").wait().expect("wait for the server")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.switch.mark_dead();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn add(client: &mut Client, l1: i64, l2: i64) -> Result<i64, ChannelError> {
    let req = Request { op: op::CALL, msg: MSG_ADD, l1, l2, ..Request::default() };
    let reply = client.call(&req, |_| {}, LIMIT)?;
    assert_eq!(reply.response.status, status::OK);
    Ok(reply.response.ret)
}

fn shut_down(client: &mut Client, mut server: ServerProcess) {
    let req = Request { op: op::SHUTDOWN, ..Request::default() };
    client.call(&req, |_| {}, LIMIT).expect("shutdown");
    assert_eq!(server.wait().code(), Some(0));
}

#[test]
fn calls_round_trip_between_processes() {
    let mut client = Client::create(4096).unwrap();
    let server = ServerProcess::spawn(&client, "echo", DEFAULT_SPIN);
    for i in 0..10_000i64 {
        assert_eq!(add(&mut client, i, -3 * i).unwrap(), -2 * i);
    }
    assert_eq!(add(&mut client, i64::MAX, 1).unwrap(), i64::MIN);
    let unknown = Request { op: op::CALL, msg: 0x7777, ..Request::default() };
    let reply = client.call(&unknown, |_| {}, LIMIT).unwrap();
    assert_eq!((reply.response.status, reply.response.seq), (status::UNKNOWN_OP, 10_002));
    shut_down(&mut client, server);
}

/// A small xorshift generator, so every round uses other bytes.
fn pattern(seed: u64, buf: &mut [u8]) {
    let mut x = seed | 1;
    for b in buf {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

#[test]
fn payload_in_and_out_keeps_every_byte() {
    const LEN: usize = 64 * 1024;
    let mut client = Client::create(2 * LEN).unwrap();
    let server = ServerProcess::spawn(&client, "echo", DEFAULT_SPIN);
    let descs = [
        PayloadDesc { offset: 0, len: LEN as u32, dir: dir::IN, which: which::L1 },
        PayloadDesc { offset: LEN as u32, len: LEN as u32, dir: dir::OUT, which: which::L2 },
    ];
    let req = Request { op: op::CALL, msg: MSG_INVERT, descs, ..Request::default() };
    let mut input = vec![0u8; LEN];
    for round in 0..50u64 {
        pattern(round + 1, &mut input);
        let reply = client
            .call(
                &req,
                |p| {
                    p[..LEN].copy_from_slice(&input);
                    // Stale bytes in the out buffer must all be overwritten.
                    p[LEN..].fill(0x5A);
                },
                LIMIT,
            )
            .unwrap();
        assert_eq!(reply.response.status, status::OK);
        assert_eq!(reply.response.ret, input.iter().map(|&b| i64::from(b)).sum::<i64>());
        let out = &reply.payload[LEN..2 * LEN];
        let bad = input.iter().zip(out).position(|(i, o)| *o != !*i);
        assert_eq!(bad, None, "round {round}: out byte differs");
    }
    // A descriptor running past the payload area is refused, not followed.
    let past = Request { descs: [descs[0], PayloadDesc { offset: LEN as u32 + 1, ..descs[1] }], ..req };
    assert_eq!(client.call(&past, |_| {}, LIMIT).unwrap().response.status, status::BAD_PAYLOAD);
    shut_down(&mut client, server);
}

#[test]
fn a_host_that_aborts_fails_the_call_once_marked_dead() {
    let mut client = Client::create(4096).unwrap();
    let mut server = ServerProcess::spawn(&client, "abort", DEFAULT_SPIN);
    assert_eq!(add(&mut client, 1, 2).unwrap(), 3);
    // The supervisor's part: wait for the process to end, then mark the channel.
    let mut child = server.child.take().expect("the server process");
    let switch = client.dead_switch();
    let supervisor = std::thread::spawn(move || {
        let status = child.wait().expect("wait for the server");
        let died = Instant::now();
        switch.mark_dead();
        (status, died)
    });
    let req = Request { op: op::CALL, msg: MSG_FATAL, ..Request::default() };
    let err = client.call(&req, |_| {}, Duration::from_secs(30)).err();
    let failed = Instant::now();
    let (status, died) = supervisor.join().unwrap();
    assert!(matches!(err, Some(ChannelError::PeerDead)), "{err:?}");
    assert_eq!(status.signal(), Some(libc::SIGABRT));
    let delay = failed.saturating_duration_since(died);
    assert!(delay < Duration::from_millis(500), "the call failed {delay:?} after the mark");
    // Dead for good: the next call fails at once.
    assert!(matches!(add(&mut client, 1, 2), Err(ChannelError::PeerDead)));
}

#[test]
fn a_host_that_hangs_fails_the_call_by_timeout() {
    let mut client = Client::create(4096).unwrap();
    let _server = ServerProcess::spawn(&client, "hang", DEFAULT_SPIN);
    assert_eq!(add(&mut client, 1, 2).unwrap(), 3);
    let req = Request { op: op::CALL, msg: MSG_FATAL, ..Request::default() };
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = client.call(&req, |_| {}, timeout).err();
    let took = start.elapsed();
    assert!(matches!(err, Some(ChannelError::Timeout(t)) if t == timeout), "{err:?}");
    assert!(took >= timeout && took < timeout + Duration::from_millis(700), "took {took:?}");
    // The host may still answer the abandoned call, so the channel is done.
    assert!(client.is_dead());
    assert!(matches!(add(&mut client, 1, 2), Err(ChannelError::PeerDead)));
}

/// With nobody watching the process, its death still ends the call: by the timeout.
#[test]
fn a_host_that_aborts_unwatched_fails_the_call_by_timeout() {
    let mut client = Client::create(4096).unwrap();
    let mut server = ServerProcess::spawn(&client, "abort", DEFAULT_SPIN);
    let req = Request { op: op::CALL, msg: MSG_FATAL, ..Request::default() };
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = client.call(&req, |_| {}, timeout).err();
    let took = start.elapsed();
    assert!(matches!(err, Some(ChannelError::Timeout(t)) if t == timeout), "{err:?}");
    assert!(took >= timeout && took < timeout + Duration::from_millis(700), "took {took:?}");
    assert_eq!(server.wait().signal(), Some(libc::SIGABRT));
    assert!(matches!(add(&mut client, 1, 2), Err(ChannelError::PeerDead)));
}

#[test]
fn a_dead_mark_wakes_a_caller_asleep_on_a_hung_host() {
    let mut client = Client::create(4096).unwrap();
    client.set_spin(Duration::ZERO);
    let _server = ServerProcess::spawn(&client, "hang", Duration::ZERO);
    assert_eq!(add(&mut client, 1, 2).unwrap(), 3);
    let switch = client.dead_switch();
    let marker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        switch.mark_dead();
        Instant::now()
    });
    let req = Request { op: op::CALL, msg: MSG_FATAL, ..Request::default() };
    let err = client.call(&req, |_| {}, Duration::from_secs(30)).err();
    let failed = Instant::now();
    let marked = marker.join().unwrap();
    assert!(matches!(err, Some(ChannelError::PeerDead)), "{err:?}");
    let delay = failed.saturating_duration_since(marked);
    assert!(delay < Duration::from_millis(500), "the call failed {delay:?} after the mark");
}

/// Many round trips with both ends given `spin`; a lost wake-up would leave a call
/// waiting for an answer already given (or a server for a request already posted),
/// and fail it by `LIMIT`.
fn stress(client_spin: Duration, server_spin: Duration, calls: i64) {
    let mut client = Client::create(4096).unwrap();
    client.set_spin(client_spin);
    let server = ServerProcess::spawn(&client, "echo", server_spin);
    let start = Instant::now();
    for i in 0..calls {
        match add(&mut client, i, 1) {
            Ok(r) => assert_eq!(r, i + 1),
            Err(e) => panic!("call {i} of {calls} failed after {:?}: {e}", start.elapsed()),
        }
    }
    shut_down(&mut client, server);
}

#[test]
fn stress_both_ends_sleeping() {
    stress(Duration::ZERO, Duration::ZERO, 100_000);
}

#[test]
fn stress_both_ends_spinning() {
    stress(DEFAULT_SPIN, DEFAULT_SPIN, 100_000);
}

/// A spin about as long as a hand-over, so waiters often go to sleep just as the
/// other end publishes: the window the sleeping flags exist for.
#[test]
fn stress_spins_on_the_edge() {
    stress(Duration::from_micros(1), Duration::from_micros(1), 50_000);
    stress(Duration::ZERO, DEFAULT_SPIN, 20_000);
    stress(DEFAULT_SPIN, Duration::ZERO, 20_000);
}

#[test]
fn channels_from_several_threads() {
    const THREADS: u64 = 4;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                const LEN: usize = 4096;
                let mut client = Client::create(2 * LEN).unwrap();
                let server = ServerProcess::spawn(&client, "echo", DEFAULT_SPIN);
                let descs = [
                    PayloadDesc { offset: 0, len: LEN as u32, dir: dir::IN, which: which::L1 },
                    PayloadDesc { offset: LEN as u32, len: LEN as u32, dir: dir::OUT, which: which::L2 },
                ];
                let req = Request { op: op::CALL, msg: MSG_INVERT, descs, ..Request::default() };
                let mut input = [0u8; LEN];
                for i in 0..2_000u64 {
                    pattern(t << 32 | i, &mut input);
                    let reply = client.call(&req, |p| p[..LEN].copy_from_slice(&input), LIMIT).unwrap();
                    assert_eq!(reply.response.ret, input.iter().map(|&b| i64::from(b)).sum::<i64>());
                    assert!(input.iter().zip(&reply.payload[LEN..]).all(|(i, o)| *o == !*i));
                    assert_eq!(add(&mut client, i as i64, t as i64).unwrap(), (i + t) as i64);
                }
                shut_down(&mut client, server);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
