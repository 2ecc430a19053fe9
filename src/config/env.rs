//! `CHATHOST__SECTION__KEY` environment overrides, layered over the file
//! through the `config` crate.

use std::collections::BTreeMap;

use super::ENV_PREFIX;
use super::locate::toml_error;
use super::raw::RawSettings;
use crate::diagnostic::{Diagnostic, SourceFile};

/// `CHATHOST__A__B=v` variables, as `a.b` → (variable name, value).
pub(super) fn env_overrides(env: &BTreeMap<String, String>) -> BTreeMap<String, (String, String)> {
    let prefix = format!("{ENV_PREFIX}__");
    env.iter()
        .filter(|(k, _)| k.starts_with(&prefix) && k.len() > prefix.len())
        .map(|(k, v)| {
            let path = k[prefix.len()..].to_lowercase().replace("__", ".");
            (path, (k.clone(), v.clone()))
        })
        .collect()
}

pub(super) fn layer_env(
    source: &SourceFile,
    overrides: &BTreeMap<String, (String, String)>,
) -> Result<RawSettings, Vec<Diagnostic>> {
    if overrides.is_empty() {
        // Nothing to layer: the strict parse is the answer.
        return toml::from_str(&source.text).map_err(|e| vec![toml_error(source, &e)]);
    }
    let env_map: config::Map<String, String> = overrides
        .values()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let built = config::Config::builder()
        .add_source(config::File::from_str(
            &source.text,
            config::FileFormat::Toml,
        ))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                // Off: "True" for a hashtag stays "True"; numbers and
                // booleans are still parsed where the schema wants them.
                .try_parsing(false)
                .source(Some(env_map)),
        )
        .build()
        .and_then(|c| c.try_deserialize::<RawSettings>());
    built.map_err(|e| {
        let names: Vec<&str> = overrides.values().map(|(k, _)| k.as_str()).collect();
        vec![
            Diagnostic::error(
                format!("environment ({})", names.join(", ")),
                format!("an override does not fit bot.toml: {e}"),
            )
            .with_help(
                "overrides are CHATHOST__SECTION__KEY=value, e.g. CHATHOST__INSTANCE__URL or \
                 CHATHOST__CHATS__<chat>__HASHTAG; fix or unset the variable",
            ),
        ]
    })
}
