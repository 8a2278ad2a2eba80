//! The process exit codes of the `bevara` command, one per kind of outcome,
//! so scripts can tell a refused target from an unreachable one.

/// Exit status of `bevara`. The numbers are stable and documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// The command did what was asked; a capture is complete.
    Ok = 0,
    /// An unexpected failure (see the message).
    Failure = 1,
    /// The command line was wrong.
    Usage = 2,
    /// The channel or snapshot does not exist.
    NotFound = 3,
    /// The target URL was refused: malformed, not http(s), or a private address.
    InvalidTarget = 4,
    /// The host could not be resolved or did not accept a connection.
    Unreachable = 5,
    /// The page did not respond within its time budget.
    Timeout = 6,
    /// The server answered with an HTTP error status (4xx/5xx).
    HttpStatus = 7,
    /// A checksum did not match or an object is missing (`verify`).
    VerifyFailed = 8,
    /// Chromium could not be started or died during the capture.
    Browser = 9,
    /// The capture is complete, but a budget (time, height, clicks) stopped the pass early.
    Truncated = 10,
    /// Writing to or reading from the object store, the database or the
    /// local disk (work files, a full disk) failed.
    Storage = 11,
    /// ffmpeg is missing or unusable, or a required recording failed.
    Recorder = 12,
    /// The page shows a login wall; a login session is needed.
    LoginRequired = 13,
    /// Another capture of the channel is running (its job is named).
    Busy = 14,
    /// Captured, but not yet in the object store: the files wait in the
    /// spool (`bevara store sync`); the snapshot id is printed.
    UploadPending = 15,
}

impl ExitCode {
    /// Every code with its meaning, for `--help` and the README.
    pub const ALL: [ExitCode; 16] = [
        ExitCode::Ok,
        ExitCode::Failure,
        ExitCode::Usage,
        ExitCode::NotFound,
        ExitCode::InvalidTarget,
        ExitCode::Unreachable,
        ExitCode::Timeout,
        ExitCode::HttpStatus,
        ExitCode::VerifyFailed,
        ExitCode::Browser,
        ExitCode::Truncated,
        ExitCode::Storage,
        ExitCode::Recorder,
        ExitCode::LoginRequired,
        ExitCode::Busy,
        ExitCode::UploadPending,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    /// A short kebab-case name, also used as the recorded failure code of a capture.
    pub fn name(self) -> &'static str {
        match self {
            ExitCode::Ok => "ok",
            ExitCode::Failure => "failure",
            ExitCode::Usage => "usage",
            ExitCode::NotFound => "not-found",
            ExitCode::InvalidTarget => "invalid-target",
            ExitCode::Unreachable => "unreachable",
            ExitCode::Timeout => "timeout",
            ExitCode::HttpStatus => "http-status",
            ExitCode::VerifyFailed => "verify-failed",
            ExitCode::Browser => "browser",
            ExitCode::Truncated => "truncated",
            ExitCode::Storage => "storage",
            ExitCode::Recorder => "recorder",
            ExitCode::LoginRequired => "login-required",
            ExitCode::UploadPending => "upload-pending",
            ExitCode::Busy => "busy",
        }
    }

    /// One line saying what the code means.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Ok => "done; a capture is complete",
            ExitCode::Failure => "unexpected failure (see the message)",
            ExitCode::Usage => "the command line or settings were wrong",
            ExitCode::NotFound => "no such channel or snapshot",
            ExitCode::InvalidTarget => "URL malformed, not http(s), or a private address",
            ExitCode::Unreachable => "host not found or connection refused",
            ExitCode::Timeout => "the page did not respond within its budget",
            ExitCode::HttpStatus => "the server answered 4xx/5xx",
            ExitCode::VerifyFailed => "a checksum did not match or an object is missing",
            ExitCode::Browser => "Chromium could not start or died",
            ExitCode::Truncated => "capture complete, but a budget ended the pass early",
            ExitCode::Storage => "the object store, the database or the local disk failed",
            ExitCode::Recorder => "ffmpeg is missing or unusable, or a required recording failed",
            ExitCode::LoginRequired => "the page shows a login wall; import a login session",
            ExitCode::Busy => "another capture of the channel is running",
            ExitCode::UploadPending => {
                "captured, not yet stored: the files wait in the spool (bevara store sync)"
            }
        }
    }

    /// The table printed under `bevara --help`.
    pub fn help_table() -> String {
        let mut s = String::from("Exit status:\n");
        for c in Self::ALL {
            s.push_str(&format!(
                "  {:>2}  {:<15} {}\n",
                c.code(),
                c.name(),
                c.meaning()
            ));
        }
        s
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}
