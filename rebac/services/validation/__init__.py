"""SpiceDB validation files: parse them, load them into a store and run their assertions."""
