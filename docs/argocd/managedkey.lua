-- Argo CD health of a keyward.io ManagedKey: its Ready condition, once the operator has seen this generation.
local hs = { status = "Progressing", message = "Waiting for the Keyward operator" }
local status = obj.status
if status == nil then return hs end
if status.observedGeneration ~= nil and obj.metadata.generation ~= nil
    and status.observedGeneration < obj.metadata.generation then
  hs.message = "Waiting for the operator to see generation " .. obj.metadata.generation
  return hs
end
if status.phase == "Destroyed" or status.phase == "Disabled" then
  hs.status = "Suspended"
  hs.message = "Key is " .. status.phase
  return hs
end
for _, condition in ipairs(status.conditions or {}) do
  if condition.type == "Ready" then
    hs.message = (condition.reason or "") .. ": " .. (condition.message or "")
    if condition.status == "True" then
      hs.status = "Healthy"
    elseif condition.reason == "PendingGeneration" or condition.reason == "PendingDestruction" then
      hs.status = "Progressing"
    else
      hs.status = "Degraded"
    end
    return hs
  end
end
return hs
