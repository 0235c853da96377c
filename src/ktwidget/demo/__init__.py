"""The demo: a shop on another origin that pays through the gateway and receives its notifications."""
