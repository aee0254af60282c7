"""How ``cdp run`` runs: the local Dagster instance, the console progress, what a run may skip."""
