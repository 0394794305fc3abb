"""impala-copy-operator: copy data out of Impala on Kubernetes."""

__version__ = "0.1.0"
