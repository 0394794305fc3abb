"""impala-copy-operator: copy data out of Impala on Kubernetes."""

import os

__version__ = "0.1.0"

# This package uses no pydantic plugin. Looking for them, pydantic reads the metadata of every
# installed distribution when the first model is built: about 0.09 CPU s that every process (each
# copy pod) would pay at start. A value set in the environment is kept.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
