//! Vital signs: one SVG line chart per vital with dated axes, units and reference bands; the
//! exact reading under the pointer or the arrow keys; a windowed table of the same data.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::section::{status, Section, SectionSignal};
use crate::chart::format::number;
use crate::chart::layout::{line_chart, LineChart};
use crate::chart::plot::nearest;
use crate::chart::time::{date, date_time};
use crate::chart::vitals::VitalSeries;

/// An SVG coordinate, one decimal.
fn c(v: f64) -> String {
    number(v, 1)
}

const W: f64 = 640.0;
const H: f64 = 220.0;
/// W and H as text (a `format!` of an f64 would pull in the float formatter).
const VIEW_BOX: &str = "0 0 640 220";
/// Time buckets per line: at most four points each are drawn (see `plot::downsample`).
const BUCKETS: usize = 160;

#[component]
pub fn Vitals(state: SectionSignal<Vec<VitalSeries>>) -> impl IntoView {
    view! {
        <div class="vitals">
            {move || state.with(|s| status(s, "vital signs", "vitals").unwrap_or_else(|| match s {
                Section::Ready(list) if list.is_empty() => view! { <p class="empty" id="vitals-empty">"No vital signs recorded."</p> }.into_any(),
                Section::Ready(list) => list.iter().cloned().map(|v| view! { <VitalChart series=v/> }).collect_view().into_any(),
                _ => ().into_any(),
            }))}
        </div>
    }
}

fn reading(s: &VitalSeries, i: usize) -> String {
    let unit = s.vital.unit();
    let Some(p) = s.series[0].1.get(i) else {
        return String::new();
    };
    match s.series.get(1) {
        Some((_, dia)) => {
            let d = nearest(dia, p.t)
                .map(|j| number(dia[j].v, 1))
                .unwrap_or_else(|| "?".into());
            format!("{} — {}/{} {unit}", date_time(p.t), number(p.v, 1), d)
        }
        None => format!("{} — {} {unit}", date_time(p.t), number(p.v, 2)),
    }
}

#[component]
fn VitalChart(series: VitalSeries) -> impl IntoView {
    let slug = series.vital.slug();
    let title = series.vital.title();
    let count = series.count();
    let Some(layout) = line_chart(&series.series, series.vital.bands(), W, H, BUCKETS) else {
        return ().into_any();
    };
    let first = series.series[0]
        .1
        .first()
        .map(|p| date(p.t))
        .unwrap_or_default();
    let last_index = count.saturating_sub(1);
    let summary = format!(
        "{title}: {count} readings from {first} to {}. Latest {}.",
        series.series[0]
            .1
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
        let scale = W / el.client_width().max(1) as f64;
        let t = x.invert(ev.offset_x() as f64 * scale) as i64;
        series.with_value(|s| {
            if let Some(i) = nearest(&s.series[0].1, t) {
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
    let marker = move || {
        series.with_value(|s| {
            s.series
                .iter()
                .filter_map(|(_, pts)| {
                    let t = s.series[0].1.get(selected.get())?.t;
                    let p = pts.get(nearest(pts, t)?)?;
                    Some(view! { <circle class="marker" cx=c(x.map(p.t as f64)) cy=c(y.map(p.v)) r="4"/> })
                })
                .collect_view()
        })
    };

    view! {
        <section class="card chart" id=format!("vital-{slug}") aria-labelledby=format!("vital-{slug}-title")>
            <h3 id=format!("vital-{slug}-title")>{title}<span class="unit">{format!(" ({})", series.with_value(|s| s.vital.unit()))}</span></h3>
            <svg class="line-chart" viewBox=VIEW_BOX role="img" tabindex="0"
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
                {marker}
            </svg>
            <p class="readout" id=format!("vital-{slug}-readout") aria-live="polite">
                {move || series.with_value(|s| reading(s, selected.get()))}
            </p>
            <button class="link" aria-expanded=move || show_table.get().to_string()
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
    let (unit, bp, total) = series.with_value(|s| (s.vital.unit(), s.series.len() > 1, s.count()));
    view! {
        <table class="list vitals-table">
            <thead><tr><th scope="col">"Date"</th><th scope="col">{format!("Value ({unit})")}</th></tr></thead>
            <tbody>
                {move || series.with_value(|s| {
                    let pts = &s.series[0].1;
                    pts.iter().rev().take(shown.get()).map(|p| {
                        let value = if bp {
                            let d = nearest(&s.series[1].1, p.t).map(|j| number(s.series[1].1[j].v, 1)).unwrap_or_default();
                            format!("{}/{d}", number(p.v, 1))
                        } else {
                            number(p.v, 2)
                        };
                        view! { <tr><td>{date_time(p.t)}</td><td>{value}</td></tr> }
                    }).collect_view()
                })}
            </tbody>
        </table>
        {move || (total > shown.get()).then(|| view! {
            <button class="more" on:click=move |_| shown.update(|n| *n += 200)>{format!("Show more ({total} in all)")}</button>
        })}
    }
}
