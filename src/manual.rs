//! `chathost completions SHELL` and `chathost man`: both generated from the
//! clap definition, so they cannot drift from the commands.

use std::io::{self, Write};

use clap::{Arg, Command};
use roff::{Roff, bold, italic, roman};

/// groff's apostrophe set-up, which roff writes before every block.
const APOSTROPHES: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

/// Writes the completion script for `shell`.
pub fn completions(
    shell: clap_complete::Shell,
    cmd: &mut Command,
    out: &mut dyn Write,
) -> io::Result<()> {
    // Into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, cmd, "chathost", &mut script);
    out.write_all(&script)
}

/// Writes the man page: one page, `chathost(1)`, with a section per
/// command (its options, defaults and values), as `man -l` renders it.
pub fn man(cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    let mut page = Vec::new();
    render(cmd, &mut page)?;
    let page = String::from_utf8_lossy(&page).replace(APOSTROPHES, "");
    // `.TH` first (what man and lintian expect), the set-up once after it.
    let (title, rest) = page.split_once('\n').unwrap_or((&page, ""));
    write!(out, "{title}\n{APOSTROPHES}{rest}")
}

fn render(cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    let page = clap_mangen::Man::new(cmd.clone());
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        command_section(&mut roff, sub);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    roff.control("TP", [])
        .text([bold("RUST_LOG")])
        .text([roman("Log levels, as info,chathost=debug (default: info).")]);
    roff.control("TP", [])
        .text([bold("JOURNAL_STREAM")])
        .text([roman(
            "Set by systemd: while it names stderr, the log goes to the journal with its fields \
         (CHATHOST_NAME, CHATHOST_DATE, CHATHOST_KEY, CHATHOST_REMOTE_ID, CHATHOST_LATE_MS).",
        )]);
    roff.to_writer(out)?;
    page.render_version_section(out)
}

/// One command: its usage line, what it does, and each argument.
fn command_section(roff: &mut Roff, sub: &Command) {
    roff.control("SS", [format!("chathost {}", sub.get_name()).as_str()]);
    let about = sub.get_long_about().or_else(|| sub.get_about());
    if let Some(about) = about {
        roff.text([roman(about.to_string())]);
    }
    for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
        if arg.get_id() == "help" {
            continue;
        }
        roff.control("TP", []).text(arg_header(arg));
        let mut help = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        // clap drops a doc comment's last full stop.
        if !help.is_empty() && !help.ends_with(['.', '?', '!']) {
            help.push('.');
        }
        if !values.is_empty() && arg.get_action().takes_values() {
            help.push_str(&format!(" One of: {}.", values.join(", ")));
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() && arg.get_action().takes_values() {
            help.push_str(&format!(" Default: {}.", defaults.join(", ")));
        }
        roff.text([roman(help.trim_start().to_string())]);
    }
}

/// `--config <CONFIG>` or `<CHAT>`, in the man page's typefaces.
fn arg_header(arg: &Arg) -> Vec<roff::Inline> {
    let value = arg
        .get_value_names()
        .and_then(|n| n.first())
        .map(|n| n.to_string())
        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
    match arg.get_long() {
        Some(long) if arg.get_action().takes_values() => {
            vec![
                bold(format!("--{long}")),
                roman(" "),
                italic(format!("<{value}>")),
            ]
        }
        Some(long) => vec![bold(format!("--{long}"))],
        None => vec![italic(format!("<{value}>"))],
    }
}
