"""The operator: kopf handlers (thin) and the pure reconcile logic they call."""
