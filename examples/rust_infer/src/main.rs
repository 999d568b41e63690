//! Serves a CNN trained and exported in Python, without Python: loads
//! `DIR/model.rjax` with [`rjax::Program::load`], classifies the held-out
//! digits one at a time and in batches of 128, checks that its logits equal
//! those of Python's `exported.call` bit for bit, prints the accuracy, and
//! times the two workloads (warm, a fixed number of calls).
//!
//! ```text
//! python examples/rust_infer/digits.py export DIR     # writes DIR's files
//! cargo run --release -- DIR                          # in examples/rust_infer
//! ```
//!
//! The files (written by `digits.py export`, raw little-endian, row-major):
//! `digits.f32` (n x 8 x 8 x 1 float32: the pixels / 16), `labels.i32` (n
//! int32), `logits_b1.f32` and `logits_b128.f32` (n x 10 float32: Python's
//! logits at batch 1 and in batches of 128). If `DIR/timings.tsv` exists
//! (`digits.py bench DIR`: one `name<TAB>batch-1 median us<TAB>batch-128
//! images/s` line per Python runner) its rows join the comparison table.
//!
//! Exit status: 0 when every logit equals Python's, 1 otherwise or on an
//! error.
use ndarray::{s, Array2, Array4, ArrayD, ArrayViewD, Axis};
use rjax::Program;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The batch of the throughput workload (and of the batched check).
const BATCH: usize = 128;
/// Timed calls at batch 1 and at batch 128, after `WARMUP` untimed ones
/// (the same counts as `digits.py bench`).
const REPS_B1: usize = 2000;
const REPS_B128: usize = 100;
const WARMUP: usize = 20;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: rust_infer DIR   (DIR from `digits.py export DIR`)");
        return ExitCode::FAILURE;
    };
    match run(&dir) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rust_infer: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Checks, measures and prints; `Ok(false)` if a logit differs from Python's.
fn run(dir: &Path) -> Result<bool> {
    let prog = Program::load(dir.join("model.rjax"))?;
    println!(
        "rust: loaded {} (inputs {:?}, outputs {:?})",
        dir.join("model.rjax").display(),
        prog.inputs(),
        prog.outputs()
    );
    let digits = read_f32(&dir.join("digits.f32"))?;
    let n = digits.len() / 64;
    let digits = Array4::from_shape_vec((n, 8, 8, 1), digits)?;
    let labels = read_i32(&dir.join("labels.i32"))?;
    if labels.len() != n {
        return Err(format!("{n} digits but {} labels", labels.len()).into());
    }

    let mut same = true;
    for (batch, file) in [(1, "logits_b1.f32"), (BATCH, "logits_b128.f32")] {
        let logits = classify(&prog, &digits, batch)?;
        let expected = read_f32(&dir.join(file))?;
        let accuracy = accuracy(&logits, &labels);
        match first_difference(&logits, &expected) {
            None => println!(
                "rust: batch {batch:>3}: accuracy {:.2}% on {n} held-out digits; \
                 logits equal Python's exported.call bit for bit",
                100.0 * accuracy
            ),
            Some(msg) => {
                println!("rust: batch {batch:>3}: logits differ from {file}: {msg}");
                same = false;
            }
        }
    }

    let singles: Vec<ArrayViewD<f32>> = (0..n)
        .map(|i| digits.slice(s![i..i + 1, .., .., ..]).into_dyn())
        .collect();
    let b128 = [digits.slice(s![..BATCH.min(n), .., .., ..]).into_dyn()];
    let t1 = median_latency(&prog, &singles, REPS_B1)?;
    let t128 = median_latency(&prog, &b128, REPS_B128)?;
    let ours = (
        "rust rjax::Program::run".to_string(),
        t1.as_secs_f64() * 1e6,
        BATCH as f64 / t128.as_secs_f64(),
    );
    print_table(dir, ours)?;
    Ok(same)
}

/// The logits (n x 10) of every digit, `batch` digits per call (the last
/// call takes the rest).
fn classify(prog: &Program, digits: &Array4<f32>, batch: usize) -> Result<Array2<f32>> {
    let mut rows = Vec::new();
    for chunk in digits.axis_chunks_iter(Axis(0), batch) {
        let out: Vec<ArrayD<f32>> = prog.run(&[chunk.into_dyn()])?;
        rows.push(out[0].clone().into_dimensionality()?);
    }
    let views: Vec<_> = rows.iter().map(|r| r.view()).collect();
    Ok(ndarray::concatenate(Axis(0), &views)?)
}

/// The fraction of rows whose largest logit is at the label (the first of
/// equal maxima, as `argmax`).
fn accuracy(logits: &Array2<f32>, labels: &[i32]) -> f64 {
    let hits = logits
        .outer_iter()
        .zip(labels)
        .filter(|(row, &label)| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (k, &v)| if v > row[b] { k } else { b });
            best as i32 == label
        })
        .count();
    hits as f64 / labels.len() as f64
}

/// `None` if the logits have Python's bits, else a description of the first
/// difference.
fn first_difference(logits: &Array2<f32>, expected: &[f32]) -> Option<String> {
    let got: Vec<f32> = logits.iter().copied().collect();
    if got.len() != expected.len() {
        return Some(format!(
            "{} values, Python has {}",
            got.len(),
            expected.len()
        ));
    }
    let k = (0..got.len()).find(|&k| got[k].to_bits() != expected[k].to_bits())?;
    let cols = logits.ncols();
    Some(format!(
        "digit {} logit {}: {:e} (Python {:e})",
        k / cols,
        k % cols,
        got[k],
        expected[k]
    ))
}

/// The median time of one `prog.run` over `inputs` (cycled), warm.
fn median_latency(prog: &Program, inputs: &[ArrayViewD<f32>], reps: usize) -> Result<Duration> {
    for x in inputs.iter().cycle().take(WARMUP) {
        prog.run(std::slice::from_ref(x))?;
    }
    let mut times = Vec::with_capacity(reps);
    for x in inputs.iter().cycle().take(reps) {
        let t0 = Instant::now();
        prog.run(std::slice::from_ref(x))?;
        times.push(t0.elapsed());
    }
    times.sort();
    Ok(times[reps / 2])
}

/// Prints the latency table: Python's rows from `DIR/timings.tsv` (if
/// there) and ours.
fn print_table(dir: &Path, ours: (String, f64, f64)) -> Result<()> {
    let mut rows = Vec::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("timings.tsv")) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            match f[..] {
                [name, us, ips] => rows.push((name.to_string(), us.parse()?, ips.parse()?)),
                _ => return Err(format!("timings.tsv: bad line {line:?}").into()),
            }
        }
    }
    rows.push(ours);
    let threads = std::env::var("RJAX_NUM_THREADS").unwrap_or_else(|_| {
        std::thread::available_parallelism().map_or("?".into(), |n| n.to_string())
    });
    println!(
        "\nlatency, warm ({threads} rjax threads; median of {REPS_B1} calls at batch 1, \
         of {REPS_B128} at batch {BATCH}):"
    );
    println!(
        "{:<36} {:>16} {:>20}",
        "runner", "batch 1 (median)", "batch 128"
    );
    for (name, us, ips) in &rows {
        println!("{name:<36} {us:>13.1} us {ips:>13.0} images/s");
    }
    Ok(())
}

/// The 4-byte words of a raw file.
fn read_words(path: &Path) -> Result<Vec<[u8; 4]>> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.len() % 4 != 0 {
        let msg = format!(
            "{}: {} bytes is not an array of 4-byte values",
            path.display(),
            b.len()
        );
        return Err(msg.into());
    }
    Ok(b.chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect())
}

/// A raw little-endian float32 file.
fn read_f32(path: &Path) -> Result<Vec<f32>> {
    Ok(read_words(path)?
        .into_iter()
        .map(f32::from_le_bytes)
        .collect())
}

/// A raw little-endian int32 file.
fn read_i32(path: &Path) -> Result<Vec<i32>> {
    Ok(read_words(path)?
        .into_iter()
        .map(i32::from_le_bytes)
        .collect())
}
