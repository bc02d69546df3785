"""One module per CLI verb; each exposes ``run(args, out, err) -> int``."""
