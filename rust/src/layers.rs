//! The layer rule, as a test: base <- loops <- ops <- compiler <- exec <- api <- py.
//! A file may use its own layer and the layers below it, never one above.
//!
//! The checker reads every `.rs` file under `rust/src`, maps it to the layer
//! of its folder, and finds each path it uses: `crate::x::...` (in `use`
//! items, expressions and macro calls such as `crate::bail!`, whose
//! `#[macro_export]` definition decides its layer) and `super::...` chains
//! that leave the file's folder. Line comments are ignored. Test-only code
//! (the item after a `#[cfg(test)]`, the files `tests.rs`, `testing.rs`
//! and `*_tests.rs`, and this one) may build its fixtures from any layer. `lib.rs` only
//! declares the modules and the `#[pymodule]`.
use std::collections::HashMap;
use std::path::Path;

/// The layers, lowest first.
const LAYERS: [&str; 7] = ["base", "loops", "ops", "compiler", "exec", "api", "py"];

fn layer_index(name: &str) -> Option<usize> {
    LAYERS.iter().position(|&l| l == name)
}

/// The module path of a file (`ops/elementwise/kernel.rs` ->
/// `[ops, elementwise, kernel]`; `mod.rs` names its folder).
fn module_path(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn is_test_file(file: &str) -> bool {
    let name = file.rsplit('/').next().unwrap_or(file);
    file == "layers.rs" || name == "tests.rs" || name == "testing.rs" || name.ends_with("_tests.rs")
}

/// Lines that are not test-only items: `(line number, text without its
/// line comment)`.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut skip_next_item = false;
    let mut depth_at_skip: Option<i64> = None;
    let mut depth: i64 = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = match raw.find("//") {
            Some(k) => &raw[..k],
            None => raw,
        };
        let t = line.trim();
        let opens = line.matches('{').count() as i64;
        let closes = line.matches('}').count() as i64;
        if let Some(d) = depth_at_skip {
            depth += opens - closes;
            if depth <= d {
                depth_at_skip = None;
            }
            continue;
        }
        if t.starts_with("#[cfg(test)]") {
            skip_next_item = true;
            continue;
        }
        if skip_next_item && !t.is_empty() && !t.starts_with("#[") {
            skip_next_item = false;
            if opens > closes {
                depth_at_skip = Some(depth);
                depth += opens - closes;
            }
            continue;
        }
        depth += opens - closes;
        out.push((i + 1, line.to_string()));
    }
    out
}

/// Every `crate::a::b` / `super::...::x` path in `line`, as the first
/// module it reaches from the crate root (or a macro name with `!`).
fn paths_in(line: &str, module: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let ident_end = |s: &str| {
        s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let mut k = 0;
    while k < line.len() {
        let rest = &line[k..];
        let boundary = k == 0 || !(bytes[k - 1].is_ascii_alphanumeric() || bytes[k - 1] == b'_');
        if boundary && rest.starts_with("crate::") {
            let after = &rest["crate::".len()..];
            let n = ident_end(after);
            let name = &after[..n];
            let bang = after[n..].starts_with('!');
            out.push(if bang {
                format!("{name}!")
            } else {
                name.to_string()
            });
            k += "crate::".len() + n;
            continue;
        }
        if boundary && rest.starts_with("super::") {
            // climb one module per `super::`
            let mut here: Vec<String> = module.to_vec();
            let mut r = rest;
            let mut climbed = 0;
            while r.starts_with("super::") {
                here.pop();
                r = &r["super::".len()..];
                climbed += "super::".len();
            }
            let n = ident_end(r);
            let first = if here.is_empty() {
                r[..n].to_string()
            } else {
                here[0].clone()
            };
            out.push(first);
            k += climbed + n;
            continue;
        }
        k += rest.chars().next().map_or(1, |c| c.len_utf8());
    }
    out
}

/// `#[macro_export]` macros and the layer of the file defining each.
fn exported_macros(files: &[(String, String)]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for (file, text) in files {
        let mut exported = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("#[macro_export]") {
                exported = true;
            } else if exported {
                if let Some(rest) = t.strip_prefix("macro_rules!") {
                    let name: String = rest
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    m.insert(name, module_path(file)[0].clone());
                }
                exported = false;
            }
        }
    }
    m
}

/// The violations of the layer rule in `files` (`(path under src, text)`),
/// one message per use, naming the file and line.
pub fn check(files: &[(String, String)]) -> Vec<String> {
    let macros = exported_macros(files);
    let mut bad = Vec::new();
    for (file, text) in files {
        if file == "lib.rs" {
            for (n, line) in code_lines(text) {
                let t = line.trim();
                let allowed = t.is_empty()
                    || t.starts_with("pub mod ")
                    || t.starts_with("mod ")
                    || t.starts_with("use pyo3")
                    || t.starts_with("pub use api::")
                    || t.starts_with("#[")
                    || t.starts_with("#![deny(")
                    || t.starts_with("fn _rjax(")
                    || t == "py::register(m)"
                    || t == "}";
                if !allowed {
                    bad.push(format!("lib.rs:{n}: lib.rs only declares modules: `{t}`"));
                }
            }
            continue;
        }
        if is_test_file(file) {
            continue;
        }
        let module = module_path(file);
        let Some(mine) = layer_index(&module[0]) else {
            bad.push(format!(
                "{file}: not in a layer folder ({})",
                LAYERS.join(", ")
            ));
            continue;
        };
        for (n, line) in code_lines(text) {
            for p in paths_in(&line, &module) {
                let target = match p.strip_suffix('!') {
                    Some(mac) => macros.get(mac).cloned().unwrap_or_default(),
                    None => p.clone(),
                };
                if let Some(t) = layer_index(&target) {
                    if t > mine {
                        bad.push(format!(
                            "{file}:{n}: the {} layer uses the {} layer (`{}`)",
                            LAYERS[mine],
                            LAYERS[t],
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    bad
}

fn read_tree(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_tree(root, &p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.push((rel, std::fs::read_to_string(&p).unwrap_or_default()));
        }
    }
}

#[test]
fn the_crate_follows_its_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rust/src");
    let mut files = Vec::new();
    read_tree(&root, &root, &mut files);
    assert!(files.len() > 30, "read only {} files", files.len());
    let bad = check(&files);
    assert!(bad.is_empty(), "layer violations:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_catches_violations() {
    let f = |p: &str, t: &str| (p.to_string(), t.to_string());
    let files = vec![
        f(
            "base/error.rs",
            "#[macro_export]\nmacro_rules! bail { () => {} }\n",
        ),
        f("exec/mac.rs", "#[macro_export]\nmacro_rules! run_it { () => {} }\n"),
        f("ops/a.rs", "use crate::base::buffer::Buffer;\nuse crate::exec::executable::Executable;\n"),
        f("base/b.rs", "fn f() {\n    crate::ops::build(x); // a call\n}\n"),
        f("loops/c.rs", "use super::super::compiler::fusion;\nuse super::parallel::GRAIN;\n"),
        f("ops/d/e.rs", "fn g() -> Result<()> { crate::bail!(\"no\") }\nfn h() { crate::run_it!() }\n"),
        f("compiler/f.rs", "// crate::py::x in a comment is fine\nuse crate::py::errors;\n"),
        f(
            "ops/g.rs",
            "fn k() {}\n#[cfg(test)]\nmod tests {\n    use crate::exec::executable::Executable;\n}\nuse crate::exec::device;\n",
        ),
        f("ops/h_tests.rs", "use crate::py::x;\n"),
        f("lib.rs", "pub mod base;\nfn helper() {}\n"),
    ];
    let bad = check(&files);
    let has = |s: &str| bad.iter().any(|b| b.starts_with(s));
    assert!(
        has("ops/a.rs:2: the ops layer uses the exec layer"),
        "{bad:#?}"
    );
    assert!(
        has("base/b.rs:2: the base layer uses the ops layer"),
        "{bad:#?}"
    );
    assert!(
        has("loops/c.rs:1: the loops layer uses the compiler layer"),
        "{bad:#?}"
    );
    assert!(
        has("ops/d/e.rs:2: the ops layer uses the exec layer"),
        "{bad:#?}"
    );
    assert!(
        has("compiler/f.rs:2: the compiler layer uses the py layer"),
        "{bad:#?}"
    );
    assert!(
        has("ops/g.rs:6: the ops layer uses the exec layer"),
        "{bad:#?}"
    );
    assert!(has("lib.rs:2: lib.rs only declares modules"), "{bad:#?}");
    assert_eq!(bad.len(), 7, "{bad:#?}");
}
