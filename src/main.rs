//! `qledger`: main -> run -> ExitCode. Everything else lives in the library.

use clap::Parser;
use quotaledger::cli::{self, args::Cli, sink::Tracked, terminal, ui};
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    no_transparent_huge_pages();
    sigbus_is_damage();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    ui::set(ui::Ui::from_flags(cli.color, cli.quiet));
    let stdout = io::stdout();
    let mut out = BufWriter::new(Tracked::new(stdout.lock()));
    let result = cli::run(cli, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    let err = match result {
        Ok(code) => return code,
        Err(err) => err,
    };
    let stdout_failure = out.get_ref().failure().map(|(kind, _)| kind);
    if cli::is_broken_pipe(&err) || stdout_failure == Some(io::ErrorKind::BrokenPipe) {
        return ExitCode::SUCCESS; // a closed stdout (`qledger log | head`) is not a failure
    }
    let code = match stdout_failure {
        // Output that could not be written (`qledger export > /dev/full`) is a storage error.
        Some(_) => 4,
        None => {
            let _ = out.flush();
            cli::exit_code(&err)
        }
    };
    let what = if stdout_failure.is_some() { "writing standard output: " } else { "" };
    // One line: the error and its causes, no backtrace. Control and invisible characters
    // echoed from input (an id with ESC, CR or a bidi override in it) are escaped, never written
    // to the terminal raw.
    let text = format!("{err:#}").replace('\n', " ");
    let prefix = ui::Paint::Red.paint("qledger:", ui::get().color_stderr);
    eprintln!("{prefix} {what}{}", terminal::escape(&text));
    ExitCode::from(code)
}

/// Turns `SIGBUS` into what it means here: a long read maps segment windows
/// (`store::disk::FileMap`), and only a segment file cut from outside the ledger while it was
/// mapped raises `SIGBUS` in this program. Instead of dying by the signal with nothing said,
/// the process writes one line and exits 3, as for any other damage found. It has reported no
/// result for the read, and a writer that dies here is a crash its recovery handles.
fn sigbus_is_damage() {
    extern "C" fn on_sigbus(_signal: libc::c_int) {
        const LINE: &[u8] = b"qledger: integrity failure: a segment file was cut while it was being read (SIGBUS)\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe; LINE is a static buffer.
        unsafe {
            libc::write(2, LINE.as_ptr().cast(), LINE.len());
            libc::_exit(3);
        }
    }
    // SAFETY: a zeroed sigaction is a valid one (no flags, empty mask once sigemptyset ran);
    // the handler is an `extern "C" fn(c_int)`, as sa_sigaction without SA_SIGINFO expects. A
    // failure leaves the default action (the process dies by the signal).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

/// Turns transparent huge pages off for this process, before it allocates in earnest.
///
/// mimalloc `madvise`s its arena `MADV_HUGEPAGE`, so with THP on (`always`, or `madvise` as
/// Debian ships it) every 2 MiB of the arena that one live allocation touches becomes 2 MiB of
/// resident memory. Measured on a bulk append of 200k events: 45 MiB of live heap at its peak
/// (heaptrack, glibc malloc) held 112 MiB resident, 98 MiB of it huge pages; a one-event
/// append held 61 MiB. With THP off: 55 MiB and 11 MiB, at the same speed. The flag is the
/// process's (`PR_SET_THP_DISABLE`, inherited by children), never the system's.
fn no_transparent_huge_pages() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: prctl with PR_SET_THP_DISABLE takes integer arguments only and touches no memory
    // of ours; a kernel without it returns an error, which leaves things as they were.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

// The parse thread allocates what the append thread frees; glibc malloc serializes that on an
// arena lock, mimalloc does not (measured: 200k events appended 25% faster).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
