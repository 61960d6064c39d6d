//! Labs: one row per test (LOINC code) with the latest value, unit, reference range, flag, and a
//! small trend chart.

use leptos::prelude::*;

use super::section::{status, Section, SectionSignal};
use crate::chart::labs::Labs as LabData;
use crate::chart::layout::sparkline;

#[component]
pub fn Labs(state: SectionSignal<LabData>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="labs-title">
            <h2 id="labs-title">"Laboratory results"</h2>
            {move || state.with(|s| status(s, "lab results", "labs").unwrap_or_else(|| match s {
                Section::Ready(labs) if labs.groups.is_empty() => view! { <p class="empty" id="labs-empty">"No lab results recorded."</p> }.into_any(),
                Section::Ready(labs) => view! {
                    <table class="list" id="labs">
                        <thead><tr>
                            <th scope="col">"Test"</th><th scope="col">"Latest"</th><th scope="col">"Date"</th>
                            <th scope="col">"Reference range"</th><th scope="col">"Flag"</th><th scope="col">"Trend"</th>
                        </tr></thead>
                        <tbody>{labs.groups.iter().map(|g| {
                            let trend = format!("{}: {} results", g.name, g.points.len());
                            let label = trend.clone();
                            let flagged = g.flag.is_some_and(|f| f.is_abnormal());
                            let flag = g.flag.map(|f| f.text()).unwrap_or_else(|| "—".into());
                            view! {
                                <tr data-loinc=g.code.clone()>
                                    <td title=format!("LOINC {}", g.code) data-label="Test">{g.name.clone()}</td>
                                    <td class="value" class:flagged=flagged data-label="Latest">{g.latest.clone()}</td>
                                    <td class="date" data-label="Date">{g.latest_date.clone()}</td>
                                    <td data-label="Reference range">{g.range.clone()}</td>
                                    <td class="flag" class:flagged=flagged data-label="Flag">{flag}</td>
                                    <td data-label="Trend"><svg class="spark" viewBox="0 0 100 24" role="img" aria-label=label>
                                        <title>{trend}</title>
                                        <path d=sparkline(&g.points, 100.0, 24.0)/>
                                    </svg></td>
                                </tr>
                            }
                        }).collect_view()}</tbody>
                    </table>
                }.into_any(),
                _ => ().into_any(),
            }))}
        </section>
    }
}
