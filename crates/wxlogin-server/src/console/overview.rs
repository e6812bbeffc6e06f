//! The overview: logins and their outcomes over the last hour and day, WeChat's errors and
//! latency, live sessions and the webhook backlog. The figures are the database's (every
//! instance's per-minute counts, see `minute_tally`), so any instance draws the same page.
use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup};

use super::charts::{line, stacked_bars, Bar};
use super::i18n::{Lang, Texts};
use super::layout::{page, Frame, Section};
use super::refusal::Refusal;
use super::session::Operator;
use crate::minute_tally::{LOGIN_SERIES, UPSTREAM_SERIES};
use crate::state::AppState;
use crate::storage::MinuteCount;

const HOUR: i64 = 60;
const DAY: i64 = 24 * 60;

/// What the overview shows, computed from the per-minute rows.
#[derive(Debug, Default, PartialEq)]
pub struct Figures {
    /// One bar per minute, the oldest first; the last is the current minute.
    pub hour: Vec<Bar>,
    /// One bar per hour.
    pub day: Vec<Bar>,
    /// Login outcomes over the last day, most frequent first.
    pub outcomes: Vec<(String, i64)>,
    /// WeChat calls that answered an errcode other than 0 over the last day: (endpoint,
    /// errcode, count), most frequent first.
    pub upstream_errors: Vec<(String, String, i64)>,
    /// Average WeChat call latency per minute over the last hour.
    pub latency: Vec<Option<f64>>,
    pub calls_last_hour: i64,
    pub average_latency_ms: Option<f64>,
}

fn is_success(outcome: &str) -> bool {
    outcome == "success" || outcome == "retry"
}

/// Fold the rows of the last day into the overview's figures. `current` is this minute.
pub fn figures(rows: &[MinuteCount], current: i64) -> Figures {
    let mut hour = vec![Bar::default(); HOUR as usize];
    let mut day = vec![Bar::default(); 24];
    let mut outcomes: BTreeMap<String, i64> = BTreeMap::new();
    let mut errors: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut latency = vec![(0i64, 0i64); HOUR as usize];
    for row in rows {
        let age = current - row.minute;
        if !(0..DAY).contains(&age) {
            continue;
        }
        match row.series.as_str() {
            LOGIN_SERIES => {
                let add = |bar: &mut Bar| {
                    if is_success(&row.label) {
                        bar.ok += row.count;
                    } else {
                        bar.refused += row.count;
                    }
                };
                if age < HOUR {
                    add(&mut hour[(HOUR - 1 - age) as usize]);
                }
                add(&mut day[(23 - age / 60) as usize]);
                *outcomes.entry(row.label.clone()).or_default() += row.count;
            }
            UPSTREAM_SERIES => {
                let (endpoint, errcode) = row.label.split_once(' ').unwrap_or((&row.label, "0"));
                if errcode != "0" {
                    *errors
                        .entry((endpoint.to_owned(), errcode.to_owned()))
                        .or_default() += row.count;
                }
                if age < HOUR {
                    let slot = &mut latency[(HOUR - 1 - age) as usize];
                    slot.0 += row.count;
                    slot.1 += row.total_ms;
                }
            }
            _ => {}
        }
    }
    let calls_last_hour = latency.iter().map(|(count, _)| count).sum::<i64>();
    let total_ms = latency.iter().map(|(_, ms)| ms).sum::<i64>();
    let mut outcomes: Vec<(String, i64)> = outcomes.into_iter().collect();
    outcomes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut upstream_errors: Vec<(String, String, i64)> = errors
        .into_iter()
        .map(|((endpoint, errcode), count)| (endpoint, errcode, count))
        .collect();
    upstream_errors.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    Figures {
        hour,
        day,
        outcomes,
        upstream_errors,
        latency: latency
            .iter()
            .map(|(count, ms)| (*count > 0).then(|| *ms as f64 / *count as f64))
            .collect(),
        calls_last_hour,
        average_latency_ms: (calls_last_hour > 0).then(|| total_ms as f64 / calls_last_hour as f64),
    }
}

fn totals(bars: &[Bar]) -> (i64, i64) {
    bars.iter().fold((0, 0), |(ok, refused), bar| {
        (ok + bar.ok, refused + bar.refused)
    })
}

/// The legend with the totals, and the bars.
fn login_chart(
    texts: &Texts,
    name: &str,
    bars: &[Bar],
    titles: &[String],
    axis: [&str; 3],
) -> Markup {
    let (ok, refused) = totals(bars);
    let label = format!(
        "{name}: {ok} {}, {refused} {}",
        texts.successful, texts.refused
    );
    html! {
        p.legend {
            span.key.ok {} (texts.successful) " " strong { (ok) }
            " · "
            span.key.refused {} (texts.refused) " " strong { (refused) }
        }
        (stacked_bars(&label, bars, titles, axis))
    }
}

pub async fn overview(
    State(state): State<AppState>,
    lang: Lang,
    operator: Operator,
) -> Result<Response, Refusal> {
    let texts = lang.texts();
    let store = state.store();
    // What this instance counted since its last flush shows at once.
    state.minute_tally().flush(store).await;
    let now = state.now();
    let current = now.div_euclid(60);
    let rows = store.minute_counts_since(current - DAY + 1).await?;
    let figures = figures(&rows, current);
    let active_sessions = store.count_active_sessions(now).await?;
    let deliveries = store.webhook_delivery_counts().await?;
    let minute_titles: Vec<String> = (0..HOUR)
        .rev()
        .map(|age| format!("-{age} {}", texts.minutes_ago))
        .collect();
    let hour_titles: Vec<String> = (0..24)
        .rev()
        .map(|age| format!("-{age} {}", texts.hours_ago))
        .collect();
    let body = html! {
        h1 { (texts.overview) }
        p.hint { (texts.figures_note) }
        section.figures {
            dl {
                div { dt { (texts.active_sessions) } dd { (active_sessions) } }
                div { dt { (texts.webhook_backlog) } dd { (deliveries.pending) } }
                div.bad[deliveries.dead > 0] { dt { (texts.dead_deliveries) } dd { (deliveries.dead) } }
            }
        }
        section {
            h2 { (texts.logins_last_hour) }
            (login_chart(texts, texts.chart_logins_hour, &figures.hour, &minute_titles,
                [&format!("-60 {}", texts.minutes_ago), &format!("-30 {}", texts.minutes_ago), texts.now]))
        }
        section {
            h2 { (texts.logins_last_day) }
            (login_chart(texts, texts.chart_logins_day, &figures.day, &hour_titles,
                [&format!("-24 {}", texts.hours_ago), &format!("-12 {}", texts.hours_ago), texts.now]))
            @if !figures.outcomes.is_empty() {
                table.outcomes {
                    caption { (texts.outcomes) }
                    thead { tr { th scope="col" { (texts.outcome) } th scope="col" { (texts.count) } } }
                    tbody {
                        @for (outcome, count) in &figures.outcomes {
                            tr { td { code { (outcome) } } td.num { (count) } }
                        }
                    }
                }
            }
        }
        section {
            h2 { (texts.upstream_errors) }
            @if figures.upstream_errors.is_empty() {
                p { (texts.no_upstream_errors) }
            } @else {
                table {
                    thead { tr { th scope="col" { (texts.endpoint) } th scope="col" { (texts.errcode) } th scope="col" { (texts.count) } } }
                    tbody {
                        @for (endpoint, errcode, count) in &figures.upstream_errors {
                            tr { td { code { (endpoint) } } td { code { (errcode) } } td.num { (count) } }
                        }
                    }
                }
            }
        }
        section {
            h2 { (texts.upstream_latency) }
            dl.inline {
                div { dt { (texts.calls) } dd { (figures.calls_last_hour) } }
                div { dt { (texts.average_latency) } dd {
                    @match figures.average_latency_ms { Some(ms) => { (format!("{ms:.1} ms")) } None => { "–" } }
                } }
            }
            (line(texts.chart_latency, &figures.latency, "ms",
                [&format!("-60 {}", texts.minutes_ago), &format!("-30 {}", texts.minutes_ago), texts.now]))
        }
    };
    Ok(page(
        Frame {
            lang,
            operator: &operator,
            section: Section::Overview,
            title: texts.overview,
            path: "/admin/",
        },
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(minute: i64, series: &str, label: &str, count: i64, total_ms: i64) -> MinuteCount {
        MinuteCount {
            minute,
            series: series.to_owned(),
            label: label.to_owned(),
            count,
            total_ms,
        }
    }

    #[test]
    fn rows_fold_into_minute_and_hour_bars_outcomes_errors_and_latency() {
        let now = 100_000;
        let rows = [
            row(now, "login", "success", 3, 0),
            row(now, "login", "code_used", 1, 0),
            row(now - 1, "login", "retry", 2, 0),
            row(now - 90, "login", "success", 5, 0),
            row(now - DAY, "login", "success", 99, 0), // a day old: out
            row(now, "upstream", "jscode2session 0", 4, 40),
            row(now, "upstream", "jscode2session 40029", 1, 10),
            row(now - 2, "upstream", "getuserphonenumber -1", 2, 600),
        ];
        let figures = figures(&rows, now);
        assert_eq!(figures.hour[59], Bar { ok: 3, refused: 1 });
        assert_eq!(figures.hour[58], Bar { ok: 2, refused: 0 });
        assert_eq!(
            figures.hour.iter().map(|b| b.ok + b.refused).sum::<i64>(),
            6
        );
        assert_eq!(figures.day[23], Bar { ok: 5, refused: 1 });
        assert_eq!(figures.day[22], Bar { ok: 5, refused: 0 });
        assert_eq!(
            figures.outcomes,
            vec![
                ("success".to_owned(), 8),
                ("retry".to_owned(), 2),
                ("code_used".to_owned(), 1)
            ]
        );
        assert_eq!(
            figures.upstream_errors,
            vec![
                ("getuserphonenumber".to_owned(), "-1".to_owned(), 2),
                ("jscode2session".to_owned(), "40029".to_owned(), 1)
            ]
        );
        assert_eq!(figures.latency[59], Some(10.0));
        assert_eq!(figures.latency[57], Some(300.0));
        assert_eq!(figures.latency[58], None);
        assert_eq!(figures.calls_last_hour, 7);
        assert_eq!(figures.average_latency_ms, Some(650.0 / 7.0));
    }
}
