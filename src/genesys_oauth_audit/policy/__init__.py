"""Policy files: their model, their schema, and the loader that validates them."""
