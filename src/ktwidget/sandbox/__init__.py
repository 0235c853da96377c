"""The sandbox: a simulated acquiring bank and service provider for test mode and the demo.

They stand where real outside systems would: the bank keeps its own tables, serves its own card
page, and tells the gateway the result the way a real bank does (a signed server-to-server message
and the customer's redirect back). Card numbers never reach a table or a log: only first 6, last 4.
"""
