"""Local servers for tests, the demo and the benchmarks: Spark Thrift Server (HiveServer2), PostgreSQL, moto, Azurite."""
