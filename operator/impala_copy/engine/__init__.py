"""The copy engine: runs in the Job pod (and from the CLI). HiveServer2 -> Arrow batches -> sink."""
