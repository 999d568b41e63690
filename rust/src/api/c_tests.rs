//! The C API called from Rust, and the header: `include/rjax.h` must be
//! what cbindgen makes of `api/c.rs` (`RJAX_BLESS=1 cargo test --lib
//! c_header` rewrites it).
use super::*;

#[test]
fn load_run_read_free() {
    let bytes = crate::api::example_program_bytes();
    let mut p: *mut RjaxProgram = std::ptr::null_mut();
    // SAFETY: valid pointers, as the C API documents.
    unsafe {
        assert_eq!(
            rjax_program_from_bytes(bytes.as_ptr(), bytes.len(), &mut p),
            RjaxStatus::Ok
        );
        assert_eq!(rjax_program_num_inputs(p), 1);
        let x: Vec<f32> = vec![1., 2., 3., 4., 5., 6.];
        let shape = [2usize, 3];
        let t = RjaxTensor {
            dtype: RjaxDType::Float32,
            ndim: 2,
            shape: shape.as_ptr(),
            data: x.as_ptr().cast(),
        };
        let mut o: *mut RjaxOutputs = std::ptr::null_mut();
        assert_eq!(rjax_program_run(p, &t, 1, &mut o), RjaxStatus::Ok);
        assert_eq!(rjax_outputs_len(o), 1);
        assert_eq!(rjax_outputs_dtype(o, 0), RjaxDType::Float32);
        assert_eq!(
            std::slice::from_raw_parts(rjax_outputs_shape(o, 0), 2),
            &[2, 3]
        );
        let y = std::slice::from_raw_parts(rjax_outputs_data(o, 0).cast::<f32>(), 6);
        assert_eq!(y, &[2., 3., 4., 5., 6., 7.]);
        rjax_outputs_free(o);
        // a wrong shape: a status and a message
        let bad = [2usize, 2];
        let t = RjaxTensor {
            shape: bad.as_ptr(),
            ..t
        };
        assert_eq!(rjax_program_run(p, &t, 1, &mut o), RjaxStatus::InputError);
        let m = CStr::from_ptr(rjax_last_error()).to_str().unwrap();
        assert!(m.contains("dimension 1 to be 3"), "{m}");
        assert_eq!(
            rjax_program_run(p, std::ptr::null(), 1, &mut o),
            RjaxStatus::NullArgument
        );
        rjax_program_free(p);
        rjax_program_free(std::ptr::null_mut());
        let mut q: *mut RjaxProgram = std::ptr::null_mut();
        assert_eq!(
            rjax_program_from_bytes(bytes.as_ptr(), 10, &mut q),
            RjaxStatus::FormatError
        );
        assert!(q.is_null());
        let path = CString::new("/nonexistent.rjax").unwrap();
        assert_eq!(
            rjax_program_load(path.as_ptr(), &mut q),
            RjaxStatus::IoError
        );
    }
}

#[test]
fn c_header_is_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).unwrap();
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("rust/src/api/c.rs"))
        .generate()
        .unwrap()
        .write(&mut out);
    let header = root.join("include/rjax.h");
    if std::env::var("RJAX_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(root.join("include")).unwrap();
        std::fs::write(&header, &out).unwrap();
    }
    let have = std::fs::read(&header).unwrap_or_default();
    assert!(
        have == out,
        "include/rjax.h is not what cbindgen makes of rust/src/api/c.rs: \
         run `RJAX_BLESS=1 cargo test --lib c_header` and commit it"
    );
}
