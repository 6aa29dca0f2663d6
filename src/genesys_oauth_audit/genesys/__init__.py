"""Everything that talks to Genesys Cloud. The only package that imports httpx."""
