//! Op parameters: plain data that crossed from Python once (ints, floats,
//! bools, strings, nested lists, None). Accessors name the op and the param in
//! their errors.
use crate::base::dtype::DType;
use crate::base::error::{Error, Result};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// An object this layer does not look into: a compiled sub-program (its
/// trait, `ops::control::SubProgram`, is defined where it is used) or a host
/// object. Two are equal only if they are the same object.
pub type Opaque = Arc<dyn std::any::Any + Send + Sync>;

/// A compiled sub-program carried by a control-flow op (`cond`'s branches,
/// `while`'s cond and body, `scan`'s body), made and read by
/// `ops::control`. Two are equal only if they are the same compiled object
/// (pointer equality), which is what the compiler's common-subexpression
/// elimination needs: equal params, same computation.
#[derive(Clone)]
pub struct ProgramRef(pub Opaque);

impl std::fmt::Debug for ProgramRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program@{:p}", Arc::as_ptr(&self.0) as *const ())
    }
}

/// An opaque host object carried by an op (a host callback's Python
/// callable). Two are equal only if they are the same object.
#[derive(Clone)]
pub struct HostObject(pub Opaque);

impl std::fmt::Debug for HostObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostObject@{:p}", Arc::as_ptr(&self.0) as *const ())
    }
}

impl HostObject {
    fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as *const () as usize
    }
}

/// Equality is structural, with floats compared by their bits: `NaN == NaN`
/// and `0.0 != -0.0`, so two equal params always mean the same computation
/// (what the compiler's common-subexpression elimination needs).
#[derive(Clone, Debug)]
pub enum Param {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Param>),
    Program(ProgramRef),
    Object(HostObject),
}

impl Param {
    /// True if this param is or holds a compiled sub-program.
    pub fn holds_program(&self) -> bool {
        match self {
            Param::Program(_) => true,
            Param::List(v) => v.iter().any(Param::holds_program),
            _ => false,
        }
    }
}

impl PartialEq for Param {
    fn eq(&self, other: &Param) -> bool {
        match (self, other) {
            (Param::None, Param::None) => true,
            (Param::Bool(a), Param::Bool(b)) => a == b,
            (Param::Int(a), Param::Int(b)) => a == b,
            (Param::Float(a), Param::Float(b)) => a.to_bits() == b.to_bits(),
            (Param::Str(a), Param::Str(b)) => a == b,
            (Param::List(a), Param::List(b)) => a == b,
            (Param::Program(a), Param::Program(b)) => Arc::ptr_eq(&a.0, &b.0),
            (Param::Object(a), Param::Object(b)) => a.addr() == b.addr(),
            _ => false,
        }
    }
}

impl Eq for Param {}

impl Hash for Param {
    fn hash<H: Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            Param::None => {}
            Param::Bool(b) => b.hash(h),
            Param::Int(i) => i.hash(h),
            Param::Float(f) => f.to_bits().hash(h),
            Param::Str(s) => s.hash(h),
            Param::List(v) => v.hash(h),
            Param::Program(p) => (Arc::as_ptr(&p.0) as *const () as usize).hash(h),
            Param::Object(o) => o.addr().hash(h),
        }
    }
}

/// An op name and its params. Equal `Params` (same op, same keys, equal
/// values as defined by `Param`'s `Eq`) describe the same computation; the
/// hash does not depend on the map's iteration order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pub op: String,
    pub map: HashMap<String, Param>,
}

impl Hash for Params {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.op.hash(h);
        let mut entries: Vec<(&String, &Param)> = self.map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries.len().hash(h);
        for (k, v) in entries {
            k.hash(h);
            v.hash(h);
        }
    }
}

impl Params {
    pub fn new(op: &str) -> Params {
        Params {
            op: op.to_string(),
            map: HashMap::new(),
        }
    }
    pub fn with(mut self, k: &str, v: Param) -> Params {
        self.map.insert(k.to_string(), v);
        self
    }

    fn bad(&self, name: &str, msg: &str) -> Error {
        Error::BadParam {
            op: self.op.clone(),
            param: name.to_string(),
            msg: msg.to_string(),
        }
    }

    pub fn get(&self, name: &str) -> Result<&Param> {
        self.map.get(name).ok_or_else(|| self.bad(name, "missing"))
    }
    pub fn has(&self, name: &str) -> bool {
        matches!(self.map.get(name), Some(p) if *p != Param::None)
    }

    pub fn int(&self, name: &str) -> Result<i64> {
        match self.get(name)? {
            Param::Int(i) => Ok(*i),
            Param::Bool(b) => Ok(*b as i64),
            _ => Err(self.bad(name, "expected an int")),
        }
    }
    pub fn usize(&self, name: &str) -> Result<usize> {
        let v = self.int(name)?;
        usize::try_from(v).map_err(|_| self.bad(name, "expected a non-negative int"))
    }
    pub fn float(&self, name: &str) -> Result<f64> {
        match self.get(name)? {
            Param::Float(f) => Ok(*f),
            Param::Int(i) => Ok(*i as f64),
            _ => Err(self.bad(name, "expected a float")),
        }
    }
    pub fn bool(&self, name: &str) -> Result<bool> {
        match self.get(name)? {
            Param::Bool(b) => Ok(*b),
            Param::Int(i) => Ok(*i != 0),
            _ => Err(self.bad(name, "expected a bool")),
        }
    }
    pub fn str(&self, name: &str) -> Result<&str> {
        match self.get(name)? {
            Param::Str(s) => Ok(s),
            _ => Err(self.bad(name, "expected a string")),
        }
    }
    pub fn dtype(&self, name: &str) -> Result<DType> {
        let s = self.str(name)?;
        DType::from_name(s).ok_or_else(|| self.bad(name, &format!("unknown dtype {s}")))
    }
    pub fn list(&self, name: &str) -> Result<&[Param]> {
        match self.get(name)? {
            Param::List(v) => Ok(v),
            _ => Err(self.bad(name, "expected a list")),
        }
    }
    pub fn ints(&self, name: &str) -> Result<Vec<i64>> {
        self.list(name)?
            .iter()
            .map(|p| match p {
                Param::Int(i) => Ok(*i),
                _ => Err(self.bad(name, "expected a list of ints")),
            })
            .collect()
    }
    pub fn usizes(&self, name: &str) -> Result<Vec<usize>> {
        self.ints(name)?
            .into_iter()
            .map(|i| usize::try_from(i).map_err(|_| self.bad(name, "expected non-negative ints")))
            .collect()
    }
    /// True if any param holds a compiled sub-program (control flow).
    pub fn holds_program(&self) -> bool {
        self.map.values().any(Param::holds_program)
    }
    /// A compiled sub-program, opaque here (`ops::control` reads it).
    pub fn program(&self, name: &str) -> Result<Opaque> {
        match self.get(name)? {
            Param::Program(p) => Ok(p.0.clone()),
            _ => Err(self.bad(name, "expected a compiled program")),
        }
    }
    /// A host object (e.g. a callback's Python callable).
    pub fn object(&self, name: &str) -> Result<Opaque> {
        match self.get(name)? {
            Param::Object(o) => Ok(o.0.clone()),
            _ => Err(self.bad(name, "expected a host object")),
        }
    }
    /// Every compiled sub-program this op carries, at any list depth.
    pub fn sub_programs(&self) -> Vec<Opaque> {
        fn walk(p: &Param, out: &mut Vec<Opaque>) {
            match p {
                Param::Program(p) => out.push(p.0.clone()),
                Param::List(v) => v.iter().for_each(|q| walk(q, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        self.map.values().for_each(|p| walk(p, &mut out));
        out
    }
    pub fn programs(&self, name: &str) -> Result<Vec<Opaque>> {
        self.list(name)?
            .iter()
            .map(|p| match p {
                Param::Program(p) => Ok(p.0.clone()),
                _ => Err(self.bad(name, "expected a list of compiled programs")),
            })
            .collect()
    }
    /// A list of lists of ints, e.g. padding_config `[(lo, hi, interior), ...]`.
    pub fn int_lists(&self, name: &str) -> Result<Vec<Vec<i64>>> {
        self.list(name)?
            .iter()
            .map(|p| match p {
                Param::List(v) => v
                    .iter()
                    .map(|q| match q {
                        Param::Int(i) => Ok(*i),
                        _ => Err(self.bad(name, "expected a list of lists of ints")),
                    })
                    .collect(),
                _ => Err(self.bad(name, "expected a list of lists of ints")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of<T: Hash>(v: &T) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    #[test]
    fn equal_params_hash_alike_whatever_the_insertion_order() {
        let a = Params::new("pad")
            .with("x", Param::Int(1))
            .with("y", Param::List(vec![Param::Float(0.5), Param::None]))
            .with("z", Param::Str("f32".into()));
        let b = Params::new("pad")
            .with("z", Param::Str("f32".into()))
            .with("y", Param::List(vec![Param::Float(0.5), Param::None]))
            .with("x", Param::Int(1));
        assert_eq!(a, b);
        assert_eq!(hash_of(&a), hash_of(&b));
    }

    #[test]
    fn different_params_are_not_equal() {
        let a = Params::new("pad").with("x", Param::Int(1));
        assert_ne!(a, Params::new("pad").with("x", Param::Int(2)));
        assert_ne!(a, Params::new("pad").with("y", Param::Int(1)));
        assert_ne!(a, Params::new("slice").with("x", Param::Int(1)));
        assert_ne!(a, Params::new("pad").with("x", Param::Bool(true)));
        assert_ne!(a, Params::new("pad").with("x", Param::Float(1.0)));
        assert_ne!(a, a.clone().with("w", Param::None));
    }

    #[test]
    fn floats_compare_by_bits() {
        assert_eq!(Param::Float(f64::NAN), Param::Float(f64::NAN));
        assert_eq!(
            hash_of(&Param::Float(f64::NAN)),
            hash_of(&Param::Float(f64::NAN))
        );
        assert_ne!(Param::Float(0.0), Param::Float(-0.0));
        assert_eq!(Param::Float(2.5), Param::Float(2.5));
    }
}
