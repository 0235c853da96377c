"""Adapters to the world outside the domain: crypto, clock, and (later) acquirers and providers."""
