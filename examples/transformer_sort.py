"""A small decoder-only transformer that learns to sort digits, with rjax.nn.

    python examples/transformer_sort.py            # 1,500 steps: about 2 minutes on 2 cores
    python examples/transformer_sort.py --steps 50 # a smoke test

The task: a sequence of 1 to ``--max-len`` random digits, a separator, then the
same digits sorted, then padding:

    3 1 4 1 5 | 1 1 3 4 5 . . . . . .

The model reads it left to right and is trained to predict each next token of
the sorted part (the loss is masked to those positions). It shows:

- ``nn.MultiHeadDotProductAttention`` with a causal mask (``nn.make_causal_mask``)
  combined with a padding mask (``nn.make_attention_mask``, ``nn.combine_masks``);
- ``nn.Dropout`` (and attention dropout), switched on with ``train=True`` and an
  ``rngs={'dropout': key}`` per step;
- pre-LayerNorm residual blocks, token and position embeddings (``nn.Embed``);
- training without ``scan``: every position of the sequence is predicted at once
  in one jitted step (teacher forcing), so one step is a handful of matmuls;
- greedy decoding afterwards: one jitted forward per generated digit.

It prints the training throughput in tokens per second and, at the end, the
share of digits and of whole sequences sorted correctly on fresh data.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import rjax
import rjax.numpy as jnp
from rjax import nn, optim, random

SEP, PAD, VOCAB = 10, 11, 12


def make_batch(rng: np.random.Generator, batch: int, max_len: int):
  """Token sequences ``(batch, 2 * max_len + 1)`` of ``digits | sorted | padding``
  and each sequence's number of digits."""
  lengths = rng.integers(1, max_len + 1, batch)
  seq = np.full((batch, 2 * max_len + 1), PAD, np.int32)
  for i, n in enumerate(lengths):
    x = rng.integers(0, 10, n)
    seq[i, :n], seq[i, n], seq[i, n + 1:2 * n + 1] = x, SEP, np.sort(x)
  return seq, lengths.astype(np.int32)


class Block(nn.Module):
  """Pre-LayerNorm transformer block: masked self-attention and an MLP, each
  with dropout and a residual connection."""
  num_heads: int
  mlp_dim: int
  dropout: float

  @nn.compact
  def __call__(self, x, mask, train: bool):
    h = nn.LayerNorm()(x)
    h = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, dropout_rate=self.dropout,
                                        deterministic=not train)(h, mask=mask)
    x = x + nn.Dropout(self.dropout, deterministic=not train)(h)
    h = nn.LayerNorm()(x)
    h = nn.Dense(x.shape[-1])(nn.gelu(nn.Dense(self.mlp_dim)(h)))
    return x + nn.Dropout(self.dropout, deterministic=not train)(h)


class SortTransformer(nn.Module):
  d_model: int = 64
  num_heads: int = 4
  num_layers: int = 2
  dropout: float = 0.1

  @nn.compact
  def __call__(self, tokens, train: bool = False):
    t = tokens.shape[-1]
    x = nn.Embed(VOCAB, self.d_model)(tokens) + nn.Embed(t, self.d_model)(jnp.arange(t))
    # Each position sees itself and the positions before it (causal), and no
    # position attends to padding.
    not_pad = tokens != PAD
    mask = nn.combine_masks(nn.make_causal_mask(tokens), nn.make_attention_mask(not_pad, not_pad))
    for _ in range(self.num_layers):
      x = Block(self.num_heads, 4 * self.d_model, self.dropout)(x, mask, train)
    return nn.Dense(VOCAB)(nn.LayerNorm()(x))


def target_weights(lengths, t: int):
  """1.0 where the next token is a digit of the sorted part: the inputs are
  ``seq[:, :-1]`` and the targets ``seq[:, 1:]``, so target ``j`` is ``seq[j + 1]``,
  which is sorted digit ``j - n`` for ``n <= j < 2n``."""
  j = jnp.arange(t)[None, :]
  n = lengths[:, None]
  return ((j >= n) & (j < 2 * n)).astype(jnp.float32)


def masked_cross_entropy(logits, targets, weights):
  logp = nn.log_softmax(logits)
  nll = -jnp.sum(logp * nn.one_hot(targets, VOCAB), axis=-1)
  return jnp.sum(nll * weights) / jnp.sum(weights)


def make_train_step(model, tx):
  @rjax.jit
  def train_step(params, opt_state, seq, lengths, key):
    inputs, targets = seq[:, :-1], seq[:, 1:]
    weights = target_weights(lengths, inputs.shape[1])

    def loss_fn(p):
      logits = model.apply({"params": p}, inputs, train=True, rngs={"dropout": key})
      return masked_cross_entropy(logits, targets, weights)

    loss, grads = rjax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state, loss
  return train_step


def make_decoder(model, max_len: int):
  """Greedy decoding: the prompt ``digits |`` is extended one predicted digit
  at a time; each step is one jitted forward of the whole (fixed-size) input."""
  @rjax.jit
  def next_token(params, tokens, pos):
    logits = model.apply({"params": params}, tokens)                   # (b, t, vocab)
    at = jnp.take_along_axis(logits, pos[:, None, None], axis=1)[:, 0]  # logits at pos
    pred = jnp.argmax(at[:, :10], axis=-1).astype(tokens.dtype)       # a digit
    # Write it at pos + 1 (beyond the end for the last digit of the longest).
    tokens = jnp.where(jnp.arange(tokens.shape[1])[None, :] == pos[:, None] + 1,
                       pred[:, None], tokens)
    return tokens, pred

  def decode(params, seq, lengths):
    """The predicted sorted digits, ``(batch, max_len)`` (valid up to each length)."""
    n = np.asarray(lengths)
    t = np.arange(seq.shape[1] - 1)[None, :]
    tokens = jnp.asarray(np.where(t <= n[:, None], seq[:, :-1], PAD))   # digits and SEP
    preds = []
    for i in range(max_len):
      # A sequence with fewer than i + 1 digits is done: it predicts at its last
      # position again (ignored), which keeps one shape for every step.
      tokens, pred = next_token(params, tokens, jnp.asarray(n + np.minimum(i, n - 1)))
      preds.append(np.asarray(pred))
    return np.stack(preds, axis=1)
  return decode


def evaluate(params, decode, rng, max_len: int, n: int = 512):
  """Share of digits, and of whole sequences, sorted correctly on fresh data."""
  seq, lengths = make_batch(rng, n, max_len)
  preds = decode(params, seq, lengths)
  digits_ok = seqs_ok = 0
  for i, k in enumerate(lengths):
    got, want = preds[i, :k], seq[i, k + 1:2 * k + 1]
    digits_ok += int(np.sum(got == want))
    seqs_ok += int(np.array_equal(got, want))
  return digits_ok / int(lengths.sum()), seqs_ok / n, (seq[0], preds[0], lengths[0])


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--steps", type=int, default=1500)
  p.add_argument("--batch-size", type=int, default=64)
  p.add_argument("--max-len", type=int, default=8, help="longest digit sequence")
  p.add_argument("--lr", type=float, default=3e-3)
  p.add_argument("--seed", type=int, default=0)
  args = p.parse_args(argv)
  if args.steps < 1 or args.batch_size < 1 or args.max_len < 1:
    p.error("--steps, --batch-size and --max-len must be positive")

  model = SortTransformer()
  rng = np.random.default_rng(args.seed)
  key = random.PRNGKey(args.seed)
  seq, _ = make_batch(rng, args.batch_size, args.max_len)
  params = model.init(key, jnp.asarray(seq[:, :-1]))["params"]
  n_params = sum(int(np.prod(a.shape)) for a in rjax.tree_util.tree_leaves(params))
  tx = optim.adamw(optim.warmup_cosine_decay_schedule(
      0.0, args.lr, warmup_steps=max(1, args.steps // 20), decay_steps=args.steps,
      end_value=args.lr / 20), weight_decay=1e-4)
  opt_state = tx.init(params)
  train_step = make_train_step(model, tx)
  tokens_per_step = args.batch_size * 2 * args.max_len
  print(f"SortTransformer: {n_params:,} parameters; {args.steps} steps of {args.batch_size} "
        f"sequences ({tokens_per_step} tokens)")

  t0 = time.perf_counter()
  t_window, loss = t0, None
  for step in range(1, args.steps + 1):
    seq, lengths = make_batch(rng, args.batch_size, args.max_len)
    params, opt_state, loss = train_step(params, opt_state, seq, lengths,
                                         random.fold_in(key, step))
    if step % 100 == 0 or step == args.steps:
      loss = float(loss)        # waits for this step
      now = time.perf_counter()
      k = (step - 1) % 100 + 1
      print(f"step {step:5d}  loss {loss:.4f}  {k * tokens_per_step / (now - t_window):8,.0f} "
            f"tokens/s")
      t_window = now
  elapsed = time.perf_counter() - t0
  print(f"trained in {elapsed:.1f} s: {args.steps * tokens_per_step / elapsed:,.0f} tokens/s "
        "on average, including compilation")

  decode = make_decoder(model, args.max_len)
  digit_acc, seq_acc, (s, pred, k) = evaluate(params, decode, rng, args.max_len)
  fmt = lambda a: " ".join(str(int(v)) for v in a)
  print(f"example: {fmt(s[:k])} -> {fmt(pred[:k])}  (sorted: {fmt(s[k + 1:2 * k + 1])})")
  print(f"held-out accuracy: {100 * digit_acc:.1f}% of digits, "
        f"{100 * seq_acc:.1f}% of sequences sorted exactly")
  return digit_acc, seq_acc


if __name__ == "__main__":
  main()
