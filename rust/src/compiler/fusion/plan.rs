//! Planning: which instructions of a program form a fused group.
//!
//! `plan` walks the program backwards, absorbing each fusible instruction
//! into the group of its consumers when that is safe:
//! - every member of a group has the group's shape (reductions: their operand);
//! - a group runs at the position of its last instruction (its *root*), so an
//!   instruction may join only if each consumer outside the group runs after
//!   that root (then its value is written out by the group, "materialized");
//! - an operand whose shape differs from the group's (a rank-0 literal, a
//!   size-1-dim operand, a broadcast_in_dim/reshape source) is read from
//!   memory through an index map, so its producer must stay outside.
//!
//! All reductions of a group share one pattern: everything (`Full`), trailing
//! axes (`Rows`) or leading axes (`Cols`). Others are not fused.
use super::classify::{kind_of, Kind};
use super::{Pattern, MAX_ROW};
use crate::base::buffer::{numel, strides};
use crate::base::params::Params;
use crate::loops::strided::LoadMap;
use crate::ops::Aval;
use std::collections::HashMap;

/// A planned step of a program: one original instruction, or a fused group
/// (`members` are original instruction indices in program order).
#[derive(Debug)]
pub enum Step {
    Single(usize),
    Group { members: Vec<usize> },
}

struct Group {
    root: usize,
    /// The iteration shape.
    shape: Vec<usize>,
    pattern: Option<Pattern>,
    members: Vec<usize>,
    /// Values that must be read from memory (their producers stay out).
    external: Vec<usize>,
    /// Values read one per row (a row map): read from memory, unless their
    /// producer is a `Rows` reduction of this group (then an earlier phase).
    row_vals: Vec<usize>,
    /// Members that read a value per row: broadcasts of it, and reshapes
    /// of a reduction's output (`aliases`, dropped if it does not join).
    row_users: Vec<usize>,
    aliases: Vec<usize>,
}

/// The strides of a load of a `src`-shaped operand broadcast (lax-style:
/// size-1 dims) over `shape`, if the ranks agree.
pub fn bcast_strides(src: &[usize], shape: &[usize]) -> Option<Vec<isize>> {
    if src.len() != shape.len() {
        return None;
    }
    let st = strides(src);
    Some(
        (0..src.len())
            .map(|d| if src[d] == 1 { 0 } else { st[d] as isize })
            .collect(),
    )
}

/// If a load with strides `st` over `shape` reads one value per row of a
/// `Rows` pattern (row-major over leading dims, 0 on the trailing ones):
/// the number of rows.
pub fn row_count(st: &[isize], shape: &[usize]) -> Option<usize> {
    let r = shape.len();
    let j = (0..r)
        .rev()
        .find(|&d| st[d] != 0 && shape[d] != 1)
        .map_or(0, |d| d + 1);
    if j == r {
        return None;
    }
    let want = strides(&shape[..j]);
    (0..j)
        .all(|d| shape[d] == 1 || st[d] == want[d] as isize)
        .then(|| numel(&shape[..j]))
}

/// Group the instructions of a program. `ins[k]`/`outs[k]` are instruction
/// `k`'s input and output value ids, `avals` all values' avals, `outputs`
/// the program's outputs. Groups of a single instruction that gains nothing
/// from fusion (a lone reshape, say) are left as `Single`.
///
/// A `Rows` reduction may also join a group that reads its result per row
/// (softmax's `exp(x - max(x))`, then `e / sum(e)`): the group runs in
/// phases over tiles of whole rows, each phase reading the earlier phases'
/// reductions of the tile's rows.
pub fn plan(
    params: &[&Params],
    ins: &[Vec<usize>],
    outs: &[Vec<usize>],
    avals: &[Aval],
    outputs: &[usize],
) -> Vec<Step> {
    let n = params.len();
    let mut users: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut producer: HashMap<usize, usize> = HashMap::new();
    for (k, i) in ins.iter().enumerate() {
        for &v in i {
            users.entry(v).or_default().push(k);
        }
        for &v in &outs[k] {
            producer.insert(v, k);
        }
    }
    let kinds: Vec<Option<Kind>> = (0..n)
        .map(|k| {
            let ia: Vec<Aval> = ins[k].iter().map(|&v| avals[v].clone()).collect();
            let oa: Vec<Aval> = outs[k].iter().map(|&v| avals[v].clone()).collect();
            kind_of(params[k], &ia, &oa)
        })
        .collect();
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of: Vec<Option<usize>> = vec![None; n];
    // When each instruction runs: its group's root, or itself.
    let exec_time = |k: usize, group_of: &Vec<Option<usize>>, groups: &Vec<Group>| match group_of[k]
    {
        Some(g) => groups[g].root,
        None => k,
    };
    // Does member `c` of group `g` read a value per row of `rows` rows?
    let reads_rows = |c: usize, rows: usize, gr: &Group| -> bool {
        if !gr.row_users.contains(&c) {
            return false;
        }
        let st = match &kinds[c] {
            Some(Kind::View(LoadMap::Strided(st))) => st.clone(),
            Some(Kind::View(LoadMap::Contig)) => {
                match bcast_strides(&avals[outs[c][0]].shape, &gr.shape) {
                    Some(st) => st,
                    None => return false,
                }
            }
            _ => return false,
        };
        row_count(&st, &gr.shape) == Some(rows)
    };
    for k in (0..n).rev() {
        let Some(kind) = kinds[k].clone() else {
            continue;
        };
        let out = outs[k][0];
        let out_shape = &avals[out].shape;
        let is_output = outputs.contains(&out);
        let cons: Vec<usize> = users.get(&out).cloned().unwrap_or_default();
        // A reshape of a `Rows` reduction's output that a group reads per row
        // (keepdims): it joins that group as an alias of the reduction.
        if let (Kind::View(LoadMap::Contig), Some(&p)) = (&kind, producer.get(&ins[k][0])) {
            if let Some(Kind::Reduce(_, pat @ Pattern::Rows { rows, len })) = &kinds[p] {
                let g = (0..groups.len()).find(|&g| {
                    let gr = &groups[g];
                    gr.root > k
                        && *len <= MAX_ROW
                        && gr.row_vals.contains(&out)
                        && !gr.external.contains(&out)
                        && avals[ins[p][0]].shape == gr.shape
                        && gr.pattern.is_none_or(|q| q == *pat)
                        && bcast_strides(out_shape, &gr.shape)
                            .is_some_and(|st| row_count(&st, &gr.shape) == Some(*rows))
                        && cons.iter().all(|&c| {
                            group_of[c] == Some(g) || exec_time(c, &group_of, &groups) > gr.root
                        })
                });
                if let Some(g) = g {
                    let gr = &mut groups[g];
                    gr.members.push(k);
                    gr.row_vals.push(ins[k][0]);
                    gr.row_users.push(k);
                    gr.aliases.push(k);
                    group_of[k] = Some(g);
                    continue;
                }
            }
        }
        // A reduction read per row by aliases in a group joins it, or the
        // aliases go back to being plain reshapes (run at their place).
        if let Kind::Reduce(_, pat) = &kind {
            let alias_groups: Vec<usize> = cons
                .iter()
                .filter_map(|&c| group_of[c].filter(|&g| groups[g].aliases.contains(&c)))
                .collect();
            let mut joined = false;
            if let (Some(&g), Pattern::Rows { rows, .. }) = (alias_groups.first(), pat) {
                let gr = &groups[g];
                joined = alias_groups.iter().all(|&h| h == g)
                    && gr.root > k
                    && !gr.external.contains(&out)
                    && avals[ins[k][0]].shape == gr.shape
                    && gr.pattern.is_none_or(|q| q == *pat)
                    && cons.iter().all(|&c| {
                        if group_of[c] == Some(g) {
                            reads_rows(c, *rows, gr)
                        } else {
                            exec_time(c, &group_of, &groups) > gr.root
                        }
                    });
                if joined {
                    let gr = &mut groups[g];
                    gr.members.push(k);
                    gr.pattern = Some(*pat);
                    group_of[k] = Some(g);
                    continue;
                }
            }
            if !joined {
                for &c in &cons {
                    if let Some(g) = group_of[c].filter(|&g| groups[g].aliases.contains(&c)) {
                        let gr = &mut groups[g];
                        gr.members.retain(|&m| m != c);
                        gr.aliases.retain(|&m| m != c);
                        gr.row_users.retain(|&m| m != c);
                        gr.external.push(outs[c][0]);
                        group_of[c] = None;
                    }
                }
            }
        }
        // Can instruction k join group g?
        let fits = |g: usize, groups: &Vec<Group>, group_of: &Vec<Option<usize>>| -> bool {
            let gr = &groups[g];
            if gr.external.contains(&out) {
                return false;
            }
            match &kind {
                Kind::Reduce(_, pat) => {
                    let src = &avals[ins[k][0]].shape;
                    if *src != gr.shape || gr.pattern.is_some_and(|p| p != *pat) {
                        return false;
                    }
                    // its consumers in the group read it per row (a later
                    // phase); the others must run after the root
                    let rows = match pat {
                        Pattern::Rows { rows, len } if *len <= MAX_ROW => Some(*rows),
                        _ => None,
                    };
                    cons.iter().all(|&c| {
                        if group_of[c] == Some(g) {
                            rows.is_some_and(|r| reads_rows(c, r, gr))
                        } else {
                            exec_time(c, group_of, groups) > gr.root
                        }
                    })
                }
                _ => {
                    if *out_shape != gr.shape {
                        return false;
                    }
                    cons.iter().all(|&c| {
                        group_of[c] == Some(g) || exec_time(c, group_of, groups) > gr.root
                    })
                }
            }
        };
        // Candidates: groups of consumers (elementwise) or any group
        // rooted after k (sibling reductions); earliest root first.
        let mut cands: Vec<usize> = match &kind {
            Kind::Reduce(..) => (0..groups.len()).collect(),
            _ => cons.iter().filter_map(|&c| group_of[c]).collect(),
        };
        cands.sort_by_key(|&g| groups[g].root);
        cands.dedup();
        let chosen = cands
            .into_iter()
            .find(|&g| groups[g].root > k && fits(g, &groups, &group_of));
        let g = match chosen {
            Some(g) => g,
            None => {
                if matches!(kind, Kind::View(_)) && !is_output {
                    // A view nobody fused: leave it as its own instruction
                    // (reshape is free; broadcast_in_dim has its kernel).
                    continue;
                }
                let (shape, pattern) = match &kind {
                    Kind::Reduce(_, pat) => (avals[ins[k][0]].shape.clone(), Some(*pat)),
                    _ => (out_shape.clone(), None),
                };
                groups.push(Group {
                    root: k,
                    shape,
                    pattern,
                    members: vec![],
                    external: vec![],
                    row_vals: vec![],
                    row_users: vec![],
                    aliases: vec![],
                });
                groups.len() - 1
            }
        };
        let gr = &mut groups[g];
        gr.members.push(k);
        group_of[k] = Some(g);
        match &kind {
            Kind::Reduce(_, pat) => gr.pattern = Some(*pat),
            Kind::View(map) => {
                let v = ins[k][0];
                match map {
                    LoadMap::Strided(st) if row_count(st, &gr.shape).is_some() => {
                        gr.row_vals.push(v);
                        gr.row_users.push(k);
                    }
                    _ => gr.external.push(v),
                }
            }
            Kind::Elementwise => {
                for &v in &ins[k] {
                    let s = &avals[v].shape;
                    if *s != gr.shape {
                        match bcast_strides(s, &gr.shape) {
                            Some(st) if row_count(&st, &gr.shape).is_some() => gr.row_vals.push(v),
                            _ => gr.external.push(v),
                        }
                    }
                }
            }
        }
    }
    // Emit in program order: a group at its root.
    let mut steps = Vec::new();
    for (k, &g) in group_of.iter().enumerate() {
        match g {
            None => steps.push(Step::Single(k)),
            Some(g) if groups[g].root == k => {
                let mut m = groups[g].members.clone();
                m.sort_unstable();
                // A group of one gains nothing: keep the op's own kernel (a lone
                // reduction keeps its pairwise sum, equal to eager's bit for bit).
                if m.len() == 1 {
                    steps.push(Step::Single(m[0]));
                } else {
                    steps.push(Step::Group { members: m });
                }
            }
            Some(_) => {}
        }
    }
    steps
}
