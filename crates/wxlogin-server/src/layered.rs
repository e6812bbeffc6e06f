//! Each setting is declared once, in a `settings_group!` block: its name (the field, the
//! flag and the TOML key are the same word), its type, its default, its help text and its
//! flag attributes (`env = "WXLOGIN_…"`). From that block the macro makes
//!
//! * the group's settings (`HttpSettings`: plain fields, `Default` = the declared defaults),
//!   which tests build and lower layers take (`RateLimits::from(&RateLimitSettings)`);
//! * the group's layer (`HttpLayer`: every field `None` unless given), which derives
//!   `clap::Args` for the flags and environment and reads its keys from the TOML file; one
//!   merge ([`Given::over`]: the upper layer wins when it gives a value) and one
//!   `resolve` (the defaults fill the rest).
//!
//! Why the help's `[default: N]` is built here from the defaults and not by clap's
//! `default_value`: with a clap default, a flag not given would still hide the file's value.
//! Why the TOML keys are read one by one and not through `#[serde(flatten)]`: through
//! flatten, toml reports every error at line 1 and an unknown key without the known ones.
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A value as a layer gives it (a flag, a variable or a TOML key), and the setting it
/// becomes. Mostly the same type; a duration is given in seconds (or milliseconds).
pub trait Given: Sized {
    type Setting;

    fn into_setting(self) -> Self::Setting;

    /// The default as the help shows it (`[default: …]`).
    fn shown(default: &Self::Setting) -> String;

    /// The value of two layers: the upper one's when it gives one.
    fn over(upper: Option<Self>, lower: Option<Self>) -> Option<Self> {
        upper.or(lower)
    }
}

/// `Given` for types given as themselves and shown by `Display`.
macro_rules! given_as_itself {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::layered::Given for $ty {
            type Setting = $ty;

            fn into_setting(self) -> $ty {
                self
            }

            fn shown(default: &$ty) -> String {
                default.to_string()
            }
        }
    )*};
}
pub(crate) use given_as_itself;

given_as_itself!(u32, usize, String);

/// A switch: a flag can only turn it on (`--trust-forwarded-for`, or its variable set to
/// `true`); not given, or `false`, leaves the file's choice.
impl Given for bool {
    type Setting = bool;

    fn into_setting(self) -> bool {
        self
    }

    fn shown(default: &bool) -> String {
        default.to_string()
    }

    fn over(upper: Option<bool>, lower: Option<bool>) -> Option<bool> {
        match upper {
            Some(true) => Some(true),
            _ => lower.or(upper),
        }
    }
}

/// A duration given in whole seconds (flags and TOML alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub u64);

/// A duration given in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub u64);

macro_rules! duration_unit {
    ($unit:ident, $from:path, $as:ident) => {
        impl Given for $unit {
            type Setting = Duration;

            fn into_setting(self) -> Duration {
                $from(self.0)
            }

            fn shown(default: &Duration) -> String {
                default.$as().to_string()
            }
        }

        impl FromStr for $unit {
            type Err = std::num::ParseIntError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($unit)
            }
        }

        impl<'de> Deserialize<'de> for $unit {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                u64::deserialize(deserializer).map($unit)
            }
        }
    };
}

duration_unit!(Seconds, Duration::from_secs, as_secs);
duration_unit!(Millis, Duration::from_millis, as_millis);

/// The help of a flag as clap makes it from a doc comment (lines trimmed and joined, one
/// trailing period dropped), followed by the default unless the setting hides it.
pub fn help_text(doc_lines: &[&str], shown_default: Option<String>) -> String {
    let mut help = doc_lines
        .iter()
        .map(|line| line.trim())
        .collect::<Vec<_>>()
        .join(" ");
    if help.ends_with('.') && !help.ends_with("..") {
        help.pop();
    }
    if let Some(default) = shown_default {
        help.push_str(&format!(" [default: {default}]"));
    }
    help
}

/// The layer type of a setting: `Setting as Given`, or the setting's own type.
macro_rules! given_type {
    ($setting:ty) => {
        $setting
    };
    ($setting:ty as $given:ty) => {
        $given
    };
}
pub(crate) use given_type;

/// `[default: …]` in the help, except for a setting marked `; no_default_in_help`.
macro_rules! shown_default {
    (no_default_in_help $($shown:tt)*) => {
        None
    };
    ($($shown:tt)*) => {
        Some($($shown)*)
    };
}
pub(crate) use shown_default;

/// Declare a group of settings; see the module documentation. Each field reads
///
/// ```text
/// /// Help text (the flag's help, and the field's documentation).
/// #[arg(long, env = "WXLOGIN_NAME", value_name = "SECS")]
/// pub name: Duration as Seconds = Duration::from_secs(5),
/// ```
///
/// with `as Given` only where the value is given as another type than the setting's, and
/// an optional `; no_default_in_help` before the comma. A switch (`bool`) also takes
/// `num_args = 0, default_missing_value = "true"`: without them clap would give `false`
/// for a flag not given, and the file could not switch it on.
macro_rules! settings_group {
    (
        $(#[doc = $doc:literal])*
        pub struct $settings:ident, layer $layer:ident {
            $(
                $(#[doc = $field_doc:literal])*
                #[arg($($arg:tt)*)]
                pub $field:ident: $ty:ty $(as $given:ty)? = $default:expr $(; $quiet:ident)?,
            )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone)]
        pub struct $settings {
            $($(#[doc = $field_doc])* pub $field: $ty,)*
        }

        impl Default for $settings {
            fn default() -> Self {
                $settings { $($field: $default,)* }
            }
        }

        #[doc = concat!("[`", stringify!($settings), "`] as one source gives them (flags and")]
        /// environment, or the TOML file); `None`: not given there.
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct $layer {
            $(
                #[arg($($arg)*, help = $crate::layered::help_text(
                    &[$($field_doc),*],
                    $crate::layered::shown_default!($($quiet)?
                        <$crate::layered::given_type!($ty $(as $given)?) as $crate::layered::Given>::shown(
                            &<$settings as Default>::default().$field
                        )
                    ),
                ))]
                pub $field: Option<$crate::layered::given_type!($ty $(as $given)?)>,
            )*
        }

        impl $layer {
            /// The TOML keys of this group.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// What `self` gives, and what it lacks from `lower`.
            pub fn or(self, lower: Self) -> Self {
                $layer {
                    $($field: $crate::layered::Given::over(self.$field, lower.$field),)*
                }
            }

            /// The given values, and the defaults for the others.
            pub fn resolve(self) -> $settings {
                let defaults = <$settings as Default>::default();
                $settings {
                    $($field: match self.$field {
                        Some(given) => $crate::layered::Given::into_setting(given),
                        None => defaults.$field,
                    },)*
                }
            }

            /// Read the value of `key` from a TOML table if the key is one of this group's
            /// (false if it is not).
            pub fn read_toml_value<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<bool, A::Error> {
                match key {
                    $(stringify!($field) => self.$field = Some(map.next_value()?),)*
                    _ => return Ok(false),
                }
                Ok(true)
            }
        }
    };
}
pub(crate) use settings_group;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_is_joined_like_claps_doc_comments_with_the_default_after() {
        let help = help_text(
            &[" Deadline of one call,", " in seconds."],
            Some("5".into()),
        );
        assert_eq!(help, "Deadline of one call, in seconds [default: 5]");
        assert_eq!(
            help_text(&[" Ends with a period."], None),
            "Ends with a period"
        );
    }

    #[test]
    fn a_switch_given_off_leaves_the_lower_layers_choice() {
        assert_eq!(bool::over(Some(false), Some(true)), Some(true));
        assert_eq!(bool::over(None, Some(true)), Some(true));
        assert_eq!(bool::over(Some(true), Some(false)), Some(true));
        assert_eq!(bool::over(Some(false), None), Some(false));
        assert_eq!(u32::over(Some(0), Some(5)), Some(0));
    }
}
