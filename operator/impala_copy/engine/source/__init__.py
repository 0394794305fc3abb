"""The HiveServer2 source: impyla behind a typed adapter, TLS, Arrow types, SQL text."""
