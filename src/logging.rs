//! Where the log goes. Under systemd, when stderr is still the journal
//! stream systemd set up (`JOURNAL_STREAM`), events go to the journal
//! natively: each span field and event field (the chat's name and date, the
//! step key, the remote id, how late a post was) becomes a journal field
//! `CHATHOST_*` that `journalctl` can match on. Otherwise plain text to
//! stderr, coloured on a terminal. `RUST_LOG` sets the levels either way.
//!
//! The token cannot reach either: it is a [`chathost::secret::Secret`],
//! which formats as `********`, and both sinks format fields the same way.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use tracing_journald::{Priority, PriorityMappings};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The prefix of every field chathost sends to the journal, so that
/// `CHATHOST_KEY=q1` cannot collide with journald's own fields.
const FIELD_PREFIX: &str = "CHATHOST";

/// Installs the global logger; `default` is the filter when `RUST_LOG` is
/// not set.
pub fn init(default: &str) {
    let filter = filter(default);
    let ansi = std::io::stderr().is_terminal();
    let journal = journal_stream_is_stderr().then(journald);
    let plain = || tracing_subscriber::fmt::layer::<Base>().with_writer(std::io::stderr);
    let (out, unreachable): (Box<dyn Layer<Base> + Send + Sync>, _) = match journal {
        Some(Ok(layer)) => (Box::new(layer), None),
        // journald adds the time; colours would show as escape codes.
        Some(Err(e)) => (plain().without_time().with_ansi(false).boxed(), Some(e)),
        None => (plain().with_ansi(ansi).boxed(), None),
    };
    tracing_subscriber::registry().with(filter).with(out).init();
    if let Some(e) = unreachable {
        tracing::warn!("cannot write to the journal socket ({e}); logging plain text to stderr");
    }
}

/// What the output layer sits on: the registry behind the level filter.
type Base = tracing_subscriber::layer::Layered<EnvFilter, Registry>;

fn filter(default: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The scheduler says "Job creator created" at INFO on every long wait:
    // keep it to warnings unless RUST_LOG names it.
    if !std::env::var("RUST_LOG").is_ok_and(|v| v.contains("tokio_cron_scheduler"))
        && let Ok(quiet) = "tokio_cron_scheduler=warn".parse()
    {
        filter = filter.add_directive(quiet);
    }
    filter
}

/// The journal layer: fields prefixed, and levels on the usual syslog
/// priorities (INFO is `info`, not journald's `notice`), so that
/// `journalctl -p info` shows the routine lines and `-p warning` the problems.
fn journald() -> std::io::Result<tracing_journald::Layer> {
    let mut levels = PriorityMappings::new();
    levels.info = Priority::Informational;
    levels.debug = Priority::Debug;
    Ok(tracing_journald::Layer::new()?
        .with_field_prefix(Some(FIELD_PREFIX.into()))
        .with_syslog_identifier("chathost".into())
        .with_priority_mappings(levels))
}

/// Whether stderr is the stream systemd connected to the journal: as
/// systemd documents, `JOURNAL_STREAM` names its device and inode, and a
/// process whose stderr was redirected since (a shell in the unit, a pipe)
/// must not take it for the journal.
fn journal_stream_is_stderr() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    value
        .to_str()
        .is_some_and(|v| stream_matches(v, meta.dev(), meta.ino()))
}

/// Whether a `JOURNAL_STREAM` value (`DEVICE:INODE`, decimal) names this
/// device and inode.
fn stream_matches(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.trim().split_once(':') else {
        return false;
    };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

#[cfg(test)]
mod tests {
    use super::stream_matches;

    #[test]
    fn journal_stream_matches_only_the_same_device_and_inode() {
        assert!(stream_matches("64768:123456", 64768, 123456));
        assert!(!stream_matches("64768:123457", 64768, 123456));
        assert!(!stream_matches("64769:123456", 64768, 123456));
        assert!(!stream_matches("64768", 64768, 123456));
        assert!(!stream_matches("", 0, 0));
        assert!(!stream_matches("a:b", 0, 0));
    }
}
