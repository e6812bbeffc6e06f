//! The TOML file of `--config`: the flat keys of every group (named as the flags, with
//! underscores) and `[[apps]]`, `[[webhooks]]`. The file is read key by key so that toml
//! points each error at its line; no message quotes a value of the file (it may be a
//! secret).
use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{
    ConfigError, DatabaseLayer, HttpLayer, LogLayer, RateLimitLayer, SettingsLayer, TokenLayer,
    WebhookDeliveryLayer, WechatLayer,
};

impl SettingsLayer {
    /// Read a TOML file: top-level keys as the flags' names, apps as `[[apps]]`.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parse TOML text. The error message never quotes the file's values (it may hold
    /// secrets), only where the problem is.
    pub fn from_toml_str(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let location = e
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!(" at line {line}")
                })
                .unwrap_or_default();
            format!("{}{location}", without_quoted_values(e.message()))
        })
    }
}

/// The file's top-level keys besides the groups' settings.
const LIST_AND_WEBHOOK_KEYS: [&str; 4] = ["apps", "webhooks", "webhook_url", "webhook_secret"];

/// Every top-level key of the file, for the message about an unknown one.
pub(super) static FILE_KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    [
        HttpLayer::KEYS,
        DatabaseLayer::KEYS,
        WechatLayer::KEYS,
        TokenLayer::KEYS,
        RateLimitLayer::KEYS,
        LogLayer::KEYS,
        WebhookDeliveryLayer::KEYS,
        &LIST_AND_WEBHOOK_KEYS,
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect()
});

/// The file is read key by key (see `layered` for why not `serde(flatten)`); each value
/// is deserialized where toml can point at its line.
impl<'de> Deserialize<'de> for SettingsLayer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FileVisitor)
    }
}

struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = SettingsLayer;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct SettingsLayer")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SettingsLayer, A::Error> {
        let mut layer = SettingsLayer::default();
        while let Some(key) = map.next_key_seed(KnownKey)? {
            match key {
                "apps" => layer.apps = map.next_value()?,
                "webhooks" => layer.webhooks = map.next_value()?,
                "webhook_url" => layer.webhook_url = Some(map.next_value()?),
                "webhook_secret" => layer.webhook_secret = Some(map.next_value()?),
                _ => {
                    let read = layer.http.read_toml_value(key, &mut map)?
                        || layer.database.read_toml_value(key, &mut map)?
                        || layer.wechat.read_toml_value(key, &mut map)?
                        || layer.tokens.read_toml_value(key, &mut map)?
                        || layer.rate_limits.read_toml_value(key, &mut map)?
                        || layer.log.read_toml_value(key, &mut map)?
                        || layer.webhook_delivery.read_toml_value(key, &mut map)?;
                    debug_assert!(read, "{key} is in FILE_KEYS but no group reads it");
                }
            }
        }
        Ok(layer)
    }
}

/// A key of [`FILE_KEYS`]; any other is refused where it stands.
struct KnownKey;

impl<'de> DeserializeSeed<'de> for KnownKey {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KnownKey {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<&'static str, E> {
        let keys: &'static [&'static str] = &FILE_KEYS;
        keys.iter()
            .find(|known| **known == key)
            .copied()
            .ok_or_else(|| E::unknown_field(key, keys))
    }
}

/// toml quotes offending values between backticks; drop them, they may be secrets.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (index, part) in message.split('`').enumerate() {
        out.push_str(if index % 2 == 0 { part } else { "…" });
    }
    out
}
