//! The eager kernel of an elementwise op: its slice kernel over parallel
//! chunks of the output, with lax broadcasting (rank-0 operands, size-1
//! dims). Operands that are the output's shape (or one element) are read in
//! place; broadcast ones are loaded into tiles first.
use super::SliceKernel;
use crate::base::aval::Aval;
use crate::base::buffer::{numel, strides, Buffer, RawBuf};
use crate::base::error::{shape_err, Error, Result};
use crate::base::slice::{Col, Slice, SliceMut};
use crate::loops::parallel::{try_par_fill, GRAIN};
use crate::loops::strided::{load_tile, LoadMap};
use crate::ops::{Kernel, OpSpec};

/// Elements per tile of a broadcast operand.
pub const TILE: usize = 1024;

/// How an operand of shape `s` is read for an output of shape `out`: in
/// place, one element, or (lax broadcasting: equal rank, size-1 dims) with
/// strides.
pub fn load_map(op: &str, s: &[usize], out: &[usize]) -> Result<LoadMap> {
    if numel(s) == 1 {
        return Ok(LoadMap::Scalar);
    }
    if s == out {
        return Ok(LoadMap::Contig);
    }
    let bad = || {
        shape_err(
            op,
            format!("operand shape {s:?} does not broadcast to {out:?}"),
        )
    };
    if s.len() != out.len() {
        return Err(bad());
    }
    let st = strides(s);
    let mut map = Vec::with_capacity(s.len());
    for d in 0..s.len() {
        if s[d] == out[d] {
            map.push(if s[d] == 1 { 0 } else { st[d] as isize });
        } else if s[d] == 1 {
            map.push(0);
        } else {
            return Err(bad());
        }
    }
    Ok(LoadMap::Strided(map))
}

/// Fill `col` with elements `[t0, t0 + len)` of the iteration space over
/// `shape`, read from `b` through `map`.
pub fn load_col(
    col: &mut Col,
    b: &Buffer,
    map: &LoadMap,
    shape: &[usize],
    t0: usize,
    len: usize,
) -> Result<()> {
    col.set_len(len);
    let cd = col.dtype();
    crate::with_dtype!(b.dtype, T => {
        let src = b.slice::<T>()?;
        let dst = col
            .vec_mut::<T>()
            .ok_or_else(|| Error::Internal(format!("load of {} into a {cd} tile", b.dtype)))?;
        load_tile(src, map, shape, t0, &mut dst[..len]);
        Ok(())
    })
}

/// The eager kernel of an op whose slice kernel is `kernel`.
pub fn build(spec: &OpSpec, kernel: SliceKernel) -> Result<Kernel> {
    if spec.outs.len() != 1 {
        return Err(Error::Internal(format!(
            "{}: expected one output, got {}",
            spec.name(),
            spec.outs.len()
        )));
    }
    let out = spec.outs[0].clone();
    let maps: Vec<LoadMap> = spec
        .ins
        .iter()
        .map(|a| load_map(spec.name(), &a.shape, &out.shape))
        .collect::<Result<_>>()?;
    let name = spec.name().to_string();
    Ok(Box::new(move |ins: &[&Buffer]| {
        if ins.len() != maps.len() {
            return Err(Error::Internal(format!(
                "{name}: expected {} operands, got {}",
                maps.len(),
                ins.len()
            )));
        }
        Ok(vec![run(&kernel, ins, &maps, &out)?])
    }))
}

fn run(kernel: &SliceKernel, ins: &[&Buffer], maps: &[LoadMap], out: &Aval) -> Result<Buffer> {
    let mut raw = RawBuf::alloc_array(out.dtype, &out.shape);
    let direct = !maps.iter().any(|m| matches!(m, LoadMap::Strided(_)));
    crate::with_dtype!(out.dtype, T => {
        try_par_fill(raw.as_mut_slice::<T>(), GRAIN, |off, chunk| {
            if direct {
                let args = ins
                    .iter()
                    .zip(maps)
                    .map(|(b, m)| match m {
                        LoadMap::Scalar => Slice::of_buffer(b, 0, 1),
                        _ => Slice::of_buffer(b, off, chunk.len()),
                    })
                    .collect::<Result<Vec<_>>>()?;
                return kernel(&args, SliceMut::new(chunk));
            }
            // Broadcast operands go through tiles.
            let mut cols: Vec<Option<Col>> = ins
                .iter()
                .zip(maps)
                .map(|(b, m)| matches!(m, LoadMap::Strided(_)).then(|| Col::new(b.dtype, TILE)))
                .collect();
            let mut t = 0;
            while t < chunk.len() {
                let len = TILE.min(chunk.len() - t);
                for ((c, b), m) in cols.iter_mut().zip(ins).zip(maps) {
                    if let Some(c) = c {
                        load_col(c, b, m, &out.shape, off + t, len)?;
                    }
                }
                let args = ins
                    .iter()
                    .zip(maps)
                    .zip(&cols)
                    .map(|((b, m), c)| match (m, c) {
                        (_, Some(c)) => Ok(c.as_slice()),
                        (LoadMap::Scalar, None) => Slice::of_buffer(b, 0, 1),
                        _ => Slice::of_buffer(b, off + t, len),
                    })
                    .collect::<Result<Vec<_>>>()?;
                kernel(&args, SliceMut::new(&mut chunk[t..t + len]))?;
                t += len;
            }
            Ok(())
        })
    })?;
    Buffer::new(out.dtype, out.shape.clone(), raw)
}
