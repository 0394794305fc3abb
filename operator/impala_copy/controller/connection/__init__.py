"""ImpalaLinkedService connection tests: one test is one Job (connect, log in, SELECT 1)."""
