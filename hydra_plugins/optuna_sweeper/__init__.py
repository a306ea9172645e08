"""The Optuna sweeper plugin under the name Hydra looks for (`hydra_plugins/`); its logic is in
`hpsearch/`, the only room it may import."""
