"""The payment domain: plain Python, no framework, database or network imports."""
