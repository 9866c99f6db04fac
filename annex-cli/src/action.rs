//! What git-annex prints about each thing a command does, in its three
//! forms: plain text (`get foo (from origin...) ok`), `--json` (one object
//! a line, keys sorted, with `command`, `input`, `file`, `key`, `note`,
//! `success` and `error-messages`), and the summary at the end
//! (`get: 2 failed` on stderr, exit code 1).
//!
//! A command makes one [`Reporter`], calls [`Reporter::start`] for each
//! file or key it acts on, adds notes and fields to the [`Action`], and
//! ends it with [`Action::end`]. [`Reporter::finish`] prints the summary
//! and gives the command's result.

use std::io::Write;

use serde_json::{Map, Value};

use crate::error::CommandError;

/// How actions are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// git-annex's plain text.
    Plain,
    /// `--json`: one JSON object a line on stdout.
    Json,
}

/// The printer and failure counter of one command run.
#[derive(Debug)]
pub struct Reporter {
    command: String,
    mode: Mode,
    /// `--json-error-messages`: errors go into the JSON object only.
    json_error_messages: bool,
    quiet: bool,
    /// `core.quotepath`: non-ASCII bytes of file names are escaped in
    /// plain output (the default, as git's).
    quote_path: bool,
    failures: usize,
}

impl Reporter {
    /// A reporter for `command` (its name as git-annex prints it).
    pub fn new(command: &str, mode: Mode) -> Reporter {
        Reporter {
            command: command.to_string(),
            mode,
            json_error_messages: false,
            quiet: false,
            quote_path: true,
            failures: 0,
        }
    }

    /// Names the actions started from now on `command` (a command made of
    /// others' actions, as `mirror`'s `copy`, `get` and `drop`); failures
    /// are still counted together.
    pub fn set_command(&mut self, command: &str) {
        self.command = command.to_string();
    }

    /// Errors of actions go only into their JSON objects
    /// (`--json-error-messages`), not to stderr.
    pub fn json_error_messages(mut self, on: bool) -> Reporter {
        self.json_error_messages = on;
        self
    }

    /// `--quiet`: plain-text progress lines are not printed, nor `ok` or
    /// `failed` (as git-annex's `-q`); JSON, warnings and errors still are.
    pub fn quiet(mut self, on: bool) -> Reporter {
        self.quiet = on;
        self
    }

    /// Whether plain output escapes the non-ASCII bytes of file names
    /// (`core.quotepath`, true unless set false).
    pub fn quote_path(mut self, on: bool) -> Reporter {
        self.quote_path = on;
        self
    }

    /// Whether output is JSON.
    pub fn is_json(&self) -> bool {
        self.mode == Mode::Json
    }

    /// Whether side messages such as `(recording state in git...)` are
    /// shown: plain output without `--quiet`, as git-annex's
    /// `showSideAction`.
    pub fn shows_side_messages(&self) -> bool {
        self.mode == Mode::Plain && !self.quiet
    }

    /// Counts a failure that had no action of its own (e.g. a path that
    /// matched nothing).
    pub fn count_failure(&mut self) {
        self.failures += 1;
    }

    /// Starts an action on `file` (a path as shown to the user) or on a
    /// key alone. `input` is the command-line item that led to it (shown
    /// as `"input"` in JSON). Plain mode prints `COMMAND FILE ` at once.
    pub fn start(
        &mut self,
        file: Option<&[u8]>,
        key: Option<&annex_core::key::Key>,
        input: &[u8],
    ) -> Result<Action<'_>, CommandError> {
        self.start_opt(file, key, Some(input))
    }

    /// [`Reporter::start`] for an action that may come from no
    /// command-line item (`--key`, `--all`): its JSON `input` is then `[]`.
    pub fn start_opt(
        &mut self,
        file: Option<&[u8]>,
        key: Option<&annex_core::key::Key>,
        input: Option<&[u8]>,
    ) -> Result<Action<'_>, CommandError> {
        if let Some(stop) = crate::global::time_limit_reached() {
            return Err(stop);
        }
        let mut fields = Map::new();
        fields.insert("command".into(), Value::String(self.command.clone()));
        fields.insert(
            "input".into(),
            Value::Array(input.map(|i| Value::String(lossy(i))).into_iter().collect()),
        );
        if let Some(f) = file {
            fields.insert("file".into(), Value::String(lossy(f)));
        }
        if let Some(k) = key {
            fields.insert("key".into(), Value::String(k.to_string()));
        }
        if self.mode == Mode::Plain && !self.quiet {
            let shown = match (file, key) {
                (Some(f), _) => quote(f, self.quote_path),
                (None, Some(k)) => k.as_bytes().to_vec(),
                (None, None) => input.unwrap_or_default().to_vec(),
            };
            let mut out = std::io::stdout().lock();
            out.write_all(self.command.as_bytes())
                .and_then(|()| out.write_all(b" "))
                .and_then(|()| out.write_all(&shown))
                .and_then(|()| out.write_all(b" "))
                .and_then(|()| out.flush())
                .map_err(CommandError::from_write)?;
        }
        Ok(Action {
            reporter: self,
            fields,
            notes: Vec::new(),
            errors: Vec::new(),
            line_broken: false,
        })
    }

    /// Prints the summary (`COMMAND: N failed` on stderr) and returns the
    /// command's result: exit code 1 after any failure.
    pub fn finish(self) -> Result<(), CommandError> {
        if self.failures > 0 {
            Err(CommandError::quiet_failure(format!(
                "{}: {} failed",
                self.command, self.failures
            )))
        } else {
            Ok(())
        }
    }
}

/// One action in progress; it must be ended with [`Action::end`].
#[derive(Debug)]
pub struct Action<'a> {
    reporter: &'a mut Reporter,
    fields: Map<String, Value>,
    notes: Vec<String>,
    errors: Vec<String>,
    /// A warning interrupted the action's line (plain mode).
    line_broken: bool,
}

impl Action<'_> {
    fn mend_line(&mut self) -> Result<(), CommandError> {
        if self.line_broken {
            self.line_broken = false;
            if !self.reporter.quiet {
                crate::output::text(format_args!("\n"))?;
            }
        }
        Ok(())
    }

    /// Adds a note: plain mode prints `(NOTE) ` at once; JSON collects
    /// them into `"note"`, one a line.
    pub fn note(&mut self, note: &str) -> Result<(), CommandError> {
        self.mend_line()?;
        if self.reporter.mode == Mode::Plain && !self.reporter.quiet {
            crate::output::text(format_args!("({note}) "))?;
            let _ = std::io::stdout().flush();
        }
        self.notes.push(note.to_string());
        Ok(())
    }

    /// Adds a long note (git-annex's `showLongNote`): plain mode prints it
    /// on lines of its own, each indented by two spaces, after a newline;
    /// JSON adds it to `"note"`.
    pub fn long_note(&mut self, note: &str) -> Result<(), CommandError> {
        self.mend_line()?;
        if self.reporter.mode == Mode::Plain && !self.reporter.quiet {
            let indented: Vec<String> = note.lines().map(|l| format!("  {l}")).collect();
            crate::output::text(format_args!("\n{}\n", indented.join("\n")))?;
            let _ = std::io::stdout().flush();
        }
        self.notes.push(note.to_string());
        Ok(())
    }

    /// The action as git-annex shows it inside a `--json-progress` object:
    /// `command`, `file`, `input`, `key` and the notes so far.
    pub fn progress_object(&self) -> Value {
        let mut o = Map::new();
        for k in ["command", "file", "input", "key"] {
            if let Some(v) = self.fields.get(k) {
                o.insert(k.to_string(), v.clone());
            }
        }
        if !self.notes.is_empty() {
            o.insert("note".into(), Value::String(self.notes.join("\n")));
        }
        Value::Object(o)
    }

    /// Whether output is JSON.
    pub fn is_json(&self) -> bool {
        self.reporter.mode == Mode::Json
    }

    /// A warning in the middle of the action (git-annex's `warning`, which
    /// is also how it shows a failed transfer or an unreachable remote):
    /// plain mode ends the action's line on stdout, and the message goes to
    /// stderr indented; it is not one of the action's `error-messages`.
    pub fn warning(&mut self, message: &str) {
        if self.reporter.mode == Mode::Json && self.reporter.json_error_messages {
            // `--json-error-messages`: warnings go into the object.
            self.errors.push(message.to_string());
            return;
        }
        let _ = std::io::stdout().flush();
        eprintln!("  {message}");
        // After a note (where git-annex would draw a meter) the action's
        // line is taken as interrupted: what comes next starts on a new line.
        if self.reporter.mode == Mode::Plain && !self.notes.is_empty() {
            self.line_broken = true;
        }
    }

    /// Sets an extra JSON field (ignored in plain mode).
    pub fn field(&mut self, name: &str, value: Value) {
        self.fields.insert(name.to_string(), value);
    }

    /// Takes a field out of the JSON object (a file shown in plain text
    /// that git-annex leaves out of its JSON, as `--branch`'s `REF:PATH`).
    pub fn remove_field(&mut self, name: &str) {
        self.fields.remove(name);
    }

    /// Reports an error of this action: on stderr (indented, after the
    /// action's line has started) unless JSON error messages are on, and
    /// in `"error-messages"`.
    pub fn error(&mut self, message: &str) {
        if self.reporter.mode == Mode::Plain {
            let _ = std::io::stdout().flush();
            eprintln!();
            eprintln!("  {message}");
        } else if !self.reporter.json_error_messages {
            eprintln!("git-annex-rs: {message}");
        }
        self.errors.push(message.to_string());
    }

    /// Prints a warning about this action as git-annex does: plain mode
    /// ends the current line on stdout and prints the message on stderr,
    /// each line indented by two spaces; JSON prints it on stderr the same
    /// way, or only records it in `"error-messages"` with JSON error
    /// messages on.
    pub fn warn(&mut self, message: &str) -> Result<(), CommandError> {
        if self.reporter.mode == Mode::Plain && !self.reporter.quiet {
            crate::output::line(format_args!(""))?;
        }
        if self.reporter.mode == Mode::Plain || !self.reporter.json_error_messages {
            let mut text = String::new();
            // Line by line as git-annex indents: a final newline adds no line.
            for l in message.lines() {
                text.push_str("  ");
                text.push_str(l);
                text.push('\n');
            }
            eprint!("{text}");
        } else {
            // One entry a line, as git-annex records them.
            self.errors.extend(message.lines().map(str::to_string));
        }
        Ok(())
    }

    /// Reports the error that stopped this action, as git-annex reports an
    /// exception inside an action: plain mode ends the action's line on
    /// stdout and prints `git-annex-rs: MESSAGE` on stderr; JSON prints it
    /// on stderr too, or, with JSON error messages on, records it (with the
    /// program name) in `"error-messages"` instead.
    pub fn fail(&mut self, message: &str) -> Result<(), CommandError> {
        if self.reporter.mode == Mode::Plain && !self.reporter.quiet {
            crate::output::line(format_args!(""))?;
        }
        if self.reporter.mode == Mode::Plain || !self.reporter.json_error_messages {
            eprintln!("git-annex-rs: {message}");
        } else {
            self.errors.push(format!("git-annex-rs: {message}"));
        }
        Ok(())
    }

    /// Prints text in the middle of the action (plain mode only), e.g. the
    /// locations of `whereis`.
    pub fn say(&mut self, text: &[u8]) -> Result<(), CommandError> {
        if self.reporter.mode == Mode::Plain && !self.reporter.quiet {
            crate::output::bytes(text)?;
        }
        Ok(())
    }

    /// Ends the action: plain mode prints `ok` or `failed`; JSON prints the
    /// object with `"success"`. A failure is counted.
    pub fn end(mut self, success: bool) -> Result<(), CommandError> {
        // As git-annex, an adjusted branch depending on content may be
        // refreshed while the action goes on (nothing shown).
        crate::adjusted_branch_refresh_due();
        self.mend_line()?;
        if !success {
            self.reporter.failures += 1;
        }
        match self.reporter.mode {
            Mode::Plain => {
                if !self.reporter.quiet {
                    crate::output::line(format_args!("{}", if success { "ok" } else { "failed" }))?;
                }
            }
            Mode::Json => {
                if !self.notes.is_empty() {
                    self.fields
                        .insert("note".into(), Value::String(self.notes.join("\n")));
                }
                self.fields.insert("success".into(), Value::Bool(success));
                self.fields.insert(
                    "error-messages".into(),
                    Value::Array(self.errors.drain(..).map(Value::String).collect()),
                );
                print_json(&Value::Object(std::mem::take(&mut self.fields)))?;
            }
        }
        Ok(())
    }
}

/// Prints one JSON value on its own line (keys sorted, as git-annex's are).
pub fn print_json(v: &Value) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, v)
        .map_err(|e| CommandError::failed(format!("cannot write JSON: {e}")))?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(CommandError::from_write)
}

/// A file name as git-annex shows it in messages: unchanged when it has
/// nothing to escape, else C-escaped (control characters, `\\`, `"`, and
/// with `quote_path` every non-ASCII byte as octal) inside double quotes.
pub fn quote(name: &[u8], quote_path: bool) -> Vec<u8> {
    let special =
        |c: u8| c < 0x20 || c == b'\\' || c == 0x7f || c == b'"' || (quote_path && c >= 0x80);
    if !name.iter().any(|&c| special(c)) {
        return name.to_vec();
    }
    let mut out = vec![b'"'];
    for &c in name {
        let esc = match c {
            0x07 => Some(b'a'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x0b => Some(b'v'),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            _ => None,
        };
        match esc {
            Some(e) => out.extend_from_slice(&[b'\\', e]),
            None if special(c) => out.extend_from_slice(format!("\\{c:03o}").as_bytes()),
            None => out.push(c),
        }
    }
    out.push(b'"');
    out
}

/// Bytes as a JSON string: git-annex writes invalid UTF-8 lossily.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The output options most commands share, to `#[command(flatten)]`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Output one JSON object per action.
    #[arg(long = "json", short = 'j')]
    pub json: bool,
    /// Include progress objects in the JSON output (implies --json).
    #[arg(long = "json-progress")]
    pub json_progress: bool,
    /// Put error messages into the JSON objects instead of on stderr.
    #[arg(long = "json-error-messages")]
    pub json_error_messages: bool,
    /// Avoid the usual informational output.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl OutputArgs {
    /// A reporter for `command` with these options.
    pub fn reporter(&self, command: &str) -> Reporter {
        // `--json-error-messages` implies JSON output, as in git-annex.
        let mode = if self.json || self.json_progress || self.json_error_messages {
            Mode::Json
        } else {
            Mode::Plain
        };
        Reporter::new(command, mode)
            .json_error_messages(self.json_error_messages)
            .quiet(self.quiet || crate::global::get().quiet)
    }
}

/// The `-c name=value` overrides and `-J N` most commands share, to
/// `#[command(flatten)]`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    pub config: Vec<String>,
    /// Run N jobs in parallel (`cpus` for one per core).
    #[arg(short = 'J', long = "jobs", value_name = "N")]
    pub jobs: Option<String>,
}

impl CommonArgs {
    /// The number of jobs asked for (`-J N`, `-Jcpus`), at least 1.
    pub fn jobs(&self) -> Result<usize, CommandError> {
        match self.jobs.as_deref() {
            None => Ok(1),
            Some("cpus") => Ok(std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)),
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| CommandError::failed(format!("bad number of jobs: {n}"))),
        }
    }
}
