//! The application's side of a hosted module: it asks the host process to load
//! the module, and delivers each message by marshalling its parameters into the
//! channel's payload, waiting for the answer and copying back what the driver
//! wrote.
//!
//! One channel carries one call at a time, so calls to one hosted module are
//! serialised here (a lock around the channel). The parameters are packed into a
//! scratch buffer and then copied into the shared payload, which costs one copy of
//! the in bytes; packing straight into the shared area is the next step.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use drvproc::{DriverId, Hdrvr, LParam, LResult, Msg};

use super::channel::{ChannelError, Client};
use super::marshal::{self, Arg, Context, MarshalError, Marshalled};
use super::protocol::{PayloadDesc, Request, dir, op, status, which};

/// Why a hosted call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RemoteError {
    /// The parameters cannot be carried (an undescribed custom message, a buffer
    /// too large for the payload).
    #[error(transparent)]
    Marshal(#[from] MarshalError),
    /// The host process died, hung or broke the protocol.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The host process could not do what it was asked; its words.
    #[error("{0}")]
    Host(String),
    /// The host answered with a status this side does not know.
    #[error("the host process answered with status {0}")]
    Status(u32),
    /// The host process could not be started.
    #[error("cannot start the driver host {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
}

struct Conn {
    client: Client,
    /// Where parameters are packed before they are copied into the payload.
    scratch: Vec<u8>,
}

/// A module served by a host process over one channel.
pub(crate) struct Remote {
    conn: Mutex<Conn>,
    ctx: Context,
    timeout: Duration,
    /// The host process, when this side started one (a pidfd, which cannot name
    /// another process after this one is reaped): killed if it does not stop when
    /// asked.
    process: Option<std::os::fd::OwnedFd>,
}

/// How the host process ended, once it has.
pub(crate) type Ended = std::sync::Arc<std::sync::OnceLock<std::process::ExitStatus>>;

impl Remote {
    /// A hosted module reached through `client`; every call waits at most
    /// `timeout` for its answer (after that the channel is dead).
    pub(crate) fn new(client: Client, ctx: Context, timeout: Duration) -> Remote {
        let scratch = vec![0u8; client.payload_len()];
        Remote { conn: Mutex::new(Conn { client, scratch }), ctx, timeout, process: None }
    }

    /// Starts `program` (`drvproc-hostd`) on a new channel. A thread waits for the
    /// process to end; when it does, the channel goes dead, so a call in flight or
    /// any later one fails at once, and the exit status is kept in the returned
    /// [`Ended`].
    pub(crate) fn spawn(
        program: &Path,
        ctx: Context,
        timeout: Duration,
    ) -> Result<(Remote, Ended), RemoteError> {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;

        let client = Client::create(super::channel::DEFAULT_PAYLOAD_LEN)?;
        let fd = client.fd().as_raw_fd();
        let mut command = std::process::Command::new(program);
        command.arg("--channel").arg(fd.to_string()).stdin(std::process::Stdio::null());
        // SAFETY: between fork and exec the closure only calls fcntl, which is
        // async-signal-safe, on a descriptor the child inherited; it clears
        // close-on-exec on the channel there alone, so no other child gets it.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let mut child = command
            .spawn()
            .map_err(|source| RemoteError::Spawn { program: program.display().to_string(), source })?;
        // Opened before the waiting thread exists, so before anything can reap the
        // process: the pidfd names this process and no other.
        // SAFETY: plain-value arguments.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
        let process = if pidfd >= 0 {
            // SAFETY: a descriptor the kernel just returned to this thread alone.
            Some(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(pidfd as i32) })
        } else {
            None
        };
        let dead = client.dead_switch();
        let ended: Ended = Default::default();
        let status = ended.clone();
        std::thread::Builder::new()
            .name("drvproc-hostd wait".into())
            .spawn(move || {
                if let Ok(s) = child.wait() {
                    let _ = status.set(s);
                }
                dead.mark_dead();
            })
            .map_err(|source| RemoteError::Spawn { program: program.display().to_string(), source })?;
        let mut remote = Remote::new(client, ctx, timeout);
        remote.process = process;
        Ok((remote, ended))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the host process to map the module at `path`.
    pub(crate) fn load(&self, path: &Path) -> Result<(), RemoteError> {
        let text = path.to_str().ok_or_else(|| RemoteError::Host("the module path is not UTF-8".into()))?;
        let bytes = text.as_bytes();
        let mut conn = self.conn();
        let len = u32::try_from(bytes.len())
            .map_err(|_| RemoteError::Host("the module path is too long".into()))?;
        let desc = PayloadDesc { offset: 0, len, dir: dir::IN, which: which::L1 };
        let request =
            Request { op: op::LOAD_MODULE, descs: [desc, PayloadDesc::default()], ..Request::default() };
        let reply = conn.client.call(
            &request,
            |payload| {
                let n = bytes.len().min(payload.len());
                payload[..n].copy_from_slice(&bytes[..n]);
            },
            self.timeout,
        )?;
        answer(reply.response, reply.payload).map(drop)
    }

    /// Delivers `msg` to instance `id` of the hosted module.
    ///
    /// # Safety
    /// `l1` and `l2` are what the driver expects for `msg` (for a pointer, the
    /// memory the message's contract says it points to, live for the call).
    pub(crate) unsafe fn call(
        &self,
        id: DriverId,
        hdrvr: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
    ) -> Result<LResult, RemoteError> {
        let mut guard = self.conn();
        let Conn { client, scratch } = &mut *guard;
        // SAFETY: forwarded contract.
        let packed = unsafe { marshal::marshal(&self.ctx, msg, l1, l2, scratch) }?;
        let (ret, payload) = exchange(client, scratch, &packed, id, hdrvr, self.timeout)?;
        // SAFETY: forwarded contract; `packed` describes this call's parameters.
        unsafe { marshal::copy_back(&packed, payload) }?;
        Ok(ret)
    }

    /// Delivers a message whose parameters the caller describes: integers, or
    /// buffers the driver reads, fills or both (a custom message's only way to
    /// carry a pointer to a hosted driver).
    pub(crate) fn call_args<'a>(
        &self,
        id: DriverId,
        hdrvr: Hdrvr,
        msg: Msg,
        l1: &mut Arg<'a>,
        l2: &mut Arg<'a>,
    ) -> Result<LResult, RemoteError> {
        let mut guard = self.conn();
        let Conn { client, scratch } = &mut *guard;
        let packed = marshal::marshal_args(msg, l1, l2, scratch)?;
        let (ret, payload) = exchange(client, scratch, &packed, id, hdrvr, self.timeout)?;
        marshal::copy_back_args(&packed, l1, l2, payload)?;
        Ok(ret)
    }

    /// Asks the host process to stop serving; it exits when its last channel does.
    pub(crate) fn shutdown(&self) -> Result<(), RemoteError> {
        let mut conn = self.conn();
        let reply =
            conn.client.call(&Request { op: op::SHUTDOWN, ..Request::default() }, |_| {}, self.timeout)?;
        answer(reply.response, reply.payload).map(drop)
    }
}

/// Sends a packed `CALL` and waits for its answer: the driver's result and the
/// payload to copy back from.
fn exchange<'c>(
    client: &'c mut Client,
    scratch: &[u8],
    packed: &Marshalled,
    id: DriverId,
    hdrvr: Hdrvr,
    timeout: Duration,
) -> Result<(LResult, &'c [u8]), RemoteError> {
    let (t1, v1) = packed.l1.encode();
    let (t2, v2) = packed.l2.encode();
    let request = Request {
        op: op::CALL,
        msg: packed.msg,
        id: id as u64,
        hdrvr: hdrvr.raw() as u64,
        l1: v1,
        l2: v2,
        tags: [t1, t2],
        ..Request::default()
    };
    let used = &scratch[..packed.used];
    let reply = client.call(&request, |payload| payload[..used.len()].copy_from_slice(used), timeout)?;
    let ret = answer(reply.response, reply.payload)?;
    Ok((ret as LResult, reply.payload))
}

/// The result of an answered request: `ret` when it went through, the host's words
/// when it failed.
fn answer(response: super::protocol::Response, payload: &[u8]) -> Result<i64, RemoteError> {
    match response.status {
        status::OK => Ok(response.ret),
        status::FAILED => {
            let n = usize::try_from(response.ret).unwrap_or(0).min(payload.len());
            Err(RemoteError::Host(String::from_utf8_lossy(&payload[..n]).into_owned()))
        }
        other => Err(RemoteError::Status(other)),
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use drvproc::consts::{DRV_OPEN, DRV_QUERYCONFIGURE, DRV_USER};

    use super::super::channel::Server;
    use super::super::host::{self, Driver};
    use super::*;

    /// A driver that answers from its parameters: `DRV_OPEN` the length of its
    /// arguments string, `DRV_QUERYCONFIGURE` and `DRV_USER` the sum of their
    /// integers, and `DRV_USER + 1` doubles the bytes of its in-out buffer.
    unsafe extern "system" fn answering(
        _id: DriverId,
        _h: Hdrvr,
        msg: Msg,
        l1: LParam,
        l2: LParam,
    ) -> LResult {
        match msg {
            DRV_OPEN if l1 != 0 => {
                let mut n = 0;
                // SAFETY: DRV_OPEN's lParam1 is a NUL-terminated UTF-16 string.
                while unsafe { *(l1 as *const u16).add(n) } != 0 {
                    n += 1;
                }
                n as LResult
            }
            DRV_QUERYCONFIGURE | DRV_USER => l1 + l2,
            m if m == DRV_USER + 1 => {
                // SAFETY: the sender described lParam1 as an in-out buffer of lParam2 bytes.
                let buf = unsafe { std::slice::from_raw_parts_mut(l1 as *mut u8, l2 as usize) };
                buf.iter_mut().for_each(|b| *b = b.wrapping_mul(2));
                l2
            }
            _ => 0,
        }
    }

    /// A channel with the host's loop on a thread of this process.
    fn hosted(driver: Driver) -> (Remote, thread::JoinHandle<Result<(), ChannelError>>) {
        let client = Client::create(1 << 16).unwrap();
        let fd = client.fd().try_clone_to_owned().unwrap();
        let mut server = Server::from_fd(fd).unwrap();
        let host = thread::spawn(move || {
            let mut driver = driver;
            host::serve(&mut server, &mut driver)
        });
        (Remote::new(client, Context::default(), Duration::from_secs(10)), host)
    }

    #[test]
    fn integers_and_strings_reach_the_driver_and_answers_come_back() {
        let (remote, host) = hosted(Driver::Proc(answering));
        // SAFETY: integers only.
        assert_eq!(unsafe { remote.call(1, Hdrvr::from_raw(5), DRV_QUERYCONFIGURE, 40, 2) }.unwrap(), 42);
        let args: Vec<u16> = "rate=8000\0".encode_utf16().collect();
        // SAFETY: a NUL-terminated UTF-16 string, live for the call.
        let n = unsafe { remote.call(0, Hdrvr::from_raw(5), DRV_OPEN, args.as_ptr() as LParam, 0) }.unwrap();
        assert_eq!(n, 9);
        remote.shutdown().unwrap();
        host.join().unwrap().unwrap();
    }

    #[test]
    fn a_custom_message_with_a_pointer_is_refused_before_it_leaves() {
        let (remote, host) = hosted(Driver::Proc(answering));
        let mut x = 0u32;
        // SAFETY: the call is refused before anything reads the pointer.
        let err =
            unsafe { remote.call(1, Hdrvr::from_raw(5), DRV_USER + 7, &mut x as *mut u32 as LParam, 0) }
                .unwrap_err();
        assert!(matches!(err, RemoteError::Marshal(MarshalError::Undescribed { .. })), "{err}");
        // The channel is still usable, and described, the message goes through.
        let (mut a, mut b) = (Arg::Int(1), Arg::Int(2));
        assert_eq!(remote.call_args(1, Hdrvr::from_raw(5), DRV_USER, &mut a, &mut b).unwrap(), 3);
        let mut bytes = [1u8, 2, 3, 200];
        let (mut a, mut b) = (Arg::InOut(&mut bytes), Arg::Int(4));
        assert_eq!(remote.call_args(1, Hdrvr::from_raw(5), DRV_USER + 1, &mut a, &mut b).unwrap(), 4);
        assert_eq!(bytes, [2, 4, 6, 144]);
        remote.shutdown().unwrap();
        host.join().unwrap().unwrap();
    }

    #[test]
    fn a_module_the_host_cannot_load_is_an_error_in_its_words() {
        let (remote, host) = hosted(Driver::None);
        let err = remote.load(Path::new("/nonexistent/drvproc-test/x.so")).unwrap_err().to_string();
        assert!(err.starts_with("not found"), "{err}");
        // SAFETY: integers only.
        let err =
            unsafe { remote.call(1, Hdrvr::from_raw(5), DRV_QUERYCONFIGURE, 1, 2) }.unwrap_err().to_string();
        assert_eq!(err, "no module is loaded");
        remote.shutdown().unwrap();
        host.join().unwrap().unwrap();
    }
}
