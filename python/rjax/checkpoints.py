"""``rjax.checkpoints``: save and restore pytrees (params, optimizer states) as one
safetensors file, with the tree structure and a SHA-256 in its metadata."""
from rjax._src.checkpoints import CheckpointError, restore, save  # noqa: F401
