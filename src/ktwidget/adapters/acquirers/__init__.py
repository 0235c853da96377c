"""Acquirers: the banks that hold and capture card payments. One module each, behind `Acquirer`."""
