"""The model zoo under every stage: one registry of every model (timm's `register_model` / `create_model`),
where weight files come from (nothing is ever downloaded), and the onnxruntime sessions that run them."""
