"""The demo world: small mirror sites served on 127.0.0.1 (`server`), and the demo that crawls them (`demo`)."""
