"""A stand-in for JAX's ``examples/datasets.py``: MNIST's interface, built from
scikit-learn's bundled 8x8 digits (no download), upsampled to 28x28.

``mnist_raw()`` returns uint8 images ``(n, 28, 28)`` and uint8 labels;
``mnist(permute_train=False)`` returns flattened float32 images in [0, 1] and
one-hot float32 labels, as JAX's loader does. The split is fixed: the first
1,440 digits train (a last partial batch of 32 splits over 2, 4 or 8
devices), the last 357 test.
"""
from __future__ import annotations

import numpy as np

_N_TRAIN = 1440   # 11 batches of 128 and one of 32: divisible by 2, 4 and 8 devices


def _partial_flatten(x):
  return np.reshape(x, (x.shape[0], -1))


def _one_hot(x, k, dtype=np.float32):
  return np.array(x[:, None] == np.arange(k), dtype)


def _upsample(images8: np.ndarray) -> np.ndarray:
  """8x8 digits (values 0..16) -> 28x28 uint8 (0..255): each pixel becomes a
  3x3 block (24x24), centred in a 2-pixel border, as MNIST centres its digits."""
  big = np.kron(images8, np.ones((3, 3))) * (255.0 / 16.0)
  out = np.zeros((images8.shape[0], 28, 28), np.float64)
  out[:, 2:26, 2:26] = big
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


def mnist_raw():
  """(train_images, train_labels, test_images, test_labels), MNIST's raw layout."""
  from sklearn.datasets import load_digits
  d = load_digits()
  images = _upsample(d.images)
  labels = d.target.astype(np.uint8)
  return images[:_N_TRAIN], labels[:_N_TRAIN], images[_N_TRAIN:], labels[_N_TRAIN:]


def mnist(permute_train=False):
  """Unit-scale flattened images and one-hot labels (JAX's ``datasets.mnist``)."""
  train_images, train_labels, test_images, test_labels = mnist_raw()
  train_images = _partial_flatten(train_images) / np.float32(255.)
  test_images = _partial_flatten(test_images) / np.float32(255.)
  train_labels = _one_hot(train_labels, 10)
  test_labels = _one_hot(test_labels, 10)
  if permute_train:
    perm = np.random.RandomState(0).permutation(train_images.shape[0])
    train_images = train_images[perm]
    train_labels = train_labels[perm]
  return train_images, train_labels, test_images, test_labels
