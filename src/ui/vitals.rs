//! Vital signs: one SVG line chart per vital with dated axes, units, adult ranges and point
//! markers (flagged readings marked by shape, not only colour); the exact reading, with its flag,
//! under the pointer or the arrow keys; a windowed table of the same data; and a table of the
//! category's other readings.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::section::{status, Section, SectionSignal};
use crate::chart::format::number;
use crate::chart::graph::nearest;
use crate::chart::layout::{line_chart, LineChart};
use crate::chart::time::{date, date_time};
use crate::chart::vitals::{OtherReading, VitalSeries, Vitals as VitalsData};

/// An SVG coordinate, one decimal.
fn c(v: f64) -> String {
    number(v, 1)
}

/// The widest a chart is drawn (its viewBox); narrower in a small pane, so that its 11-unit
/// labels stay about 11 px on screen.
const W_MAX: f64 = 640.0;
const H: f64 = 220.0;

/// The chart's width in viewBox units: the page's width less the cards' margins, 280 to 640.
fn chart_width() -> f64 {
    (crate::web::viewport_width() - 64.0).clamp(280.0, W_MAX)
}
/// Time buckets per line: at most four points each are drawn (see `plot::downsample`).
const BUCKETS: usize = 160;

/// Points drawn as markers on a line when it has at most this many; beyond, only the flagged.
const ALL_MARKERS_UP_TO: usize = 200;

#[component]
pub fn Vitals(state: SectionSignal<VitalsData>) -> impl IntoView {
    view! {
        <div class="vitals">
            <h2 id="vitals-title">"Vital signs"</h2>
            {move || state.with(|s| status(s, "vital signs", "vitals").unwrap_or_else(|| match s {
                Section::Ready(v) if v.is_empty() => view! { <p class="empty" id="vitals-empty">"No vital signs recorded."</p> }.into_any(),
                Section::Ready(v) => view! {
                    {v.charted.iter().cloned().map(|v| view! { <VitalChart series=v/> }).collect_view()}
                    {(!v.other.is_empty()).then(|| view! { <OtherVitals rows=v.other.clone()/> })}
                }.into_any(),
                _ => ().into_any(),
            }))}
        </div>
    }
}

/// The value of reading `i` (blood pressure as systolic/diastolic at the same time) and its
/// flags in words.
fn value_and_flags(s: &VitalSeries, i: usize) -> Option<(String, String)> {
    let p = s.primary().get(i)?;
    Some(match s.series.get(1) {
        Some((_, dia)) => {
            let same_time = |j: &usize| dia.get(*j).filter(|d| d.t == p.t);
            let j = nearest(dia, p.t).filter(|j| same_time(j).is_some());
            let d = j
                .and_then(|j| same_time(&j))
                .map(|d| number(d.v, 1))
                .unwrap_or_else(|| "?".into());
            let flags: Vec<String> = [
                ("systolic", s.flag(0, i)),
                ("diastolic", j.and_then(|j| s.flag(1, j))),
            ]
            .into_iter()
            .filter_map(|(name, f)| {
                f.filter(|f| f.is_abnormal())
                    .map(|f| format!("{} ({name})", f.text()))
            })
            .collect();
            (format!("{}/{d}", number(p.v, 1)), flags.join(", "))
        }
        None => (
            number(p.v, 2),
            s.flag(0, i)
                .filter(|f| f.is_abnormal())
                .map(|f| f.text())
                .unwrap_or_default(),
        ),
    })
}

fn reading(s: &VitalSeries, i: usize) -> String {
    let Some((value, flags)) = value_and_flags(s, i) else {
        return String::new();
    };
    let Some(t) = s.primary().get(i).map(|p| p.t) else {
        return String::new();
    };
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" · {flags}")
    };
    format!("{} — {value} {}{flags}", date_time(t), s.vital.unit())
}

#[component]
fn VitalChart(series: VitalSeries) -> impl IntoView {
    let slug = series.vital.slug();
    let title = series.vital.title();
    let count = series.count();
    let w = chart_width();
    let Some(layout) = line_chart(
        &series.series,
        series.vital.bands(),
        series.vital.ceiling(),
        w,
        H,
        BUCKETS,
    ) else {
        return ().into_any();
    };
    let first = series
        .primary()
        .first()
        .map(|p| date(p.t))
        .unwrap_or_default();
    let last_index = count.saturating_sub(1);
    let summary = format!(
        "{title}: {count} readings from {first} to {}. Latest {}.",
        series
            .primary()
            .last()
            .map(|p| date(p.t))
            .unwrap_or_default(),
        reading(&series, last_index)
    );
    let selected = RwSignal::new(last_index);
    let show_table = RwSignal::new(false);
    let series = StoredValue::new(series);
    let LineChart {
        x,
        y,
        x_ticks,
        y_ticks,
        bands,
        lines,
        plot,
        ..
    } = layout;
    let (left, top, right, bottom) = plot;

    let on_move = move |ev: leptos::ev::MouseEvent| {
        let Some(el) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let scale = w / el.client_width().max(1) as f64;
        let t = x.invert(ev.offset_x() as f64 * scale) as i64;
        series.with_value(|s| {
            if let Some(i) = nearest(s.primary(), t) {
                selected.set(i);
            }
        });
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let step = if ev.shift_key() { 10 } else { 1 };
        match ev.key().as_str() {
            "ArrowLeft" => selected.update(|i| *i = i.saturating_sub(step)),
            "ArrowRight" => selected.update(|i| *i = (*i + step).min(last_index)),
            "Home" => selected.set(0),
            "End" => selected.set(last_index),
            _ => return,
        }
        ev.prevent_default();
    };
    // Each reading as a dot (small lines), and each flagged one as a triangle pointing its way.
    let points = series.with_value(|s| {
        s.series
            .iter()
            .enumerate()
            .flat_map(|(k, (_, pts))| {
                let all = pts.len() <= ALL_MARKERS_UP_TO;
                pts.iter().enumerate().filter_map(move |(i, p)| {
                    let flag = s.flag(k, i).filter(|f| f.is_abnormal());
                    if !all && flag.is_none() {
                        return None;
                    }
                    let (px, py) = (x.map(p.t as f64), y.map(p.v));
                    Some(match flag {
                        Some(f) => {
                            let d = if f.is_below() {
                                format!("M{},{}L{},{}L{},{}Z", c(px - 5.0), c(py - 4.0), c(px + 5.0), c(py - 4.0), c(px), c(py + 5.0))
                            } else {
                                format!("M{},{}L{},{}L{},{}Z", c(px - 5.0), c(py + 4.0), c(px + 5.0), c(py + 4.0), c(px), c(py - 5.0))
                            };
                            view! { <path class=format!("flag-point line-{k}") d=d><title>{f.label()}</title></path> }.into_any()
                        }
                        None => view! { <circle class=format!("point line-{k}") cx=c(px) cy=c(py) r="2.5"/> }.into_any(),
                    })
                }).collect::<Vec<_>>()
            })
            .collect_view()
    });
    let legend = series.with_value(|s| {
        (s.series.len() > 1).then(|| {
            view! {
                <p class="legend" aria-hidden="true">
                    {s.series.iter().enumerate().map(|(i, (name, _))| view! {
                        <span class=format!("key key-{i}")>{*name}</span>
                    }).collect_view()}
                </p>
            }
        })
    });
    let marker = move || {
        series.with_value(|s| {
            s.series
                .iter()
                .filter_map(|(_, pts)| {
                    let t = s.primary().get(selected.get())?.t;
                    let p = pts.get(nearest(pts, t)?)?;
                    Some(view! { <circle class="marker" cx=c(x.map(p.t as f64)) cy=c(y.map(p.v)) r="4"/> })
                })
                .collect_view()
        })
    };

    view! {
        <section class="card chart" id=format!("vital-{slug}") aria-labelledby=format!("vital-{slug}-title")>
            <h3 id=format!("vital-{slug}-title")>{title}<span class="unit">{format!(" ({})", series.with_value(|s| s.vital.unit()))}</span></h3>
            {legend}
            <svg class="line-chart" viewBox=format!("0 0 {} {}", number(w, 0), number(H, 0)) role="img" tabindex="0"
                aria-label=summary.clone() aria-describedby=format!("vital-{slug}-readout")
                on:mousemove=on_move on:keydown=on_key>
                <title>{summary.clone()}</title>
                {bands.into_iter().map(|(t, h)| view! {
                    <rect class="band" x=c(left) y=c(t) width=c(right - left) height=c(h)/>
                }).collect_view()}
                {y_ticks.into_iter().map(|(py, label)| view! {
                    <line class="grid" x1=c(left) x2=c(right) y1=c(py) y2=c(py)/>
                    <text class="tick" x=c(left - 4.0) y=c(py + 4.0) text-anchor="end">{label}</text>
                }).collect_view()}
                {x_ticks.into_iter().map(|(px, label)| view! {
                    <line class="grid" x1=c(px) x2=c(px) y1=c(top) y2=c(bottom)/>
                    <text class="tick" x=c(px) y=c(bottom + 16.0) text-anchor="middle">{label}</text>
                }).collect_view()}
                {lines.into_iter().enumerate().map(|(i, (name, d))| view! {
                    <path class=format!("line line-{i}") d=d><title>{name}</title></path>
                }).collect_view()}
                {points}
                {marker}
            </svg>
            <p class="readout" id=format!("vital-{slug}-readout") aria-live="polite">
                {move || series.with_value(|s| reading(s, selected.get()))}
            </p>
            <button class="link" aria-expanded=move || show_table.get().to_string()
                aria-label=move || format!("{} table: {title}", if show_table.get() { "Hide" } else { "Show" })
                on:click=move |_| show_table.update(|v| *v = !*v)>
                {move || if show_table.get() { "Hide table" } else { "Show table" }}
            </button>
            {move || show_table.get().then(|| view! { <VitalTable series=series/> })}
        </section>
    }
    .into_any()
}

#[component]
fn VitalTable(series: StoredValue<VitalSeries>) -> impl IntoView {
    let shown = RwSignal::new(50usize);
    let (unit, total) = series.with_value(|s| (s.vital.unit(), s.primary().len()));
    let value_label = format!("Value ({unit})");
    view! {
        <table class="list vitals-table">
            <thead><tr><th scope="col">"Date"</th><th scope="col">{value_label.clone()}</th><th scope="col">"Flag"</th></tr></thead>
            <tbody>
                {move || series.with_value(|s| {
                    s.primary().iter().enumerate().rev().take(shown.get()).map(|(i, p)| {
                        let (value, flags) = value_and_flags(s, i).unwrap_or_default();
                        let flagged = !flags.is_empty();
                        view! { <tr>
                            <td class="date" data-label="Date">{date_time(p.t)}</td>
                            <td class="value" class:flagged=flagged data-label=value_label.clone()>{value}</td>
                            <td class="flag" class:flagged=flagged data-label="Flag">{if flagged { flags } else { "—".into() }}</td>
                        </tr> }
                    }).collect_view()
                })}
            </tbody>
        </table>
        {move || (total > shown.get()).then(|| view! {
            <button class="more" on:click=move |_| shown.update(|n| *n += 200)>{format!("Show more ({total} in all)")}</button>
        })}
    }
}

/// The category's readings that are not charted (another code, or no usable value or time).
#[component]
fn OtherVitals(rows: Vec<OtherReading>) -> impl IntoView {
    view! {
        <section class="card" id="vitals-other" aria-labelledby="vitals-other-title">
            <h3 id="vitals-other-title">"Other vital signs"</h3>
            <table class="list">
                <thead><tr><th scope="col">"Date"</th><th scope="col">"Observation"</th><th scope="col">"Value"</th><th scope="col">"Flag"</th></tr></thead>
                <tbody>{rows.into_iter().map(|r| {
                    let flagged = r.flag.is_some_and(|f| f.is_abnormal());
                    view! { <tr>
                        <td class="date" data-label="Date">{r.t.map(date_time).unwrap_or_else(|| "no date".into())}</td>
                        <td data-label="Observation">{r.name}</td>
                        <td class="value" class:flagged=flagged data-label="Value">{r.value}</td>
                        <td class="flag" class:flagged=flagged data-label="Flag">{r.flag.map(|f| f.text()).unwrap_or_else(|| "—".into())}</td>
                    </tr> }
                }).collect_view()}</tbody>
            </table>
        </section>
    }
}
