-- Starts a run now: sets the annotation impalacopy.io/run-now to a new value (the current UTC time);
-- the operator starts one run for each new value.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
if obj.metadata.annotations["impalacopy.io/run-now"] == now then
  now = now .. "-1"
end
obj.metadata.annotations["impalacopy.io/run-now"] = now
return obj
