//! One stable sort for every list the chart orders.
//!
//! `slice::sort_by` is generic: each element type and comparison gets its own copy of the
//! sorting code, ~3.5 KB of wasm apiece, which every launch downloads. Here the sorting itself
//! works on indices through a `dyn` comparison, so one copy serves all callers; only the
//! cheap permutation step is generic.

use std::cmp::Ordering;

/// The stable order of `0..n` under `cmp` (not generic: compiled once).
fn order(n: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| cmp(a, b));
    idx
}

/// Sorts `v` stably by `cmp`, like `v.sort_by(cmp)`.
pub fn sort_by<T>(v: &mut Vec<T>, cmp: impl Fn(&T, &T) -> Ordering) {
    let idx = order(v.len(), &|a, b| match (v.get(a), v.get(b)) {
        (Some(a), Some(b)) => cmp(a, b),
        // Never: `order` gives indices below `v.len()` only.
        _ => Ordering::Equal,
    });
    let mut slots: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(
        idx.into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take)),
    );
}

/// Sorts `v` stably by a key, like `v.sort_by_key(key)`.
pub fn sort_by_key<T, K: Ord>(v: &mut Vec<T>, key: impl Fn(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        sort_by_key(&mut v, |p| p.0);
        assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (3, 'a'), (3, 'c')]);
        sort_by(&mut v, |a, b| b.0.cmp(&a.0));
        assert_eq!(v, [(3, 'a'), (3, 'c'), (1, 'b'), (1, 'e'), (0, 'd')]);
        let mut empty: Vec<u8> = Vec::new();
        sort_by_key(&mut empty, |x| *x);
        assert!(empty.is_empty());
        let mut many: Vec<i64> = (0..10_000).map(|i| (i * 7919) % 10_007).collect();
        let mut expected = many.clone();
        expected.sort();
        sort_by_key(&mut many, |x| *x);
        assert_eq!(many, expected);
    }
}
