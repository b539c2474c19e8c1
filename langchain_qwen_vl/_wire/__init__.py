"""What goes on the wire: pure functions from LangChain messages to request bodies and from
response bodies back to LangChain messages. No I/O happens in this package."""
