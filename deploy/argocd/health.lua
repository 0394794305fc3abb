-- Argo CD health check for every impalacopy.io kind (linked services, datasets, CopyActivity,
-- LookupActivity). Reads only status, as the operator writes it:
--   no status yet, or status older than metadata.generation   -> Progressing
--   status.suspended true (spec.schedule.suspend, acted upon)   -> Suspended
--   Ready=False (a missing Secret, reference, invalid spec)   -> Degraded
--   activities: phase Succeeded -> Healthy; Failed -> Degraded (Progressing while a retry is
--     scheduled); Pending/Running -> Progressing (Degraded when the pod cannot start: image pull
--     errors, a broken container config); a scheduled activity idle before its first run -> Healthy
--   linked services and datasets: Ready=True -> Healthy (Degraded when the connection test fails)
-- Lua 5.1 (Argo CD's interpreter): no goto, no integer division.

local hs = {}

local function find_condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  local text = c.reason or fallback
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

-- Container states that keep a pod from ever starting on its own.
local stuck = {
  ImagePullBackOff = true,
  ErrImagePull = true,
  InvalidImageName = true,
  CreateContainerConfigError = true,
  CreateContainerError = true,
}

local status = obj.status
local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end

if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

if status.suspended == true then
  hs.status = "Suspended"
  hs.message = "Suspended: no scheduled run starts while spec.schedule.suspend is true"
  return hs
end

local ready = find_condition(status, "Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready, "NotReady")
  return hs
end

if status.phase ~= nil then
  -- CopyActivity, LookupActivity
  local running = find_condition(status, "Running")
  local phase = status.phase
  if phase == "Succeeded" then
    hs.status = "Healthy"
    hs.message = describe(find_condition(status, "Succeeded"), "Last run succeeded")
  elseif phase == "Failed" then
    hs.status = "Degraded"
    hs.message = describe(find_condition(status, "Failed"), "Last run failed")
  elseif running ~= nil and stuck[running.reason] then
    hs.status = "Degraded"
    hs.message = describe(running, "PodNotStarting")
  elseif running ~= nil and running.reason == "Idle" and status.nextScheduleTime ~= nil then
    hs.status = "Healthy"
    hs.message = "Waiting for the next scheduled run at " .. status.nextScheduleTime
  elseif phase == "Running" then
    hs.status = "Progressing"
    hs.message = describe(running, "Running")
  else
    hs.status = "Progressing"
    if status.nextRetryTime ~= nil then
      hs.message = describe(running, "RetryScheduled")
    else
      hs.message = describe(running, "Pending")
    end
  end
  return hs
end

-- Linked services and datasets
if ready == nil or ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = describe(ready, "Waiting for the Ready condition")
  return hs
end
local connected = find_condition(status, "Connected")
if connected ~= nil and connected.status == "False" then
  hs.status = "Degraded"
  hs.message = "Connection test failed: " .. describe(connected, "NotConnected")
  return hs
end
hs.status = "Healthy"
if connected ~= nil and connected.status == "True" then
  hs.message = describe(connected, "Connected")
else
  hs.message = describe(ready, "Ready")
end
return hs
