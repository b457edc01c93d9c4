"""Training from a YAML configuration: the configuration, the data and the loop."""
