"""Audiences for activation: consented contacts an e-mail or SMS tool imports (``audiences.yml``)."""
