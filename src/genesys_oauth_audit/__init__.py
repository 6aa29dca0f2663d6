"""genesys-oauth-audit: policy-as-code compliance checks for Genesys Cloud OAuth clients."""

__version__ = "0.1.0"
