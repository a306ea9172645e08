"""The Optuna sweeper plugin; its logic is in hpsearch/."""
