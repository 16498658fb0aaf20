"""Stage 5, output: each input's folder written atomically (frames, crops, manifest, embeddings), and the
report and contact sheet people look at."""
