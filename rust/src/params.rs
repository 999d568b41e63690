//! Op parameters: plain data that crossed from Python once (ints, floats,
//! bools, strings, nested lists, None). Accessors name the op and the param in
//! their errors.
use crate::dtype::DType;
use crate::error::{Error, Result};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Param>),
}

#[derive(Clone, Debug, Default)]
pub struct Params {
    pub op: String,
    pub map: HashMap<String, Param>,
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
