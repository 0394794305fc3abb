"""LookupActivity: one run is one Job running the lookup; its output comes back from the pod."""
