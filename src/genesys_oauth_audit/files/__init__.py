"""Files in and out: YAML/JSON documents read with positions, and outputs written atomically."""
