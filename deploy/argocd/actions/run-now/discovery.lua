-- Offers the run-now action on CopyActivity and LookupActivity; disabled while the object is being
-- deleted.
local actions = {}
actions["run-now"] = {["disabled"] = obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil}
return actions
