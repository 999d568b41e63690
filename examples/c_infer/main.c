/* Load a program exported by rjax.export and run it on a float32 batch,
 * from C, without Python (docs/EXPORT.md).
 *
 *   c_infer MODEL.rjax INPUT.f32 ROWS COLS OUTPUT.f32
 *
 * reads ROWS x COLS float32 values (raw, little-endian) from INPUT.f32, runs
 * the program's first input on them, and writes the first output's raw
 * bytes to OUTPUT.f32 (its shape goes to stdout). */
#include <stdio.h>
#include <stdlib.h>

#include "rjax.h"

static int fail(const char *what) {
  fprintf(stderr, "c_infer: %s: %s\n", what, rjax_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s MODEL.rjax INPUT.f32 ROWS COLS OUTPUT.f32\n", argv[0]);
    return 2;
  }
  size_t shape[2] = {(size_t)strtoul(argv[3], NULL, 10), (size_t)strtoul(argv[4], NULL, 10)};
  size_t n = shape[0] * shape[1];
  float *x = malloc(n * sizeof(float) + 1);
  FILE *f = fopen(argv[2], "rb");
  if (!x || !f || fread(x, sizeof(float), n, f) != n) {
    fprintf(stderr, "c_infer: cannot read %zu floats from %s\n", n, argv[2]);
    return 1;
  }
  fclose(f);

  RjaxProgram *prog = NULL;
  if (rjax_program_load(argv[1], &prog) != RJAX_STATUS_OK) return fail("load");
  printf("inputs %zu, outputs %zu\n", rjax_program_num_inputs(prog),
         rjax_program_num_outputs(prog));

  RjaxTensor input = {RJAX_D_TYPE_FLOAT32, 2, shape, x};
  RjaxOutputs *out = NULL;
  if (rjax_program_run(prog, &input, 1, &out) != RJAX_STATUS_OK) return fail("run");

  /* A wrong shape is a status and a message, not a crash. */
  size_t bad_shape[2] = {shape[0], shape[1] + 1};
  RjaxTensor bad = {RJAX_D_TYPE_FLOAT32, 2, bad_shape, x};
  RjaxOutputs *unused = NULL;
  RjaxStatus s = rjax_program_run(prog, &bad, 1, &unused);
  printf("wrong shape -> status %d: %s\n", (int)s, rjax_last_error());
  if (s != RJAX_STATUS_INPUT_ERROR) return 1;

  size_t ndim = rjax_outputs_ndim(out, 0);
  const size_t *oshape = rjax_outputs_shape(out, 0);
  printf("output 0: dtype %d, shape (", (int)rjax_outputs_dtype(out, 0));
  for (size_t i = 0; i < ndim; i++) printf("%zu%s", oshape[i], i + 1 < ndim ? ", " : "");
  printf(")\n");
  FILE *o = fopen(argv[5], "wb");
  size_t nbytes = rjax_outputs_nbytes(out, 0);
  if (!o || fwrite(rjax_outputs_data(out, 0), 1, nbytes, o) != nbytes) {
    fprintf(stderr, "c_infer: cannot write %s\n", argv[5]);
    return 1;
  }
  fclose(o);
  rjax_outputs_free(out);
  rjax_program_free(prog);
  free(x);
  return 0;
}
